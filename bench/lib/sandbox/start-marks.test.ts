import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startMarks } from './start-marks.ts';

const asked = Date.parse('2026-12-07T05:00:00.100Z') + 0.4;

const LOG = [
  // The previous instance, before the request: never counted.
  '2026-12-07T04:59:59.500Z web.1 | started (pid 10, port 30000)',
  '2026-12-07T04:59:59.600Z web.1 | listening-at 1796619599600.2',
  '2026-12-07T04:59:59.700Z web.1 | ready on port 30000',
  '2026-12-07T05:00:00.050Z web.1 | stopped (signal SIGTERM)',
  // This start. berth's line in the same millisecond as the request counts.
  '2026-12-07T05:00:00.100Z web.1 | started (pid 11, port 30001)',
  '2026-12-07T05:00:00.290Z web.1 | listening-at 1796619600286.9',
  '2026-12-07T05:00:00.300Z other.1 | ready on port 1',
  '2026-12-07T05:00:00.330Z web.1 | ready on port 30001',
  '2026-12-07T05:00:00.400Z web.1 | ready on port 30002',
  '',
].join('\n');

test('the first launch, listening and ready marks at or after the request, in ms after it', () => {
  const marks = startMarks(LOG, asked);
  assert.equal(marks.launchedMs, 0, 'the same millisecond: not before the request');
  assert.ok(Math.abs(marks.listeningMs! - 186.5) < 1e-3, `listening ${marks.listeningMs}`);
  assert.ok(Math.abs(marks.readyMs! - 229.6) < 1e-3, `ready ${marks.readyMs}`);
});

test('marks missing from the log (a probe line only, another source, nothing at all) are null, not zero', () => {
  assert.deepEqual(startMarks('2026-12-07T05:00:00.300Z other.1 | ready on port 1\nnot a log line\n', asked), { launchedMs: null, listeningMs: null, readyMs: null });
  assert.deepEqual(startMarks('', asked), { launchedMs: null, listeningMs: null, readyMs: null });
});

test('an app clock line older than the request (an earlier instance\'s, logged late) is not this start\'s', () => {
  const late = '2026-12-07T05:00:00.200Z web.1 | listening-at 1796619599600.0\n2026-12-07T05:00:00.250Z web.1 | listening-at 1796619600240.4\n';
  assert.ok(Math.abs(startMarks(late, asked).listeningMs! - 140) < 1e-3);
});
