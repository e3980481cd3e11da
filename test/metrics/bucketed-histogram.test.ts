import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { BucketedHistogram } from '../../src/metrics/bucketed-histogram.ts';
import { Exposition } from './prom-text.ts';

test('pre-bucketed counts come out as a Prometheus histogram: cumulative buckets up to +Inf, _sum and _count', async () => {
  const registry = new Registry();
  const histogram = new BucketedHistogram({ name: 'test_duration_seconds', help: 'Test durations.', labelNames: ['app'], buckets: [0.1, 1, 10], registers: [registry] });
  histogram.add({ app: 'shop' }, [2, 0, 1, 0], 3.25);
  histogram.add({ app: 'shop' }, [1, 3, 0, 2], 40);
  histogram.add({ app: 'blog' }, [0, 0, 0, 1], 12);

  const text = await registry.metrics();
  assert.match(text, /^# TYPE test_duration_seconds histogram$/m);
  const scraped = new Exposition(text);
  assert.equal(scraped.families.get('test_duration_seconds')?.type, 'HISTOGRAM');
  assert.equal(scraped.families.get('test_duration_seconds')?.help, 'Test durations.');
  assert.deepEqual(scraped.histogram('test_duration_seconds', { app: 'shop' }), {
    buckets: [[0.1, 3], [1, 6], [10, 7], [Infinity, 9]],
    sum: 43.25,
    count: 9,
  });
  assert.deepEqual(scraped.histogram('test_duration_seconds', { app: 'blog' }), { buckets: [[0.1, 0], [1, 0], [10, 0], [Infinity, 1]], sum: 12, count: 1 });
  assert.match(text, /^test_duration_seconds_bucket\{app="shop",le="\+Inf"\} 9$/m);

  histogram.remove({ app: 'shop' });
  const after = new Exposition(await registry.metrics());
  assert.equal(after.histogram('test_duration_seconds', { app: 'shop' }), undefined);
  assert.equal(after.histogram('test_duration_seconds', { app: 'blog' })?.count, 1);
  assert.deepEqual(histogram.labelSets(), [{ app: 'blog' }]);

  registry.resetMetrics();
  assert.equal(new Exposition(await registry.metrics()).histogram('test_duration_seconds', { app: 'blog' }), undefined);
});

test('a histogram refuses bounds out of order, an "le" label and counts that do not fit its bounds', () => {
  assert.throws(() => new BucketedHistogram({ name: 'a', help: 'a', labelNames: [], buckets: [1, 1] }), /ascend/);
  assert.throws(() => new BucketedHistogram({ name: 'b', help: 'b', labelNames: ['le'], buckets: [1] }), /le/);
  const histogram = new BucketedHistogram({ name: 'c', help: 'c', labelNames: [], buckets: [1, 2] });
  assert.throws(() => histogram.add({}, [1, 2], 0), /3/);
});
