import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../src/errors.ts';
import { appName, branchName, configKey, configValue, hostname, processType, releaseRef, tokenName, MAX_CONFIG_VALUE_BYTES } from '../../src/platform/index.ts';

function refused(fn: () => unknown, code = 'BERTH_E_NAME'): BerthError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof BerthError, `expected a BerthError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.equal(err.status, 400);
    assert.ok(err.hint !== undefined && err.hint.length > 0, 'every refusal has a hint');
    return err;
  }
  assert.fail(`expected ${code}`);
}

const x63 = 'a'.repeat(63);

test('app names: good ones come back unchanged', () => {
  for (const name of ['a', 'shop', 'blog-2', 'a1', 'my-shop-eu', x63, 'a-b-c-d']) assert.equal(appName(name), name);
});

test('app names: bad ones are refused with the name and a hint', () => {
  const bad: unknown[] = [
    '', 'bad;name', '../x', 'x/..', 'Shop', 'SHOP', 'shop.example', 'shop_1', '1shop', '-shop', 'shop-', 'a--b', 'xn--shop',
    'a'.repeat(64), ' shop', 'shop ', 'sh op', 'shop\n', 'shop\0', 'ѕhop' /* Cyrillic ѕ */, 'shоp' /* Cyrillic о */, 'ｓｈｏｐ' /* fullwidth */,
    'café', undefined, null, 42, ['shop'],
  ];
  for (const name of bad) refused(() => appName(name));
  assert.match(refused(() => appName('bad;name')).message, /"bad;name" is not a valid app name/);
  // Control characters and lookalikes are shown escaped, so the user sees what was sent.
  assert.match(refused(() => appName('shop\n')).message, /"shop\\n"/);
});

test('config keys: environment variable names, minus those berth sets itself', () => {
  for (const key of ['FOO', 'foo', '_X', 'DATABASE_URL', 'a1', 'B'.repeat(255), 'PORTS', 'MY_BERTH_X', 'berth_lower', 'PATH']) assert.equal(configKey(key), key);
  for (const key of ['', '1FOO', 'FOO-BAR', 'FOO BAR', 'FOO=BAR', 'FOO;', 'B'.repeat(256), 'ÄPFEL', 'FOO\0', 'PORT', 'DYNO', 'BERTH_', 'BERTH_INSTANCE', 'BERTH_ANY', null]) {
    refused(() => configKey(key));
  }
  assert.match(refused(() => configKey('PORT')).hint!, /berth sets PORT itself/);
  assert.match(refused(() => configKey('BERTH_X')).hint!, /BERTH_\*/);
});

test('config values: strings without NUL, up to 32 KiB, and the error never shows the value', () => {
  for (const value of ['', 'x', 'with spaces and = signs', 'ünïcödé ✓', 'line1\nline2', 'a'.repeat(MAX_CONFIG_VALUE_BYTES)]) assert.equal(configValue('K', value), value);
  const secret = 'hunter2-SECRET';
  for (const value of [`${secret}\0`, secret.repeat(5000), 42, null, undefined]) {
    const err = refused(() => configValue('API_KEY', value), 'BERTH_E_CONFIG_VALUE');
    assert.ok(!err.message.includes(secret) && !err.hint!.includes(secret), 'the value is not in the error');
    assert.match(err.message, /API_KEY/);
  }
  // Bytes, not characters: 'é' is two bytes.
  refused(() => configValue('K', 'é'.repeat(MAX_CONFIG_VALUE_BYTES / 2 + 1)), 'BERTH_E_CONFIG_VALUE');
});

test('process types: the Procfile grammar', () => {
  for (const name of ['web', 'worker', 'Web', '1st', 'clock-2', 'a_b', 'x'.repeat(63)]) assert.equal(processType(name), name);
  for (const name of ['', '-web', '_web', 'web worker', 'web:', 'web;rm', '../x', 'x'.repeat(64), 'wеb' /* Cyrillic е */, null]) refused(() => processType(name));
});

test('token names: lowercase, and never the actors the audit log reserves', () => {
  for (const name of ['ci', 'laptop.alice', 'deploy-bot', 'a_1', '1', 'x'.repeat(63)]) assert.equal(tokenName(name), name);
  for (const name of ['', 'CI', '.ci', '-ci', 'ci bot', 'ci@host', 'ci/x', 'x'.repeat(64), 'system', 'anonymous', 'сi' /* Cyrillic с */, 7]) refused(() => tokenName(name));
});

test('release references: v12 or 12 as a number', () => {
  const good: Array<[string, number]> = [['v1', 1], ['1', 1], ['v12', 12], ['12', 12], ['v999999999', 999999999]];
  for (const [ref, version] of good) assert.equal(releaseRef(ref), version);
  for (const ref of ['', 'v', 'v0', '0', 'v012', '012', 'V12', 'v-1', '-1', '1.5', 'v1e3', ' v1', 'v1 ', '１２', 'v1234567890', 12, null]) refused(() => releaseRef(ref));
});

test('hostnames: DNS names, lowercased; no trailing dot, wildcard, IP or bad label', () => {
  const good: Array<[string, string]> = [
    ['shop.example.com', 'shop.example.com'],
    ['Shop.Example.COM', 'shop.example.com'],
    ['localhost', 'localhost'],
    ['a-b.c1.io', 'a-b.c1.io'],
    ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ['1.example.com', '1.example.com'],
    [`${'a'.repeat(63)}.com`, `${'a'.repeat(63)}.com`],
  ];
  for (const [input, expected] of good) assert.equal(hostname(input), expected);
  const bad = [
    '', '.', 'shop.example.com.', '*.example.com', '1.2.3.4', '[::1]', 'shop..com', '-shop.com', 'shop-.com', 'sh_op.com', 'shop.com:80',
    'ab--cd.com', `${'a'.repeat(64)}.com`, `${'a.'.repeat(127)}com`, 'bücher.example', 'exаmple.com' /* Cyrillic а */, 'shop/x', 'shop com', null,
  ];
  for (const host of bad) refused(() => hostname(host));
});

test('branch names: what git accepts for a branch, minus the tricky cases', () => {
  for (const name of ['main', 'master', 'release/2024', 'feature/x-1', 'v1.2']) assert.equal(branchName(name), name);
  for (const name of ['', '/main', 'main/', 'a..b', 'a//b', '.hidden', 'x/.y', 'main.lock', 'main.', '-x', 'a b', 'a~1', 'a^', 'a:b', 'a@{1}', 'x'.repeat(201)]) {
    refused(() => branchName(name));
  }
});
