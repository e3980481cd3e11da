import { DURATION_BUCKETS, type ObservationBatch } from '../edge/index.ts';

// The last hour of each app's traffic in fixed steps, for the dashboard's
// charts and sparklines: requests, 5xx answers, bytes and the 95th
// percentile of durations per step. Fed with the edge's observation
// batches; a step closes when time passes its end (checked on every batch
// and by `tick`), and listeners get each closed step at once.

/** One step of one app. */
export interface Sample {
  /** Epoch ms at which the step began. */
  readonly t: number;
  readonly requests: number;
  /** Answers with a 5xx status (the app's, or the edge's 502/504). */
  readonly errors: number;
  readonly bytes: number;
  /** 95th percentile of durations in ms, estimated from the histogram; null without requests. */
  readonly p95Ms: number | null;
}

export const HISTORY_STEP_MS = 5_000;
export const HISTORY_SPAN_MS = 60 * 60_000;

interface Open {
  requests: number;
  errors: number;
  bytes: number;
  readonly durations: number[];
}

/**
 * The q-quantile (0..1) of a histogram given as counts per bucket (not
 * cumulative; the last bucket unbounded), by linear interpolation inside
 * the bucket, as Prometheus' histogram_quantile does. Seconds; null when empty.
 */
export function histogramQuantile(q: number, counts: readonly number[], bounds: readonly number[] = DURATION_BUCKETS): number | null {
  const total = counts.reduce((sum, n) => sum + n, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i]!;
    if (seen + count >= rank && count > 0) {
      // Past the last bound there is nothing to interpolate to: the last bound, as Prometheus answers.
      if (i >= bounds.length) return bounds[bounds.length - 1]!;
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      const upper = bounds[i]!;
      return lower + (upper - lower) * ((rank - seen) / count);
    }
    seen += count;
  }
  return bounds[bounds.length - 1]!;
}

export class MetricsHistory {
  readonly #now: () => number;
  readonly #closed = new Map<string, Sample[]>();
  #open = new Map<string, Open>();
  #stepStart: number;
  readonly #listeners = new Set<(app: string, sample: Sample) => void>();

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#stepStart = Math.floor(this.#now() / HISTORY_STEP_MS) * HISTORY_STEP_MS;
  }

  /** Adds an observation batch to the current step (the unnamed site '' is not an app: skipped). */
  ingest(batch: ObservationBatch): void {
    this.tick();
    for (const [app, counters] of Object.entries(batch.sites)) {
      if (app === '') continue;
      let open = this.#open.get(app);
      if (open === undefined) this.#open.set(app, (open = { requests: 0, errors: 0, bytes: 0, durations: new Array<number>(DURATION_BUCKETS.length + 1).fill(0) }));
      for (const n of counters.responses) open.requests += n;
      open.errors += counters.responses[5] ?? 0;
      open.bytes += counters.bytes;
      counters.durations.forEach((n, i) => (open.durations[i]! += n));
    }
  }

  /** Closes every step that has ended: each app gets a sample per step (zeros for a quiet app it has seen). */
  tick(): void {
    const now = this.#now();
    while (now >= this.#stepStart + HISTORY_STEP_MS) {
      const t = this.#stepStart;
      const apps = new Set([...this.#closed.keys(), ...this.#open.keys()]);
      for (const app of apps) {
        const open = this.#open.get(app);
        const p95 = open === undefined ? null : histogramQuantile(0.95, open.durations);
        const sample: Sample = {
          t,
          requests: open?.requests ?? 0,
          errors: open?.errors ?? 0,
          bytes: open?.bytes ?? 0,
          p95Ms: p95 === null ? null : Math.round(p95 * 1000 * 10) / 10,
        };
        let series = this.#closed.get(app);
        if (series === undefined) this.#closed.set(app, (series = []));
        series.push(sample);
        const oldest = t - HISTORY_SPAN_MS;
        while (series.length > 0 && series[0]!.t < oldest) series.shift();
        for (const listener of this.#listeners) listener(app, sample);
      }
      this.#open = new Map();
      this.#stepStart += HISTORY_STEP_MS;
      // After a long pause (a suspended machine), skip the empty steps rather than emitting an hour of zeros one by one.
      if (now - this.#stepStart > HISTORY_SPAN_MS) this.#stepStart = Math.floor(now / HISTORY_STEP_MS) * HISTORY_STEP_MS;
    }
  }

  /** The closed steps of the last hour for `app`, oldest first. */
  series(app: string): readonly Sample[] {
    this.tick();
    return this.#closed.get(app) ?? [];
  }

  /** Apps with any history. */
  apps(): string[] {
    return [...this.#closed.keys()];
  }

  /** Forgets an app (destroyed). */
  forget(app: string): void {
    this.#closed.delete(app);
    this.#open.delete(app);
  }

  /** Calls `listener` with every step as it closes; returns the unsubscribe function. */
  subscribe(listener: (app: string, sample: Sample) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
