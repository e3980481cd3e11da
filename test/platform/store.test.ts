import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError } from '../../src/errors.ts';
import { describeRelease, SCHEMA_VERSION, Store, TOKEN_TOUCH_INTERVAL_MS, type Store as StoreType } from '../../src/platform/index.ts';
import { MIGRATIONS } from '../../src/platform/schema.ts';
import { fakeClock, openTempStore, tempStateDir, WEB_MANIFEST } from './store-helpers.ts';

function refused(fn: () => unknown, code: string, status: number): BerthError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof BerthError, `expected a BerthError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.status, status, `${code} status`);
    return err;
  }
  assert.fail(`expected ${code}`);
}

const mode = (path: string) => statSync(path).mode & 0o777;
const WEB = [{ name: 'web', command: 'node server.js' }];

/** An app with a succeeded build, ready for releases. */
function appWithBuild(store: StoreType, name = 'shop') {
  store.createApp(name);
  const build = store.createBuild(name, { sourceDigest: 'sha256:3f2a9c1d', dir: `/srv/${name}/b1`, logPath: `/srv/${name}/b1.log` });
  store.markBuild(build.id, 'succeeded', WEB_MANIFEST);
  return store.getBuild(build.id);
}

/** Create, succeed and make current a release, as a deploy does. */
function deploy(store: StoreType, app: string, buildId: number | null, kind: 'deploy' | 'config' | 'rollback' = 'deploy') {
  const release = store.createRelease(app, { kind, description: 'Deploy', buildId, processes: WEB });
  store.transaction(() => {
    store.markRelease(release.id, 'succeeded');
    store.setCurrentRelease(app, release.id);
  });
  return store.getRelease(app, release.version);
}

// ---- opening, files, migrations ----------------------------------------------

test('open creates the state folder 0700 and the database 0600, WAL files included', (t) => {
  const { dir, store } = openTempStore(t);
  store.createApp('shop'); // something in the WAL
  assert.equal(mode(dir), 0o700);
  assert.equal(mode(join(dir, 'berth.db')), 0o600);
  assert.ok(existsSync(join(dir, 'berth.db-wal')), 'WAL mode');
  assert.equal(mode(join(dir, 'berth.db-wal')), 0o600);
  assert.equal(mode(join(dir, 'berth.db-shm')), 0o600);
  assert.equal(store.path, join(dir, 'berth.db'));
});

test('open tightens a state folder and database that were left readable by others', (t) => {
  const dir = tempStateDir(t);
  Store.open(dir).close();
  chmodSync(dir, 0o755);
  chmodSync(join(dir, 'berth.db'), 0o644);
  const store = Store.open(dir);
  t.after(() => store.close());
  assert.equal(mode(dir), 0o700);
  assert.equal(mode(join(dir, 'berth.db')), 0o600);
});

test('the database is in WAL mode with the schema at the current version', (t) => {
  const { dir, store } = openTempStore(t);
  assert.equal(store.schemaVersion, SCHEMA_VERSION);
  const raw = new DatabaseSync(join(dir, 'berth.db'), { readOnly: true });
  t.after(() => raw.close());
  assert.equal(raw.prepare('PRAGMA journal_mode').get()?.journal_mode, 'wal');
  assert.equal(raw.prepare('PRAGMA user_version').get()?.user_version, SCHEMA_VERSION);
  const tables = raw.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`).all().map((r) => r.name);
  assert.deepEqual(tables, ['addons', 'app_json_keys', 'app_uids', 'apps', 'audit', 'backup_schedules', 'backups', 'builds', 'config_vars', 'cron_runs', 'domains', 'formation', 'log_drains', 'releases', 'ssh_keys', 'tokens']);
});

test('reopening the same folder keeps everything, and migrations run once', (t) => {
  const dir = tempStateDir(t);
  const first = Store.open(dir);
  const build = appWithBuild(first);
  first.setConfig('shop', { FOO: 'bar' });
  const release = deploy(first, 'shop', build.id);
  first.setFormation('shop', { web: 2 });
  first.addDomain('shop', 'shop.example.com');
  const { token } = first.createToken('ci');
  first.audit({ actor: 'ci', action: 'apps.create', target: 'shop', result: 'ok' });
  first.close();

  for (let i = 0; i < 3; i++) {
    const again = Store.open(dir);
    assert.equal(again.schemaVersion, SCHEMA_VERSION);
    assert.deepEqual(again.getApp('shop').currentVersion, release.version);
    assert.deepEqual(again.getConfig('shop'), { FOO: 'bar' });
    assert.deepEqual(again.currentRelease('shop'), release);
    assert.deepEqual(again.getFormation('shop'), { web: 2 });
    assert.deepEqual(again.listDomains().map((d) => d.hostname), ['shop.example.com']);
    assert.equal(again.verifyToken(token)?.name, 'ci');
    assert.equal(again.listAudit().length, 1);
    assert.deepEqual(again.checkIntegrity(), []);
    again.close();
  }
});

test('a database written by a newer berth is refused, not migrated down', (t) => {
  const dir = tempStateDir(t);
  Store.open(dir).close();
  const raw = new DatabaseSync(join(dir, 'berth.db'));
  raw.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
  raw.close();
  const err = refused(() => Store.open(dir), 'BERTH_E_STATE', 500);
  assert.match(err.message, /newer than this berth knows/);
});

test('a migration that fails midway leaves the database as it was', (t) => {
  const dir = tempStateDir(t);
  mkdirSync(dir, { recursive: true });
  // A table in the way of the last CREATE of migration 1.
  const raw = new DatabaseSync(join(dir, 'berth.db'));
  raw.exec('CREATE TABLE audit (x)');
  raw.close();
  refused(() => Store.open(dir), 'BERTH_E_STATE', 500);
  const after = new DatabaseSync(join(dir, 'berth.db'), { readOnly: true });
  t.after(() => after.close());
  assert.equal(after.prepare('PRAGMA user_version').get()?.user_version, 0);
  assert.deepEqual(after.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table'`).all().map((r) => r.name), ['audit'], 'the tables made before the failure were rolled back');
});

test('a file that is not a database is refused with BERTH_E_STATE and left alone', (t) => {
  const dir = tempStateDir(t);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'berth.db'), 'this is not sqlite, and it is long enough to have a header '.repeat(10));
  refused(() => Store.open(dir), 'BERTH_E_STATE', 500);
  assert.match(readFileSync(join(dir, 'berth.db'), 'utf8'), /^this is not sqlite/);
});

test('a state folder that cannot be created is BERTH_E_STATE', (t) => {
  const dir = tempStateDir(t);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'file'), '');
  refused(() => Store.open(join(dir, 'file', 'state')), 'BERTH_E_STATE', 500);
});

test('close is idempotent, and a closed store refuses work with BERTH_E_STATE', (t) => {
  const { store } = openTempStore(t);
  store.close();
  store.close();
  refused(() => store.listApps(), 'BERTH_E_STATE', 500);
});

// ---- apps -----------------------------------------------------------------

test('apps: create, get, list, update', (t) => {
  const clock = fakeClock();
  const { store } = openTempStore(t, { now: clock.now });
  const shop = store.createApp('shop');
  assert.deepEqual(shop, { name: 'shop', createdAt: '2025-01-01T00:00:00.000Z', currentVersion: null, uid: null, deployBranch: 'main' });
  clock.advance(1000);
  store.createApp('blog', { uid: 1001, deployBranch: 'release/1' });
  assert.deepEqual(store.getApp('blog'), { name: 'blog', createdAt: '2025-01-01T00:00:01.000Z', currentVersion: null, uid: 1001, deployBranch: 'release/1' });
  assert.deepEqual(store.listApps().map((a) => a.name), ['blog', 'shop']);
  assert.deepEqual(store.updateApp('shop', { uid: 1002, deployBranch: 'trunk' }), { ...shop, uid: 1002, deployBranch: 'trunk' });
  assert.equal(store.updateApp('shop', { uid: null }).uid, null);
});

test('apps: a taken name is 409, an unknown one 404, a malformed one 400', (t) => {
  const { store } = openTempStore(t);
  store.createApp('shop');
  assert.match(refused(() => store.createApp('shop'), 'BERTH_E_APP_EXISTS', 409).message, /"shop" already exists/);
  refused(() => store.getApp('nope'), 'BERTH_E_APP_NOT_FOUND', 404);
  refused(() => store.setConfig('nope', { A: 'b' }), 'BERTH_E_APP_NOT_FOUND', 404);
  refused(() => store.destroyApp('nope'), 'BERTH_E_APP_NOT_FOUND', 404);
  for (const bad of ['bad;name', '../x', 'Shop', 'a'.repeat(64), '']) {
    refused(() => store.createApp(bad), 'BERTH_E_NAME', 400);
    refused(() => store.getApp(bad), 'BERTH_E_NAME', 400);
  }
  refused(() => store.createApp('ok', { deployBranch: '../x' }), 'BERTH_E_NAME', 400);
  refused(() => store.createApp('ok', { uid: -1 }), 'BERTH_E_USAGE', 400);
  assert.deepEqual(store.listApps().map((a) => a.name), ['shop'], 'nothing was created by the refusals');
});

test('destroyApp removes every row of the app, returns what it removed, and keeps the audit history', (t) => {
  const { store } = openTempStore(t);
  const build = appWithBuild(store);
  store.setConfig('shop', { A: '1', B: '2' });
  deploy(store, 'shop', build.id);
  deploy(store, 'shop', build.id, 'config');
  store.setFormation('shop', { web: 3 });
  store.addDomain('shop', 'b.example.com');
  store.addDomain('shop', 'a.example.com');
  store.audit({ actor: 'system', action: 'apps.create', target: 'shop', result: 'ok' });
  appWithBuild(store, 'blog');
  store.setConfig('blog', { KEEP: 'me' });

  const removed = store.destroyApp('shop');
  assert.equal(removed.app.name, 'shop');
  assert.equal(removed.app.currentVersion, 2);
  assert.equal(removed.releases, 2);
  assert.deepEqual(removed.builds.map((b) => b.dir), ['/srv/shop/b1']);
  assert.deepEqual(removed.domains, ['a.example.com', 'b.example.com']);
  assert.deepEqual(removed.configKeys, ['A', 'B']);

  refused(() => store.getApp('shop'), 'BERTH_E_APP_NOT_FOUND', 404);
  assert.deepEqual(store.listDomains(), []);
  assert.equal(store.listAudit().length, 1);
  assert.deepEqual(store.getConfig('blog'), { KEEP: 'me' }, 'other apps untouched');
  assert.deepEqual(store.checkIntegrity(), []);
  // The name and the hostnames are free again; a new app starts at v1.
  const again = appWithBuild(store);
  assert.equal(store.createRelease('shop', { kind: 'deploy', description: 'Deploy', buildId: again.id, processes: WEB }).version, 1);
  assert.equal(store.addDomain('shop', 'a.example.com').app, 'shop');
});

// ---- config -----------------------------------------------------------------

test('config: set merges, unset removes, replace replaces, each returning the whole config', (t) => {
  const { store } = openTempStore(t);
  store.createApp('shop');
  assert.deepEqual(store.getConfig('shop'), {});
  assert.deepEqual(store.setConfig('shop', { FOO: '1', BAR: 'two words', EMPTY: '' }), { BAR: 'two words', EMPTY: '', FOO: '1' });
  assert.deepEqual(store.setConfig('shop', { FOO: 'changed', BAZ: 'x=y' }), { BAR: 'two words', BAZ: 'x=y', EMPTY: '', FOO: 'changed' });
  assert.deepEqual(store.unsetConfig('shop', ['BAR', 'NOT_THERE']), { BAZ: 'x=y', EMPTY: '', FOO: 'changed' });
  assert.deepEqual(store.replaceConfig('shop', { ONLY: 'this' }), { ONLY: 'this' });
  assert.deepEqual(store.setConfig('shop', {}), { ONLY: 'this' });
});

test('config: one invalid key or value among good ones changes no key', (t) => {
  const { store } = openTempStore(t);
  store.createApp('shop');
  store.setConfig('shop', { KEEP: 'old' });
  const before = store.getConfig('shop');
  refused(() => store.setConfig('shop', { KEEP: 'new', GOOD: 'yes', 'bad;key': 'x' }), 'BERTH_E_NAME', 400);
  refused(() => store.setConfig('shop', { KEEP: 'new', PORT: '80' }), 'BERTH_E_NAME', 400);
  refused(() => store.setConfig('shop', { KEEP: 'new', BERTH_INSTANCE: 'x' }), 'BERTH_E_NAME', 400);
  refused(() => store.setConfig('shop', { KEEP: 'new', NUL: 'a\0b' }), 'BERTH_E_CONFIG_VALUE', 400);
  refused(() => store.setConfig('shop', { KEEP: 'new', NUM: 5 as unknown as string }), 'BERTH_E_CONFIG_VALUE', 400);
  refused(() => store.unsetConfig('shop', ['KEEP', '1BAD']), 'BERTH_E_NAME', 400);
  refused(() => store.replaceConfig('shop', { A: 'x', 'B-C': 'y' }), 'BERTH_E_NAME', 400);
  assert.deepEqual(store.getConfig('shop'), before);
});

test('config: a failure inside one transaction after some writes leaves nothing changed', (t) => {
  const { store } = openTempStore(t);
  store.createApp('shop');
  store.setConfig('shop', { KEEP: 'old' });
  assert.throws(
    () =>
      store.transaction(() => {
        store.setConfig('shop', { KEEP: 'new', ADDED: '1' });
        store.unsetConfig('shop', ['KEEP']);
        throw new Error('midway');
      }),
    /midway/,
  );
  assert.deepEqual(store.getConfig('shop'), { KEEP: 'old' });
});

// ---- transactions -------------------------------------------------------------

test('transaction: nested calls are savepoints — a caught inner failure undoes only the inner part', (t) => {
  const { store } = openTempStore(t);
  store.createApp('shop');
  store.transaction(() => {
    store.setConfig('shop', { OUTER: '1' });
    assert.throws(() =>
      store.transaction(() => {
        store.setConfig('shop', { INNER: '1' });
        store.createApp('shop'); // 409: undoes INNER
      }),
    );
    store.setConfig('shop', { AFTER: '1' });
  });
  assert.deepEqual(store.getConfig('shop'), { AFTER: '1', OUTER: '1' });
});

test('transaction: an async function is refused and nothing it did is committed', async (t) => {
  const { store } = openTempStore(t);
  store.createApp('shop');
  assert.throws(
    () =>
      store.transaction((async () => {
        store.setConfig('shop', { SYNC_PART: '1' });
      }) as () => unknown),
    /synchronous function/,
  );
  assert.deepEqual(store.getConfig('shop'), {});
  // The store is usable afterwards (no transaction left open).
  assert.deepEqual(store.setConfig('shop', { OK: '1' }), { OK: '1' });
});

// ---- builds and releases ------------------------------------------------------

test('builds: building, then succeeded or failed, once', (t) => {
  const { store } = openTempStore(t);
  store.createApp('shop');
  const build = store.createBuild('shop', { sourceDigest: 'sha256:ab', dir: '/d', logPath: '/l' });
  assert.equal(build.status, 'building');
  assert.equal(build.app, 'shop');
  assert.equal(store.markBuild(build.id, 'failed').status, 'failed');
  refused(() => store.markBuild(build.id, 'succeeded', WEB_MANIFEST), 'BERTH_E_RELEASE_STATE', 409);
  refused(() => store.getBuild(999), 'BERTH_E_BUILD_NOT_FOUND', 404);
  refused(() => store.createBuild('shop', { sourceDigest: '', dir: '/d', logPath: '/l' }), 'BERTH_E_USAGE', 400);
  assert.deepEqual(store.listBuilds('shop').map((b) => b.id), [build.id]);
});

test('releases: pending with the next version, the config snapshot taken at creation', (t) => {
  const clock = fakeClock();
  const { store } = openTempStore(t, { now: clock.now });
  const build = appWithBuild(store);
  store.setConfig('shop', { FOO: 'one' });
  const v1 = store.createRelease('shop', { kind: 'deploy', description: describeRelease({ kind: 'deploy', source: '3f2a9c1d' }), buildId: build.id, processes: WEB });
  assert.deepEqual(v1, {
    id: v1.id,
    app: 'shop',
    version: 1,
    createdAt: '2025-01-01T00:00:00.000Z',
    kind: 'deploy',
    description: 'Deploy 3f2a9c1',
    buildId: build.id,
    status: 'pending',
    configKeys: ['FOO'],
    processes: WEB,
    image: null,
    config: { FOO: 'one' },
  });
  // The Kubernetes runtime records the build's image and the image each release ran.
  const image = `registry.example.com/apps/shop@sha256:${'b'.repeat(64)}`;
  assert.equal(store.setBuildImage(build.id, image).image, image);
  store.setReleaseImage(v1.id, image);
  assert.equal(store.getRelease('shop', 1).image, image);
  assert.equal(store.listReleases('shop')[0]!.image, image);
  store.setConfig('shop', { FOO: 'two' });
  assert.deepEqual(store.getRelease('shop', 1).config, { FOO: 'one' }, 'a release is immutable: later config changes do not touch it');
  const v2 = store.createRelease('shop', { kind: 'config', description: 'Set FOO', buildId: build.id, processes: WEB });
  assert.equal(v2.version, 2);
  assert.deepEqual(v2.config, { FOO: 'two' });
  const v3 = store.createRelease('shop', { kind: 'rollback', description: 'Rollback to v1', buildId: build.id, config: { FOO: 'one' }, processes: WEB });
  assert.deepEqual([v3.version, v3.config], [3, { FOO: 'one' }]);
  const configOnly = store.createRelease('shop', { kind: 'config', description: 'Set X', processes: [] });
  assert.deepEqual([configOnly.version, configOnly.buildId], [4, null]);
});

test('releases: versions keep counting after failures and pruning, per app', (t) => {
  const { store } = openTempStore(t);
  const shop = appWithBuild(store, 'shop');
  const blog = appWithBuild(store, 'blog');
  const versions: number[] = [];
  for (let i = 0; i < 5; i++) {
    const r = store.createRelease('shop', { kind: 'deploy', description: 'Deploy', buildId: shop.id, processes: WEB });
    store.markRelease(r.id, i % 2 === 0 ? 'succeeded' : 'failed');
    versions.push(r.version);
  }
  store.setCurrentRelease('shop', store.getRelease('shop', 5).id);
  store.pruneReleases('shop', 0);
  versions.push(store.createRelease('shop', { kind: 'deploy', description: 'Deploy', buildId: shop.id, processes: WEB }).version);
  assert.deepEqual(versions, [1, 2, 3, 4, 5, 6]);
  assert.equal(store.createRelease('blog', { kind: 'deploy', description: 'Deploy', buildId: blog.id, processes: WEB }).version, 1);
});

test('releases: what a release may be made from', (t) => {
  const { store } = openTempStore(t);
  const build = appWithBuild(store);
  const other = appWithBuild(store, 'blog');
  store.createApp('empty');
  const building = store.createBuild('shop', { sourceDigest: 'sha256:cd', dir: '/d2', logPath: '/l2' });
  const base = { kind: 'deploy' as const, description: 'Deploy', processes: WEB };
  refused(() => store.createRelease('shop', { ...base, buildId: null }), 'BERTH_E_BUILD_NOT_FOUND', 404);
  refused(() => store.createRelease('shop', { ...base, buildId: other.id }), 'BERTH_E_BUILD_NOT_FOUND', 404);
  refused(() => store.createRelease('shop', { ...base, buildId: 12345 }), 'BERTH_E_BUILD_NOT_FOUND', 404);
  refused(() => store.createRelease('shop', { ...base, buildId: building.id }), 'BERTH_E_RELEASE_STATE', 409);
  refused(() => store.createRelease('shop', { ...base, buildId: build.id, description: ' ' }), 'BERTH_E_USAGE', 400);
  refused(() => store.createRelease('shop', { ...base, buildId: build.id, processes: [{ name: 'web;x', command: 'a' }] }), 'BERTH_E_NAME', 400);
  refused(() => store.createRelease('shop', { ...base, buildId: build.id, processes: [...WEB, ...WEB] }), 'BERTH_E_USAGE', 400);
  refused(() => store.createRelease('shop', { ...base, buildId: build.id, processes: [{ name: 'web', command: '' }] }), 'BERTH_E_USAGE', 400);
  refused(() => store.createRelease('shop', { ...base, buildId: build.id, config: { PORT: '1' } }), 'BERTH_E_NAME', 400);
  refused(() => store.createRelease('shop', { ...base, kind: 'scale' as 'deploy', buildId: build.id }), 'BERTH_E_USAGE', 400);
  assert.deepEqual(store.listReleases('shop'), [], 'no refusal left a release behind');
});

test('releases: status moves pending → succeeded|failed once; only a succeeded release of the app becomes current', (t) => {
  const { store } = openTempStore(t);
  const build = appWithBuild(store);
  appWithBuild(store, 'blog');
  const ok = store.createRelease('shop', { kind: 'deploy', description: 'Deploy', buildId: build.id, processes: WEB });
  const bad = store.createRelease('shop', { kind: 'deploy', description: 'Deploy', buildId: build.id, processes: WEB });
  const pending = store.createRelease('shop', { kind: 'deploy', description: 'Deploy', buildId: build.id, processes: WEB });
  refused(() => store.setCurrentRelease('shop', ok.id), 'BERTH_E_RELEASE_STATE', 409);
  assert.equal(store.markRelease(ok.id, 'succeeded').status, 'succeeded');
  assert.equal(store.markRelease(bad.id, 'failed').status, 'failed');
  refused(() => store.markRelease(ok.id, 'failed'), 'BERTH_E_RELEASE_STATE', 409);
  refused(() => store.markRelease(bad.id, 'succeeded'), 'BERTH_E_RELEASE_STATE', 409);
  refused(() => store.markRelease(9999, 'succeeded'), 'BERTH_E_RELEASE_NOT_FOUND', 404);
  refused(() => store.setCurrentRelease('shop', bad.id), 'BERTH_E_RELEASE_STATE', 409);
  refused(() => store.setCurrentRelease('shop', pending.id), 'BERTH_E_RELEASE_STATE', 409);
  refused(() => store.setCurrentRelease('blog', ok.id), 'BERTH_E_RELEASE_NOT_FOUND', 404);
  assert.equal(store.currentRelease('shop'), null);
  assert.equal(store.setCurrentRelease('shop', ok.id).currentVersion, 1);
  assert.equal(store.currentRelease('shop')?.id, ok.id);
  assert.equal(store.getApp('blog').currentVersion, null);
});

test('releases: listings carry config keys, never values; getRelease has the values', (t) => {
  const { store } = openTempStore(t);
  const build = appWithBuild(store);
  store.setConfig('shop', { API_KEY: 'sk_live_very_secret', DEBUG: '0' });
  deploy(store, 'shop', build.id);
  deploy(store, 'shop', build.id, 'config');
  const list = store.listReleases('shop');
  assert.deepEqual(list.map((r) => r.version), [2, 1], 'newest first');
  assert.deepEqual(list[0]!.configKeys, ['API_KEY', 'DEBUG']);
  assert.ok(!JSON.stringify(list).includes('sk_live_very_secret'));
  assert.ok(!('config' in list[0]!));
  assert.deepEqual(store.getRelease('shop', 'v2').config, { API_KEY: 'sk_live_very_secret', DEBUG: '0' });
  assert.equal(store.getRelease('shop', '1').version, 1);
  assert.equal(store.getRelease('shop', 1).version, 1);
  refused(() => store.getRelease('shop', 'v3'), 'BERTH_E_RELEASE_NOT_FOUND', 404);
  refused(() => store.getRelease('shop', 'three'), 'BERTH_E_NAME', 400);
  refused(() => store.getRelease('shop', 0), 'BERTH_E_NAME', 400);
});

test('rollback: the store applies the policy to the app\'s releases and hands back the target with its config', (t) => {
  const { store } = openTempStore(t);
  const build = appWithBuild(store);
  store.setConfig('shop', { V: '1' });
  deploy(store, 'shop', build.id);
  store.setConfig('shop', { V: '2' });
  deploy(store, 'shop', build.id, 'config');
  const failed = store.createRelease('shop', { kind: 'deploy', description: 'Deploy', buildId: build.id, processes: WEB });
  store.markRelease(failed.id, 'failed');

  refused(() => store.rollbackTarget('shop', 2), 'BERTH_E_ROLLBACK', 409);
  refused(() => store.rollbackTarget('shop', 'v3'), 'BERTH_E_ROLLBACK', 409);
  refused(() => store.rollbackTarget('shop', 'v9'), 'BERTH_E_RELEASE_NOT_FOUND', 404);
  const target = store.rollbackTarget('shop');
  assert.deepEqual([target.version, target.config], [1, { V: '1' }]);

  // The whole rollback in one transaction: restore the config, make the release.
  const rollback = store.transaction(() => {
    store.replaceConfig('shop', target.config);
    return store.createRelease('shop', {
      kind: 'rollback',
      description: describeRelease({ kind: 'rollback', toVersion: target.version }),
      buildId: target.buildId,
      config: target.config,
      processes: target.processes,
    });
  });
  assert.deepEqual([rollback.version, rollback.description, rollback.config], [4, 'Rollback to v1', { V: '1' }]);
  assert.deepEqual(store.getConfig('shop'), { V: '1' });
  store.createApp('fresh');
  refused(() => store.rollbackTarget('fresh'), 'BERTH_E_ROLLBACK', 409);
});

test('pruneReleases: marks releases pruned per policy and returns only the builds no live release uses', (t) => {
  const { store } = openTempStore(t);
  store.createApp('shop');
  const builds = [1, 2, 3].map((n) => {
    const b = store.createBuild('shop', { sourceDigest: `sha256:${n}`, dir: `/b${n}`, logPath: `/l${n}` });
    return store.markBuild(b.id, 'succeeded', WEB_MANIFEST);
  });
  // v1 b1, v2 b1 (config), v3 b2, v4 b2 (config), v5 b3, v6 b3 pending
  deploy(store, 'shop', builds[0]!.id);
  deploy(store, 'shop', builds[0]!.id, 'config');
  deploy(store, 'shop', builds[1]!.id);
  deploy(store, 'shop', builds[1]!.id, 'config');
  deploy(store, 'shop', builds[2]!.id);
  store.createRelease('shop', { kind: 'config', description: 'Set X', buildId: builds[2]!.id, processes: WEB });

  const first = store.pruneReleases('shop', 0);
  // Current v5, previous v4, pending v6 stay.
  assert.deepEqual(first.releases.map((r) => [r.version, r.status]), [[1, 'pruned'], [2, 'pruned'], [3, 'pruned']]);
  assert.deepEqual(first.builds.map((b) => [b.dir, b.status]), [['/b1', 'pruned']], 'b2 is still used by v4');
  assert.deepEqual(store.listReleases('shop').map((r) => `v${r.version}:${r.status}`), ['v6:pending', 'v5:succeeded', 'v4:succeeded', 'v3:pruned', 'v2:pruned', 'v1:pruned']);
  assert.deepEqual(store.pruneReleases('shop', 0), { releases: [], builds: [] }, 'nothing twice');
  refused(() => store.rollbackTarget('shop', 1), 'BERTH_E_ROLLBACK', 409);
  assert.deepEqual(store.listBuilds('shop').map((b) => b.status), ['pruned', 'succeeded', 'succeeded']);
});

test('failInterrupted: pending releases left by a crash become failed, running builds interrupted', (t) => {
  const { store } = openTempStore(t);
  const build = appWithBuild(store);
  deploy(store, 'shop', build.id);
  const pending = store.createRelease('shop', { kind: 'deploy', description: 'Deploy', buildId: build.id, processes: WEB });
  const building = store.createBuild('shop', { sourceDigest: 'sha256:ff', dir: '/b', logPath: '/l' });
  const recovered = store.failInterrupted();
  assert.deepEqual(recovered.releases.map((r) => [r.id, r.status]), [[pending.id, 'failed']]);
  assert.deepEqual(recovered.builds.map((b) => [b.id, b.status]), [[building.id, 'interrupted']]);
  assert.equal(store.getBuild(building.id).status, 'interrupted');
  assert.equal(store.getRelease('shop', pending.version).status, 'failed');
  assert.equal(store.getApp('shop').currentVersion, 1, 'the current release is untouched');
  assert.deepEqual(store.failInterrupted(), { releases: [], builds: [], cronRuns: [] });
});

test('a succeeded build records its manifest; an older build gets one recorded once, never replaced', (t) => {
  const { store } = openTempStore(t);
  store.createApp('shop');
  const build = store.createBuild('shop', { sourceDigest: 'sha256:ab', dir: '/b', logPath: '/l' });
  assert.equal(build.manifest, null);
  assert.deepEqual(store.markBuild(build.id, 'succeeded', WEB_MANIFEST).manifest, WEB_MANIFEST);
  const other = { ...WEB_MANIFEST, config: { ...WEB_MANIFEST.config, scale: { web: 9 } } };
  assert.deepEqual(store.recordManifest(build.id, other).manifest, WEB_MANIFEST, 'a recorded manifest is never replaced');
  const failed = store.createBuild('shop', { sourceDigest: 'sha256:cd', dir: '/c', logPath: '/l' });
  assert.equal(store.markBuild(failed.id, 'failed').manifest, null);
  assert.deepEqual(store.recordManifest(failed.id, other).manifest, other);
});

test('pruneBuilds: builds that never became a release go beyond the newest few, never one a release uses', (t) => {
  const clock = fakeClock();
  const { store } = openTempStore(t, { now: clock.now });
  store.createApp('shop');
  const make = (status: 'succeeded' | 'failed' | 'building', n: number) => {
    const b = store.createBuild('shop', { sourceDigest: `sha256:${n}`, dir: `/b${n}`, logPath: '/l' });
    clock.advance(1000);
    if (status === 'succeeded') return store.markBuild(b.id, 'succeeded', WEB_MANIFEST);
    if (status === 'failed') return store.markBuild(b.id, 'failed');
    return b;
  };
  const released = make('succeeded', 1);
  deploy(store, 'shop', released.id);
  const failed = [2, 3, 4, 5, 6].map((n) => make('failed', n));
  const pendingBuild = make('succeeded', 7);
  store.createRelease('shop', { kind: 'deploy', description: 'Deploy', buildId: pendingBuild.id, processes: WEB });
  const building = make('building', 8);
  const pruned = store.pruneBuilds('shop', { count: 3, maxAgeMs: 60_000 });
  assert.deepEqual(pruned.map((b) => [b.dir, b.status]), [['/b2', 'pruned'], ['/b3', 'pruned']]);
  assert.deepEqual(store.listBuilds('shop').map((b) => b.status), ['succeeded', 'pruned', 'pruned', 'failed', 'failed', 'failed', 'succeeded', 'building']);
  clock.advance(120_000);
  assert.deepEqual(store.pruneBuilds('shop', { count: 3, maxAgeMs: 60_000 }).map((b) => b.id), failed.slice(2).map((b) => b.id), 'old ones go whatever their rank');
  assert.equal(store.getBuild(building.id).status, 'building');
  assert.equal(store.getBuild(released.id).status, 'succeeded');
});

test('a version 4 database migrates its builds: rows and references kept, interrupted allowed, no manifest yet', (t) => {
  const dir = tempStateDir(t);
  mkdirSync(dir, { recursive: true });
  const raw = new DatabaseSync(join(dir, 'berth.db'));
  for (const sql of MIGRATIONS.slice(0, 4)) raw.exec(sql);
  raw.exec(`PRAGMA user_version = 4`);
  raw.exec(`INSERT INTO apps (id, name, created_at) VALUES (1, 'shop', '2025-01-01T00:00:00.000Z')`);
  raw.exec(`INSERT INTO builds (id, app_id, created_at, source_digest, dir, status, log_path) VALUES (7, 1, '2025-01-01T00:00:00.000Z', 'sha256:ab', '/b7', 'succeeded', '/b7/.berth-build.log')`);
  raw.exec(`INSERT INTO releases (id, app_id, version, created_at, kind, description, build_id, config_json, processes_json, status) VALUES (3, 1, 1, '2025-01-01T00:00:00.000Z', 'deploy', 'Deploy', 7, '{}', '[]', 'succeeded')`);
  raw.exec(`UPDATE apps SET current_release_id = 3 WHERE id = 1`);
  raw.close();
  const store = Store.open(dir);
  t.after(() => store.close());
  assert.equal(store.schemaVersion, SCHEMA_VERSION);
  const build = store.getBuild(7);
  assert.deepEqual([build.dir, build.status, build.manifest], ['/b7', 'succeeded', null]);
  assert.equal(store.currentRelease('shop')?.buildId, 7);
  assert.deepEqual(store.checkIntegrity(), []);
  const building = store.createBuild('shop', { sourceDigest: 'sha256:cd', dir: '/b8', logPath: '/l' });
  assert.equal(store.failInterrupted().builds[0]?.id, building.id);
  assert.equal(store.getBuild(building.id).status, 'interrupted');
  const fk = new DatabaseSync(join(dir, 'berth.db'));
  t.after(() => fk.close());
  fk.exec('PRAGMA foreign_keys = ON');
  assert.throws(() => fk.exec(`INSERT INTO builds (app_id, created_at, source_digest, dir, status, log_path) VALUES (99, 'x', 'x', 'x', 'failed', 'x')`), /FOREIGN KEY/, 'the rebuilt table keeps its reference to apps');
});

test('the database itself refuses a current release that is not a succeeded release of the app', (t) => {
  const { dir, store } = openTempStore(t);
  const build = appWithBuild(store);
  const current = deploy(store, 'shop', build.id);
  const failed = store.createRelease('shop', { kind: 'deploy', description: 'Deploy', buildId: build.id, processes: WEB });
  store.markRelease(failed.id, 'failed');
  const raw = new DatabaseSync(join(dir, 'berth.db'));
  t.after(() => raw.close());
  assert.throws(() => raw.prepare('UPDATE apps SET current_release_id = ?').run(failed.id), /must be a succeeded release/);
  assert.throws(() => raw.prepare(`UPDATE releases SET status = 'pruned' WHERE id = ?`).run(current.id), /cannot leave the succeeded state/);
  assert.deepEqual(store.checkIntegrity(), []);
});

// ---- formation --------------------------------------------------------------

test('formation: merges per process type; only the current release\'s types once there is one', (t) => {
  const { store } = openTempStore(t);
  const build = appWithBuild(store);
  assert.deepEqual(store.getFormation('shop'), {});
  assert.deepEqual(store.setFormation('shop', { web: 2, clock: 1 }), { clock: 1, web: 2 }, 'before the first release any type may be set');
  const release = store.createRelease('shop', {
    kind: 'deploy',
    description: 'Deploy',
    buildId: build.id,
    processes: [...WEB, { name: 'worker', command: 'node worker.js' }],
  });
  store.markRelease(release.id, 'succeeded');
  store.setCurrentRelease('shop', release.id);
  assert.deepEqual(store.setFormation('shop', { worker: 3, web: 0 }), { clock: 1, web: 0, worker: 3 });
  const err = refused(() => store.setFormation('shop', { web: 1, cron: 1 }), 'BERTH_E_PROCESS_TYPE_NOT_FOUND', 404);
  assert.match(err.hint!, /web, worker/);
  for (const quantity of [-1, 1.5, 65, Number.NaN, '2' as unknown as number]) refused(() => store.setFormation('shop', { web: 1, worker: quantity }), 'BERTH_E_SCALE', 400);
  refused(() => store.setFormation('shop', { 'web;x': 1 }), 'BERTH_E_NAME', 400);
  assert.deepEqual(store.getFormation('shop'), { clock: 1, web: 0, worker: 3 }, 'refusals changed nothing');
  assert.deepEqual(store.setFormation('shop', { web: 64 }).web, 64);
});

test('formation: a memory limit per process type, kept by a count alone, cleared by null, refused below 16m or without a count', (t) => {
  const { store } = openTempStore(t);
  appWithBuild(store);
  const MIB = 1024 * 1024;
  store.setFormation('shop', { web: 2, worker: 1 }, { web: 1024 * MIB });
  assert.deepEqual(store.getFormationMemory('shop'), { web: 1024 * MIB });
  store.setFormation('shop', { web: 3 });
  assert.deepEqual(store.getFormationMemory('shop'), { web: 1024 * MIB }, 'a count alone keeps the size');
  store.setFormation('shop', { worker: 2 }, { worker: 256 * MIB });
  assert.deepEqual(store.getFormationMemory('shop'), { web: 1024 * MIB, worker: 256 * MIB });
  store.setFormation('shop', { web: 3 }, { web: null });
  assert.deepEqual(store.getFormationMemory('shop'), { worker: 256 * MIB }, 'null goes back to the defaults');
  refused(() => store.setFormation('shop', { web: 1 }, { web: 1024 }), 'BERTH_E_SCALE', 400);
  refused(() => store.setFormation('shop', { web: 1 }, { worker: 64 * MIB }), 'BERTH_E_SCALE', 400);
  assert.deepEqual(store.getFormation('shop'), { web: 3, worker: 2 }, 'refusals changed nothing');
});

// ---- domains ----------------------------------------------------------------

test('domains: a hostname belongs to one app; adding it again is a no-op; names are lowercased', (t) => {
  const clock = fakeClock();
  const { store } = openTempStore(t, { now: clock.now });
  store.createApp('shop');
  store.createApp('blog');
  const added = store.addDomain('shop', 'Shop.Example.com');
  assert.deepEqual(added, { hostname: 'shop.example.com', app: 'shop', createdAt: '2025-01-01T00:00:00.000Z' });
  clock.advance(5000);
  assert.deepEqual(store.addDomain('shop', 'shop.example.com'), added, 'idempotent, original time kept');
  const err = refused(() => store.addDomain('blog', 'SHOP.example.com'), 'BERTH_E_DOMAIN_TAKEN', 409);
  assert.match(err.message, /belongs to the app "shop"/);
  store.addDomain('blog', 'blog.example.com');
  store.addDomain('shop', 'www.shop.example.com');
  assert.deepEqual(store.listDomains('shop').map((d) => d.hostname), ['shop.example.com', 'www.shop.example.com']);
  assert.deepEqual(store.listDomains().map((d) => `${d.hostname}=${d.app}`), ['blog.example.com=blog', 'shop.example.com=shop', 'www.shop.example.com=shop']);
  refused(() => store.removeDomain('blog', 'shop.example.com'), 'BERTH_E_DOMAIN_NOT_FOUND', 404);
  store.removeDomain('shop', 'SHOP.example.com');
  refused(() => store.removeDomain('shop', 'shop.example.com'), 'BERTH_E_DOMAIN_NOT_FOUND', 404);
  assert.equal(store.addDomain('blog', 'shop.example.com').app, 'blog', 'free once removed');
  for (const bad of ['*.example.com', '1.2.3.4', 'bad;host', 'a..b']) refused(() => store.addDomain('shop', bad), 'BERTH_E_NAME', 400);
});

// ---- tokens -----------------------------------------------------------------

test('tokens: the plaintext is returned once, stored nowhere, and verifies', (t) => {
  const { dir, store } = openTempStore(t);
  const { token, info } = store.createToken('ci');
  assert.match(token, /^berth_[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(Object.keys(info).sort(), ['createdAt', 'id', 'lastUsedAt', 'name', 'revokedAt']);
  assert.equal(store.verifyToken(token)?.name, 'ci');
  const listed = store.listTokens();
  assert.deepEqual(listed.map((x) => x.name), ['ci']);
  assert.ok(!JSON.stringify(listed).includes(token));
  // Neither the database nor its WAL holds the plaintext.
  for (const file of readdirSync(dir)) assert.ok(!readFileSync(join(dir, file)).includes(token), `${file} holds the token`);
});

test('tokens: wrong, malformed, truncated and revoked tokens do not verify', (t) => {
  const { store } = openTempStore(t);
  const { token } = store.createToken('ci');
  const other = store.createToken('laptop').token;
  const flipped = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
  for (const wrong of [flipped, token.slice(0, -1), `${token}A`, '', 'berth_', `Bearer ${token}`, token.toUpperCase(), 'x'.repeat(49)]) {
    assert.equal(store.verifyToken(wrong), null, wrong);
  }
  assert.equal(store.verifyToken(undefined as unknown as string), null);
  assert.equal(store.revokeToken('ci').revokedAt !== null, true);
  assert.equal(store.verifyToken(token), null);
  assert.equal(store.verifyToken(other)?.name, 'laptop', 'other tokens still work');
  const again = store.revokeToken('ci');
  assert.equal(again.revokedAt, store.listTokens().find((x) => x.name === 'ci')!.revokedAt, 'revoking twice keeps the first time');
  refused(() => store.revokeToken('nobody'), 'BERTH_E_TOKEN_NOT_FOUND', 404);
});

test('tokens: names are unique forever, even after revocation; reserved names are refused', (t) => {
  const { store } = openTempStore(t);
  store.createToken('admin');
  store.createToken('ci');
  refused(() => store.createToken('ci'), 'BERTH_E_TOKEN_EXISTS', 409);
  store.revokeToken('ci');
  refused(() => store.createToken('ci'), 'BERTH_E_TOKEN_EXISTS', 409);
  for (const bad of ['system', 'anonymous', 'CI', 'bad;name']) refused(() => store.createToken(bad), 'BERTH_E_NAME', 400);
  assert.equal(store.listTokens().length, 2);
});

test('tokens: last_used_at is written at most once a minute per token', (t) => {
  const clock = fakeClock();
  const { store } = openTempStore(t, { now: clock.now });
  const { token } = store.createToken('ci');
  assert.equal(store.listTokens()[0]!.lastUsedAt, null);
  assert.equal(store.verifyToken(token)?.lastUsedAt, '2025-01-01T00:00:00.000Z');
  clock.advance(TOKEN_TOUCH_INTERVAL_MS - 1);
  assert.equal(store.verifyToken(token)?.lastUsedAt, '2025-01-01T00:00:00.000Z');
  clock.advance(1);
  assert.equal(store.verifyToken(token)?.lastUsedAt, '2025-01-01T00:01:00.000Z');
  assert.equal(store.listTokens()[0]!.lastUsedAt, '2025-01-01T00:01:00.000Z');
});

test('ensureAdminToken: on first start only, the plaintext in a 0600 file that verifies', (t) => {
  const { dir, store } = openTempStore(t);
  const path = join(dir, 'admin-token');
  assert.equal(store.ensureAdminToken(path), true);
  assert.equal(mode(path), 0o600);
  const token = readFileSync(path, 'utf8').trim();
  assert.equal(store.verifyToken(token)?.name, 'admin');
  assert.equal(store.ensureAdminToken(path), false);
  assert.equal(readFileSync(path, 'utf8').trim(), token, 'not rewritten');
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp file left behind');
  // A revoked admin token stays revoked across restarts (another admin token must remain).
  store.createToken('ci');
  store.revokeToken('admin');
  assert.equal(store.ensureAdminToken(path), false);
  assert.equal(store.verifyToken(token), null);
});

test('ensureAdminToken: a file left by a crash before the row was written is replaced', (t) => {
  const { dir, store } = openTempStore(t);
  const path = join(dir, 'admin-token');
  writeFileSync(path, 'berth_stale\n', { mode: 0o644 });
  assert.equal(store.ensureAdminToken(path), true);
  assert.equal(mode(path), 0o600);
  assert.equal(store.verifyToken(readFileSync(path, 'utf8').trim())?.name, 'admin');
});

test('tokens: the last admin token cannot be revoked, in any order; the others can, and the refusal changes nothing', (t) => {
  const { store } = openTempStore(t);
  store.createToken('admin');
  const ci = store.createToken('ci').token;
  store.createToken('laptop');
  store.revokeToken('admin');
  store.revokeToken('laptop');
  refused(() => store.revokeToken('ci'), 'BERTH_E_LAST_ADMIN_TOKEN', 409);
  assert.equal(store.verifyToken(ci)?.name, 'ci', 'the refused revocation left the token working');
  assert.equal(store.revokeToken('admin').name, 'admin', 'revoking a revoked token again is still a no-op');
  refused(() => store.revokeToken('nobody'), 'BERTH_E_TOKEN_NOT_FOUND', 404);
  store.createToken('next');
  store.revokeToken('ci');
  assert.deepEqual(store.listTokens().filter((x) => x.revokedAt === null).map((x) => x.name), ['next']);
});

test('tokens: two stores on one database cannot both revoke one of the last two admin tokens', (t) => {
  const { dir, store } = openTempStore(t);
  store.createToken('a');
  store.createToken('b');
  const other = Store.open(dir);
  t.after(() => other.close());
  // The second store's revocation starts after the first committed and sees it (one IMMEDIATE transaction each).
  store.revokeToken('a');
  refused(() => other.revokeToken('b'), 'BERTH_E_LAST_ADMIN_TOKEN', 409);
  assert.equal(store.listTokens().filter((x) => x.revokedAt === null).length, 1);
});

test('resetAdminToken: a new admin token, the first free admin-N, in a 0600 file, audited; the others are untouched', (t) => {
  const { dir, store } = openTempStore(t);
  const path = join(dir, 'admin-token');
  assert.equal(store.ensureAdminToken(path), true);
  const first = readFileSync(path, 'utf8').trim();
  const ci = store.createToken('ci').token;
  const reset = store.resetAdminToken(path, { uid: 0 });
  assert.equal(reset.info.name, 'admin-2');
  assert.equal(mode(path), 0o600);
  assert.equal(readFileSync(path, 'utf8'), `${reset.token}\n`);
  assert.equal(store.verifyToken(reset.token)?.name, 'admin-2');
  assert.equal(store.verifyToken(first)?.name, 'admin', 'the old admin token still works');
  assert.equal(store.verifyToken(ci)?.name, 'ci');
  assert.equal(store.resetAdminToken(path).info.name, 'admin-3');
  const audit = store.listAudit().filter((row) => row.action === 'tokens.reset-admin');
  assert.deepEqual(audit.map((row) => [row.actor, row.target]), [['system', 'admin-3'], ['system', 'admin-2']]);
  assert.ok(!JSON.stringify(store.listAudit()).includes(reset.token), 'the token is in no audit row');
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp file left behind');
});

test('resetAdminToken: a file that cannot be written leaves no token and no audit row', (t) => {
  const { dir, store } = openTempStore(t);
  const before = store.listTokens().length;
  assert.throws(() => store.resetAdminToken(join(dir, 'no-such-folder', 'admin-token')));
  assert.equal(store.listTokens().length, before);
  assert.equal(store.listAudit().filter((row) => row.action === 'tokens.reset-admin').length, 0);
});

test('openExisting: opens a state folder berth made, never creates one, and leaves the folder mode alone', (t) => {
  const { dir, store } = openTempStore(t);
  store.createToken('ci');
  chmodSync(dir, 0o711);
  const again = Store.openExisting(dir);
  assert.deepEqual(again.listTokens().map((x) => x.name), ['ci']);
  again.close();
  assert.equal(mode(dir), 0o711, 'the folder mode is as the daemon set it');
  const empty = join(tempStateDir(t), '..');
  refused(() => Store.openExisting(empty), 'BERTH_E_STATE', 500);
  assert.deepEqual(readdirSync(empty), [], 'nothing was created');
});

// ---- audit ------------------------------------------------------------------

test('audit: rows newest first, with actor, action, target, result and detail', (t) => {
  const clock = fakeClock();
  const { store } = openTempStore(t, { now: clock.now });
  store.createToken('ci');
  const first = store.audit({ actor: 'ci', action: 'apps.create', target: 'shop', result: 'ok' });
  assert.deepEqual(first, { id: first.id, at: '2025-01-01T00:00:00.000Z', actor: 'ci', action: 'apps.create', target: 'shop', result: 'ok', detail: {} });
  clock.advance(1);
  store.audit({ actor: 'anonymous', action: 'apps.list', target: '', result: 'error', detail: { code: 'BERTH_E_UNAUTHORIZED', status: 401 } });
  store.audit({ actor: 'system', action: 'releases.prune', target: 'shop', result: 'ok', detail: { versions: ['v1', 'v2'], count: 2, dry: false, none: null } });
  assert.deepEqual(store.listAudit().map((r) => r.action), ['releases.prune', 'apps.list', 'apps.create']);
  assert.deepEqual(store.listAudit(1)[0]!.detail, { versions: ['v1', 'v2'], count: 2, dry: false, none: null });
  refused(() => store.audit({ actor: 'Bad Actor', action: 'x', target: 'y', result: 'ok' }), 'BERTH_E_NAME', 400);
  refused(() => store.audit({ actor: 'ci', action: '', target: 'y', result: 'ok' }), 'BERTH_E_USAGE', 400);
  refused(() => store.audit({ actor: 'ci', action: 'x', target: 'y', result: 'maybe' as 'ok' }), 'BERTH_E_USAGE', 400);
  refused(() => store.listAudit(0), 'BERTH_E_USAGE', 400);
});

test('audit: config values and tokens never reach an audit row, even when a caller puts them in the detail', (t) => {
  const { dir, store } = openTempStore(t);
  store.createApp('shop');
  const secret = 'pg://admin:s3cr3t@db/shop';
  const { token } = store.createToken('ci');
  store.setConfig('shop', { DATABASE_URL: secret, SHORT: 'on' });
  // The intended use: keys only.
  store.audit({ actor: 'ci', action: 'config.set', target: 'shop', result: 'ok', detail: { keys: ['DATABASE_URL', 'SHORT'] } });
  // Careless callers: the value, a message quoting it, a list holding it, a token, a nested object.
  store.audit({
    actor: 'ci',
    action: 'config.set',
    target: 'shop',
    result: 'error',
    detail: {
      value: secret,
      message: `could not parse ${secret}`,
      list: ['fine', secret],
      token,
      nested: { value: secret } as unknown as string,
    },
  });
  const rows = store.listAudit();
  assert.deepEqual(rows[1]!.detail, { keys: ['DATABASE_URL', 'SHORT'] });
  assert.deepEqual(rows[0]!.detail, { value: '[redacted]', message: '[redacted]', list: ['fine', '[redacted]'], token: '[redacted]', nested: '[redacted]' });
  const raw = new DatabaseSync(join(dir, 'berth.db'), { readOnly: true });
  t.after(() => raw.close());
  const everything = JSON.stringify(raw.prepare('SELECT * FROM audit').all());
  assert.ok(!everything.includes('s3cr3t') && !everything.includes(token));
});

test('a uid given to an app is recorded for good: allocateUid never sees it free again, destroyed or not', (t) => {
  const { store } = openTempStore(t);
  const first = store.allocateUid('shop', (ever) => (assert.deepEqual([...ever], []), 70000));
  assert.equal(first, 70000);
  store.createApp('shop', { uid: first });
  store.destroyApp('shop');
  assert.deepEqual(store.allocatedUids(), [{ uid: 70000, app: 'shop' }]);
  assert.equal(store.allocateUid('shop', (ever) => (assert.deepEqual([...ever], [70000]), 70001)), 70001);
  assert.throws(() => store.allocateUid('other', () => 70000), { code: 'BERTH_E_APP_USER' });
  // An app row made with a uid from elsewhere records it too.
  store.createApp('legacy', { uid: 999 });
  assert.deepEqual(store.allocatedUids().map((r) => r.uid), [999, 70000, 70001]);
});
