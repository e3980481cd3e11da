import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAppJson, type AppJson } from '../../src/build/index.ts';
import { openTempStore, WEB_MANIFEST } from './store-helpers.ts';

function appJson(value: unknown): AppJson {
  const result = parseAppJson(JSON.stringify(value));
  assert.ok(result.ok);
  return result.appJson;
}

test("a build records its app.json with its manifest, and gives it back as it was", (t) => {
  const { store } = openTempStore(t);
  store.createApp('shop');
  const parsed = appJson({ env: { S: { generator: 'secret' } }, scripts: { predeploy: 'node check.mjs' }, cron: [{ command: 'node tick.mjs', schedule: '@daily' }] });
  const build = store.createBuild('shop', { sourceDigest: 'sha256:ab', dir: '/b', logPath: '/l' });
  assert.deepEqual(store.markBuild(build.id, 'succeeded', { ...WEB_MANIFEST, appJson: parsed }).manifest, { ...WEB_MANIFEST, appJson: parsed });
  assert.deepEqual(store.getBuild(build.id).manifest?.appJson, parsed);
  const without = store.createBuild('shop', { sourceDigest: 'sha256:cd', dir: '/c', logPath: '/l' });
  assert.equal(store.markBuild(without.id, 'succeeded', { ...WEB_MANIFEST, appJson: null }).manifest?.appJson, undefined);
});

test('setting up app.json fills only absent vars, remembers keys, and scales only unscaled types', (t) => {
  const { store } = openTempStore(t);
  store.createApp('shop');
  store.setConfig('shop', { KEPT: 'mine' });
  store.setFormation('shop', { worker: 3 });
  const done = store.setUpAppJson('shop', { fill: { KEPT: 'theirs', NEW: 'n' }, keys: ['KEPT', 'NEW'], quantities: { web: 2, worker: 1 }, memory: { web: 64 * 1024 ** 2, worker: 32 * 1024 ** 2 } });
  assert.deepEqual(done, { filled: ['NEW'], scaled: ['web'] });
  assert.deepEqual(store.getConfig('shop'), { KEPT: 'mine', NEW: 'n' });
  assert.deepEqual([...store.appJsonKeys('shop')].sort(), ['KEPT', 'NEW']);
  assert.deepEqual(store.getFormation('shop'), { web: 2, worker: 3 });
  assert.deepEqual(store.getFormationMemory('shop'), { web: 64 * 1024 ** 2 });
  // Again: nothing changes, keys are not duplicated.
  assert.deepEqual(store.setUpAppJson('shop', { fill: { NEW: 'other' }, keys: ['NEW'], quantities: { web: 5 }, memory: {} }), { filled: [], scaled: [] });
  assert.deepEqual(store.getConfig('shop'), { KEPT: 'mine', NEW: 'n' });
  assert.deepEqual(store.getFormation('shop'), { web: 2, worker: 3 });
});

test('setting up app.json checks what it writes before writing any of it', (t) => {
  const { store } = openTempStore(t);
  store.createApp('shop');
  assert.throws(() => store.setUpAppJson('shop', { fill: { OK: 'x', PORT: '1' }, keys: [], quantities: {}, memory: {} }), { code: 'BERTH_E_NAME' });
  assert.throws(() => store.setUpAppJson('shop', { fill: { OK: 'x' }, keys: [], quantities: { web: 65 }, memory: {} }), { code: 'BERTH_E_SCALE' });
  assert.throws(() => store.setUpAppJson('shop', { fill: { OK: 'x' }, keys: [], quantities: { web: 1 }, memory: { web: 1024 } }), { code: 'BERTH_E_SCALE' });
  assert.deepEqual(store.getConfig('shop'), {});
  assert.deepEqual(store.getFormation('shop'), {});
});

test("a destroyed app's app.json keys go with it: a namesake sets them up afresh", (t) => {
  const { store } = openTempStore(t);
  store.createApp('shop');
  store.setUpAppJson('shop', { fill: { S: 'x' }, keys: ['S'], quantities: {}, memory: {} });
  store.destroyApp('shop');
  store.createApp('shop');
  assert.deepEqual([...store.appJsonKeys('shop')], []);
});
