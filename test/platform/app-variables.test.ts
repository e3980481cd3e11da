import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appVariables } from '../../src/platform/app-variables.ts';

const FACTS = { app: 'shop', release: 'v3', home: '/var/lib/berth/apps/shop/home' };

test("every variable the app gets, with its source; secrets hidden unless revealed; berth's always shown", () => {
  const rows = appVariables({ SECRET_KEY: 's3cr3t' }, [{ kind: 'postgres', vars: { DATABASE_URL: 'postgres://u:p@h/db' } }], FACTS, false);
  const by = (key: string) => rows.filter((r) => r.key === key);
  assert.deepEqual(by('SECRET_KEY'), [{ key: 'SECRET_KEY', source: 'config', value: null, overriddenBy: null }]);
  assert.deepEqual(by('DATABASE_URL'), [{ key: 'DATABASE_URL', source: 'addon:postgres', value: null, overriddenBy: null }]);
  assert.deepEqual(by('BERTH_APP'), [{ key: 'BERTH_APP', source: 'berth', value: 'shop', overriddenBy: null }]);
  assert.equal(by('BERTH_RELEASE')[0]!.value, 'v3');
  assert.equal(by('HOME')[0]!.value, FACTS.home);
  assert.match(by('DYNO')[0]!.value!, /web\.1, worker\.2, release\.1, scheduler\.JOB/);
  assert.deepEqual(rows.map((r) => r.key), [...rows.map((r) => r.key)].sort((a, b) => a.localeCompare(b)), 'sorted by key');
  const shown = appVariables({ SECRET_KEY: 's3cr3t' }, [{ kind: 'postgres', vars: { DATABASE_URL: 'postgres://u:p@h/db' } }], FACTS, true);
  assert.equal(shown.find((r) => r.key === 'SECRET_KEY')!.value, 's3cr3t');
  assert.equal(shown.find((r) => r.key === 'DATABASE_URL')!.value, 'postgres://u:p@h/db');
});

test("a config var over an add-on's is shown both ways: the add-on's marked overridden, the config's first", () => {
  const rows = appVariables({ DATABASE_URL: 'postgres://elsewhere' }, [{ kind: 'postgres', vars: { DATABASE_URL: 'postgres://local' } }], { ...FACTS, release: null, home: null }, true);
  assert.deepEqual(rows.filter((r) => r.key === 'DATABASE_URL'), [
    { key: 'DATABASE_URL', source: 'config', value: 'postgres://elsewhere', overriddenBy: null },
    { key: 'DATABASE_URL', source: 'addon:postgres', value: 'postgres://local', overriddenBy: 'config' },
  ]);
  assert.equal(rows.some((r) => r.key === 'HOME'), false, 'no HOME without app users');
  assert.match(rows.find((r) => r.key === 'BERTH_RELEASE')!.value!, /serving release/);
});
