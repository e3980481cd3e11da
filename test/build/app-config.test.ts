import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAppConfig, DEFAULT_APP_CONFIG } from '../../src/build/index.ts';

test('an empty berth.toml gives the defaults', () => {
  assert.deepEqual(parseAppConfig(''), DEFAULT_APP_CONFIG);
});

test('static mounts, health path and scale are read, longest prefix first', () => {
  const config = parseAppConfig('[static]\n"/static" = "static"\n"/static/img/" = "images"\n[health]\npath = "/health"\n[scale]\nweb = 2\nworker = 0\n');
  assert.deepEqual(config.static, [
    { prefix: '/static/img', dir: 'images' },
    { prefix: '/static', dir: 'static' },
  ]);
  assert.equal(config.health.path, '/health');
  assert.deepEqual(config.scale, { web: 2, worker: 0 });
});

test('an app may set its own request body limit', () => {
  assert.equal(parseAppConfig('[limits]\nmax_body = "50m"\n').limits.maxBodyBytes, 50 * 1024 * 1024);
  assert.equal(parseAppConfig('[limits]\nmax_body = 1024\n').limits.maxBodyBytes, 1024);
  assert.equal(parseAppConfig('').limits.maxBodyBytes, null);
  assert.throws(() => parseAppConfig('[limits]\nmax_body = "lots"\n'), /limits\.max_body/);
  assert.throws(() => parseAppConfig('[limits]\nmax_bdy = "1m"\n'), /unknown key "max_bdy"/);
});

for (const [what, text, pattern] of [
  ['an unknown section', '[helth]\npath="/"', /unknown key "helth"/],
  ['a zero body limit', '[limits]\nmax_body = 0', /limits\.max_body/],
  ['an unknown key in a section', '[health]\npaht = "/x"', /health: unknown key "paht"/],
  ['a prefix without a leading slash', '[static]\n"static" = "static"', /static\.static/],
  ['a static folder outside the app', '[static]\n"/s" = "../etc"', /must be a folder inside the app/],
  ['an absolute static folder', '[static]\n"/s" = "/etc"', /must be a folder inside the app/],
  ['a negative scale', '[scale]\nweb = -1', /scale\.web/],
  ['a fractional scale', '[scale]\nweb = 1.5', /scale\.web/],
  ['a scale beyond 64', '[scale]\nweb = 65', /scale\.web/],
  ['a health path without a slash', '[health]\npath = "health"', /health\.path/],
  ['broken TOML', '[static\n', /not valid TOML/],
] as const) {
  test(`berth.toml with ${what} is refused with where and why`, () => {
    assert.throws(() => parseAppConfig(text), (err: Error & { code?: string }) => err.code === 'BERTH_E_APP_CONFIG' && pattern.test(err.message));
  });
}
