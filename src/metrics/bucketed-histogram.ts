import type { Metric, Registry } from 'prom-client';

// A Prometheus histogram fed with counts that are already bucketed.
//
// The edge's engines count request durations per bucket themselves (a few
// additions per request, in every engine thread) and hand the daemon
// per-bucket deltas about once a second. prom-client's `Histogram` only
// takes single observations (`observe(value)`), so replaying the deltas
// would mean inventing one value per request inside each bucket: wasteful
// (thousands of calls per second) and wrong for `_sum`, which the edge
// measured exactly. Its internal per-series state is not an API either.
//
// So this is a custom metric: the Registry asks every registered metric for
// `get()` (name, help, type and sample values, each with an optional
// `metricName`) and formats the text itself — the same contract prom-client's
// own metrics follow, which is how it supports custom collectors. This class
// keeps the running totals per label set and answers `get()` with the
// exposition a Prometheus histogram has: cumulative `_bucket{le=…}` lines
// ending with `le="+Inf"`, then `_sum` and `_count` (equal to the +Inf bucket).

type Labels<L extends string> = Readonly<Record<L, string>>;

interface Series<L extends string> {
  readonly labels: Labels<L>;
  /** Per bucket, not cumulative; the last one past the last bound (+Inf). */
  readonly counts: number[];
  sum: number;
}

interface Sample {
  readonly metricName: string;
  readonly labels: Record<string, string | number>;
  readonly value: number;
}

export interface BucketedHistogramOptions<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  /** Upper bounds, ascending, without +Inf. */
  readonly buckets: readonly number[];
  readonly registers?: readonly Registry[];
}

export class BucketedHistogram<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram' as const;
  /** How prom-client's cluster mode would merge it (it is not used in cluster mode). */
  readonly aggregator = 'sum' as const;
  readonly #labelNames: readonly L[];
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, Series<L>>();

  constructor(options: BucketedHistogramOptions<L>) {
    for (let i = 1; i < options.buckets.length; i++) {
      if (!(options.buckets[i]! > options.buckets[i - 1]!)) throw new Error(`${options.name}: bucket bounds must ascend`);
    }
    if (options.labelNames.includes('le' as L)) throw new Error(`${options.name}: "le" is the bucket label`);
    this.name = options.name;
    this.help = options.help;
    this.#labelNames = options.labelNames;
    this.#bounds = options.buckets;
    // The Registry reads only `name`, `help`, `type` and `get()` (and calls `reset()` on resetMetrics).
    for (const register of options.registers ?? []) register.registerMetric(this as unknown as Metric);
  }

  #key(labels: Labels<L>): string {
    return JSON.stringify(this.#labelNames.map((name) => labels[name]));
  }

  /** Adds observations: `counts` per bucket (not cumulative, one more than the bounds: the last is +Inf) and their sum. */
  add(labels: Labels<L>, counts: readonly number[], sum: number): void {
    if (counts.length !== this.#bounds.length + 1) throw new Error(`${this.name}: ${counts.length} bucket counts, expected ${this.#bounds.length + 1} (one per bound, then +Inf)`);
    const key = this.#key(labels);
    let series = this.#series.get(key);
    if (series === undefined) {
      const own = {} as Record<L, string>;
      for (const name of this.#labelNames) own[name] = labels[name];
      this.#series.set(key, (series = { labels: own, counts: new Array<number>(counts.length).fill(0), sum: 0 }));
    }
    for (let i = 0; i < counts.length; i++) series.counts[i]! += counts[i]!;
    series.sum += sum;
  }

  /** Forgets one label set's series. */
  remove(labels: Labels<L>): void {
    this.#series.delete(this.#key(labels));
  }

  /** The label sets that have a series. */
  labelSets(): Labels<L>[] {
    return [...this.#series.values()].map((series) => series.labels);
  }

  reset(): void {
    this.#series.clear();
  }

  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Sample[] }> {
    const values: Sample[] = [];
    for (const series of this.#series.values()) {
      let cumulative = 0;
      for (let i = 0; i < series.counts.length; i++) {
        cumulative += series.counts[i]!;
        const le = i < this.#bounds.length ? this.#bounds[i]! : '+Inf';
        values.push({ metricName: `${this.name}_bucket`, labels: { ...series.labels, le }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_sum`, labels: { ...series.labels }, value: series.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...series.labels }, value: cumulative });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
