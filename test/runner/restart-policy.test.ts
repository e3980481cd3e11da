import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideRestart, DEFAULT_RESTART_POLICY, NO_CRASHES, type CrashHistory, type RestartPolicy } from '../../src/runner/index.ts';

const policy: RestartPolicy = { initialDelayMs: 100, maxDelayMs: 5_000, factor: 2, stableAfterMs: 10_000, crashLoopAfter: 4 };

test('the first crash restarts after the initial delay', () => {
  assert.deepEqual(decideRestart(NO_CRASHES, 0, 50, policy), { history: { quickCrashes: 1 }, delayMs: 100, crashLoop: false });
});

test('quick crashes double the delay up to the cap, and are reported as a crash loop', () => {
  let history: CrashHistory = NO_CRASHES;
  const seen: Array<[number, boolean]> = [];
  let now = 0;
  for (let i = 0; i < 9; i++) {
    const decision = decideRestart(history, now, now + 10, policy);
    seen.push([decision.delayMs, decision.crashLoop]);
    history = decision.history;
    now += 10 + decision.delayMs;
  }
  assert.deepEqual(seen, [
    [100, false],
    [200, false],
    [400, false],
    [800, true],
    [1600, true],
    [3200, true],
    [5000, true],
    [5000, true],
    [5000, true],
  ]);
});

test('a crash after a stable run forgets the earlier crashes', () => {
  const history: CrashHistory = { quickCrashes: 7 };
  assert.deepEqual(decideRestart(history, 1_000, 1_000 + policy.stableAfterMs, policy), { history: { quickCrashes: 1 }, delayMs: 100, crashLoop: false });
  // Just short of stable still counts as quick.
  assert.equal(decideRestart(history, 1_000, 1_000 + policy.stableAfterMs - 1, policy).history.quickCrashes, 8);
});

test('a clock that goes backwards counts as zero uptime rather than a stable run', () => {
  assert.equal(decideRestart({ quickCrashes: 2 }, 5_000, 1_000, policy).history.quickCrashes, 3);
});

test('the delay never overflows however long the loop lasts', () => {
  const decision = decideRestart({ quickCrashes: 10_000 }, 0, 1, policy);
  assert.equal(decision.delayMs, policy.maxDelayMs);
  assert.ok(Number.isFinite(decision.delayMs));
});

test('the default policy is never faster than 250ms nor slower than 30s', () => {
  let history: CrashHistory = NO_CRASHES;
  for (let i = 0; i < 50; i++) {
    const decision = decideRestart(history, 0, 0);
    assert.ok(decision.delayMs >= 250 && decision.delayMs <= 30_000);
    history = decision.history;
  }
  assert.equal(DEFAULT_RESTART_POLICY.maxDelayMs, 30_000);
});
