import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deployPhases, kubeletShare, percentile, summarize } from './phases.ts';

test('deployPhases splits a Kubernetes deploy by its stream lines', () => {
  const lines = [
    { at: 50, line: 'unpacked 6 files' },
    { at: 4000, line: 'making the image of the build' },
    { at: 4010, line: 'pulling the node base image 127.0.0.1:5000/base/busybox:latest' },
    { at: 4300, line: 'image 0123456789ab pushed to 127.0.0.1:5000/apps/kb0 in 0.3 s (3 of 4 blobs uploaded, the rest already there)' },
    { at: 4400, line: 'running the release command as Job kb0--release-v1' },
    { at: 5400, line: 'release: migrated' },
    { at: 5450, line: 'waiting for kb0--web to roll out' },
    { at: 6500, line: '{"result":"ok","release":{"version":1}}' },
  ];
  assert.deepEqual(deployPhases(lines, 6500), { build: 4000, image: 300, apply: 100, job: 1050, rollout: 1050, total: 6500 });
});

test('deployPhases: no release command (no Job), or a stream without the marks (the local runtime)', () => {
  const noJob = [
    { at: 100, line: 'making the image of the build' },
    { at: 200, line: 'image 0123456789ab pushed to r/apps/x in 0.1 s (2 of 4 blobs uploaded, the rest already there)' },
    { at: 260, line: 'waiting for x--web to roll out' },
  ];
  assert.deepEqual(deployPhases(noJob, 1300), { build: 100, image: 100, apply: 60, job: null, rollout: 1040, total: 1300 });
  assert.deepEqual(deployPhases([{ at: 10, line: 'web.1: ready' }], 500), { build: null, image: null, apply: null, job: null, rollout: null, total: 500 });
});

test('percentile is nearest-rank; summarize gives the median and p90', () => {
  assert.equal(percentile([5, 1, 3], 50), 3);
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90), 9);
  assert.equal(percentile([7], 90), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
  assert.deepEqual(summarize([4, 2, 8, 6]), { n: 4, median: 4, p90: 8 });
});

test('kubeletShare: the Job pod and the last web pod of the release within the window, and the answer after the last change', () => {
  const marks = [
    { at: 90, app: 'kb0', release: 'v1', process: 'web' },
    { at: 1150, app: 'kb0', release: 'v2', process: 'release' },
    { at: 2200, app: 'kb0', release: 'v2', process: 'web' },
    { at: 2350, app: 'kb0', release: 'v2', process: 'web' },
    { at: 2300, app: 'kb1', release: 'v2', process: 'web' },
  ];
  assert.deepEqual(kubeletShare(marks, 'kb0', 'v2', 1000, 3400), { jobDone: 150, webReady: 1350, afterLastChange: 1050 });
  assert.deepEqual(kubeletShare(marks, 'kb0', 'v3', 1000, 3400), { jobDone: null, webReady: null, afterLastChange: 1050 });
  assert.deepEqual(kubeletShare([], 'kb0', 'v2', 0, 10), { jobDone: null, webReady: null, afterLastChange: null });
});
