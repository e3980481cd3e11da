import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddonView, BackupScheduleView, BackupView } from '../../src/addons/index.ts';
import { appStatus, backupAlerts, backupsPanel, buildWindow, deployHistory, RECENT_BACKUPS, seriesColumns } from '../../src/dashboard/index.ts';
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

const build = (id: number, at: string, status: Build['status'] = 'succeeded'): Build => ({ id, app: 'shop', createdAt: at, sourceDigest: `${id}abcdef0123`, dir: `/b/${id}`, status, logPath: '', manifest: null, image: null });
const release = (version: number, kind: ReleaseInfo['kind'], buildId: number): ReleaseInfo => ({ id: version, app: 'shop', version, createdAt: '', kind, description: `${kind} ${version}`, buildId, status: 'succeeded', configKeys: [], processes: [], image: null });

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

const backup = (id: number, kind: string, status: BackupView['status'], minute: number, more: Partial<BackupView> = {}): BackupView => ({
  id,
  app: 'shop',
  kind,
  trigger: 'manual',
  status,
  startedAt: `2026-01-01T00:${String(minute).padStart(2, '0')}:00.000Z`,
  finishedAt: status === 'running' ? null : `2026-01-01T00:${String(minute).padStart(2, '0')}:30.000Z`,
  file: status === 'good' ? `shop-${id}.sqlite.gz` : null,
  bytes: status === 'good' ? 1024 : null,
  sha256: status === 'good' ? 'ab'.repeat(32) : null,
  copied: false,
  copyError: null,
  error: status === 'failed' ? 'the database is missing' : null,
  missing: false,
  ...more,
});

test('a backup alert: the newest finished backup of an add-on is failed, interrupted or gone from the disk', () => {
  assert.deepEqual(backupAlerts(['sqlite'], [backup(1, 'sqlite', 'good', 1)]), []);
  assert.deepEqual(backupAlerts(['sqlite'], []), [], 'never backed up is not a failure');
  assert.deepEqual(backupAlerts(['sqlite'], [backup(1, 'sqlite', 'failed', 1), backup(2, 'sqlite', 'good', 2)]), [], 'a good one since clears it');
  assert.deepEqual(backupAlerts(['sqlite'], [backup(2, 'sqlite', 'failed', 2), backup(1, 'sqlite', 'good', 1)]), [{ kind: 'sqlite', id: 2, problem: 'failed', error: 'the database is missing', startedAt: '2026-01-01T00:02:00.000Z' }]);
  assert.deepEqual(
    backupAlerts(['sqlite'], [backup(3, 'sqlite', 'running', 3), backup(2, 'sqlite', 'interrupted', 2)]).map((a) => [a.id, a.problem]),
    [[2, 'interrupted']],
    'a backup still running does not clear the last failure',
  );
  assert.deepEqual(backupAlerts(['sqlite'], [backup(1, 'sqlite', 'good', 1, { missing: true })]).map((a) => a.problem), ['missing']);
  assert.deepEqual(backupAlerts(['redis'], [backup(1, 'sqlite', 'failed', 1)]), [], 'only the add-ons the app still has');
  // The same start time: the higher id is the newer.
  assert.deepEqual(backupAlerts(['sqlite'], [backup(4, 'sqlite', 'good', 5), backup(5, 'sqlite', 'failed', 5)]).map((a) => a.id), [5]);
});

test('the backups panel: add-ons with their schedule and last backup, the newest backups first and at most the limit', () => {
  const addons: AddonView[] = [
    { app: 'shop', kind: 'sqlite', createdAt: '2026-01-01T00:00:00.000Z', vars: ['DATABASE_URL', 'BERTH_DATA_DIR'], details: { path: '/state/data/shop/db.sqlite3' } },
    { app: 'shop', kind: 'storage', createdAt: '2026-01-01T00:00:00.000Z', vars: ['BERTH_DATA_DIR'], details: { dir: '/state/data/shop' } },
  ];
  const schedules: BackupScheduleView[] = [{ app: 'shop', kind: 'sqlite', schedule: '0 3 * * *', timezone: 'UTC', keep: 7, nextRun: '2026-01-02T03:00:00.000Z' }];
  const backups = [1, 2, 3, 4, 5].map((id) => backup(id, 'sqlite', id === 5 ? 'failed' : 'good', id));
  const panel = backupsPanel(addons, schedules, backups, 3);
  assert.deepEqual(panel.backups.map((b) => b.id), [5, 4, 3]);
  assert.equal(panel.older, 2);
  assert.deepEqual(panel.addons, [
    {
      kind: 'sqlite',
      createdAt: '2026-01-01T00:00:00.000Z',
      vars: ['DATABASE_URL', 'BERTH_DATA_DIR'],
      details: { path: '/state/data/shop/db.sqlite3' },
      backedUp: true,
      schedule: { cron: '0 3 * * *', timezone: 'UTC', keep: 7, nextRun: '2026-01-02T03:00:00.000Z' },
      lastBackup: { id: 5, status: 'failed', startedAt: '2026-01-01T00:05:00.000Z', finishedAt: '2026-01-01T00:05:30.000Z' },
    },
    { kind: 'storage', createdAt: '2026-01-01T00:00:00.000Z', vars: ['BERTH_DATA_DIR'], details: { dir: '/state/data/shop' }, backedUp: false, schedule: null, lastBackup: null },
  ]);
  assert.deepEqual(panel.alerts.map((a) => [a.kind, a.id]), [['sqlite', 5]]);
  assert.equal(RECENT_BACKUPS, 20);
});
