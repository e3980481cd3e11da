/**
 * Which client connections the edge takes: at most `maxConnectionsPerClient`
 * from one client address (IPv6 by /64) and `maxConnections` in all, counted
 * across every engine thread through SharedArrayBuffers, so that one client
 * (or a flood from many) cannot use up the daemon's file descriptors and take
 * the API, the dashboard, SSH and the apps' logs down with the edge.
 *
 * The decisions are pure (`judgeConnection`, `connectionBudget`,
 * `parseOpenFileLimit`); `SharedConnectionCounts` only keeps the counts.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_LIMITER_SLOTS, SharedLimiterTable } from './rate-limit.ts';

export type ConnectionVerdict = 'admit' | 'client-full' | 'edge-full';

export interface ConnectionCaps {
  readonly maxConnections: number;
  readonly maxConnectionsPerClient: number;
}

export interface OpenConnections {
  /** Client connections open in the whole edge. */
  readonly total: number;
  /** Of those, from the new connection's client (its address, IPv6 by /64). */
  readonly client: number;
}

/** Whether one more connection may be taken, given what is open. Pure. */
export function judgeConnection(open: OpenConnections, caps: ConnectionCaps): ConnectionVerdict {
  if (open.total >= caps.maxConnections) return 'edge-full';
  if (open.client >= caps.maxConnectionsPerClient) return 'client-full';
  return 'admit';
}

/**
 * Descriptors one client connection may hold at once: its socket, and the
 * connection to its app or the file its request body spills to (a
 * response spool joins them only for a reader slower than its app).
 */
export const DESCRIPTORS_PER_CONNECTION = 2;
/** Descriptors kept for the rest of the daemon: an eighth of the limit, within these bounds. */
export const MIN_RESERVE = 256;
export const MAX_RESERVE = 4096;
/** What Linux allows at most by default (fs.nr_open), for an "unlimited" limit. */
const NR_OPEN = 1_048_576;

export interface ConnectionBudget {
  readonly maxConnections: number;
  /** Descriptors left to the rest of the daemon: its API, dashboard, SSH, SQLite, logs, apps' pipes, builds. */
  readonly reserve: number;
}

/**
 * The global cap for an open-file limit: what is left after the reserve,
 * shared out at DESCRIPTORS_PER_CONNECTION each. Pure.
 */
export function connectionBudget(openFileLimit: number): ConnectionBudget {
  const limit = Number.isFinite(openFileLimit) ? Math.max(0, Math.floor(openFileLimit)) : NR_OPEN;
  const reserve = Math.min(MAX_RESERVE, Math.max(MIN_RESERVE, Math.floor(limit / 8)));
  return { maxConnections: Math.max(1, Math.floor((limit - reserve) / DESCRIPTORS_PER_CONNECTION)), reserve };
}

/** The soft "Max open files" limit in /proc/PID/limits text; null when there is none. Pure. */
export function parseOpenFileLimit(limits: string): number | null {
  const match = /^Max open files\s+(\d+|unlimited)\s+/m.exec(limits);
  if (match === null) return null;
  return match[1] === 'unlimited' ? NR_OPEN : Number(match[1]);
}

/**
 * This process's open-file limit. Node raises the soft limit to the hard
 * one when it starts, so this is all the process can have; 1024 (the usual
 * default) when it cannot be read.
 */
export function openFileLimit(): number {
  try {
    return parseOpenFileLimit(readFileSync('/proc/self/limits', 'utf8')) ?? 1024;
  } catch {
    return 1024;
  }
}

/** The buffers every engine of an edge shares (pass them to worker threads as they are). */
export interface ConnectionCountBuffers {
  readonly clients: SharedArrayBuffer;
  readonly total: SharedArrayBuffer;
}

/**
 * Open client connections, per client and in all, shared by every thread
 * that constructs one over the same buffers. Per-client counts live in a
 * SharedLimiterTable (its eviction rules apply: with more clients holding
 * connections than its slots, a client's count may restart from zero —
 * the global count, kept apart, is exact).
 */
export class SharedConnectionCounts {
  readonly #clients: SharedLimiterTable;
  readonly #total: Int32Array;
  readonly #caps: ConnectionCaps;

  static create(slots: number = DEFAULT_LIMITER_SLOTS): ConnectionCountBuffers {
    return { clients: SharedLimiterTable.create(slots), total: new SharedArrayBuffer(4) };
  }

  constructor(buffers: ConnectionCountBuffers, caps: ConnectionCaps) {
    this.#clients = new SharedLimiterTable(buffers.clients);
    this.#total = new Int32Array(buffers.total);
    this.#caps = caps;
  }

  get total(): number {
    return Atomics.load(this.#total, 0);
  }

  /**
   * Counts a new connection from the client `key` (`clientKey()` of its
   * address) unless a cap refuses it. Pair every 'admit' with one `release(key)`.
   */
  admit(key: string): ConnectionVerdict {
    let verdict: ConnectionVerdict = 'admit';
    const total = this.#total;
    const caps = this.#caps;
    const admitted = this.#clients.enterIf('', key, (client) => {
      // Under the client's slot lock; the global count is taken by compare-and-swap, so it never overshoots.
      for (;;) {
        const open = Atomics.load(total, 0);
        verdict = judgeConnection({ total: open, client }, caps);
        if (verdict !== 'admit') return false;
        if (Atomics.compareExchange(total, 0, open, open + 1) === open) return true;
      }
    });
    return admitted ? 'admit' : verdict;
  }

  release(key: string): void {
    this.#clients.leave('', key);
    Atomics.sub(this.#total, 0, 1);
  }
}
