import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HEALTHY, markFailed, probeDue, recordProbe, type HealthPolicy, type UpstreamHealth } from '../../src/edge/index.ts';

const policy: HealthPolicy = { probeIntervalMs: 100, maxProbeIntervalMs: 1_000 };

test('a failure takes an upstream down and schedules a probe', () => {
  assert.deepEqual(markFailed(HEALTHY, 1_000, policy), { state: 'down', since: 1_000, failedProbes: 0, nextProbeAt: 1_100 });
});

test('more failures while down do not push the probe further out', () => {
  const down = markFailed(HEALTHY, 1_000, policy);
  assert.equal(markFailed(down, 1_050, policy), down);
});

test('a probe is due only when down and its time has come', () => {
  const down = markFailed(HEALTHY, 0, policy);
  assert.equal(probeDue(HEALTHY, 10_000), false);
  assert.equal(probeDue(down, 99), false);
  assert.equal(probeDue(down, 100), true);
});

test('a successful probe brings the upstream back at once', () => {
  assert.equal(recordProbe(markFailed(HEALTHY, 0, policy), true, 200, policy), HEALTHY);
});

test('failed probes back off exponentially up to the cap, keeping the time it went down', () => {
  let health: UpstreamHealth = markFailed(HEALTHY, 0, policy);
  const intervals: number[] = [];
  let now = 100;
  for (let i = 0; i < 6; i++) {
    health = recordProbe(health, false, now, policy);
    assert.ok(health.state === 'down');
    intervals.push(health.nextProbeAt - now);
    assert.equal(health.since, 0);
    now = health.nextProbeAt;
  }
  assert.deepEqual(intervals, [200, 400, 800, 1_000, 1_000, 1_000]);
});

test('a failed probe of an up upstream marks it down', () => {
  assert.equal(recordProbe(HEALTHY, false, 5, policy).state, 'down');
});
