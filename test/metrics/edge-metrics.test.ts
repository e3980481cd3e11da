import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DURATION_BUCKETS, type SiteCounters } from '../../src/edge/index.ts';
import { BerthMetrics, UNROUTED_APP, type EngineBatch } from '../../src/metrics/index.ts';
import { Exposition } from './prom-text.ts';

function counters(fields: Partial<Omit<SiteCounters, 'responses' | 'durations'>> & { responses?: number[]; durations?: Record<number, number> }): SiteCounters {
  const durations = new Array<number>(DURATION_BUCKETS.length + 1).fill(0);
  for (const [i, n] of Object.entries(fields.durations ?? {})) durations[Number(i)] = n;
  return {
    bytes: 0,
    durationSum: 0,
    cacheHits: 0,
    cacheMisses: 0,
    upstreamErrors: 0,
    upstreamRetries: 0,
    limited: 0,
    ...fields,
    responses: fields.responses ?? [0, 0, 0, 0, 0, 0],
    durations,
  };
}

function batch(sites: Record<string, SiteCounters>, connections = 0, engine = 0): EngineBatch {
  return { engine, sites, connections, records: [], dropped: 0 };
}

function newMetrics(apps: string[]) {
  return new BerthMetrics({ sources: { apps: () => apps, running: () => [] }, processMetrics: false });
}

test("batches from several engines add up per app and status class; the duration histogram counts every response", async () => {
  const metrics = newMetrics(['shop', 'blog']);
  // Engine 0: 3 fast 200s and a slow 404 for shop; 2 requests for unknown hosts.
  metrics.observe(batch({
    shop: counters({ responses: [0, 0, 3, 0, 1, 0], bytes: 4000, durations: { 0: 3, 8: 1 }, durationSum: 2.012, cacheHits: 1, cacheMisses: 2 }),
    '': counters({ responses: [0, 0, 0, 0, 2, 0], bytes: 300, durations: { 0: 2 }, durationSum: 0.002 }),
  }, 2, 0));
  // Engine 1: a 502 after a retry, a 429, and a 200 slower than the last bound.
  metrics.observe(batch({
    shop: counters({ responses: [0, 0, 1, 0, 1, 1], bytes: 1000, durations: { 4: 1, 5: 1, [DURATION_BUCKETS.length]: 1 }, durationSum: 12.35, upstreamErrors: 1, upstreamRetries: 2, limited: 1 }),
  }, 1, 1));

  const scraped = new Exposition(await metrics.scrape());
  const requests = (app: string, code: string) => scraped.value('berth_http_requests_total', { app, code });
  assert.equal(scraped.families.get('berth_http_requests_total')?.type, 'COUNTER');
  assert.deepEqual(['1xx', '2xx', '3xx', '4xx', '5xx'].map((code) => requests('shop', code)), [0, 4, 0, 2, 1]);
  assert.equal(requests('shop', 'other'), undefined);
  assert.equal(requests(UNROUTED_APP, '4xx'), 2);
  assert.equal(scraped.samples('berth_http_requests_total').some((s) => s.labels.app === ''), false);
  assert.equal(scraped.samples('berth_http_requests_total').some((s) => s.labels.app === 'blog'), false, 'an app without traffic has no series yet');

  const shop = scraped.histogram('berth_http_request_duration_seconds', { app: 'shop' })!;
  assert.equal(shop.count, 7);
  assert.equal(shop.buckets.length, DURATION_BUCKETS.length + 1);
  assert.deepEqual(shop.buckets.map(([le]) => le), [...DURATION_BUCKETS, Infinity]);
  // Bounds: 0.005 → 3; 0.1 (index 4) → 4; 0.25 → 5; 2.5 (index 8) → 6; +Inf → 7.
  assert.deepEqual(shop.buckets.map(([, n]) => n), [3, 3, 3, 3, 4, 5, 5, 5, 6, 6, 6, 7]);
  assert.ok(Math.abs(shop.sum - 14.362) < 1e-9);
  assert.equal(scraped.histogram('berth_http_request_duration_seconds', { app: UNROUTED_APP })!.count, 2);

  assert.equal(scraped.value('berth_http_response_bytes_total', { app: 'shop' }), 5000);
  assert.equal(scraped.value('berth_http_response_bytes_total', { app: UNROUTED_APP }), 300);
  assert.equal(scraped.value('berth_http_upstream_errors_total', { app: 'shop' }), 1);
  assert.equal(scraped.value('berth_http_upstream_retries_total', { app: 'shop' }), 2);
  assert.equal(scraped.value('berth_http_rate_limited_total', { app: 'shop' }), 1);
  assert.equal(scraped.value('berth_http_cache_requests_total', { app: 'shop', result: 'hit' }), 1);
  assert.equal(scraped.value('berth_http_cache_requests_total', { app: 'shop', result: 'miss' }), 2);
  assert.equal(scraped.value('berth_http_upstream_errors_total', { app: UNROUTED_APP }), 0, 'series start at zero');
  assert.equal(scraped.families.get('berth_edge_open_connections')?.type, 'GAUGE');
  assert.equal(scraped.value('berth_edge_open_connections'), 3);
});

test('open connections are the sum of each engine\'s latest count, not a running total', async () => {
  const metrics = newMetrics([]);
  metrics.observe(batch({}, 5, 0));
  metrics.observe(batch({}, 4, 1));
  metrics.observe(batch({}, 1, 0));
  assert.equal(new Exposition(await metrics.scrape()).value('berth_edge_open_connections'), 5);
  metrics.observe(batch({}, 0, 1));
  metrics.observe(batch({}, 0, 0));
  assert.equal(new Exposition(await metrics.scrape()).value('berth_edge_open_connections'), 0);
});

test("a destroyed app's series disappear at the next scrape; unrouted requests stay", async () => {
  const apps = ['shop', 'blog'];
  const metrics = newMetrics(apps);
  const traffic = () => counters({ responses: [0, 0, 1, 0, 0, 0], bytes: 10, durations: { 0: 1 } });
  metrics.observe(batch({ shop: traffic(), blog: traffic(), '': traffic() }));
  metrics.record({ kind: 'deploy', app: 'blog', outcome: 'succeeded', seconds: 3 });
  let scraped = new Exposition(await metrics.scrape());
  assert.equal(scraped.value('berth_http_requests_total', { app: 'blog', code: '2xx' }), 1);
  assert.equal(scraped.value('berth_deploys_total', { app: 'blog', outcome: 'succeeded' }), 1);

  apps.splice(apps.indexOf('blog'), 1);
  scraped = new Exposition(await metrics.scrape());
  for (const name of ['berth_http_requests_total', 'berth_http_response_bytes_total', 'berth_http_request_duration_seconds_bucket', 'berth_http_cache_requests_total', 'berth_deploys_total', 'berth_deploy_duration_seconds_count']) {
    assert.equal(scraped.samples(name).some((s) => s.labels.app === 'blog'), false, name);
  }
  assert.equal(scraped.value('berth_http_requests_total', { app: 'shop', code: '2xx' }), 1);
  assert.equal(scraped.value('berth_http_requests_total', { app: UNROUTED_APP, code: '2xx' }), 1);

  // Created again under the same name, it starts from zero.
  apps.push('blog');
  metrics.observe(batch({ blog: traffic() }));
  assert.equal(new Exposition(await metrics.scrape()).value('berth_http_requests_total', { app: 'blog', code: '2xx' }), 1);
});

test("the daemon's own process metrics come with prom-client's standard names", async () => {
  const metrics = new BerthMetrics({ sources: { apps: () => [], running: () => [] } });
  const scraped = new Exposition(await metrics.scrape());
  assert.ok(scraped.value('process_resident_memory_bytes')! > 0);
  assert.equal(scraped.families.get('process_cpu_seconds_total')?.type, 'COUNTER');
  assert.equal(scraped.families.get('nodejs_eventloop_lag_seconds')?.type, 'GAUGE');
  assert.ok(scraped.families.has('nodejs_eventloop_lag_p99_seconds'));
  assert.ok(scraped.value('nodejs_heap_size_used_bytes')! > 0);
  assert.equal(metrics.contentType, 'text/plain; version=0.0.4; charset=utf-8');
});
