import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { APP_JSON_MAX_BYTES, conflictsWithAppConfig, appJsonJobName, parseAppConfig, parseAppJson, readAppJson, type AppJson, type AppJsonResult } from '../../src/build/index.ts';
import { configKey, configValue } from '../../src/platform/names.ts';
import { isBerthError } from '../../src/errors.ts';

function ok(value: unknown): { appJson: AppJson; notes: readonly string[] } {
  const result = parseAppJson(typeof value === 'string' ? value : JSON.stringify(value));
  assert.ok(result.ok, `refused: ${result.ok ? '' : result.errors.join('; ')}`);
  return result;
}

function errors(value: unknown): readonly string[] {
  const result: AppJsonResult = parseAppJson(typeof value === 'string' ? value : JSON.stringify(value));
  assert.ok(!result.ok, 'accepted');
  return result.errors;
}

function refuses(value: unknown, pattern: RegExp): void {
  const found = errors(value);
  assert.ok(found.some((e) => pattern.test(e)), `${pattern} not among: ${found.join(' | ')}`);
}

test('an empty object is a manifest with nothing in it', () => {
  assert.deepEqual(ok({}), { ok: true, appJson: { env: [], formation: [], scripts: { predeploy: null, postdeploy: null, postdeployEach: null }, cron: [] }, notes: [] });
});

test("Heroku's example: env values, a secret generator, a formation, postdeploy; descriptive keys pass silently", () => {
  const { appJson, notes } = ok({
    name: 'Small Sharp Tool',
    description: 'This app does one little thing, and does it well.',
    keywords: ['productivity'],
    website: 'https://small-sharp-tool.com/',
    repository: 'https://github.com/jane-doe/small-sharp-tool',
    logo: 'https://small-sharp-tool.com/logo.svg',
    success_url: '/welcome',
    scripts: { postdeploy: 'bundle exec rake bootstrap' },
    env: {
      SECRET_TOKEN: { description: 'A secret key for verifying the integrity of signed cookies.', generator: 'secret' },
      WEB_CONCURRENCY: { description: 'The number of processes to run.', value: '5' },
    },
    formation: { web: { quantity: 1, size: 'standard-1x' } },
  });
  assert.deepEqual(appJson.env, [
    { key: 'SECRET_TOKEN', value: null, generator: 'secret', required: true, description: 'A secret key for verifying the integrity of signed cookies.' },
    { key: 'WEB_CONCURRENCY', value: '5', generator: null, required: true, description: 'The number of processes to run.' },
  ]);
  assert.deepEqual(appJson.formation, [{ type: 'web', quantity: 1, memoryBytes: null }]);
  assert.deepEqual(appJson.scripts, { predeploy: null, postdeploy: 'bundle exec rake bootstrap', postdeployEach: null });
  assert.deepEqual(notes, ['app.json: formation.web.size: ignoring Heroku\'s dyno size "standard-1x"; berth takes a memory limit such as "512m"']);
});

test('env: a string is the value; required defaults to true and can be turned off; the list is sorted by key', () => {
  const { appJson } = ok({ env: { ZED: 'z', ALPHA: { required: false }, MID: { description: 'set me' }, EMPTY: '' } });
  assert.deepEqual(appJson.env, [
    { key: 'ALPHA', value: null, generator: null, required: false, description: null },
    { key: 'EMPTY', value: '', generator: null, required: true, description: null },
    { key: 'MID', value: null, generator: null, required: true, description: 'set me' },
    { key: 'ZED', value: 'z', generator: null, required: true, description: null },
  ]);
});

test('env: every wrong type and name is refused with its key path', () => {
  refuses({ env: [] }, /^env: an object of config vars, not an array$/);
  refuses({ env: 'X=1' }, /^env: an object of config vars, not a string$/);
  refuses({ env: { '1X': 'a' } }, /^env\.1X: not a config var name/);
  refuses({ env: { 'A-B': 'a' } }, /^env\.A-B: not a config var name/);
  refuses({ env: { PORT: '80' } }, /^env\.PORT: berth sets PORT itself$/);
  refuses({ env: { DYNO: 'x' } }, /^env\.DYNO: berth sets DYNO itself$/);
  refuses({ env: { BERTH_APP: 'x' } }, /^env\.BERTH_APP: berth sets BERTH_\* variables itself$/);
  refuses({ env: { A: 5 } }, /^env\.A: a string \(the value\) or an object .*, not a number$/);
  refuses({ env: { A: null } }, /^env\.A: .*not null$/);
  refuses({ env: { A: { value: 5 } } }, /^env\.A\.value: a string, not a number \(write "5"\)$/);
  refuses({ env: { A: { value: true } } }, /^env\.A\.value: a string, not a boolean \(write "true"\)$/);
  refuses({ env: { A: { value: ['x'] } } }, /^env\.A\.value: a string, not an array$/);
  refuses({ env: { A: { required: 'yes' } } }, /^env\.A\.required: true or false, not a string$/);
  refuses({ env: { A: { generator: 'uuid' } } }, /^env\.A\.generator: only "secret" is known, not "uuid"$/);
  refuses({ env: { A: { generator: 'echo 5' } } }, /^env\.A\.generator: only "secret"/);
  refuses({ env: { A: { generator: 'secret', value: 'x' } } }, /^env\.A: give a value or a generator, not both$/);
  refuses({ env: { A: { description: 1 } } }, /^env\.A\.description: a string, not a number$/);
  refuses({ env: { A: { requried: false } } }, /^env\.A: unknown key "requried"/);
  refuses({ env: { A: 'a\u0000b' } }, /^env\.A: contains a NUL byte/);
  refuses({ env: { A: { value: 'x'.repeat(32 * 1024 + 1) } } }, /^env\.A\.value: longer than 32768 bytes$/);
});

test('env: a key named __proto__ is a plain key, never a prototype', () => {
  const { appJson } = ok('{"env": {"__proto__": "x", "OK": "y"}}');
  assert.deepEqual(appJson.env.map((v) => v.key), ['OK', '__proto__']);
  assert.equal(({} as Record<string, unknown>).x, undefined);
});

test("env names and values: app.json accepts exactly what berth's config accepts", () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 12 }), fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,12}$/), fc.constantFrom('PORT', 'DYNO', 'BERTH_X', '__proto__')), fc.string({ maxLength: 8 }), (key, value) => {
      const result = parseAppJson(JSON.stringify({ env: { [key]: value } }));
      let config = true;
      try {
        configKey(key);
        configValue(key, value);
      } catch (err) {
        if (!isBerthError(err)) throw err;
        config = false;
      }
      assert.equal(result.ok, config, `${JSON.stringify(key)}=${JSON.stringify(value)}`);
    }),
  );
});

test('formation: quantity and a memory size; Dokku keys noted; every mistake refused', () => {
  const { appJson, notes } = ok({ formation: { worker: { quantity: 0 }, web: { quantity: 2, size: '512m' }, clock: { size: '1Gi', max_parallel: 1 } } });
  assert.deepEqual(appJson.formation, [
    { type: 'clock', quantity: null, memoryBytes: 1024 ** 3 },
    { type: 'web', quantity: 2, memoryBytes: 512 * 1024 ** 2 },
    { type: 'worker', quantity: 0, memoryBytes: null },
  ]);
  assert.deepEqual(notes, ['app.json: formation.clock: ignoring "max_parallel" (berth rolls out every instance at once, behind a health check)']);
  refuses({ formation: [] }, /^formation: an object of process types, not an array$/);
  refuses({ formation: { 'we b': {} } }, /^formation\.we b: not a process type name/);
  refuses({ formation: { _web: {} } }, /^formation\._web: not a process type name/);
  refuses({ formation: { web: 2 } }, /^formation\.web: an object with quantity and size, not a number$/);
  refuses({ formation: { web: { quantity: -1 } } }, /^formation\.web\.quantity: a whole number from 0 to 64, not -1$/);
  refuses({ formation: { web: { quantity: 65 } } }, /^formation\.web\.quantity: a whole number from 0 to 64, not 65$/);
  refuses({ formation: { web: { quantity: 1.5 } } }, /^formation\.web\.quantity: .*not 1\.5$/);
  refuses({ formation: { web: { quantity: '2' } } }, /^formation\.web\.quantity: .*not a string$/);
  refuses({ formation: { web: { size: '1m' } } }, /^formation\.web\.size: a memory limit of at least 16m, not "1m"$/);
  refuses({ formation: { web: { size: 512 } } }, /^formation\.web\.size: a memory limit such as "512m", not a number$/);
  refuses({ formation: { web: { size: '512 potatoes!' } } }, /^formation\.web\.size: a memory limit such as "512m", not "512 potatoes!"$/);
  refuses({ formation: { web: { quantity: 1, count: 2 } } }, /^formation\.web: unknown key "count"/);
});

test('scripts: predeploy, postdeploy and Dokku\'s; others noted; commands checked as Procfile commands', () => {
  const { appJson, notes } = ok({ scripts: { predeploy: 'python manage.py check', postdeploy: 'python manage.py loaddata seed.json', 'pr-predestroy': 'x', test: 'y', dokku: { postdeploy: 'curl -fsS https://example.com/hook' } } });
  assert.deepEqual(appJson.scripts, { predeploy: 'python manage.py check', postdeploy: 'python manage.py loaddata seed.json', postdeployEach: 'curl -fsS https://example.com/hook' });
  assert.deepEqual(notes, ['app.json: ignoring scripts "pr-predestroy", "test" (berth runs predeploy, postdeploy and dokku\'s)']);
  assert.equal(ok({ scripts: { dokku: { predeploy: 'touch built' } } }).appJson.scripts.predeploy, 'touch built');
  refuses({ scripts: { predeploy: 'a', dokku: { predeploy: 'b' } } }, /^scripts: predeploy and dokku\.predeploy both given; keep one$/);
  refuses({ scripts: 'npm test' }, /^scripts: an object of commands, not a string$/);
  refuses({ scripts: { predeploy: 1 } }, /^scripts\.predeploy: a command, not a number$/);
  refuses({ scripts: { postdeploy: '  ' } }, /^scripts\.postdeploy: a command, not an empty string$/);
  refuses({ scripts: { postdeploy: 'rake db:setup && rake seed' } }, /^scripts\.postdeploy: .*"&&".*sh -c/);
  refuses({ scripts: { dokku: 'x' } }, /^scripts\.dokku: an object of commands, not a string$/);
  refuses({ scripts: { dokku: { prebuild: 'x' } } }, /^scripts\.dokku: unknown key "prebuild"/);
  refuses({ scripts: { dokku: { postdeploy: 'a | b' } } }, /^scripts\.dokku\.postdeploy: .*"\|"/);
});

test("cron: Dokku's entries become named berth jobs, stable across parses, sorted by name", () => {
  const { appJson } = ok({ cron: [{ command: 'npm run send-email', schedule: '@daily' }, { command: 'python manage.py clearsessions', schedule: '0  3 * * *' }] });
  assert.deepEqual(appJson.cron, [
    { name: appJsonJobName('@daily', 'npm run send-email'), schedule: '@daily', timezone: 'UTC', command: 'npm run send-email', timeoutMs: null },
    { name: appJsonJobName('0 3 * * *', 'python manage.py clearsessions'), schedule: '0 3 * * *', timezone: 'UTC', command: 'python manage.py clearsessions', timeoutMs: null },
  ].sort((a, b) => (a.name < b.name ? -1 : 1)));
  assert.match(appJson.cron.find((job) => job.command.startsWith('npm'))!.name, /^npm-run-send-email-[0-9a-f]{6}$/);
  assert.deepEqual(ok({ cron: [{ command: 'npm run send-email', schedule: '@daily' }] }).appJson.cron[0]!.name, appJson.cron.find((job) => job.command.startsWith('npm'))!.name);
});

test('cron job names fit berth\'s job names whatever the command', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), fc.constantFrom('@daily', '* * * * *'), (command, schedule) => {
      assert.match(appJsonJobName(schedule, command), /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/);
    }),
  );
  assert.notEqual(appJsonJobName('@daily', 'x'), appJsonJobName('@hourly', 'x'));
  assert.match(appJsonJobName('@daily', '!!!'), /^job-[0-9a-f]{6}$/);
});

test('cron: maintenance leaves an entry out, concurrency policies other than forbid are noted, mistakes refused', () => {
  const { appJson, notes } = ok({
    cron: [
      { command: 'a', schedule: '@hourly', maintenance: true },
      { command: 'b', schedule: '@hourly', concurrency_policy: 'allow' },
      { command: 'c', schedule: '@hourly', concurrency_policy: 'forbid', maintenance: false },
    ],
  });
  assert.deepEqual(appJson.cron.map((job) => job.command), ['b', 'c']);
  assert.deepEqual(notes, ['app.json: cron[0] is in maintenance: not scheduled', 'app.json: cron[1]: concurrency_policy "allow" is not berth\'s: a slot whose previous run still goes is skipped ("forbid")']);
  refuses({ cron: {} }, /^cron: a list of .*not an object$/);
  refuses({ cron: ['x'] }, /^cron\[0\]: an object with command and schedule, not a string$/);
  refuses({ cron: [{ schedule: '@daily' }] }, /^cron\[0\]\.command: missing$/);
  refuses({ cron: [{ command: 'x' }] }, /^cron\[0\]\.schedule: .*not missing$/);
  refuses({ cron: [{ command: 'x', schedule: 5 }] }, /^cron\[0\]\.schedule: .*not a number$/);
  refuses({ cron: [{ command: 'x', schedule: '61 * * * *' }] }, /^cron\[0\]\.schedule: "61 \* \* \* \*" is not a usable cron schedule/);
  refuses({ cron: [{ command: 'x', schedule: '@reboot' }] }, /^cron\[0\]\.schedule: .*@reboot/);
  refuses({ cron: [{ command: 'x', schedule: '* * *' }] }, /^cron\[0\]\.schedule: .*3 fields/);
  refuses({ cron: [{ command: 'a > b', schedule: '@daily' }] }, /^cron\[0\]\.command: .*">"/);
  refuses({ cron: [{ command: 'x', schedule: '@daily', maintenance: 'yes' }] }, /^cron\[0\]\.maintenance: true or false/);
  refuses({ cron: [{ command: 'x', schedule: '@daily', concurrency_policy: 'never' }] }, /^cron\[0\]\.concurrency_policy: "allow", "forbid" or "replace", not "never"$/);
  refuses({ cron: [{ command: 'x', schedule: '@daily', name: 'n' }] }, /^cron\[0\]: unknown key "name"/);
  refuses({ cron: [{ command: 'x', schedule: '@daily' }, { command: 'x', schedule: '@daily' }] }, /^cron\[1\]: the same command and schedule as cron\[0\]$/);
});

test('unknown top-level keys are ignored with one note; addons get the berth command that makes them', () => {
  const { notes } = ok({ buildpacks: [{ url: 'heroku/python' }], environments: { test: {} }, image: 'heroku/ruby', stack: 'heroku-24', healthchecks: {}, addons: ['heroku-postgresql:essential-0', { plan: 'heroku-redis', as: 'cache' }, 'papertrail'] });
  assert.deepEqual(notes, [
    'app.json: ignoring "buildpacks", "environments", "image", "stack", "healthchecks" (berth does not use them)',
    'app.json: ignoring "addons" (berth does not provision add-ons from app.json); create them with berth addons create postgres (for "heroku-postgresql:essential-0"), berth addons create redis --as CACHE_URL (for "heroku-redis"); berth has nothing for "papertrail"',
  ]);
  assert.deepEqual(ok({ foo: 1 }).notes, ['app.json: ignoring "foo" (berth does not use it)']);
  assert.deepEqual(ok({ addons: 'nonsense' }).notes, ['app.json: ignoring "addons" (berth does not provision add-ons from app.json)']);
});

test('the text itself: JSON only, an object, a byte-order mark allowed, at most 256 KiB', () => {
  refuses('{"env": ', /^is not valid JSON: /);
  refuses('', /^is not valid JSON: /);
  refuses('[]', /^\(top level\): an object, not an array$/);
  refuses('"app"', /^\(top level\): an object, not a string$/);
  refuses('null', /^\(top level\): an object, not null$/);
  assert.deepEqual(ok('\uFEFF{"env": {"A": "b"}}').appJson.env.map((v) => v.key), ['A']);
  const padded = (bytes: number) => `{"description": "${'x'.repeat(bytes - 19)}"}`;
  assert.equal(Buffer.byteLength(padded(APP_JSON_MAX_BYTES)), APP_JSON_MAX_BYTES);
  ok(padded(APP_JSON_MAX_BYTES));
  assert.deepEqual(errors(padded(APP_JSON_MAX_BYTES + 1)), ['is larger than 256 KiB']);
});

test('every mistake is reported, not only the first', () => {
  assert.deepEqual(errors({ env: { A: { value: 1 } }, formation: { web: { quantity: -1 } }, scripts: { postdeploy: 2 }, cron: [{ command: 'x', schedule: 'never' }] }).map((e) => e.split(':')[0]), [
    'env.A.value',
    'formation.web.quantity',
    'scripts.postdeploy',
    'cron[0].schedule',
  ]);
});

test('app.json and berth.toml may not both scale a type or schedule the same job', () => {
  const appJson = ok({ formation: { web: { quantity: 2 } }, cron: [{ command: 'node tick.mjs', schedule: '@hourly' }, { command: 'node other.mjs', schedule: '@daily' }] }).appJson;
  assert.deepEqual(conflictsWithAppConfig(appJson, parseAppConfig('[scale]\nworker = 1\n[cron.tick]\nschedule = "@daily"\ncommand = "node tick.mjs"\n')), []);
  assert.deepEqual(conflictsWithAppConfig(appJson, parseAppConfig('[scale]\nweb = 1\n[cron.tick]\nschedule = "@hourly"\ncommand = "node tick.mjs"\n')), [
    'formation.web: berth.toml [scale] sets web too; keep one',
    'cron: "node tick.mjs" (@hourly) is berth.toml\'s [cron.tick] too; keep one',
  ]);
});

test('readAppJson: absent is null; read confined to the folder; an invalid one throws BERTH_E_APP_JSON naming the keys', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-app-json-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const dir = join(root, 'app');
  await mkdir(dir);
  assert.equal(await readAppJson(dir), null);
  await writeFile(join(dir, 'app.json'), JSON.stringify({ env: { A: 'b' }, logo: 'x' }));
  assert.deepEqual((await readAppJson(dir))!.appJson.env.map((v) => v.key), ['A']);
  await writeFile(join(dir, 'app.json'), JSON.stringify({ env: { A: 1, B: { generator: 'x' } } }));
  await assert.rejects(readAppJson(dir), (err: unknown) => isBerthError(err) && err.code === 'BERTH_E_APP_JSON' && /^app\.json: env\.A: .*; env\.B\.generator: /.test(err.message));
  await rm(join(dir, 'app.json'));
  await writeFile(join(root, 'outside.json'), '{}');
  await symlink(join(root, 'outside.json'), join(dir, 'app.json'));
  await assert.rejects(readAppJson(dir), (err: unknown) => isBerthError(err) && err.code === 'BERTH_E_APP_FILE' && /link leading outside/.test(err.message));
  await rm(join(dir, 'app.json'));
  await writeFile(join(dir, 'app.json'), ' '.repeat(APP_JSON_MAX_BYTES + 1));
  await assert.rejects(readAppJson(dir), (err: unknown) => isBerthError(err) && err.code === 'BERTH_E_APP_FILE' && /larger than 262144 bytes/.test(err.message));
});
