import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BodyClock, transferDeadline, type TransferPolicy } from '../../src/edge/engine/transfer-rate.ts';

const policy: TransferPolicy = { idleMs: 30_000, minBytesPerSecond: 500 };

test('a transfer is due at its idle timeout or at the time its bytes earned, whichever is first', () => {
  const cases: Array<[{ startedAt: number; bytes: number; lastProgressAt: number }, number]> = [
    // Nothing yet: the idle timeout from the start.
    [{ startedAt: 1_000, bytes: 0, lastProgressAt: 1_000 }, 31_000],
    // Fast: the idle timeout since the last byte.
    [{ startedAt: 0, bytes: 1_000_000, lastProgressAt: 50_000 }, 80_000],
    // A byte every 29 s for ten minutes: never idle, far behind 500 B/s.
    [{ startedAt: 0, bytes: 21, lastProgressAt: 609_000 }, 30_042],
    // Exactly at the rate: each 500 bytes earn a second.
    [{ startedAt: 0, bytes: 5_000, lastProgressAt: 10_000 }, 40_000],
    [{ startedAt: 0, bytes: 4_999, lastProgressAt: 10_000 }, 39_998],
    // Just after the start.
    [{ startedAt: 5, bytes: 1, lastProgressAt: 6 }, 30_006],
  ];
  for (const [progress, due] of cases) assert.equal(transferDeadline(progress, policy), due, JSON.stringify(progress));
});

test('a client at the minimum rate or faster is never due while it keeps sending; a slower one is, once it is an idle timeout behind', () => {
  for (const rate of [1, 100, 250, 499, 500, 501, 2_000, 1_000_000]) {
    // A slower client falls behind by (1 - rate/min) of the time: an idle timeout's worth at this time.
    const cutBy = rate < 500 ? policy.idleMs / (1 - rate / 500) + 2_000 : 20_000_000;
    let cutAt: number | null = null;
    for (let t = 1_000; t <= cutBy && cutAt === null; t += 1_000) {
      const due = transferDeadline({ startedAt: 0, bytes: Math.floor((rate * t) / 1000), lastProgressAt: t }, policy);
      if (due <= t) cutAt = t;
    }
    if (rate >= 500) assert.equal(cutAt, null, `${rate} B/s is let through`);
    else assert.ok(cutAt !== null && cutAt >= policy.idleMs, `${rate} B/s is cut, after the idle timeout: ${cutAt}`);
  }
});

test('a body clock stops while the edge holds the upload up, and counts every byte', () => {
  const clock = new BodyClock(0, policy);
  assert.equal(clock.deadline(0), 30_000);
  assert.equal(clock.received(1_000, 1_000), 31_000);
  // Its earned time (2 s for 1,000 bytes) is still ahead of the idle timeout.
  assert.equal(clock.deadline(1_000), 31_000);
  clock.stop(2_000);
  assert.ok(clock.stopped);
  // Ten seconds waiting for the disk are not the client's.
  assert.equal(clock.resume(12_000), 42_000);
  assert.ok(!clock.stopped);
  assert.equal(clock.received(500, 13_000), 43_000);
  // A second stop before a resume keeps the first time.
  clock.stop(14_000);
  clock.stop(20_000);
  assert.equal(clock.resume(24_000), 53_000);
  // Resuming a running clock changes nothing.
  assert.equal(clock.resume(25_000), 53_000);
});
