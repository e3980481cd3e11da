import { Counter, Gauge, type Registry } from 'prom-client';
import { DURATION_BUCKETS, type ObservationBatch, type SiteCounters } from '../edge/index.ts';
import { BucketedHistogram } from './bucketed-histogram.ts';

// What the edge saw, as Prometheus metrics: the engines' observation batches
// (per-site deltas, about once a second per engine) summed into counters
// and a duration histogram per app.

/**
 * The `app` label of requests that matched no app (unknown hosts, the
 * platform's own 404s). An empty label value reads as "no label" in
 * PromQL, so a fixed value that no app name can take (names are
 * [a-z][a-z0-9-]*) keeps them apart and still in every sum.
 */
export const UNROUTED_APP = '(none)';

/** Status classes by the index of `SiteCounters.responses` (0: anything else). */
const STATUS_CLASSES = ['other', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** An observation batch, with the engine that sent it when the edge says so. */
/** A batch as the edge sends it: `engine` says which engine's connection gauge it carries. */
export type EngineBatch = ObservationBatch;

export class EdgeMetrics {
  readonly #requests: Counter<'app' | 'code'>;
  readonly #bytes: Counter<'app'>;
  readonly #duration: BucketedHistogram<'app'>;
  readonly #upstreamErrors: Counter<'app'>;
  readonly #upstreamRetries: Counter<'app'>;
  readonly #cache: Counter<'app' | 'result'>;
  readonly #limited: Counter<'app'>;
  /** The `app` label values that have series. */
  readonly #apps = new Set<string>();
  /** Open connections as each engine last reported them (a gauge per engine: summed, never added up over time). */
  readonly #connections = new Map<number, number>();

  constructor(register: Registry) {
    const registers = [register];
    this.#requests = new Counter({ name: 'berth_http_requests_total', help: 'HTTP responses the edge sent, by app and status class (code="2xx" …, "other" for anything outside 1xx-5xx).', labelNames: ['app', 'code'], registers });
    this.#duration = new BucketedHistogram({
      name: 'berth_http_request_duration_seconds',
      help: 'Time from a complete request head to the last byte of the response, by app.',
      labelNames: ['app'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#bytes = new Counter({ name: 'berth_http_response_bytes_total', help: 'Bytes the edge sent in responses (heads included), by app.', labelNames: ['app'], registers });
    this.#upstreamErrors = new Counter({ name: 'berth_http_upstream_errors_total', help: "Requests the edge answered 502/504 because the app's instances failed them.", labelNames: ['app'], registers });
    this.#upstreamRetries = new Counter({ name: 'berth_http_upstream_retries_total', help: 'Extra attempts on another instance after a refused or reset upstream connection.', labelNames: ['app'], registers });
    this.#cache = new Counter({ name: 'berth_http_cache_requests_total', help: "Cacheable requests by the response cache's result: hit (fresh or served stale) or miss (forwarded).", labelNames: ['app', 'result'], registers });
    this.#limited = new Counter({ name: 'berth_http_rate_limited_total', help: "Requests refused 429 by the app's rate or in-flight limits.", labelNames: ['app'], registers });
    const connections = this.#connections;
    new Gauge({
      name: 'berth_edge_open_connections',
      help: 'Client connections open in the edge right now (all engines).',
      registers,
      collect() {
        let open = 0;
        for (const n of connections.values()) open += n;
        this.set(open);
      },
    });
  }

  /** Adds one engine's batch. */
  ingest(batch: EngineBatch): void {
    this.#connections.set(batch.engine, batch.connections);
    for (const [site, counters] of Object.entries(batch.sites)) this.#add(site === '' ? UNROUTED_APP : site, counters);
  }

  #add(app: string, counters: SiteCounters): void {
    if (!this.#apps.has(app)) this.#start(app);
    counters.responses.forEach((n, i) => {
      if (n > 0) this.#requests.inc({ app, code: STATUS_CLASSES[i] ?? 'other' }, n);
    });
    this.#duration.add({ app }, counters.durations, counters.durationSum);
    if (counters.bytes > 0) this.#bytes.inc({ app }, counters.bytes);
    if (counters.upstreamErrors > 0) this.#upstreamErrors.inc({ app }, counters.upstreamErrors);
    if (counters.upstreamRetries > 0) this.#upstreamRetries.inc({ app }, counters.upstreamRetries);
    if (counters.cacheHits > 0) this.#cache.inc({ app, result: 'hit' }, counters.cacheHits);
    if (counters.cacheMisses > 0) this.#cache.inc({ app, result: 'miss' }, counters.cacheMisses);
    if (counters.limited > 0) this.#limited.inc({ app }, counters.limited);
  }

  /** An app's first batch: its usual series start at zero, so a rate over them exists before the first 5xx. */
  #start(app: string): void {
    this.#apps.add(app);
    for (const code of STATUS_CLASSES.slice(1)) this.#requests.inc({ app, code }, 0);
    for (const counter of [this.#bytes, this.#upstreamErrors, this.#upstreamRetries, this.#limited]) counter.inc({ app }, 0);
    for (const result of ['hit', 'miss']) this.#cache.inc({ app, result }, 0);
  }

  /** The apps (label values) with series, UNROUTED_APP included once seen. */
  apps(): string[] {
    return [...this.#apps];
  }

  /** Drops every series of an app (a destroyed app's series end rather than stay forever). */
  removeApp(app: string): void {
    if (!this.#apps.delete(app)) return;
    for (const code of STATUS_CLASSES) this.#requests.remove({ app, code });
    this.#duration.remove({ app });
    for (const counter of [this.#bytes, this.#upstreamErrors, this.#upstreamRetries, this.#limited]) counter.remove({ app });
    for (const result of ['hit', 'miss']) this.#cache.remove({ app, result });
  }
}
