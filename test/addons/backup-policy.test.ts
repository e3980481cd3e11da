import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  backupStatusForList,
  backupsToPrune,
  chooseBackupKind,
  DEFAULT_KEEP_FAILED,
  parseAddonKind,
  parseKeep,
  type BackupFacts,
  type BackupStatus,
  type BackupTrigger,
} from '../../src/addons/backup-policy.ts';

// One backup per day from 2026-11-01, in the order given; ids in that order.
type Row = [app: string, kind: string, status: BackupStatus, trigger?: BackupTrigger];
function history(rows: readonly Row[]): BackupFacts[] {
  return rows.map(([app, kind, status, trigger], i) => ({
    id: i + 1,
    app,
    kind,
    status,
    trigger: trigger ?? 'scheduled',
    startedAt: new Date(Date.UTC(2026, 10, 1 + i, 3)).toISOString(),
  }));
}

const G: Row = ['shop', 'postgres', 'good'];
const F: Row = ['shop', 'postgres', 'failed'];

const cases: { name: string; rows: readonly Row[]; keep: number; keepFailed?: number; prune: number[] }[] = [
  { name: 'nothing to prune within keep', rows: [G, G, G], keep: 3, prune: [] },
  { name: 'good backups beyond keep go, oldest first', rows: [G, G, G, G, G], keep: 2, prune: [1, 2, 3] },
  { name: 'keep 1 keeps only the newest good one', rows: [G, G], keep: 1, prune: [1] },
  {
    name: 'final backups are kept and take no place among keep',
    rows: [G, ['shop', 'postgres', 'good', 'final'], G, G],
    keep: 1,
    prune: [1, 3],
  },
  {
    name: 'a failed final backup is kept too',
    rows: [['shop', 'postgres', 'failed', 'final'], G, G],
    keep: 1,
    keepFailed: 0,
    prune: [2],
  },
  {
    name: 'running backups are never pruned, even old ones',
    rows: [['shop', 'postgres', 'running'], G, G, G],
    keep: 1,
    keepFailed: 0,
    prune: [2, 3],
  },
  {
    name: 'failed rows beyond keepFailed go',
    rows: [F, F, F, F, G],
    keep: 5,
    keepFailed: 2,
    prune: [1, 2],
  },
  {
    name: 'interrupted rows count as failed',
    rows: [['shop', 'postgres', 'interrupted'], F, ['shop', 'postgres', 'interrupted'], G],
    keep: 5,
    keepFailed: 1,
    prune: [1, 2],
  },
  {
    name: 'failures newer than the newest good backup are kept, however many',
    rows: [F, G, F, F, F, F],
    keep: 5,
    keepFailed: 1,
    prune: [],
  },
  {
    name: 'with no good backup at all, failures are kept until one succeeds',
    rows: [F, F, F],
    keep: 1,
    keepFailed: 0,
    prune: [],
  },
  {
    name: 'keepFailed defaults to 10',
    rows: [...Array.from({ length: DEFAULT_KEEP_FAILED + 2 }, () => F), G],
    keep: 1,
    prune: [1, 2],
  },
  {
    name: 'each app and kind is its own history',
    rows: [
      ['shop', 'postgres', 'good'],
      ['shop', 'redis', 'good'],
      ['blog', 'postgres', 'good'],
      ['shop', 'postgres', 'good'],
      ['shop', 'redis', 'good'],
      ['blog', 'postgres', 'good'],
      ['shop', 'postgres', 'good'],
    ],
    keep: 2,
    prune: [1],
  },
];

for (const c of cases) {
  test(`backupsToPrune: ${c.name}`, () => {
    const policy = c.keepFailed === undefined ? { keep: c.keep } : { keep: c.keep, keepFailed: c.keepFailed };
    assert.deepEqual(backupsToPrune(history(c.rows), policy), c.prune);
  });
}

test('backupsToPrune orders by start time, not by input order or id', () => {
  const rows = history([G, G, G]);
  // The row with the highest id started first (a clock set back, an import).
  const shuffled = [{ ...rows[2]!, startedAt: '2026-10-01T00:00:00.000Z' }, rows[0]!, rows[1]!];
  assert.deepEqual(backupsToPrune(shuffled, { keep: 2 }), [3]);
});

test('backupsToPrune refuses a policy that would keep nothing', () => {
  assert.throws(() => backupsToPrune([], { keep: 0 }), RangeError);
  assert.throws(() => backupsToPrune([], { keep: 1, keepFailed: -1 }), RangeError);
});

test('backupStatusForList shows a running row whose process is gone as interrupted', () => {
  const running = new Set([7]);
  assert.equal(backupStatusForList({ id: 7, status: 'running' }, running), 'running');
  assert.equal(backupStatusForList({ id: 8, status: 'running' }, running), 'interrupted');
  assert.equal(backupStatusForList({ id: 9, status: 'good' }, running), 'good');
  assert.equal(backupStatusForList({ id: 10, status: 'failed' }, new Set()), 'failed');
});

test('parseKeep takes 1 to 365 and says what it wants otherwise', () => {
  assert.equal(parseKeep('1'), 1);
  assert.equal(parseKeep(' 30 '), 30);
  assert.equal(parseKeep(365), 365);
  for (const bad of ['0', '366', '-1', '1.5', 'seven', '', '1e2', null, undefined, 7.5]) {
    assert.throws(() => parseKeep(bad), { code: 'BERTH_E_USAGE', message: /from 1 to 365/ }, String(bad));
  }
});

test('parseAddonKind knows the three kinds', () => {
  assert.equal(parseAddonKind('sqlite'), 'sqlite');
  assert.throws(() => parseAddonKind('mysql'), { code: 'BERTH_E_ADDON_KIND' });
  assert.throws(() => parseAddonKind(undefined), { code: 'BERTH_E_ADDON_KIND' });
});

test('chooseBackupKind: the named kind, or the only add-on, never a guess', () => {
  assert.equal(chooseBackupKind('shop', ['redis'], undefined), 'redis');
  assert.equal(chooseBackupKind('shop', ['postgres', 'redis'], 'redis'), 'redis');
  assert.throws(() => chooseBackupKind('shop', ['redis', 'postgres'], undefined), {
    code: 'BERTH_E_USAGE',
    message: 'the app shop has 2 add-ons (postgres, redis), so --addon must name one',
    hint: 'Add --addon postgres or --addon redis.',
  });
  assert.throws(() => chooseBackupKind('shop', [], undefined), { code: 'BERTH_E_ADDON_NOT_FOUND' });
  assert.throws(() => chooseBackupKind('shop', ['postgres'], 'sqlite'), { code: 'BERTH_E_ADDON_NOT_FOUND' });
  assert.throws(() => chooseBackupKind('shop', ['postgres'], 'mongo'), { code: 'BERTH_E_ADDON_KIND' });
});
