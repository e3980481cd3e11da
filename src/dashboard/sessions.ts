import { randomBytes } from 'node:crypto';

// Dashboard sessions: a browser that logged in with an API token gets a
// random session id in a cookie; the token itself is never kept, only its
// name (the audit actor). Sessions live in memory: a daemon restart logs
// everyone out, which is the safe direction.

export const SESSION_COOKIE = 'berth_session';

export interface SessionLimits {
  /** A session unused this long ends. */
  readonly idleMs: number;
  /** A session ends this long after login, used or not. */
  readonly maxAgeMs: number;
  /** Sessions kept at once; a login past it ends the least recently used. */
  readonly maxSessions: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = { idleMs: 2 * 60 * 60_000, maxAgeMs: 12 * 60 * 60_000, maxSessions: 1_000 };

export interface Session {
  readonly id: string;
  /** Required as the X-Berth-CSRF header on every mutation of this session. */
  readonly csrf: string;
  /** The name of the token that logged in: the actor of the audit log. */
  readonly actor: string;
  readonly createdAt: number;
  lastSeenAt: number;
}

export interface SessionStoreOptions {
  readonly now?: () => number;
  readonly random?: (size: number) => Buffer;
  readonly limits?: Partial<SessionLimits>;
}

export class SessionStore {
  readonly #now: () => number;
  readonly #random: (size: number) => Buffer;
  readonly limits: SessionLimits;
  /** In least-recently-used order: a Map keeps insertion order, and a touch re-inserts. */
  readonly #sessions = new Map<string, Session>();

  constructor(options: SessionStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? randomBytes;
    this.limits = { ...DEFAULT_SESSION_LIMITS, ...options.limits };
  }

  /** A new session for `actor`, with a fresh id and CSRF token (256 random bits each). */
  create(actor: string): Session {
    const now = this.#now();
    const session: Session = { id: this.#random(32).toString('base64url'), csrf: this.#random(32).toString('base64url'), actor, createdAt: now, lastSeenAt: now };
    while (this.#sessions.size >= this.limits.maxSessions) {
      const oldest = this.#sessions.keys().next().value;
      if (oldest === undefined) break;
      this.#sessions.delete(oldest);
    }
    this.#sessions.set(session.id, session);
    return session;
  }

  /** The live session with this id (and marks it used), or null when unknown or expired. */
  get(id: string | null): Session | null {
    if (id === null || id === '') return null;
    const session = this.#sessions.get(id);
    if (session === undefined) return null;
    const now = this.#now();
    if (!sessionAlive(session, now, this.limits)) {
      this.#sessions.delete(id);
      return null;
    }
    session.lastSeenAt = now;
    this.#sessions.delete(id);
    this.#sessions.set(id, session);
    return session;
  }

  /** Like get(), without counting as use (a live stream's events are not a person's activity). */
  peek(id: string): Session | null {
    const session = this.#sessions.get(id);
    if (session === undefined) return null;
    if (!sessionAlive(session, this.#now(), this.limits)) {
      this.#sessions.delete(id);
      return null;
    }
    return session;
  }

  destroy(id: string): void {
    this.#sessions.delete(id);
  }

  /** Ends every session of `actor` (its token was revoked). */
  endFor(actor: string): void {
    for (const [id, session] of this.#sessions) if (session.actor === actor) this.#sessions.delete(id);
  }

  get size(): number {
    return this.#sessions.size;
  }
}

/** Whether a session is still good at `now`: used recently enough and not too old. */
export function sessionAlive(session: Pick<Session, 'createdAt' | 'lastSeenAt'>, now: number, limits: SessionLimits): boolean {
  return now - session.lastSeenAt < limits.idleMs && now - session.createdAt < limits.maxAgeMs && now >= session.createdAt;
}

/** The value of one cookie in a Cookie header, or null. */
export function readCookie(header: string | undefined, name: string): string | null {
  if (header === undefined) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** The Set-Cookie value for a session (or, with id null, the one that clears it). Secure when the dashboard is served over HTTPS. */
export function sessionCookie(id: string | null, options: { secure: boolean; maxAgeMs: number }): string {
  const parts = [`${SESSION_COOKIE}=${id ?? ''}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${id === null ? 0 : Math.floor(options.maxAgeMs / 1000)}`];
  if (options.secure) parts.push('Secure');
  return parts.join('; ');
}
