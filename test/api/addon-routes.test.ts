// The add-on, storage and backup routes (docs/API.md) on a real ApiServer,
// AddonService and Store, with the real SQLite provider. The daemon end to
// end: test/integration/addons-cli.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { startAddonApi } from '../helpers/addon-api.ts';

test('an add-on is created with a release; its values leave the API only with reveal=1', async (t) => {
  const api = await startAddonApi(t);
  api.createApp('shop');

  const created = await api.call('POST', '/apps/shop/addons', { kind: 'sqlite' });
  assert.equal(created.status, 201, created.text);
  assert.deepEqual([...created.json.addon.vars].sort(), ['BERTH_DATA_DIR', 'DATABASE_URL']);
  assert.equal(created.json.addon.kind, 'sqlite');
  assert.equal(created.json.release.name, 'v2');
  assert.equal(created.json.release.current, true);
  assert.deepEqual(created.json.warnings, []);
  assert.doesNotMatch(created.text, /sqlite:\/\//, 'no value in the create answer');

  const hidden = await api.call('GET', '/apps/shop/addons/sqlite');
  assert.equal(hidden.status, 200);
  assert.equal(hidden.json.addon.values, null);
  assert.doesNotMatch(hidden.text, /sqlite:\/\//);
  const revealed = await api.call('GET', '/apps/shop/addons/sqlite?reveal=1');
  assert.equal(revealed.json.addon.values.DATABASE_URL, `sqlite:///${join(api.stateDir, 'data', 'shop', 'db.sqlite3')}`);

  assert.deepEqual((await api.call('GET', '/apps/shop/addons')).json.addons.map((a: { kind: string }) => a.kind), ['sqlite']);
  assert.doesNotMatch((await api.call('GET', '/apps/shop/addons')).text, /sqlite:\/\//);
  api.createApp('blog');
  await api.call('POST', '/apps/blog/storage');
  assert.deepEqual((await api.call('GET', '/addons')).json.addons.map((a: { app: string; kind: string }) => `${a.app}/${a.kind}`), ['blog/storage', 'shop/sqlite']);

  const again = await api.call('POST', '/apps/shop/addons', { kind: 'sqlite' });
  assert.equal(again.status, 409);
  assert.equal(again.json.code, 'BERTH_E_ADDON_EXISTS');
  assert.equal(api.store.listAudit().filter((row) => row.action === 'addons.create').length, 2, 'one audit row per call, by the service');
});

test('bodies are checked strictly: missing, mistyped and unknown fields are refused', async (t) => {
  const api = await startAddonApi(t);
  api.createApp('shop');
  const cases: Array<[string, string, unknown, number, string]> = [
    ['POST', '/apps/shop/addons', {}, 400, 'BERTH_E_USAGE'],
    ['POST', '/apps/shop/addons', { kind: 3 }, 400, 'BERTH_E_BAD_JSON'],
    ['POST', '/apps/shop/addons', { kind: 'mysql' }, 400, 'BERTH_E_ADDON_KIND'],
    ['POST', '/apps/shop/addons', { kind: 'storage' }, 400, 'BERTH_E_USAGE'],
    ['POST', '/apps/shop/addons', { kind: 'sqlite', plan: 'big' }, 400, 'BERTH_E_BAD_JSON'],
    ['POST', '/apps/shop/addons', [], 400, 'BERTH_E_BAD_JSON'],
    ['POST', '/apps/shop/addons', '{"kind":', 400, 'BERTH_E_BAD_JSON'],
    ['POST', '/apps/nope/addons', { kind: 'sqlite' }, 404, 'BERTH_E_APP_NOT_FOUND'],
    ['POST', '/apps/Bad/addons', { kind: 'sqlite' }, 400, 'BERTH_E_NAME'],
    ['POST', '/apps/shop/storage', { dir: '/etc' }, 400, 'BERTH_E_BAD_JSON'],
    ['POST', '/apps/shop/backups', { addon: ['sqlite'] }, 400, 'BERTH_E_BAD_JSON'],
    ['POST', '/apps/shop/backups', { kind: 'sqlite' }, 400, 'BERTH_E_BAD_JSON'],
    ['POST', '/apps/shop/backups', {}, 404, 'BERTH_E_ADDON_NOT_FOUND'],
    ['POST', '/backups/abc/restore', { into: 'new' }, 404, 'BERTH_E_BACKUP_NOT_FOUND'],
    ['POST', '/backups/99/restore', { into: 'new' }, 404, 'BERTH_E_BACKUP_NOT_FOUND'],
    ['PUT', '/apps/shop/backups/schedule', { cron: '0 3 * * *', keep: '7' }, 400, 'BERTH_E_BAD_JSON'],
    ['PUT', '/apps/shop/backups/schedule', { crom: '0 3 * * *' }, 400, 'BERTH_E_BAD_JSON'],
    ['PUT', '/apps/shop/backups/schedule', {}, 400, 'BERTH_E_USAGE'],
    ['GET', '/apps/shop/addons/mysql', undefined, 400, 'BERTH_E_ADDON_KIND'],
    ['GET', '/apps/shop/addons/sqlite', undefined, 404, 'BERTH_E_ADDON_NOT_FOUND'],
    ['GET', '/apps/shop/storage', undefined, 404, 'BERTH_E_ADDON_NOT_FOUND'],
  ];
  for (const [method, path, body, status, code] of cases) {
    const answer = await api.call(method, path, body);
    assert.equal(answer.status, status, `${method} ${path} ${JSON.stringify(body)}: ${answer.text}`);
    assert.equal(answer.json.code, code, `${method} ${path} ${JSON.stringify(body)}`);
  }
  assert.deepEqual(api.store.listAddons('shop'), [], 'nothing was made');
});

test('backups: made and listed good, restored beside the app, and over it only when confirmed', async (t) => {
  const api = await startAddonApi(t);
  api.createApp('shop');
  await api.call('POST', '/apps/shop/addons', { kind: 'sqlite' });

  const made = await api.call('POST', '/apps/shop/backups', {});
  assert.equal(made.status, 201, made.text);
  const backup = made.json.backup;
  assert.equal(backup.status, 'good');
  assert.equal(backup.trigger, 'manual');
  assert.match(backup.sha256, /^[0-9a-f]{64}$/);
  assert.ok(backup.bytes > 0);
  assert.equal(typeof backup.file, 'string');
  assert.ok(!backup.file.includes('/'), 'the file name only, not the server\'s folder');
  assert.deepEqual((await api.call('GET', '/apps/shop/backups')).json.backups.map((b: { id: number }) => b.id), [backup.id]);
  assert.equal((await api.call('POST', '/apps/shop/backups', { addon: 'sqlite' })).status, 201);

  const beside = await api.call('POST', `/backups/${backup.id}/restore`, { into: 'new' });
  assert.equal(beside.status, 200, beside.text);
  assert.equal(beside.json.restore.into, 'new');
  assert.equal(beside.json.restore.source, 'primary');
  assert.equal(typeof beside.json.restore.report.summary, 'string');
  assert.equal(typeof beside.json.restore.report.location, 'string');

  for (const [body, code] of [
    [{ into: 'app' }, 'BERTH_E_CONFIRM'],
    [{ into: 'app', confirm: 'shoe' }, 'BERTH_E_CONFIRM'],
    [{}, 'BERTH_E_USAGE'],
    [{ into: 'old' }, 'BERTH_E_USAGE'],
    [{ into: 'app', confirm: 'shop', force: true }, 'BERTH_E_BAD_JSON'],
  ] as const) {
    const refused = await api.call('POST', `/backups/${backup.id}/restore`, body);
    assert.equal(refused.status, 400, JSON.stringify(body));
    assert.equal(refused.json.code, code, JSON.stringify(body));
  }
  const over = await api.call('POST', `/backups/${backup.id}/restore`, { into: 'app', confirm: 'shop' });
  assert.equal(over.status, 200, over.text);
  assert.equal(over.json.restore.into, 'app');
});

test('a failed backup is an error answer and stays listed as failed with its reason', async (t) => {
  const api = await startAddonApi(t);
  api.createApp('shop');
  assert.equal((await api.call('POST', '/apps/shop/addons', { kind: 'redis' })).status, 201);
  await api.call('POST', '/apps/shop/addons', { kind: 'sqlite' });

  const which = await api.call('POST', '/apps/shop/backups', {});
  assert.equal(which.status, 400);
  assert.equal(which.json.code, 'BERTH_E_USAGE', 'two add-ons and no "addon": which one is not guessed');

  const failed = await api.call('POST', '/apps/shop/backups', { addon: 'redis' });
  assert.equal(failed.status, 500);
  assert.equal(failed.json.code, 'BERTH_E_BACKUP_FAILED');
  assert.match(failed.json.message, /BGSAVE failed: connection refused/);
  const [row] = (await api.call('GET', '/apps/shop/backups')).json.backups;
  assert.equal(row.status, 'failed');
  assert.match(row.error, /connection refused/);
  const restore = await api.call('POST', `/backups/${row.id}/restore`, { into: 'new' });
  assert.equal(restore.status, 409);
  assert.equal(restore.json.code, 'BERTH_E_BACKUP_CORRUPT');
});

test('schedules: set, shown, refused when invalid, removed', async (t) => {
  const api = await startAddonApi(t);
  api.createApp('shop');
  await api.call('POST', '/apps/shop/addons', { kind: 'sqlite' });

  const set = await api.call('PUT', '/apps/shop/backups/schedule', { cron: '0 3 * * *', timezone: 'Europe/Berlin', keep: 14 });
  assert.equal(set.status, 200, set.text);
  assert.deepEqual(set.json.schedule, { app: 'shop', kind: 'sqlite', schedule: '0 3 * * *', timezone: 'Europe/Berlin', keep: 14, nextRun: '2030-01-01T03:00:00.000Z' });
  assert.deepEqual(api.tasks.get('shop')!.map((task) => task.name), ['berth.backup-sqlite']);
  assert.deepEqual((await api.call('GET', '/apps/shop/backups/schedules')).json.schedules, [set.json.schedule]);
  assert.equal((await api.call('GET', '/apps/shop/addons/sqlite')).json.addon.schedule.keep, 14);

  for (const [body, code] of [
    [{ cron: 'every day' }, 'BERTH_E_CRON_SCHEDULE'],
    [{ cron: '0 3 * * *', timezone: 'Mars/Olympus' }, 'BERTH_E_CRON_SCHEDULE'],
    [{ cron: '0 3 * * *', keep: 0 }, 'BERTH_E_USAGE'],
    [{ cron: '0 3 * * *', addon: 'postgres' }, 'BERTH_E_ADDON_NOT_FOUND'],
  ] as const) {
    const refused = await api.call('PUT', '/apps/shop/backups/schedule', body);
    assert.equal(refused.json.code, code, JSON.stringify(body));
  }
  assert.equal((await api.call('GET', '/apps/shop/backups/schedules')).json.schedules[0].keep, 14, 'a refused change leaves the schedule as it was');

  const off = await api.call('DELETE', '/apps/shop/backups/schedule?addon=sqlite');
  assert.equal(off.status, 200);
  assert.deepEqual(off.json, { schedule: null });
  assert.deepEqual((await api.call('GET', '/apps/shop/backups/schedules')).json.schedules, []);
  assert.deepEqual(api.tasks.get('shop'), []);
});

test('destroy needs confirm=NAME, keeps a final backup, and rolls out a release without the vars', async (t) => {
  const api = await startAddonApi(t);
  api.createApp('shop');
  await api.call('POST', '/apps/shop/addons', { kind: 'sqlite' });

  for (const query of ['', '?confirm=shoe']) {
    const refused = await api.call('DELETE', `/apps/shop/addons/sqlite${query}`);
    assert.equal(refused.status, 400);
    assert.equal(refused.json.code, 'BERTH_E_CONFIRM');
    assert.match(refused.json.hint, /--confirm shop/);
  }
  assert.equal(api.store.listAddons('shop').length, 1, 'a refusal changes nothing');

  const destroyed = await api.call('DELETE', '/apps/shop/addons/sqlite?confirm=shop');
  assert.equal(destroyed.status, 200, destroyed.text);
  assert.equal(destroyed.json.finalBackup.trigger, 'final');
  assert.equal(destroyed.json.finalBackup.status, 'good');
  assert.equal(destroyed.json.release.current, true);
  assert.deepEqual(destroyed.json.warnings, []);
  assert.deepEqual(api.store.listAddons('shop'), []);
  assert.equal((await api.call('GET', '/apps/shop/backups')).json.backups[0].id, destroyed.json.finalBackup.id);
});

test('storage: created, shown, destroyed only when confirmed', async (t) => {
  const api = await startAddonApi(t);
  api.createApp('shop');
  const created = await api.call('POST', '/apps/shop/storage');
  assert.equal(created.status, 201, created.text);
  assert.deepEqual(created.json.addon.vars, ['BERTH_DATA_DIR']);
  const dir = join(api.stateDir, 'data', 'shop');
  assert.equal(created.json.addon.details.dir, dir);
  assert.ok(existsSync(dir));
  assert.equal((await api.call('GET', '/apps/shop/storage')).json.addon.values, null);
  assert.equal((await api.call('GET', '/apps/shop/storage?reveal=1')).json.addon.values.BERTH_DATA_DIR, dir);

  assert.equal((await api.call('DELETE', '/apps/shop/storage')).json.code, 'BERTH_E_CONFIRM');
  assert.ok(existsSync(dir));
  const destroyed = await api.call('DELETE', '/apps/shop/storage?confirm=shop');
  assert.equal(destroyed.status, 200, destroyed.text);
  assert.equal(destroyed.json.release.current, true);
  assert.equal(existsSync(dir), false);
});

test('a backup whose file has gone is listed as missing; a restore falls back to its copy, or is refused without one', async (t) => {
  for (const copy of [false, true]) {
    const api = await startAddonApi(t, { copy });
    api.createApp('shop');
    await api.call('POST', '/apps/shop/addons', { kind: 'sqlite' });
    const { backup } = (await api.call('POST', '/apps/shop/backups')).json;
    assert.equal(backup.copied, copy);
    await unlink(join(api.stateDir, 'backups', 'shop', backup.file));
    assert.equal((await api.call('GET', '/apps/shop/backups')).json.backups[0].missing, true);
    const restore = await api.call('POST', `/backups/${backup.id}/restore`, { into: 'new' });
    if (!copy) {
      assert.equal(restore.json.code, 'BERTH_E_BACKUP_CORRUPT', restore.text);
      continue;
    }
    assert.equal(restore.status, 200, restore.text);
    assert.equal(restore.json.restore.source, 'copy');
    assert.match(restore.json.restore.warnings[0], /missing; restored its copy instead/);
  }
});
