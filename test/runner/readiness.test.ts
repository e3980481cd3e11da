import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeProbe, type ReadinessPolicy } from '../../src/runner/index.ts';

const policy: ReadinessPolicy = { intervalMs: 100, deadlineMs: 1_000, slowIntervalMs: 500 };

test('without a health path, an open port means ready', () => {
  assert.deepEqual(judgeProbe({ kind: 'listening' }, null, 0, 10, policy), { kind: 'ready' });
});

test('with a health path, an open port alone is not enough', () => {
  const verdict = judgeProbe({ kind: 'listening' }, '/health', 0, 10, policy);
  assert.equal(verdict.kind, 'probe-again');
});

for (const status of [200, 204, 299]) {
  test(`a health answer of ${status} means ready`, () => {
    assert.deepEqual(judgeProbe({ kind: 'health', status }, '/health', 0, 10, policy), { kind: 'ready' });
  });
}

for (const status of [199, 301, 404, 500, 503]) {
  test(`a health answer of ${status} is not ready, and says why`, () => {
    const verdict = judgeProbe({ kind: 'health', status }, '/health', 0, 10, policy);
    assert.ok(verdict.kind === 'probe-again');
    assert.match(verdict.reason, new RegExp(`/health answered ${status}`));
  });
}

test('refused connections and failed health requests are probed again soon', () => {
  for (const result of [{ kind: 'refused' } as const, { kind: 'health-error' } as const]) {
    const verdict = judgeProbe(result, '/health', 0, 999, policy);
    assert.deepEqual(verdict.kind === 'probe-again' && [verdict.afterMs, verdict.overdue], [100, false]);
  }
});

test('past the deadline the instance is overdue and probed more slowly', () => {
  const verdict = judgeProbe({ kind: 'refused' }, null, 0, 1_000, policy);
  assert.deepEqual(verdict.kind === 'probe-again' && [verdict.afterMs, verdict.overdue], [500, true]);
});

test('a port held by another process is never ready, health path or not, early or overdue', () => {
  for (const healthPath of [null, '/health']) {
    for (const now of [10, 5_000]) assert.deepEqual(judgeProbe({ kind: 'port-taken', uid: 998 }, healthPath, 0, now, policy), { kind: 'port-taken', uid: 998 });
  }
});

test('the first probes come soon and the wait grows with the time since the start (a quarter of it), up to the interval', () => {
  const early: ReadinessPolicy = { firstIntervalMs: 10, intervalMs: 100, deadlineMs: 60_000, slowIntervalMs: 1_000 };
  const after = (now: number) => {
    const verdict = judgeProbe({ kind: 'refused' }, null, 1_000, 1_000 + now, early);
    assert.equal(verdict.kind, 'probe-again');
    return verdict.kind === 'probe-again' ? verdict.afterMs : -1;
  };
  assert.deepEqual([0, 20, 40, 80, 200, 399, 400, 5_000, 59_999].map(after), [10, 10, 10, 20, 50, 100, 100, 100, 100]);
  assert.equal(after(60_000), 1_000, 'overdue: slow');
  // Without a first interval, the interval from the start (as before).
  const { firstIntervalMs: _, ...fixed } = early;
  const verdict = judgeProbe({ kind: 'refused' }, null, 0, 0, fixed);
  assert.equal(verdict.kind === 'probe-again' ? verdict.afterMs : -1, 100);
});
