import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appPaths, prepareAppDirs } from '../../src/platform/app-dirs.ts';
import type { BerthError } from '../../src/errors.ts';

// As root: the app is played by "nobody".
const APP_USER = { uid: 65534, gid: 65534 };
if (process.getuid?.() !== 0) throw new Error('app-dirs tests give folders to another user: run them as root');

async function appsDir(t: { after(fn: () => unknown): void }): Promise<{ root: string; apps: string }> {
  const root = await mkdtemp(join(tmpdir(), 'berth-appdirs-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const apps = join(root, 'apps');
  await mkdir(apps, { mode: 0o711 });
  await chmod(apps, 0o711);
  return { root, apps };
}

async function facts(path: string): Promise<[boolean, number, number, number]> {
  const f = await lstat(path);
  return [f.isDirectory() && !f.isSymbolicLink(), f.uid, f.gid, f.mode & 0o7777];
}

test('a new app gets root\'s skeleton and its own leaves', async (t) => {
  const { apps } = await appsDir(t);
  const paths = await prepareAppDirs(apps, 'shop', APP_USER);
  assert.deepEqual(await facts(paths.dir), [true, 0, APP_USER.gid, 0o750]);
  assert.deepEqual(await facts(paths.builds), [true, 0, 0, 0o711]);
  assert.deepEqual(await facts(paths.home), [true, APP_USER.uid, APP_USER.gid, 0o700]);
  assert.deepEqual(await facts(paths.cache), [true, APP_USER.uid, APP_USER.gid, 0o700]);
  assert.deepEqual(await prepareAppDirs(apps, 'shop', APP_USER), paths, 'idempotent');
});

test('the old layout is migrated: builds and cache kept, the rest becomes home, links removed and never followed', async (t) => {
  const { root, apps } = await appsDir(t);
  const target = join(root, 'target');
  await mkdir(target, { mode: 0o755 });
  await writeFile(join(target, 'precious'), 'root\'s');
  const name = join(apps, 'shop');
  await mkdir(join(name, 'builds', '123-abc'), { recursive: true });
  await writeFile(join(name, 'builds', '123-abc', 'server.js'), 'built');
  await symlink(target, join(name, 'cache'));
  await symlink(target, join(name, 'home'));
  await writeFile(join(name, '.npmrc'), 'mine');
  for (const path of [name, join(name, 'builds'), join(name, 'builds', '123-abc'), join(name, 'builds', '123-abc', 'server.js'), join(name, '.npmrc')]) await chown(path, APP_USER.uid, APP_USER.gid);
  await chmod(name, 0o700);
  const paths = await prepareAppDirs(apps, 'shop', APP_USER);
  assert.deepEqual(await facts(paths.dir), [true, 0, APP_USER.gid, 0o750]);
  assert.deepEqual(await facts(paths.builds), [true, 0, 0, 0o711]);
  assert.equal(await readFile(join(paths.builds, '123-abc', 'server.js'), 'utf8'), 'built', 'the builds are where the releases expect them');
  assert.equal((await stat(join(paths.builds, '123-abc'))).uid, APP_USER.uid, 'and still the app\'s');
  assert.deepEqual(await facts(paths.cache), [true, APP_USER.uid, APP_USER.gid, 0o700], 'the cache link was replaced by a folder');
  assert.deepEqual(await facts(paths.home), [true, APP_USER.uid, APP_USER.gid, 0o700]);
  assert.equal(await readFile(join(paths.home, '.npmrc'), 'utf8'), 'mine', 'the old HOME is home');
  assert.ok((await lstat(join(paths.home, 'home'))).isSymbolicLink(), 'the app\'s own link moved with its HOME, as a link');
  const kept = await stat(target);
  assert.deepEqual([kept.uid, kept.mode & 0o777], [0, 0o755], 'the target is untouched');
});

test('a migration cut short resumes at the next start; a conflict it cannot settle is refused', async (t) => {
  const { apps } = await appsDir(t);
  const paths = appPaths(apps, 'shop');
  const aside = join(apps, '.shop.migrating');
  // Cut after the folder was put aside and the new one made.
  await mkdir(join(aside, 'builds'), { recursive: true });
  await writeFile(join(aside, 'profile'), 'mine');
  await chown(aside, APP_USER.uid, APP_USER.gid);
  await mkdir(paths.dir, { mode: 0o700 });
  await prepareAppDirs(apps, 'shop', APP_USER);
  assert.equal(await readFile(join(paths.home, 'profile'), 'utf8'), 'mine');
  await assert.rejects(lstat(aside), { code: 'ENOENT' });

  await mkdir(aside);
  await assert.rejects(prepareAppDirs(apps, 'shop', APP_USER), (err: BerthError) => err.code === 'BERTH_E_STATE' && /exists already/.test(err.message));
});
