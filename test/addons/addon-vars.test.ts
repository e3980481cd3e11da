import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attachVars, primaryVar } from '../../src/addons/addon-vars.ts';

const POSTGRES = { kind: 'postgres', vars: { DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/shop' } };
const STORAGE = { kind: 'storage', vars: { BERTH_DATA_DIR: '/var/lib/berth/data/shop' } };
const SQLITE = { DATABASE_URL: 'sqlite:////var/lib/berth/data/shop/db.sqlite3', BERTH_DATA_DIR: '/var/lib/berth/data/shop' };

test('primaryVar: the connection URL', () => {
  assert.equal(primaryVar(SQLITE), 'DATABASE_URL');
  assert.equal(primaryVar({ REDIS_URL: 'redis://x' }), 'REDIS_URL');
  assert.equal(primaryVar(STORAGE.vars), null);
});

test('a new add-on gets its vars when nothing holds them, or holds them with the same value (a shared data folder)', () => {
  assert.deepEqual(attachVars('shop', 'sqlite', SQLITE, [], null), SQLITE);
  assert.deepEqual(attachVars('shop', 'sqlite', SQLITE, [STORAGE], null), SQLITE);
  assert.deepEqual(attachVars('shop', 'redis', { REDIS_URL: 'redis://x' }, [POSTGRES, STORAGE], null), { REDIS_URL: 'redis://x' });
});

test("a new add-on never silently takes another's variable: refused with the alias to use", () => {
  assert.throws(
    () => attachVars('shop', 'sqlite', SQLITE, [POSTGRES], null),
    (err: Error & { code?: string; status?: number; hint?: string }) =>
      err.code === 'BERTH_E_ADDON_VAR_TAKEN' && err.status === 409 && /DATABASE_URL is shop's postgres add-on's/.test(err.message) && /berth addons create sqlite --as SQLITE_URL --app shop/.test(err.hint ?? ''),
  );
});

test('--as gives the URL under another name; the name is checked; a kind without a URL cannot be renamed', () => {
  assert.deepEqual(attachVars('shop', 'sqlite', SQLITE, [POSTGRES, STORAGE], 'SQLITE_URL'), { SQLITE_URL: SQLITE.DATABASE_URL, BERTH_DATA_DIR: SQLITE.BERTH_DATA_DIR });
  assert.throws(() => attachVars('shop', 'sqlite', SQLITE, [], 'BERTH_DB'), (err: Error & { code?: string }) => err.code === 'BERTH_E_NAME');
  assert.throws(() => attachVars('shop', 'sqlite', SQLITE, [], '1BAD'), (err: Error & { code?: string }) => err.code === 'BERTH_E_NAME');
  assert.throws(() => attachVars('shop', 'sqlite', SQLITE, [], 'BERTH_DATA_DIR'), (err: Error & { code?: string }) => err.code === 'BERTH_E_NAME' || err.code === 'BERTH_E_USAGE');
  assert.throws(() => attachVars('shop', 'storage', STORAGE.vars, [], 'X_URL'), (err: Error & { code?: string }) => err.code === 'BERTH_E_USAGE');
  // Renamed onto another add-on's variable: refused as well.
  assert.throws(() => attachVars('shop', 'sqlite', SQLITE, [{ kind: 'redis', vars: { CACHE_URL: 'redis://x' } }], 'CACHE_URL'), (err: Error & { code?: string }) => err.code === 'BERTH_E_ADDON_VAR_TAKEN');
});
