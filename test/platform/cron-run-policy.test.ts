import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cronRunsPruneBefore, DEFAULT_CRON_RUN_RETENTION } from '../../src/platform/index.ts';

const NOW = Date.parse('2026-01-02T12:00:00.000Z');
const HOUR = 60 * 60_000;

test('fewer runs than keep: nothing is pruned, however old', () => {
  assert.equal(cronRunsPruneBefore(null, NOW), null);
  assert.equal(cronRunsPruneBefore(null, NOW, { keep: 1, recentMs: 0 }), null);
});

test('the cutoff is the older of the keep-th newest slot and the start of the recent window', () => {
  const retention = { keep: 100, recentMs: HOUR };
  // A daily job: its 100th newest run is months old, older than the window: the 100 newest stay.
  assert.equal(cronRunsPruneBefore('2025-09-24T03:00:00.000Z', NOW, retention), '2025-09-24T03:00:00.000Z');
  // A per-second job: its 100th newest run is 100 s old, inside the window: the whole last hour stays.
  assert.equal(cronRunsPruneBefore('2026-01-02T11:58:20.000Z', NOW, retention), '2026-01-02T11:00:00.000Z');
  // Exactly at the window's start: either way the same.
  assert.equal(cronRunsPruneBefore('2026-01-02T11:00:00.000Z', NOW, retention), '2026-01-02T11:00:00.000Z');
});

test('the window starts on a whole second (slots are whole seconds), rounding toward keeping more', () => {
  assert.equal(cronRunsPruneBefore('2026-01-02T11:59:59.000Z', NOW + 999, { keep: 1, recentMs: 1500 }), '2026-01-02T11:59:59.000Z');
  assert.equal(cronRunsPruneBefore('2026-01-02T12:00:00.000Z', NOW + 999, { keep: 1, recentMs: 1500 }), '2026-01-02T11:59:59.000Z');
  assert.equal(cronRunsPruneBefore('2026-01-02T12:00:00.000Z', NOW, { keep: 1, recentMs: 0 }), '2026-01-02T12:00:00.000Z');
});

test('a clock behind the runs prunes nothing newer than the keep-th newest', () => {
  const past = Date.parse('2020-01-01T00:00:00.000Z');
  assert.equal(cronRunsPruneBefore('2026-01-02T11:00:00.000Z', past, { keep: 5, recentMs: HOUR }), '2019-12-31T23:00:00.000Z');
});

test('keep is at least 1 and whole; recentMs is not negative', () => {
  for (const keep of [0, -1, 1.5, Number.NaN]) assert.throws(() => cronRunsPruneBefore(null, NOW, { keep, recentMs: HOUR }), RangeError);
  for (const recentMs of [-1, Number.NaN]) assert.throws(() => cronRunsPruneBefore(null, NOW, { keep: 1, recentMs }), RangeError);
  assert.deepEqual(DEFAULT_CRON_RUN_RETENTION, { keep: 100, recentMs: HOUR });
});
