import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeResets, NO_RESETS, RAPID_RESET, type ResetCount } from '../../src/edge/engine/h2-flood.ts';

/** Cancels `times` streams at `at`, returning the count and whether any judgement said calm. */
function cancel(count: ResetCount, at: number, times: number, policy = RAPID_RESET): { count: ResetCount; calm: boolean } {
  let calm = false;
  for (let i = 0; i < times; i++) {
    const judged = judgeResets(count, at, policy);
    count = judged.count;
    calm ||= judged.calm;
  }
  return { count, calm };
}

test('the limit is allowed, one more cancellation in the window is not', () => {
  const start = 1_000_000;
  const upTo = cancel(NO_RESETS, start, RAPID_RESET.limit);
  assert.equal(upTo.calm, false);
  assert.equal(judgeResets(upTo.count, start + 5_000).calm, true);
});

test('a burst just before a window boundary is still counted just after it', () => {
  const policy = { limit: 100, windowMs: 10_000 };
  const first = cancel(NO_RESETS, 9_900, 90, policy);
  assert.equal(first.calm, false);
  // 100 ms into the next window, 99% of the previous one still overlaps: 89 + 20 > 100.
  const second = cancel(first.count, 10_100, 20, policy);
  assert.equal(second.calm, true);
});

test('a steady rate below the limit is never judged a flood', () => {
  let count = NO_RESETS;
  // 15 cancellations a second for 100 s: 150 per 10 s window, under 200.
  for (let second = 0; second < 100; second++) {
    const step = cancel(count, 50_000 + second * 1_000, 15);
    assert.equal(step.calm, false, `judged a flood at second ${second}`);
    count = step.count;
  }
});

test('a steady rate above the limit is judged a flood within one window', () => {
  let count = NO_RESETS;
  let floodAt = -1;
  // 30 a second: 300 per window.
  for (let second = 0; second < 20 && floodAt === -1; second++) {
    const step = cancel(count, second * 1_000, 30);
    count = step.count;
    if (step.calm) floodAt = second;
  }
  assert.ok(floodAt >= 0 && floodAt < 10, `flood judged at second ${floodAt}`);
});

test('cancellations are forgotten after two quiet windows', () => {
  const busy = cancel(NO_RESETS, 0, 200);
  assert.equal(busy.calm, false);
  const later = judgeResets(busy.count, 2 * RAPID_RESET.windowMs + 1);
  assert.equal(later.recent, 1);
  assert.equal(later.calm, false);
});

test('a clock that goes backwards does not reset the count', () => {
  const busy = cancel(NO_RESETS, 100_000, 200);
  assert.equal(judgeResets(busy.count, 99_000).calm, true);
});
