import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DiskWatch, usageOf, type DiskUsage } from '../../src/disk/index.ts';

function scene(limits: Record<string, number | null | undefined>) {
  const used = new Map<string, number>();
  const events: string[] = [];
  const watch = new DiskWatch({
    intervalMs: 60_000,
    apps: () => Object.keys(limits),
    folders: (app) => ({ releases: app, cache: null, home: null, data: null, logs: null }),
    limit: (app) => limits[app],
    measure: async (folders): Promise<DiskUsage> => usageOf({ releases: used.get(folders.releases!) ?? 0, cache: 0, home: 0, data: 0, logs: 0 }, 1),
    stop: async (app, message) => void events.push(`stop ${app}: ${message}`),
    resume: async (app, message) => void events.push(`resume ${app}: ${message}`),
    log: (line) => events.push(`log ${line}`),
  });
  return { used, events, watch };
}

test('an app over its limit is stopped once, started again once under; one without a known limit is only measured', async () => {
  const { used, events, watch } = scene({ shop: 100, blog: undefined, free: null });
  used.set('shop', 50).set('blog', 10 ** 9).set('free', 10 ** 9);
  await watch.check();
  assert.deepEqual(events, []);
  assert.deepEqual(watch.status('shop'), { usage: usageOf({ releases: 50, cache: 0, home: 0, data: 0, logs: 0 }, 1), limitBytes: 100, state: 'under' });
  assert.equal(watch.status('blog').usage?.totalBytes, 10 ** 9);
  assert.equal(watch.status('blog').state, 'under');
  used.set('shop', 150);
  await watch.check();
  await watch.check();
  assert.equal(events.length, 1);
  assert.match(events[0]!, /^stop shop: disk: shop uses 150 bytes, over its 100 bytes limit/);
  assert.equal(watch.status('shop').state, 'over');
  used.set('shop', 100);
  await watch.check();
  assert.equal(events.length, 2);
  assert.match(events[1]!, /^resume shop: disk: shop uses 100 bytes of its 100 bytes limit again/);
  assert.equal(watch.status('shop').state, 'under');
});

test('measure records without acting; markUnder ends a stop (a deploy that fits); forget drops the app', async () => {
  const { used, events, watch } = scene({ shop: 100 });
  used.set('shop', 500);
  assert.equal((await watch.measure('shop')).totalBytes, 500);
  assert.deepEqual(events, []);
  await watch.checkApp('shop');
  assert.equal(watch.status('shop').state, 'over');
  watch.markUnder('shop');
  assert.equal(watch.status('shop').state, 'under');
  watch.forget('shop');
  assert.equal(watch.status('shop').usage, null);
});

test('a failing measurement is logged and the other apps are still checked; checks at once share one round', async () => {
  const events: string[] = [];
  let rounds = 0;
  const watch = new DiskWatch({
    intervalMs: 60_000,
    apps: () => ['bad', 'good'],
    folders: (app) => ({ releases: app, cache: null, home: null, data: null, logs: null }),
    limit: () => 10,
    measure: async (folders) => {
      if (folders.releases === 'bad') throw new Error('du failed');
      rounds++;
      return usageOf({ releases: 20, cache: 0, home: 0, data: 0, logs: 0 }, 1);
    },
    stop: async (app) => void events.push(`stop ${app}`),
    resume: async () => {},
    log: (line) => events.push(line),
  });
  await Promise.all([watch.check(), watch.check()]);
  assert.equal(rounds, 1);
  assert.deepEqual(events, ['disk: cannot check bad: du failed', 'stop good']);
  watch.start();
  await watch.close();
});
