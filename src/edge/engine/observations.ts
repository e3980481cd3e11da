// What an engine saw, for metrics and access logs: every finished exchange
// is folded into per-site counters (cheap: a few additions) and, when access
// logging is on, kept as a record. The engine hands both over about once a
// second as one plain-data batch (posted to the main thread by worker
// engines); the control plane sums batches into Prometheus metrics, writes
// the records to each app's access log, and feeds the dashboard.

/** One request and its answer, as an access log line holds it. */
export interface ExchangeRecord {
  /** The site key (the app name), '' when the request matched no site. */
  readonly site: string;
  /** Epoch ms when the request head was complete. */
  readonly time: number;
  readonly method: string;
  /** Path and query as received. */
  readonly target: string;
  readonly host: string;
  readonly status: number;
  /** Bytes sent for the response, head included. */
  readonly bytes: number;
  readonly durationMs: number;
  /** The instance that answered ("web.1"), or null when none did. */
  readonly upstream: string | null;
  readonly requestId: string;
  readonly client: string;
  readonly protocol: 'HTTP/1.0' | 'HTTP/1.1' | 'HTTP/2';
  /** The cache's part: 'hit', 'stale' (served stale), 'miss' (forwarded), or null (not cacheable). */
  readonly cache: 'hit' | 'stale' | 'miss' | null;
  readonly referer: string | null;
  readonly userAgent: string | null;
}

/** Upper bounds (seconds) of the request duration histogram: Prometheus' defaults. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** One site's counters since the last batch. */
export interface SiteCounters {
  /** Responses by status class: index 1 = 1xx … 5 = 5xx, 0 = anything else. */
  readonly responses: number[];
  bytes: number;
  /** Counts per DURATION_BUCKETS bound (not cumulative), the last one for +Inf. */
  readonly durations: number[];
  durationSum: number;
  cacheHits: number;
  cacheMisses: number;
  /** Requests the edge answered 502/504 because the app failed it. */
  upstreamErrors: number;
  /** Extra attempts on other instances after a refused or reset connection. */
  upstreamRetries: number;
  /** Requests refused 429 by the app's rate or in-flight limits. */
  limited: number;
}

export interface ObservationBatch {
  /** Which engine of the edge sent it (0 is the main thread's): gauges are per engine. */
  readonly engine: number;
  /** Per site key ('' for requests that matched no site). */
  readonly sites: Record<string, SiteCounters>;
  /** Open client connections right now (a gauge, not a delta). */
  readonly connections: number;
  readonly records: ExchangeRecord[];
  /** Records not kept because the queue was full since the last batch. */
  readonly dropped: number;
}

/** What the engine knows of an exchange beyond its record: how the upstream part went. */
export interface ExchangeFacts {
  /** Attempts made on instances (0 when none was asked). */
  readonly attempts: number;
  /** The answer was the edge's 502/504 for an app failure. */
  readonly upstreamError: boolean;
  /** Refused by the site's limits (429). */
  readonly limited: boolean;
}

/** Records kept between batches at most; more are counted as dropped. */
const MAX_RECORDS = 50_000;

function newCounters(): SiteCounters {
  return {
    responses: [0, 0, 0, 0, 0, 0],
    bytes: 0,
    durations: new Array<number>(DURATION_BUCKETS.length + 1).fill(0),
    durationSum: 0,
    cacheHits: 0,
    cacheMisses: 0,
    upstreamErrors: 0,
    upstreamRetries: 0,
    limited: 0,
  };
}

/** The bucket index of a duration in seconds. */
export function durationBucket(seconds: number): number {
  for (let i = 0; i < DURATION_BUCKETS.length; i++) if (seconds <= DURATION_BUCKETS[i]!) return i;
  return DURATION_BUCKETS.length;
}

export class Observer {
  readonly #keepRecords: boolean;
  #sites: Record<string, SiteCounters> = {};
  #records: ExchangeRecord[] = [];
  #dropped = 0;
  #seen = false;

  constructor(options: { keepRecords: boolean }) {
    this.#keepRecords = options.keepRecords;
  }

  record(record: ExchangeRecord, facts: ExchangeFacts): void {
    this.#seen = true;
    const counters = (this.#sites[record.site] ??= newCounters());
    const statusClass = Math.floor(record.status / 100);
    counters.responses[statusClass >= 1 && statusClass <= 5 ? statusClass : 0]!++;
    counters.bytes += record.bytes;
    const seconds = record.durationMs / 1000;
    counters.durations[durationBucket(seconds)]!++;
    counters.durationSum += seconds;
    if (record.cache === 'hit' || record.cache === 'stale') counters.cacheHits++;
    else if (record.cache === 'miss') counters.cacheMisses++;
    if (facts.upstreamError) counters.upstreamErrors++;
    if (facts.attempts > 1) counters.upstreamRetries += facts.attempts - 1;
    if (facts.limited) counters.limited++;
    if (!this.#keepRecords) return;
    if (this.#records.length < MAX_RECORDS) this.#records.push(record);
    else this.#dropped++;
  }

  /** Everything since the last call, or null when nothing happened (the connection gauge is sent anyway by the caller when it changed). */
  take(connections: number, engine = 0): ObservationBatch | null {
    if (!this.#seen) return null;
    const batch = { engine, sites: this.#sites, connections, records: this.#records, dropped: this.#dropped };
    this.#sites = {};
    this.#records = [];
    this.#dropped = 0;
    this.#seen = false;
    return batch;
  }
}
