import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../src/errors.ts';
import { Store } from '../../src/platform/index.ts';
import { openTempStore } from './store-helpers.ts';

function refusedWith(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => err instanceof BerthError && err.code === code);
}

test('an add-on is one per app and kind; its vars merge into addonVars; the app cannot be destroyed while it has one', (t) => {
  const { store } = openTempStore(t);
  store.createApp('shop');
  store.createApp('blog');
  const pg = store.addAddon('shop', 'postgres', { DATABASE_URL: 'postgres://shop:secret@127.0.0.1:5432/shop' }, { role: 'shop', password: 'secret' });
  assert.equal(pg.kind, 'postgres');
  assert.deepEqual(pg.resource, { role: 'shop', password: 'secret' });
  store.addAddon('shop', 'storage', { BERTH_DATA_DIR: '/state/data/shop' }, { dir: '/state/data/shop' });
  refusedWith(() => store.addAddon('shop', 'postgres', {}, {}), 'BERTH_E_ADDON_EXISTS');
  assert.deepEqual(store.addonVars('shop'), { DATABASE_URL: 'postgres://shop:secret@127.0.0.1:5432/shop', BERTH_DATA_DIR: '/state/data/shop' });
  assert.deepEqual(store.addonVars('blog'), {});
  assert.deepEqual(store.listAddons().map((a) => `${a.app}/${a.kind}`), ['shop/postgres', 'shop/storage']);
  refusedWith(() => store.getAddon('blog', 'redis'), 'BERTH_E_ADDON_NOT_FOUND');
  refusedWith(() => store.destroyApp('shop'), 'BERTH_E_ADDON_EXISTS');
  store.setBackupSchedule('shop', 'postgres', { schedule: '0 3 * * *', timezone: 'UTC', keep: 7 });
  store.removeAddon('shop', 'postgres');
  assert.deepEqual(store.listBackupSchedules('shop'), [], 'the schedule goes with its add-on');
  store.removeAddon('shop', 'storage');
  store.destroyApp('shop');
});

test('a backup is good only with its file and checksum; running ones left by a dead daemon become interrupted', (t) => {
  const { dir, store } = openTempStore(t);
  store.createApp('shop');
  const first = store.startBackup({ app: 'shop', kind: 'postgres', trigger: 'manual' });
  assert.equal(first.status, 'running');
  assert.equal(first.file, null);
  const good = store.finishBackup(first.id, { status: 'good', file: '/b/shop-1.pgdump.gz', bytes: 123, sha256: 'ab'.repeat(32) });
  assert.equal(good.status, 'good');
  assert.equal(good.bytes, 123);
  const failed = store.finishBackup(store.startBackup({ app: 'shop', kind: 'postgres', trigger: 'scheduled' }).id, { status: 'failed', error: 'pg_dump failed' });
  assert.equal(failed.status, 'failed');
  assert.equal(failed.file, null);
  assert.equal(store.finishBackup(first.id, { status: 'failed', error: 'late' }).status, 'good', 'a finished row is not rewritten');
  const dying = store.startBackup({ app: 'shop', kind: 'redis', trigger: 'manual' });
  store.close();
  const again = Store.open(dir);
  t.after(() => again.close());
  assert.deepEqual(again.interruptBackups().map((b) => b.id), [dying.id]);
  assert.equal(again.getBackup(dying.id).status, 'interrupted');
  assert.deepEqual(again.listBackups('shop').map((b) => b.id), [dying.id, failed.id, first.id], 'newest first');
  assert.deepEqual(again.listBackups('shop', 'redis').map((b) => b.id), [dying.id]);
  again.setBackupCopy(first.id, { file: '/copy/shop-1.pgdump.gz' });
  assert.equal(again.getBackup(first.id).copyFile, '/copy/shop-1.pgdump.gz');
  again.deleteBackup(failed.id);
  refusedWith(() => again.getBackup(failed.id), 'BERTH_E_BACKUP_NOT_FOUND');
});

test('backup rows outlive their app; schedules are per app and kind and replaced in place', (t) => {
  const { store } = openTempStore(t);
  store.createApp('shop');
  const backup = store.startBackup({ app: 'shop', kind: 'sqlite', trigger: 'final' });
  store.setBackupSchedule('shop', 'sqlite', { schedule: '0 3 * * *', timezone: 'UTC', keep: 7 });
  store.setBackupSchedule('shop', 'sqlite', { schedule: '@hourly', timezone: 'Europe/Berlin', keep: 3 });
  assert.deepEqual(store.listBackupSchedules(), [{ app: 'shop', kind: 'sqlite', schedule: '@hourly', timezone: 'Europe/Berlin', keep: 3 }]);
  assert.equal(store.removeBackupSchedule('shop', 'sqlite'), true);
  assert.equal(store.removeBackupSchedule('shop', 'sqlite'), false);
  store.destroyApp('shop');
  assert.equal(store.getBackup(backup.id).app, 'shop');
});

test('a destroyed app keeps its backups, but a new app of the same name starts with none of them', (t) => {
  const { store } = openTempStore(t);
  store.createApp('shop');
  store.createApp('blog');
  const good = { status: 'good' as const, bytes: 10, sha256: 'a'.repeat(64) };
  const old = store.finishBackup(store.startBackup({ app: 'shop', kind: 'postgres', trigger: 'scheduled' }).id, { ...good, file: '/backups/shop/shop-postgres-1.pgdump.gz' });
  const final = store.finishBackup(store.startBackup({ app: 'shop', kind: 'postgres', trigger: 'final' }).id, { ...good, file: '/backups/shop/shop-postgres-2.pgdump.gz' });
  const blogs = store.finishBackup(store.startBackup({ app: 'blog', kind: 'redis', trigger: 'manual' }).id, { ...good, file: '/backups/blog/blog-redis-3.rdb.gz' });

  const destroyed = store.destroyApp('shop');
  assert.deepEqual(destroyed.backups.map((b) => b.id), [final.id, old.id], 'what the destroy kept, newest first');
  store.createApp('shop');
  assert.deepEqual(store.listBackups('shop'), []);
  assert.deepEqual(store.listBackups('shop', 'postgres'), [], 'so the new app never prunes them');
  assert.deepEqual(store.listBackups().map((b) => b.id), [blogs.id], 'nor do metrics and alerts count them');
  // The rows and their files stay for the operator, found by id.
  assert.equal(store.getBackup(final.id).file, '/backups/shop/shop-postgres-2.pgdump.gz');

  const mine = store.startBackup({ app: 'shop', kind: 'postgres', trigger: 'manual' });
  assert.deepEqual(store.listBackups('shop').map((b) => b.id), [mine.id]);
  // Destroyed again: only the new app's backups were its own.
  store.finishBackup(mine.id, { ...good, file: '/backups/shop/shop-postgres-4.pgdump.gz' });
  assert.deepEqual(store.destroyApp('shop').backups.map((b) => b.id), [mine.id]);
});
