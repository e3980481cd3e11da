// Size limits for HTTP/1.1 messages. Defaults are defined here once and
// reused by the engine, the config layer and the tests.

export interface Http1Limits {
  /** Request line + field lines + final CRLF, in bytes. Over it: 431. */
  readonly maxHeaderBytes: number;
  /** Number of field lines in the header section. Over it: 431. */
  readonly maxHeaderCount: number;
  /** Request line without its CRLF, in bytes. Over it: 414. */
  readonly maxRequestLineBytes: number;
  /** Request body bytes (declared Content-Length or chunk data as it arrives). Over it: 413. */
  readonly maxBodyBytes: number;
  /** One chunk-size line with its extensions, without CRLF. Over it: 400. */
  readonly maxChunkLineBytes: number;
  /** The trailer section of a chunked body. Over it: 431. Trailers are dropped. */
  readonly maxTrailerBytes: number;
}

export const DEFAULT_HTTP1_LIMITS: Http1Limits = Object.freeze({
  maxHeaderBytes: 16 * 1024,
  maxHeaderCount: 100,
  maxRequestLineBytes: 8 * 1024,
  // nginx's 1 MiB default turns ordinary uploads into 413s; 10 MiB is a
  // friendlier default for an app platform and still bounds abuse.
  maxBodyBytes: 10 * 1024 * 1024,
  maxChunkLineBytes: 4 * 1024,
  maxTrailerBytes: 8 * 1024,
});

/**
 * Defaults overlaid with the user's values. Throws a TypeError on an unknown
 * key or a value that is not a positive safe integer: a typo in a limit must
 * not silently fall back to the default.
 */
export function resolveHttp1Limits(overrides: Partial<Http1Limits> = {}): Http1Limits {
  const out: Record<string, number> = { ...DEFAULT_HTTP1_LIMITS };
  for (const [key, value] of Object.entries(overrides)) {
    if (!Object.hasOwn(DEFAULT_HTTP1_LIMITS, key)) throw new TypeError(`unknown HTTP/1 limit "${key}"`);
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      throw new TypeError(`HTTP/1 limit "${key}" must be a positive integer, got ${String(value)}`);
    }
    out[key] = value;
  }
  return Object.freeze(out) as unknown as Http1Limits;
}
