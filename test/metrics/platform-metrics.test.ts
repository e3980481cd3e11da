import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthMetrics } from '../../src/metrics/index.ts';
import { Exposition } from './prom-text.ts';

test('builds and deploys are counted by outcome with their durations; berth_apps counts the apps', async () => {
  const apps = ['shop', 'blog', 'wiki'];
  const metrics = new BerthMetrics({ sources: { apps: () => apps, running: () => [] }, processMetrics: false });
  metrics.record({ kind: 'build', app: 'shop', outcome: 'succeeded', seconds: 42 });
  metrics.record({ kind: 'deploy', app: 'shop', outcome: 'succeeded', seconds: 50 });
  metrics.record({ kind: 'build', app: 'shop', outcome: 'failed', seconds: 3 });
  metrics.record({ kind: 'deploy', app: 'shop', outcome: 'failed', seconds: 4 });
  metrics.record({ kind: 'deploy', app: 'blog', outcome: 'failed', seconds: 0.5 });

  const scraped = new Exposition(await metrics.scrape());
  assert.equal(scraped.value('berth_builds_total', { app: 'shop', outcome: 'succeeded' }), 1);
  assert.equal(scraped.value('berth_builds_total', { app: 'shop', outcome: 'failed' }), 1);
  assert.equal(scraped.value('berth_deploys_total', { app: 'shop', outcome: 'succeeded' }), 1);
  assert.equal(scraped.value('berth_deploys_total', { app: 'blog', outcome: 'failed' }), 1);
  assert.equal(scraped.value('berth_deploys_total', { app: 'blog', outcome: 'succeeded' }), 0);
  const builds = scraped.histogram('berth_build_duration_seconds', { app: 'shop' })!;
  assert.equal(builds.count, 2);
  assert.equal(builds.sum, 45);
  assert.deepEqual(builds.buckets.filter(([le]) => le === 5 || le === 60), [[5, 1], [60, 2]]);
  assert.equal(scraped.histogram('berth_deploy_duration_seconds', { app: 'shop' })!.sum, 54);
  assert.equal(scraped.histogram('berth_build_duration_seconds', { app: 'blog' }), undefined);
  assert.equal(scraped.families.get('berth_apps')?.type, 'GAUGE');
  assert.equal(scraped.value('berth_apps'), 3);
});
