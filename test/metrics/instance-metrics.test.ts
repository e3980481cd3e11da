import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthMetrics, type RunningApp, type RunningInstance } from '../../src/metrics/index.ts';
import type { GroupUsage } from '../../src/metrics/proc-usage.ts';
import { Exposition } from './prom-text.ts';

function instance(fields: Partial<RunningInstance> & { name: string }): RunningInstance {
  return { type: fields.name.split('.')[0]!, state: 'ready', pid: undefined, startedAt: 0, restarts: 0, ...fields };
}

function setup() {
  let now = 1_700_000_000_000;
  let running: RunningApp[] = [];
  let apps = ['shop'];
  const usage = new Map<number, GroupUsage>();
  let usageCalls = 0;
  const metrics = new BerthMetrics({
    sources: { apps: () => apps, running: () => running },
    usage: async (groups) => {
      usageCalls++;
      return new Map([...usage].filter(([pgrp]) => groups.has(pgrp)));
    },
    now: () => now,
    processMetrics: false,
  });
  const scrape = async () => new Exposition(await metrics.scrape());
  return {
    metrics,
    usage,
    scrape,
    advance: (ms: number) => (now += ms),
    now: () => now,
    setRunning: (value: RunningApp[]) => (running = value),
    setApps: (value: string[]) => (apps = value),
    usageCalls: () => usageCalls,
  };
}

const WEB1 = { app: 'shop', process: 'web', instance_name: 'web.1' };
const WORKER1 = { app: 'shop', process: 'worker', instance_name: 'worker.1' };

test('each running instance has its start time, uptime, memory, CPU and process count, read once per scrape', async () => {
  const s = setup();
  const generation = {};
  const startedAt = s.now() - 90_000;
  s.setRunning([{ app: 'shop', generation, instances: [instance({ name: 'web.1', pid: 4100, startedAt }), instance({ name: 'worker.1', pid: 4200, startedAt })] }]);
  s.usage.set(4100, { processes: 3, rssBytes: 52_428_800, cpuSeconds: 12.5 });
  s.usage.set(4200, { processes: 1, rssBytes: 10_000_000, cpuSeconds: 1 });
  const scraped = await s.scrape();
  assert.equal(s.usageCalls(), 1);
  assert.equal(scraped.value('berth_instance_start_time_seconds', WEB1), startedAt / 1000);
  assert.equal(scraped.value('berth_instance_uptime_seconds', WEB1), 90);
  assert.equal(scraped.value('berth_instance_resident_memory_bytes', WEB1), 52_428_800);
  assert.equal(scraped.value('berth_instance_processes', WEB1), 3);
  assert.equal(scraped.value('berth_instance_cpu_seconds_total', WEB1), 12.5);
  assert.equal(scraped.families.get('berth_instance_cpu_seconds_total')?.type, 'COUNTER');
  assert.equal(scraped.value('berth_instance_resident_memory_bytes', WORKER1), 10_000_000);
  assert.equal(scraped.value('berth_instance_restarts_total', WEB1), 0);
  assert.equal(scraped.samples('berth_instance_uptime_seconds').some((sample) => 'instance' in sample.labels), false, 'no clash with the target label "instance"');

  // The next scrape reads afresh.
  s.advance(10_000);
  s.usage.set(4100, { processes: 3, rssBytes: 60_000_000, cpuSeconds: 13 });
  const next = await s.scrape();
  assert.equal(s.usageCalls(), 2);
  assert.equal(next.value('berth_instance_uptime_seconds', WEB1), 100);
  assert.equal(next.value('berth_instance_resident_memory_bytes', WEB1), 60_000_000);
  assert.equal(next.value('berth_instance_cpu_seconds_total', WEB1), 13);
});

test('restarts keep counting across deploys (a new generation of instances) and CPU never goes back for one process', async () => {
  const s = setup();
  const first = {};
  s.usage.set(500, { processes: 1, rssBytes: 1, cpuSeconds: 5 });
  s.setRunning([{ app: 'shop', generation: first, instances: [instance({ name: 'web.1', pid: 500, restarts: 2 })] }]);
  let scraped = await s.scrape();
  assert.equal(scraped.value('berth_instance_restarts_total', WEB1), 2);
  assert.equal(scraped.value('berth_instance_cpu_seconds_total', WEB1), 5);

  // A member left the group: the sum dips, the counter does not.
  s.usage.set(500, { processes: 1, rssBytes: 1, cpuSeconds: 4.5 });
  s.setRunning([{ app: 'shop', generation: first, instances: [instance({ name: 'web.1', pid: 500, restarts: 3 })] }]);
  scraped = await s.scrape();
  assert.equal(scraped.value('berth_instance_restarts_total', WEB1), 3);
  assert.equal(scraped.value('berth_instance_cpu_seconds_total', WEB1), 5);

  // A deploy: new instances, whose formation counts restarts from zero again.
  const second = {};
  s.usage.set(600, { processes: 1, rssBytes: 1, cpuSeconds: 0.25 });
  s.setRunning([{ app: 'shop', generation: second, instances: [instance({ name: 'web.1', pid: 600, restarts: 0 })] }]);
  scraped = await s.scrape();
  assert.equal(scraped.value('berth_instance_restarts_total', WEB1), 3);
  assert.equal(scraped.value('berth_instance_cpu_seconds_total', WEB1), 0.25, 'another process: a counter reset');
  s.setRunning([{ app: 'shop', generation: second, instances: [instance({ name: 'web.1', pid: 600, restarts: 1 })] }]);
  assert.equal((await s.scrape()).value('berth_instance_restarts_total', WEB1), 4);
});

test('a crashed instance waiting for its restart keeps its restart count but has no uptime or memory', async () => {
  const s = setup();
  s.usage.set(700, { processes: 1, rssBytes: 1, cpuSeconds: 1 });
  s.setRunning([{ app: 'shop', generation: {}, instances: [instance({ name: 'web.1', pid: 700, state: 'crashed', restarts: 1, startedAt: s.now() })] }]);
  const scraped = await s.scrape();
  assert.equal(scraped.value('berth_instance_restarts_total', WEB1), 1);
  assert.equal(scraped.value('berth_instance_uptime_seconds', WEB1), undefined);
  assert.equal(scraped.value('berth_instance_resident_memory_bytes', WEB1), undefined);
  assert.equal(scraped.value('berth_instance_cpu_seconds_total', WEB1), undefined);
});

test("instances that stopped running and destroyed apps' tallies go away", async () => {
  const s = setup();
  const generation = {};
  s.setRunning([{ app: 'shop', generation, instances: [instance({ name: 'web.1', restarts: 2, startedAt: s.now() })] }]);
  assert.equal((await s.scrape()).value('berth_instance_restarts_total', WEB1), 2);
  s.setRunning([]);
  s.setApps([]);
  const scraped = await s.scrape();
  assert.equal(scraped.samples('berth_instance_restarts_total').length, 0);
  assert.equal(scraped.samples('berth_instance_uptime_seconds').length, 0);
  // The same name again is a new app: its restarts start from zero.
  s.setApps(['shop']);
  s.setRunning([{ app: 'shop', generation, instances: [instance({ name: 'web.1', restarts: 2, startedAt: s.now() })] }]);
  assert.equal((await s.scrape()).value('berth_instance_restarts_total', WEB1), 2);
});

test('a contained instance is measured by its control group (every process of its sandbox), with its limits and its OOM kills kept across deploys', async () => {
  const s = setup();
  const first = {};
  const contained = new Map([['web.1', { usage: { memoryBytes: 300_000_000, cpuSeconds: 4, processes: 7 }, limits: { memoryBytes: 536_870_912, cpu: 0.5, processes: 256 } }]]);
  s.setRunning([{ app: 'shop', generation: first, instances: [instance({ name: 'web.1', pid: 4100, restarts: 2, oomKills: 1 })], contained: async () => contained }]);
  // The launcher's own process group is tiny: what /proc says of it must not be reported.
  s.usage.set(4100, { processes: 1, rssBytes: 2_000_000, cpuSeconds: 0.01 });
  const scraped = await s.scrape();
  assert.equal(scraped.value('berth_instance_resident_memory_bytes', WEB1), 300_000_000);
  assert.equal(scraped.value('berth_instance_processes', WEB1), 7);
  assert.equal(scraped.value('berth_instance_cpu_seconds_total', WEB1), 4);
  assert.equal(scraped.value('berth_instance_memory_limit_bytes', WEB1), 536_870_912);
  assert.equal(scraped.value('berth_instance_cpu_limit_cores', WEB1), 0.5);
  assert.equal(scraped.value('berth_instance_processes_limit', WEB1), 256);
  assert.equal(scraped.value('berth_instance_oom_kills_total', WEB1), 1);
  assert.equal(scraped.families.get('berth_instance_oom_kills_total')?.type, 'COUNTER');
  // A deploy: a new generation whose slot starts from 0 again; the counter keeps what it had.
  s.setRunning([{ app: 'shop', generation: {}, instances: [instance({ name: 'web.1', pid: 5100, oomKills: 1 })], contained: async () => new Map([['web.1', { usage: null, limits: null }]]) }]);
  const next = await s.scrape();
  assert.equal(next.value('berth_instance_oom_kills_total', WEB1), 2);
  assert.equal(next.value('berth_instance_memory_limit_bytes', WEB1), undefined, 'no limit without a sandbox');
});

test("every app's disk by part, its limit and whether it is over it", async () => {
  const metrics = new BerthMetrics({
    sources: {
      apps: () => ['shop', 'blog'],
      running: () => [],
      disk: () => [
        { app: 'shop', parts: { releases: 1000, cache: 0, home: 20, data: 300, logs: 5 }, limitBytes: 1200, overLimit: true },
        { app: 'blog', parts: null, limitBytes: null, overLimit: false },
      ],
    },
    processMetrics: false,
  });
  const scraped = new Exposition(await metrics.scrape());
  assert.equal(scraped.value('berth_app_disk_bytes', { app: 'shop', part: 'data' }), 300);
  assert.equal(scraped.value('berth_app_disk_bytes', { app: 'shop', part: 'releases' }), 1000);
  assert.equal(scraped.value('berth_app_disk_limit_bytes', { app: 'shop' }), 1200);
  assert.equal(scraped.value('berth_app_disk_over_limit', { app: 'shop' }), 1);
  assert.equal(scraped.value('berth_app_disk_over_limit', { app: 'blog' }), 0);
  assert.equal(scraped.value('berth_app_disk_limit_bytes', { app: 'blog' }), undefined);
  assert.equal(scraped.samples('berth_app_disk_bytes').filter((sample) => sample.labels.app === 'blog').length, 0);
});
