/** What the tiny upstream answers, shared with the harness that checks the proxied bodies. */
export const TINY_BODY = 'hello, world\n';
export const LARGE_PATH = '/1mb';
export const LARGE_BODY_BYTES = 1024 * 1024;
/** Answered like TINY_BODY but with `Cache-Control: public, max-age=3600`, so a caching proxy keeps it. */
export const CACHED_PATH = '/cached';
export const CACHED_BODY = 'hello, cache\n';
export const CACHE_CONTROL = 'public, max-age=3600';
/** The upstream's request counters as JSON ({@link UpstreamCounts}); never proxied by the benchmark. */
export const STATS_PATH = '/__bench/stats';

/** Requests the upstream answered since it started, of every kind and for CACHED_PATH. */
export interface UpstreamCounts {
  readonly requests: number;
  readonly cached: number;
}
