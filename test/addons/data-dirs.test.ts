import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataDirOf, ensureDataDir, removeDataDir } from '../../src/addons/data-dirs.ts';
import type { AddonUser } from '../../src/addons/types.ts';

/** A temp folder app users can pass through, as the state folder is. */
function stateDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-data-dirs-'));
  chmodSync(dir, 0o711);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A real system user for the test, removed after it. */
function systemUser(t: TestContext): AddonUser & { name: string } {
  const name = `t${randomBytes(5).toString('hex')}`;
  execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name]);
  t.after(() => execFileSync('userdel', [name]));
  const id = (flag: string) => Number(execFileSync('id', [flag, name], { encoding: 'utf8' }).trim());
  return { name, uid: id('-u'), gid: id('-g') };
}

test('ensureDataDir makes the data root 0711 (root) and the app folder 0700, owned by the app user', async (t) => {
  const root = join(stateDir(t), 'data');
  const user = systemUser(t);
  const dir = await ensureDataDir(root, 'shop', user);
  assert.equal(dir, join(root, 'shop'));
  assert.equal(dir, dataDirOf(root, 'shop'));
  const rootFacts = statSync(root);
  assert.equal(rootFacts.mode & 0o7777, 0o711);
  assert.equal(rootFacts.uid, 0);
  const facts = statSync(dir);
  assert.equal(facts.mode & 0o7777, 0o700);
  assert.equal(facts.uid, user.uid);
  assert.equal(facts.gid, user.gid);
  // The app user can use it: write a file there as that user.
  execFileSync('/bin/sh', ['-c', 'echo hi > "$1"/probe', 'sh', dir], { uid: user.uid, gid: user.gid });
  assert.equal(readFileSync(join(dir, 'probe'), 'utf8'), 'hi\n');
});

test('ensureDataDir is idempotent, keeps what is inside and repairs owner and mode', async (t) => {
  const root = join(stateDir(t), 'data');
  const user = systemUser(t);
  const dir = await ensureDataDir(root, 'shop', user);
  writeFileSync(join(dir, 'kept.txt'), 'data');
  chmodSync(dir, 0o755);
  chownSync(dir, 0, 0);
  chmodSync(root, 0o755);
  assert.equal(await ensureDataDir(root, 'shop', user), dir);
  assert.equal(statSync(dir).mode & 0o7777, 0o700);
  assert.equal(statSync(dir).uid, user.uid);
  assert.equal(statSync(root).mode & 0o7777, 0o711);
  assert.equal(readFileSync(join(dir, 'kept.txt'), 'utf8'), 'data');
});

test('ensureDataDir without an app user gives the folder to berth', async (t) => {
  const root = join(stateDir(t), 'data');
  const dir = await ensureDataDir(root, 'shop', null);
  assert.equal(statSync(dir).uid, process.getuid!());
  assert.equal(statSync(dir).mode & 0o7777, 0o700);
});

test('ensureDataDir refuses an app entry that is a symbolic link, and changes nothing where it points', async (t) => {
  const state = stateDir(t);
  const root = join(state, 'data');
  const user = systemUser(t);
  mkdirSync(root, { mode: 0o711 });
  const elsewhere = join(state, 'elsewhere');
  mkdirSync(elsewhere, { mode: 0o755 });
  symlinkSync(elsewhere, join(root, 'shop'));
  await assert.rejects(ensureDataDir(root, 'shop', user), { code: 'BERTH_E_STATE', message: /symbolic link/ });
  assert.equal(statSync(elsewhere).uid, 0);
  assert.equal(statSync(elsewhere).mode & 0o7777, 0o755);

  // A link that points back inside the data root is refused as well.
  mkdirSync(join(root, 'other'));
  symlinkSync(join(root, 'other'), join(root, 'blog'));
  await assert.rejects(ensureDataDir(root, 'blog', user), { code: 'BERTH_E_STATE' });
  assert.equal(statSync(join(root, 'other')).uid, 0);
});

test('ensureDataDir refuses an app entry that is a file', async (t) => {
  const root = join(stateDir(t), 'data');
  mkdirSync(root, { mode: 0o711 });
  writeFileSync(join(root, 'shop'), 'not a folder');
  await assert.rejects(ensureDataDir(root, 'shop', null), { code: 'BERTH_E_STATE', message: /not a folder/ });
  assert.equal(readFileSync(join(root, 'shop'), 'utf8'), 'not a folder');
});

test('ensureDataDir refuses a data root owned by someone else (its owner could swap the apps\' folders)', async (t) => {
  const root = join(stateDir(t), 'data');
  const user = systemUser(t);
  mkdirSync(root, { mode: 0o711 });
  chownSync(root, user.uid, user.gid);
  await assert.rejects(ensureDataDir(root, 'shop', null), { code: 'BERTH_E_STATE', message: /belongs to uid/ });
  assert.equal(existsSync(join(root, 'shop')), false);
});

test('ensureDataDir refuses a data root app users cannot pass through, saying which folder is in the way', async (t) => {
  const state = stateDir(t);
  const user = systemUser(t);
  chmodSync(state, 0o700);
  await assert.rejects(ensureDataDir(join(state, 'data'), 'shop', user), { code: 'BERTH_E_STATE', message: new RegExp(`${state} is mode 0700`) });
  assert.equal(existsSync(join(state, 'data', 'shop')), false);
});

test('app names that are not names never become paths', async (t) => {
  const root = join(stateDir(t), 'data');
  for (const bad of ['..', '', 'a/b', '../etc', 'Shop', '.hidden']) {
    assert.throws(() => dataDirOf(root, bad), { code: 'BERTH_E_NAME' }, bad);
    await assert.rejects(ensureDataDir(root, bad, null), { code: 'BERTH_E_NAME' }, bad);
    await assert.rejects(removeDataDir(root, bad), { code: 'BERTH_E_NAME' }, bad);
  }
});

test('removeDataDir deletes the folder and its contents; a folder already gone is fine', async (t) => {
  const root = join(stateDir(t), 'data');
  const dir = await ensureDataDir(root, 'shop', null);
  mkdirSync(join(dir, 'uploads', 'deep'), { recursive: true });
  writeFileSync(join(dir, 'uploads', 'deep', 'a.png'), 'x');
  await removeDataDir(root, 'shop');
  assert.equal(existsSync(dir), false);
  assert.ok(existsSync(root));
  await removeDataDir(root, 'shop');
});

test('removeDataDir removes links, never what they point to', async (t) => {
  const state = stateDir(t);
  const root = join(state, 'data');
  const outside = join(state, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'precious'), 'keep me');
  const dir = await ensureDataDir(root, 'shop', null);
  symlinkSync(outside, join(dir, 'link'));
  await removeDataDir(root, 'shop');
  assert.equal(existsSync(dir), false);
  assert.equal(readFileSync(join(outside, 'precious'), 'utf8'), 'keep me');

  // The app's entry itself a link: the link goes, the target stays.
  symlinkSync(outside, join(root, 'blog'));
  await removeDataDir(root, 'blog');
  assert.throws(() => lstatSync(join(root, 'blog')), { code: 'ENOENT' });
  assert.equal(readFileSync(join(outside, 'precious'), 'utf8'), 'keep me');
});
