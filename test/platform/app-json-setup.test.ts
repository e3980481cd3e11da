import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppJsonVar } from '../../src/build/index.ts';
import { generateSecret, missingConfigError, planEnvSetup, planFormationSetup } from '../../src/platform/index.ts';

const v = (key: string, fields: Partial<AppJsonVar> = {}): AppJsonVar => ({ key, value: null, generator: null, required: true, description: null, ...fields });
const counter = () => {
  let n = 0;
  return () => `secret-${++n}`;
};

test('a first deploy fills values and generated secrets, remembers them, and asks for required vars', () => {
  const plan = planEnvSetup([v('A', { value: 'a' }), v('S', { generator: 'secret' }), v('R'), v('O', { required: false })], new Set(), new Set(), counter());
  assert.deepEqual({ ...plan.fill }, { A: 'a', S: 'secret-1' });
  assert.deepEqual(plan.generated, ['S']);
  assert.deepEqual(plan.defaulted, ['A']);
  assert.deepEqual(plan.keys, ['A', 'S']);
  assert.deepEqual(plan.missing, ['R']);
});

test('a var the app has (config or add-on) is kept and remembered; a required one it has is satisfied', () => {
  const plan = planEnvSetup([v('A', { value: 'a' }), v('S', { generator: 'secret' }), v('R')], new Set(['A', 'S', 'R']), new Set(), counter());
  assert.deepEqual({ ...plan.fill }, {});
  assert.deepEqual(plan.keys, ['A', 'S']);
  assert.deepEqual(plan.missing, []);
});

test('a var set up before is never filled again: unset by the user, it stays unset; a secret is generated once', () => {
  const plan = planEnvSetup([v('A', { value: 'a' }), v('S', { generator: 'secret' })], new Set(), new Set(['A', 'S']), () => assert.fail('no secret'));
  assert.deepEqual({ ...plan.fill }, {});
  assert.deepEqual(plan.keys, []);
  const again = planEnvSetup([v('S', { generator: 'secret' })], new Set(['S']), new Set(['S']), () => assert.fail('no secret'));
  assert.deepEqual(again.keys, [], 'already remembered');
});

test('a var app.json declares later is filled by the deploy that first declares it', () => {
  const plan = planEnvSetup([v('A', { value: 'a' }), v('NEW', { value: 'n' })], new Set(['A']), new Set(['A']), counter());
  assert.deepEqual({ ...plan.fill }, { NEW: 'n' });
  assert.deepEqual(plan.keys, ['NEW']);
});

test('a required var must be there on every deploy, however often app.json was set up', () => {
  assert.deepEqual(planEnvSetup([v('R')], new Set(), new Set(['R']), counter()).missing, ['R']);
  assert.deepEqual(planEnvSetup([v('R', { required: false })], new Set(), new Set(), counter()).missing, []);
});

test('the fill is a plain record even for a var named __proto__', () => {
  const plan = planEnvSetup([v('__proto__', { value: 'x' })], new Set(), new Set(), counter());
  assert.deepEqual(Object.keys(plan.fill), ['__proto__']);
  assert.equal(Object.getPrototypeOf(plan.fill), null);
});

test("secrets are Heroku's: 64 hex digits, never the same twice", () => {
  const a = generateSecret();
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.notEqual(a, generateSecret());
});

test('the refusal names each missing key with its description and the command that sets it', () => {
  const err = missingConfigError('shop', [v('API_KEY', { description: 'the payment API key' }), v('OTHER')], ['API_KEY', 'OTHER']);
  assert.equal(err.code, 'BERTH_E_CONFIG_REQUIRED');
  assert.equal(err.status, 422);
  assert.equal(err.message, 'app.json requires API_KEY (the payment API key), OTHER, which the app does not have; nothing was built');
  assert.equal(err.hint, 'Set them, then deploy again: berth config set API_KEY=... OTHER=... --app shop');
});

test('formation applies to declared types nobody has scaled; a size alone means one instance', () => {
  const setup = planFormationSetup(
    [
      { type: 'clock', quantity: null, memoryBytes: 64 * 1024 ** 2 },
      { type: 'web', quantity: 2, memoryBytes: null },
      { type: 'worker', quantity: 3, memoryBytes: null },
      { type: 'ghost', quantity: 1, memoryBytes: null },
    ],
    ['web', 'worker', 'clock', 'release'],
    new Set(['worker']),
  );
  assert.deepEqual({ ...setup.quantities }, { clock: 1, web: 2 });
  assert.deepEqual({ ...setup.memory }, { clock: 64 * 1024 ** 2 });
  assert.deepEqual(setup.undeclared, ['ghost']);
});
