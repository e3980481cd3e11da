import { portAccepts } from '../net/port-accepts.ts';
import { pickUpstream, type Candidate } from './balancer.ts';
import { HEALTHY, markFailed, probeDue, recordProbe, type UpstreamHealth } from './upstream-health.ts';

export interface UpstreamAddress {
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

/** A kept-alive connection as the pool sees it; the engine owns the rest. */
export interface PooledConnection {
  readonly destroyed: boolean;
  destroy(): void;
}

const MAX_IDLE_PER_UPSTREAM = 256;

/** One upstream server and the edge's live view of it. */
export class Upstream implements Candidate {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly key: string;
  active = 0;
  health: UpstreamHealth = HEALTHY;
  /** Idle keep-alive connections, most recently used last (reused first). */
  readonly #idle: PooledConnection[] = [];
  #closed = false;
  #idleWaiters: Array<() => void> = [];

  constructor(address: UpstreamAddress) {
    this.id = address.id;
    this.host = address.host;
    this.port = address.port;
    this.key = `${address.host}:${address.port}`;
  }

  /** A kept-alive connection to reuse, or null when a new one must be opened. */
  takeIdle<T extends PooledConnection>(): T | null {
    for (;;) {
      const connection = this.#idle.pop();
      if (connection === undefined) return null;
      if (!connection.destroyed) return connection as T;
    }
  }

  /**
   * Keeps a connection whose framing is clean for the next request; false
   * when the pool is closed or full, and the caller must close it instead.
   */
  keepIdle(connection: PooledConnection): boolean {
    if (this.#closed || this.#idle.length >= MAX_IDLE_PER_UPSTREAM) return false;
    this.#idle.push(connection);
    return true;
  }

  /** A pooled connection closed (by the app, or its idle timeout): it leaves the pool. */
  forgetIdle(connection: PooledConnection): void {
    const at = this.#idle.lastIndexOf(connection);
    if (at !== -1) this.#idle.splice(at, 1);
  }

  /** Closes the idle connections; in-flight ones finish on their own. */
  closeIdle(): void {
    this.#closed = true;
    for (const connection of this.#idle.splice(0)) connection.destroy();
  }

  get up(): boolean {
    return this.health.state === 'up';
  }

  acquire(): void {
    this.active++;
  }

  release(): void {
    this.active--;
    if (this.active === 0 && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Resolves when no request is in flight here. */
  idle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }
}

/**
 * The upstreams of one app (or of `reverse-proxy --to`). Membership changes
 * replace the list atomically; upstreams that stay keep their connections
 * and counters, upstreams that leave are drained, then their sockets closed.
 */
export class UpstreamGroup {
  #members: Upstream[] = [];
  readonly #retiredMembers = new Map<string, Upstream>();
  #cursor = 0;
  #probeTimer: NodeJS.Timeout | null = null;
  readonly #now: () => number;

  constructor(addresses: readonly UpstreamAddress[] = [], now: () => number = Date.now) {
    this.#now = now;
    this.set(addresses);
  }

  get members(): readonly Upstream[] {
    return this.#members;
  }

  set(addresses: readonly UpstreamAddress[]): void {
    const previous = new Map(this.#members.map((u) => [`${u.id}@${u.key}`, u]));
    const next = addresses.map((address) => {
      const id = `${address.id}@${address.host}:${address.port}`;
      const kept = previous.get(id);
      previous.delete(id);
      return kept ?? new Upstream(address);
    });
    this.#members = next;
    for (const gone of previous.values()) {
      // Still answering in-flight requests: keep it findable for drain().
      this.#retiredMembers.set(gone.key, gone);
      void gone.idle().then(() => {
        gone.closeIdle();
        if (this.#retiredMembers.get(gone.key) === gone) this.#retiredMembers.delete(gone.key);
      });
    }
  }

  /**
   * Chooses an upstream for a request, skipping the ones already tried.
   * Tried upstreams are named by identity, not position: membership may
   * change between two attempts of the same request.
   */
  pick(tried: ReadonlySet<Upstream> | null): Upstream | null {
    const members = this.#members;
    if (members.length === 0) return null;
    let skip: Set<number> | null = null;
    if (tried !== null && tried.size > 0) {
      skip = new Set();
      for (let i = 0; i < members.length; i++) if (tried.has(members[i]!)) skip.add(i);
    }
    const index = pickUpstream(members, this.#cursor, skip);
    this.#cursor = (this.#cursor + 1) % members.length;
    return index === -1 ? null : members[index]!;
  }

  /** Passive health: a connection failure takes the upstream out until a probe connects again. */
  reportFailure(upstream: Upstream): void {
    upstream.health = markFailed(upstream.health, this.#now());
    this.#scheduleProbes();
  }

  #scheduleProbes(): void {
    if (this.#probeTimer) return;
    this.#probeTimer = setTimeout(() => {
      this.#probeTimer = null;
      void this.#probe();
    }, 100);
    this.#probeTimer.unref();
  }

  async #probe(): Promise<void> {
    const now = this.#now();
    const due = this.#members.filter((u) => probeDue(u.health, now));
    await Promise.all(
      due.map(async (u) => {
        const ok = await portAccepts(u.host, u.port, 1_000);
        u.health = recordProbe(u.health, ok, this.#now());
      }),
    );
    if (this.#members.some((u) => u.health.state === 'down')) this.#scheduleProbes();
  }

  /** Waits until the upstream with this address has no request in flight, or the deadline passes. */
  async drain(address: UpstreamAddress, deadline: number): Promise<void> {
    const upstream = this.#members.find((u) => u.host === address.host && u.port === address.port) ?? this.#retired(address);
    if (!upstream) return;
    const remaining = deadline - this.#now();
    if (remaining <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([upstream.idle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, remaining)))]);
    clearTimeout(timer);
  }

  #retired(address: UpstreamAddress): Upstream | undefined {
    return this.#retiredMembers.get(`${address.host}:${address.port}`);
  }

  close(): void {
    if (this.#probeTimer) clearTimeout(this.#probeTimer);
    this.#probeTimer = null;
    for (const u of this.#members) u.closeIdle();
  }
}
