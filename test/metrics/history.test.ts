import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ObservationBatch, SiteCounters } from '../../src/edge/index.ts';
import { histogramQuantile, HISTORY_SPAN_MS, HISTORY_STEP_MS, MetricsHistory, type Sample } from '../../src/metrics/index.ts';

function counters(responses: number[], durations: number[], bytes = 0): SiteCounters {
  const full = new Array<number>(12).fill(0);
  durations.forEach((n, i) => (full[i] = n));
  return { responses, bytes, durations: full, durationSum: 0, cacheHits: 0, cacheMisses: 0, upstreamErrors: 0, upstreamRetries: 0, limited: 0 };
}

const batch = (sites: Record<string, SiteCounters>): ObservationBatch => ({ engine: 0, sites, connections: 0, records: [], dropped: 0 });

test('quantiles interpolate inside the bucket, as histogram_quantile does', () => {
  assert.equal(histogramQuantile(0.95, [0, 0, 0]), null);
  // 100 requests all in (0.005, 0.01]: p95 at 95% of the way through the bucket.
  assert.equal(histogramQuantile(0.95, [0, 100, 0], [0.005, 0.01]), 0.005 + 0.005 * 0.95);
  // 90 fast, 10 slow: the 95th is halfway into the slow bucket.
  assert.equal(histogramQuantile(0.95, [90, 10, 0], [0.1, 1]), 0.1 + 0.9 * 0.5);
  // Beyond the last bound: the last bound.
  assert.equal(histogramQuantile(0.95, [0, 0, 5], [0.1, 1]), 1);
});

test('steps close as time passes: one sample per app per step, zeros for quiet steps, an hour kept', () => {
  let now = 1_000_000 * HISTORY_STEP_MS;
  const history = new MetricsHistory({ now: () => now });
  const seen: Array<[string, Sample]> = [];
  history.subscribe((app, sample) => seen.push([app, sample]));
  history.ingest(batch({ shop: counters([0, 0, 8, 0, 1, 1], [10]), '': counters([0, 0, 0, 0, 3, 0], [3]) }));
  history.ingest(batch({ shop: counters([0, 0, 2, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 500) }));
  assert.deepEqual(history.series('shop'), []);
  now += HISTORY_STEP_MS;
  const [first] = history.series('shop');
  assert.deepEqual({ ...first!, p95Ms: undefined }, { t: now - HISTORY_STEP_MS, requests: 12, errors: 1, bytes: 500, p95Ms: undefined });
  assert.equal(first!.p95Ms, 10_000);
  assert.deepEqual(history.apps(), ['shop']);
  assert.deepEqual(seen.map(([app]) => app), ['shop']);
  now += 3 * HISTORY_STEP_MS;
  assert.deepEqual(history.series('shop').map((s) => s.requests), [12, 0, 0, 0]);
  now += 2 * HISTORY_SPAN_MS;
  history.tick();
  assert.ok(history.series('shop').length <= HISTORY_SPAN_MS / HISTORY_STEP_MS + 1);
  history.forget('shop');
  assert.deepEqual(history.series('shop'), []);
});
