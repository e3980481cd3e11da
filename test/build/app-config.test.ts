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

test('[cron] jobs are read, sorted by name, with their time zone and timeout', () => {
  const config = parseAppConfig(
    '[cron.nightly]\nschedule = "0  3 * * *"\ncommand = "python manage.py purge"\ntimeout = "10m"\ntimezone = "Europe/Berlin"\n' +
      '[cron.beat]\nschedule = "*/2 * * * * *"\ncommand = "node beat.mjs $OUT"\n' +
      '[cron.hourly]\nschedule = "@hourly"\ncommand = "sh -c \'date >> x\'"\ntimeout = 30\n',
  );
  assert.deepEqual(config.cron, [
    { name: 'beat', schedule: '*/2 * * * * *', timezone: 'UTC', command: 'node beat.mjs $OUT', timeoutMs: null },
    { name: 'hourly', schedule: '@hourly', timezone: 'UTC', command: "sh -c 'date >> x'", timeoutMs: 30_000 },
    { name: 'nightly', schedule: '0 3 * * *', timezone: 'Europe/Berlin', command: 'python manage.py purge', timeoutMs: 600_000 },
  ]);
  assert.deepEqual(parseAppConfig('').cron, []);
});

for (const [what, text, code, pattern] of [
  ['a misspelt key', '[cron.nightly]\nscedule = "0 3 * * *"\ncommand = "x"', 'BERTH_E_APP_CONFIG', /cron\.nightly: unknown key "scedule"/],
  ['no command', '[cron.nightly]\nschedule = "0 3 * * *"', 'BERTH_E_APP_CONFIG', /cron\.nightly\.command/],
  ['a bad job name', '[cron."bad name"]\nschedule = "0 3 * * *"\ncommand = "x"', 'BERTH_E_APP_CONFIG', /cron\.bad name/],
  ['a minute out of range', '[cron.nightly]\nschedule = "61 3 * * *"\ncommand = "x"', 'BERTH_E_CRON_SCHEDULE', /cron\.nightly: "61 3 \* \* \*" is not a usable cron schedule/],
  ['too many fields', '[cron.nightly]\nschedule = "0 0 3 * * * 2030"\ncommand = "x"', 'BERTH_E_CRON_SCHEDULE', /cron\.nightly: .* 7 fields/],
  ['garbage', '[cron.nightly]\nschedule = "every night"\ncommand = "x"', 'BERTH_E_CRON_SCHEDULE', /cron\.nightly: "every night"/],
  ['a date that never comes', '[cron.leap]\nschedule = "0 0 30 2 *"\ncommand = "x"', 'BERTH_E_CRON_SCHEDULE', /cron\.leap: .*never fires/],
  ['@reboot', '[cron.boot]\nschedule = "@reboot"\ncommand = "x"', 'BERTH_E_CRON_SCHEDULE', /cron\.boot: .*@reboot/],
  ['an unknown time zone', '[cron.nightly]\nschedule = "0 3 * * *"\ncommand = "x"\ntimezone = "Mars/Olympus"', 'BERTH_E_CRON_SCHEDULE', /cron\.nightly: "Mars\/Olympus" is not a time zone/],
  ['a pipe in the command', '[cron.nightly]\nschedule = "0 3 * * *"\ncommand = "purge | tee log"', 'BERTH_E_APP_CONFIG', /cron\.nightly\.command: .*"\|", which needs a shell/],
  ['a bad timeout', '[cron.nightly]\nschedule = "0 3 * * *"\ncommand = "x"\ntimeout = "soon"', 'BERTH_E_APP_CONFIG', /cron\.nightly\.timeout/],
  ['a zero timeout', '[cron.nightly]\nschedule = "0 3 * * *"\ncommand = "x"\ntimeout = "0s"', 'BERTH_E_APP_CONFIG', /cron\.nightly\.timeout/],
] as const) {
  test(`berth.toml [cron] with ${what} is refused naming the job`, () => {
    assert.throws(() => parseAppConfig(text), (err: Error & { code?: string }) => err.code === code && pattern.test(err.message));
  });
}
