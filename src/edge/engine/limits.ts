import { DEFAULT_HTTP1_LIMITS, type Http1Limits } from '../http1/index.ts';
import type { UpstreamTimeouts } from './exchange.ts';

/** Every limit of the edge, with its default defined once. */
export interface EdgeLimits extends Http1Limits, UpstreamTimeouts {
  /** From the first byte of a request head to its end (slowloris guard) → 408. */
  readonly headerTimeoutMs: number;
  /** Longest silence while a request body arrives → 408. */
  readonly bodyIdleTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  readonly keepAliveTimeoutMs: number;
  /** Longest time a client may take to accept any response bytes before it is cut. */
  readonly sendTimeoutMs: number;
  /** Request bodies are buffered whole before forwarding: in memory up to this, then on disk. */
  readonly requestBufferBytes: number;
  /** Response bytes a slow client has not taken yet: in memory up to this, then on disk. */
  readonly responseBufferBytes: number;
  /** At most this much of a response is held for a client that does not read. */
  readonly maxResponseSpoolBytes: number;
  /** Memory for cached responses, for the whole edge (each engine thread holds its share). */
  readonly cacheMemoryBytes: number;
  /** A response larger than this is never cached. */
  readonly cacheEntryBytes: number;
  /**
   * Client connections open at once in the whole edge (every engine and
   * protocol); over it a new connection is closed at once. 0 (the default
   * only): derived from the open-file limit, keeping a reserve for the
   * rest of the daemon (see connection-admission.ts).
   */
  readonly maxConnections: number;
  /** Client connections open at once from one address (IPv6: one /64); over it a new one is closed at once. */
  readonly maxConnectionsPerClient: number;
  /**
   * Bytes per second a request body must average once `bodyIdleTimeoutMs`
   * has passed: each byte received earns the client 1/rate s more (as
   * Apache's mod_reqtimeout minrate), so a byte now and then never holds
   * a connection for ever. Slower → 408.
   */
  readonly minBodyRateBytes: number;
  /** The same for a client taking a response, once `sendTimeoutMs` has passed while it was behind. Slower → cut. */
  readonly minSendRateBytes: number;
}

export const DEFAULT_EDGE_LIMITS: EdgeLimits = Object.freeze({
  ...DEFAULT_HTTP1_LIMITS,
  maxBodyBytes: 1024 * 1024 * 1024,
  headerTimeoutMs: 10_000,
  bodyIdleTimeoutMs: 30_000,
  keepAliveTimeoutMs: 60_000,
  sendTimeoutMs: 60_000,
  requestBufferBytes: 64 * 1024,
  responseBufferBytes: 1024 * 1024,
  maxResponseSpoolBytes: 1024 * 1024 * 1024,
  cacheMemoryBytes: 256 * 1024 * 1024,
  cacheEntryBytes: 8 * 1024 * 1024,
  connectTimeoutMs: 5_000,
  firstByteTimeoutMs: 60_000,
  idleTimeoutMs: 60_000,
  maxConnections: 0,
  maxConnectionsPerClient: 256,
  minBodyRateBytes: 500,
  minSendRateBytes: 500,
});

/** Defaults overlaid with the user's values; unknown keys and non-positive values are refused. */
export function resolveEdgeLimits(overrides: Partial<EdgeLimits> = {}): EdgeLimits {
  const out: Record<string, number> = { ...DEFAULT_EDGE_LIMITS };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!Object.hasOwn(DEFAULT_EDGE_LIMITS, key)) throw new TypeError(`unknown edge limit "${key}"`);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new TypeError(`edge limit "${key}" must be a positive integer`);
    out[key] = value;
  }
  return Object.freeze(out) as unknown as EdgeLimits;
}
