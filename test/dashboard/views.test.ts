import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appStatus, buildWindow, deployHistory, seriesColumns } from '../../src/dashboard/index.ts';
import type { Build, ReleaseInfo } from '../../src/platform/index.ts';

test('an app’s status in one word', () => {
  const base = { currentVersion: 3, processTypes: 1, expected: 2 };
  const ready = { state: 'ready' };
  assert.equal(appStatus({ ...base, currentVersion: null, instances: [] }), 'not deployed');
  assert.equal(appStatus({ ...base, processTypes: 0, instances: [] }), 'static');
  assert.equal(appStatus({ ...base, expected: 0, instances: [] }), 'scaled to zero');
  assert.equal(appStatus({ ...base, instances: [ready, { state: 'crashed' }] }), 'crashing');
  assert.equal(appStatus({ ...base, instances: [ready, { state: 'starting' }] }), 'starting');
  assert.equal(appStatus({ ...base, instances: [ready, ready] }), 'running');
});

test('samples become columns', () => {
  assert.deepEqual(
    seriesColumns([
      { t: 0, requests: 5, errors: 1, bytes: 10, p95Ms: 12 },
      { t: 5000, requests: 0, errors: 0, bytes: 0, p95Ms: null },
    ]),
    { t: [0, 5000], requests: [5, 0], errors: [1, 0], p95Ms: [12, null] },
  );
});

const build = (id: number, at: string, status: Build['status'] = 'succeeded'): Build => ({ id, app: 'shop', createdAt: at, sourceDigest: `${id}abcdef0123`, dir: `/b/${id}`, status, logPath: '' });
const release = (version: number, kind: ReleaseInfo['kind'], buildId: number): ReleaseInfo => ({ id: version, app: 'shop', version, createdAt: '', kind, description: `${kind} ${version}`, buildId, status: 'succeeded', configKeys: [], processes: [] });

test('deploy history: builds newest first, each with the deploy release it made', () => {
  const builds = [build(1, '2026-01-01T00:00:00.000Z'), build(2, '2026-01-01T01:00:00.000Z', 'failed'), build(3, '2026-01-01T02:00:00.000Z')];
  const releases = [release(1, 'deploy', 1), release(2, 'config', 1), release(3, 'deploy', 3), release(4, 'rollback', 1)];
  assert.deepEqual(
    deployHistory(builds, releases).map((d) => [d.id, d.status, d.source, d.release?.name ?? null]),
    [
      [3, 'succeeded', '3abcdef', 'v3'],
      [2, 'failed', '2abcdef', null],
      [1, 'succeeded', '1abcdef', 'v1'],
    ],
  );
});

test('a build’s log lines lie between its start and the next build’s', () => {
  const builds = [build(1, '2026-01-01T00:00:00.000Z'), build(2, '2026-01-01T01:00:00.000Z')];
  assert.deepEqual(buildWindow(builds, 1), { since: Date.parse('2026-01-01T00:00:00.000Z'), until: Date.parse('2026-01-01T01:00:00.000Z') });
  assert.deepEqual(buildWindow(builds, 2), { since: Date.parse('2026-01-01T01:00:00.000Z'), until: Infinity });
  assert.equal(buildWindow(builds, 9), null);
});
