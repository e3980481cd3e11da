import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deployDiskVerdict, describeParts, diskDecision, diskLimit, overLimitMessage, stillOverMessage, underLimitMessage, usageOf, DISK_PARTS, type DiskState } from '../../src/disk/index.ts';

const MiB = 1024 * 1024;
const parts = (values: Partial<Record<(typeof DISK_PARTS)[number], number>>) => ({ releases: 0, cache: 0, home: 0, data: 0, logs: 0, ...values });

test('usageOf sums every part and keeps the time', () => {
  const usage = usageOf(parts({ releases: 1, cache: 2, home: 3, data: 4, logs: 5 }), 42);
  assert.equal(usage.totalBytes, 15);
  assert.equal(usage.measuredAt, 42);
});

test('diskLimit: the app’s own limit over the server’s default; none when neither', () => {
  assert.equal(diskLimit(10, 5), 5);
  assert.equal(diskLimit(10, 50), 50);
  assert.equal(diskLimit(10, undefined), 10);
  assert.equal(diskLimit(null, undefined), null);
  assert.equal(diskLimit(null, 7), 7);
});

test('diskDecision: every previous state against under, at, over the limit, and no limit', () => {
  const cases: Array<[DiskState, number, number | null, DiskState, string]> = [
    ['under', 10, 20, 'under', 'none'],
    ['under', 20, 20, 'under', 'none'], // at the limit is within it
    ['under', 21, 20, 'over', 'stop'],
    ['over', 21, 20, 'over', 'none'], // stopped already: nothing again
    ['over', 20, 20, 'under', 'resume'],
    ['over', 0, 20, 'under', 'resume'],
    ['under', 10 ** 15, null, 'under', 'none'],
    ['over', 10 ** 15, null, 'under', 'resume'], // the limit was lifted
  ];
  for (const [previous, total, limit, state, action] of cases) {
    assert.deepEqual(diskDecision(previous, total, limit), { state, action }, `${previous} ${total}/${limit}`);
  }
});

test('describeParts: the parts that hold anything, largest first; nothing when empty', () => {
  assert.equal(describeParts(usageOf(parts({ data: 60 * MiB, releases: 8 * MiB, logs: 4096 }), 0)), 'data 60 MiB, releases 8.0 MiB, logs 4.0 KiB');
  assert.equal(describeParts(usageOf(parts({}), 0)), 'nothing');
});

test('the messages name the app, its use, its limit and what holds it', () => {
  const usage = usageOf(parts({ home: 70 * MiB, releases: 36 * 1024 }), 0);
  assert.equal(overLimitMessage('shop', usage, 64 * MiB), 'disk: shop uses 70 MiB, over its 64 MiB limit (home 70 MiB, releases 36 KiB); its instances are stopped until it is under');
  assert.equal(underLimitMessage('shop', usageOf(parts({ home: MiB }), 0), 64 * MiB), 'disk: shop uses 1.0 MiB of its 64 MiB limit again; its instances start');
  assert.match(stillOverMessage('shop', usage, 64 * MiB), /^shop uses 70 MiB, over its 64 MiB disk limit \(home 70 MiB, releases 36 KiB\); its instances stay stopped until it is under$/);
});

test('deployDiskVerdict: null when it fits (or there is no limit), else why', () => {
  const usage = usageOf(parts({ releases: 10 * MiB, data: 60 * MiB }), 0);
  assert.equal(deployDiskVerdict('shop', usage, null), null);
  assert.equal(deployDiskVerdict('shop', usage, 70 * MiB), null);
  assert.equal(deployDiskVerdict('shop', usage, 64 * MiB), 'shop would use 70 MiB with this build, over its 64 MiB disk limit (data 60 MiB, releases 10 MiB)');
});
