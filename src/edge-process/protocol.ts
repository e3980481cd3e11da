// The control protocol between the daemon and the edge process: one JSON
// value a line over a Unix socket. Requests carry an id and are answered
// with it; events (observations, log lines) carry none. Pure: the codec
// keeps no socket, so it is tested on bytes alone.
import type { ObservationBatch, RouteSpec, TlsConfig } from '../edge/index.ts';
import type { EdgeLimits } from '../edge/index.ts';

/**
 * The longest line either side accepts. The largest message is a route
 * table (about 200 bytes a route: 1,000 routes are 207 KB) or a batch of
 * access records, which the edge sends in chunks of RECORDS_PER_EVENT.
 */
export const MAX_LINE_BYTES = 32 * 1024 * 1024;

/** Access records per observation event, so a backlog never makes a line near the bound. */
export const RECORDS_PER_EVENT = 1_000;

export interface ListenAddress {
  readonly host: string | undefined;
  readonly port: number;
}

/** What decides whether a running edge is the one wanted: where it listens and how it is built. */
export interface EdgeSettings {
  readonly http: ListenAddress;
  readonly https: ListenAddress | null;
  readonly workers: number | null;
  readonly limits: Partial<EdgeLimits>;
  readonly accessRecords: boolean;
}

export interface BoundAddress {
  readonly address: string;
  readonly family: string;
  readonly port: number;
}

/** The edge process introducing itself. */
export interface Hello {
  readonly pid: number;
  /** /proc/PID/stat field 22 (clock ticks after boot): with the pid, names the process for good. */
  readonly startTime: number;
  /** A hash of the edge's code as this process loaded it, computed once at its start. */
  readonly code: string;
  /** The settings it was configured with (as asked: port 0 stays 0); null before `configure`. */
  readonly settings: EdgeSettings | null;
  readonly listening: boolean;
  /** Where it listens, once listening. */
  readonly address: BoundAddress | null;
  readonly httpsAddress: BoundAddress | null;
  /** Counters of what it was given: route tables, certificate sets, challenge sets. */
  readonly versions: { readonly routes: number; readonly tls: number; readonly challenges: number };
  /** It was told to retire or stop and is on its way out. */
  readonly leaving: boolean;
}

/** What the edge serves: the part a successor takes over from its predecessor. */
export interface EdgeContent {
  readonly routes: RouteSpec;
  readonly tls: TlsConfig;
  /** Token → key authorization, as pairs (JSON has no Map). */
  readonly challenges: ReadonlyArray<readonly [string, string]>;
}

export type Request =
  | { readonly id: number; readonly type: 'hello' }
  | { readonly id: number; readonly type: 'content' }
  | { readonly id: number; readonly type: 'configure'; readonly settings: EdgeSettings; readonly content: EdgeContent }
  | { readonly id: number; readonly type: 'listen'; readonly join: { readonly http: boolean; readonly https: boolean }; readonly http: ListenAddress; readonly https: ListenAddress | null }
  | { readonly id: number; readonly type: 'claim' }
  | { readonly id: number; readonly type: 'setRoutes'; readonly spec: RouteSpec }
  | { readonly id: number; readonly type: 'setTls'; readonly config: TlsConfig }
  | { readonly id: number; readonly type: 'setChallenges'; readonly tokens: ReadonlyArray<readonly [string, string]> }
  | { readonly id: number; readonly type: 'drain'; readonly host: string; readonly port: number; readonly deadline: number }
  | { readonly id: number; readonly type: 'purge'; readonly hosts: readonly string[]; readonly path: string | null }
  | { readonly id: number; readonly type: 'retire'; readonly graceMs: number; readonly migrateQueued: boolean }
  | { readonly id: number; readonly type: 'stop'; readonly graceMs: number };

export type RequestType = Request['type'];

export type Response =
  | { readonly id: number; readonly ok: true; readonly result?: unknown }
  | { readonly id: number; readonly ok: false; readonly code: string; readonly message: string; readonly hint?: string; readonly listen?: ListenFailure };

/** A listen that failed, with what the daemon needs to name the flag. */
export interface ListenFailure {
  readonly host: string | undefined;
  readonly port: number;
  readonly reason: string;
  readonly secure: boolean;
}

export type EdgeEvent =
  | { readonly event: 'observations'; readonly batch: ObservationBatch }
  | { readonly event: 'log'; readonly line: string }
  /** The last event a client gets when another (a restarted daemon) connects. */
  | { readonly event: 'replaced' };

/** One message as a line; throws when it would be over the bound (the caller's bug, never the peer's). */
export function encodeLine(message: Request | Response | EdgeEvent): string {
  const line = JSON.stringify(message);
  if (Buffer.byteLength(line) > MAX_LINE_BYTES) throw new Error(`edge control: a ${'type' in message ? message.type : 'event' in message ? message.event : 'response'} message over ${MAX_LINE_BYTES} bytes`);
  return `${line}\n`;
}

export type Decoded = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly reason: 'malformed' | 'oversized' };

/**
 * Splits a byte stream into JSON values, one a line. A line that is not
 * JSON is reported and skipped; a line longer than the bound breaks the
 * stream for good (nothing after it can be framed with confidence), so the
 * reader holds at most `maxLineBytes` of a peer's bytes.
 */
export class LineDecoder {
  readonly #max: number;
  #parts: Buffer[] = [];
  #size = 0;
  #broken = false;

  constructor(maxLineBytes = MAX_LINE_BYTES) {
    this.#max = maxLineBytes;
  }

  get broken(): boolean {
    return this.#broken;
  }

  push(chunk: Buffer): Decoded[] {
    if (this.#broken) return [];
    const out: Decoded[] = [];
    let from = 0;
    for (let nl = chunk.indexOf(10, from); nl !== -1; nl = chunk.indexOf(10, from)) {
      if (this.#size + (nl - from) > this.#max) return this.#break(out);
      this.#parts.push(chunk.subarray(from, nl));
      const line = Buffer.concat(this.#parts).toString('utf8');
      this.#parts = [];
      this.#size = 0;
      from = nl + 1;
      if (line.trim() === '') continue;
      try {
        out.push({ ok: true, value: JSON.parse(line) });
      } catch {
        out.push({ ok: false, reason: 'malformed' });
      }
    }
    if (from < chunk.length) {
      if (this.#size + (chunk.length - from) > this.#max) return this.#break(out);
      // A copy: the caller may reuse its buffer.
      this.#parts.push(Buffer.from(chunk.subarray(from)));
      this.#size += chunk.length - from;
    }
    return out;
  }

  #break(out: Decoded[]): Decoded[] {
    this.#broken = true;
    this.#parts = [];
    this.#size = 0;
    out.push({ ok: false, reason: 'oversized' });
    return out;
  }
}

const REQUEST_TYPES: ReadonlySet<string> = new Set<RequestType>(['hello', 'content', 'configure', 'listen', 'claim', 'setRoutes', 'setTls', 'setChallenges', 'drain', 'purge', 'retire', 'stop']);

/** A decoded value as a request, or null when it is not one (its fields are checked where they are used). */
export function asRequest(value: unknown): Request | null {
  if (typeof value !== 'object' || value === null) return null;
  const { id, type } = value as { id?: unknown; type?: unknown };
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || typeof type !== 'string' || !REQUEST_TYPES.has(type)) return null;
  return value as Request;
}

/** A decoded value as a response or an event, or null. */
export function asReply(value: unknown): Response | EdgeEvent | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as { id?: unknown; ok?: unknown; event?: unknown };
  if (typeof v.id === 'number' && typeof v.ok === 'boolean') return value as Response;
  if (v.event === 'observations' || v.event === 'log' || v.event === 'replaced') return value as EdgeEvent;
  return null;
}
