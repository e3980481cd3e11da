// Django's build steps with Debian's Django: collectstatic asked of Django
// itself and run when STATIC_ROOT is set, skipped as DISABLE_COLLECTSTATIC
// or the settings say, and a build that fails it saying why.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectApp, discoverBuildEnvironment, discoverSandbox, runBuild, DEFAULT_BUILD_LIMITS } from '../../src/build/index.ts';
import { BerthError } from '../../src/errors.ts';
import { runOnce } from '../../src/runner/index.ts';
import { djangoSettings, writeDjangoSample } from '../helpers/sample-apps.ts';

const PATH = process.env.PATH ?? '';

async function tempDir(t: { after(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-django-build-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Detects and builds the sample in `dir` with `env` as the build's environment; the log, and the error when it failed. */
async function build(dir: string, env: Record<string, string> = {}): Promise<{ log: string[]; error: unknown }> {
  const plan = await detectApp(dir, await discoverBuildEnvironment(PATH));
  assert.ok(plan.kind === 'processes');
  const log: string[] = [];
  try {
    await runBuild(plan, { dir, cacheDir: null, env: { PATH, HOME: dir, ...env }, user: null, limits: DEFAULT_BUILD_LIMITS, log: (line) => log.push(line), exec: runOnce }, await discoverSandbox(PATH));
    return { log, error: null };
  } catch (error) {
    return { log, error };
  }
}

test("the getting-started project's build asks Django for STATIC_ROOT and collects its static files there, hashed, with the manifest", { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t);
  await writeDjangoSample(dir);
  const { log, error } = await build(dir);
  assert.equal(error, null, log.join('\n'));
  const text = log.join('\n');
  assert.ok(log.includes('running python manage.py shell (asking Django for STATIC_ROOT)'), text);
  assert.ok(log.includes('running python manage.py collectstatic --noinput'), text);
  assert.match(text, /\d+ static files copied to '.*staticfiles', \d+ post-processed/);
  assert.ok(log.includes('static files collected into staticfiles/, served by the edge ([static] in berth.toml)'), text);
  assert.ok(!log.some((line) => line.startsWith('berth-django-facts')), "the probe's answer stays out of the log");
  const manifest = JSON.parse(await readFile(join(dir, 'staticfiles', 'staticfiles.json'), 'utf8')) as { paths: Record<string, string> };
  const hashed = manifest.paths['hello/style.css'];
  assert.match(hashed ?? '', /^hello\/style\.[0-9a-f]{12}\.css$/);
  assert.equal(await readFile(join(dir, 'staticfiles', hashed!), 'utf8'), 'h1 { color: #6762a6; }\n');
  assert.ok(existsSync(join(dir, 'staticfiles', 'admin', 'css', 'base.css')), "the admin's files too");
  assert.ok(!existsSync(join(dir, 'db.sqlite3')), 'the build touched no database');
});

test('without [static] for it, the log says which berth.toml line makes the edge serve the files', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t);
  await writeDjangoSample(dir, { 'berth.toml': '[python]\nsystem_site_packages = true\n' });
  const { log, error } = await build(dir);
  assert.equal(error, null, log.join('\n'));
  assert.ok(log.includes('static files collected into staticfiles/; to have the edge serve them, add to berth.toml: [static] "/static" = "staticfiles"'), log.join('\n'));
});

test('DISABLE_COLLECTSTATIC=1 in the build environment (a config var) skips it without asking Django; 0 does not', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t);
  await writeDjangoSample(dir);
  const skipped = await build(dir, { DISABLE_COLLECTSTATIC: '1' });
  assert.equal(skipped.error, null, skipped.log.join('\n'));
  assert.ok(skipped.log.includes('collectstatic skipped: DISABLE_COLLECTSTATIC is set ("1")'), skipped.log.join('\n'));
  assert.ok(!skipped.log.some((line) => line.includes('manage.py')), 'Django was not run');
  assert.ok(!existsSync(join(dir, 'staticfiles')));
  const zero = await build(dir, { DISABLE_COLLECTSTATIC: '0' });
  assert.equal(zero.error, null, zero.log.join('\n'));
  assert.ok(existsSync(join(dir, 'staticfiles', 'staticfiles.json')));
});

test('settings without STATIC_ROOT: nothing is collected, and the log says why', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t);
  await writeDjangoSample(dir, djangoSettings((s) => s.replace('STATIC_ROOT = BASE_DIR / "staticfiles"\n', '').replace(/STATICFILES_STORAGE = .*\n/, '')));
  const { log, error } = await build(dir);
  assert.equal(error, null, log.join('\n'));
  assert.ok(log.includes('collectstatic skipped: the settings set no STATIC_ROOT'), log.join('\n'));
  assert.ok(!log.includes('running python manage.py collectstatic --noinput'));
  assert.ok(!readdirSync(dir).includes('staticfiles'));
});

test('a collectstatic that fails fails the build with its output and how to skip it', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t);
  // STATIC_ROOT under a file: Django cannot make the folder.
  await writeDjangoSample(dir, djangoSettings((s) => s.replace('STATIC_ROOT = BASE_DIR / "staticfiles"', 'STATIC_ROOT = BASE_DIR / "README" / "static"')));
  await writeFile(join(dir, 'README'), 'a file\n');
  const { log, error } = await build(dir);
  assert.ok(error instanceof BerthError, String(error));
  assert.equal(error.code, 'BERTH_E_INSTALL');
  assert.equal(error.message, 'python manage.py collectstatic --noinput failed with exit code 1');
  assert.match(error.hint ?? '', /DISABLE_COLLECTSTATIC=1/);
  assert.match(log.join('\n'), /NotADirectoryError|Not a directory/, 'its output is in the log');
});

test('settings that do not load at build time fail it naming the settings, not collectstatic', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t);
  await writeDjangoSample(dir, djangoSettings((s) => `${s}\nSECRET_KEY = os.environ["DJANGO_SECRET_KEY"]\n`));
  const { log, error } = await build(dir);
  assert.ok(error instanceof BerthError, String(error));
  assert.equal(error.code, 'BERTH_E_INSTALL');
  assert.match(error.message, /^Django's settings did not load to say whether STATIC_ROOT is set \(python manage\.py shell failed with exit code 1\)$/);
  assert.match(error.hint ?? '', /without add-on vars such as DATABASE_URL.*DISABLE_COLLECTSTATIC=1/);
  assert.match(log.join('\n'), /KeyError: 'DJANGO_SECRET_KEY'/);
  // The same settings with the variable set (a config var reaches the build) build.
  const fixed = await build(dir, { DJANGO_SECRET_KEY: 'from-config' });
  assert.equal(fixed.error, null, fixed.log.join('\n'));
});
