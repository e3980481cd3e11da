import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideStartRetry, DEFAULT_START_RETRY_POLICY } from '../../src/platform/start-retry-policy.ts';

const policy = { initialDelayMs: 1_000, maxDelayMs: 10_000, factor: 2 };

test('the delay doubles with each failure in a row, up to the cap, from the time given', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => decideStartRetry(n, 50_000, policy)), [
    { failures: 1, delayMs: 1_000, at: 51_000 },
    { failures: 2, delayMs: 2_000, at: 52_000 },
    { failures: 3, delayMs: 4_000, at: 54_000 },
    { failures: 4, delayMs: 8_000, at: 58_000 },
    { failures: 5, delayMs: 10_000, at: 60_000 },
    { failures: 6, delayMs: 10_000, at: 60_000 },
  ]);
});

test('never gives up and never overflows: the thousandth failure waits the cap', () => {
  assert.equal(decideStartRetry(1_000, 0, policy).delayMs, 10_000);
  assert.equal(decideStartRetry(1_000, 0).delayMs, DEFAULT_START_RETRY_POLICY.maxDelayMs);
});

test('a count below one is the first failure', () => {
  assert.deepEqual(decideStartRetry(0, 7, policy), { failures: 1, delayMs: 1_000, at: 1_007 });
});
