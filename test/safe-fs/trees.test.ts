import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDirectory, giveTree, removeTree, trustedFolder } from '../../src/safe-fs/index.ts';
import type { BerthError } from '../../src/errors.ts';

const self = { uid: process.getuid!(), gid: process.getgid!() };

async function tempRoot(t: { after(fn: () => unknown): void }): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'berth-trees-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  return root;
}

test('removeTree removes a tree with links in it, never what the links point to', async (t) => {
  const root = await tempRoot(t);
  const target = join(root, 'target');
  await mkdir(target);
  await writeFile(join(target, 'keep.txt'), 'keep');
  const tree = join(root, 'tree');
  await mkdir(join(tree, 'a', 'b'), { recursive: true });
  await writeFile(join(tree, 'a', 'b', 'f'), 'x');
  await symlink(target, join(tree, 'a', 'link'));
  await symlink(target, join(root, 'top-link'));
  await removeTree(tree);
  await removeTree(join(root, 'top-link'));
  await removeTree(join(root, 'missing'));
  await removeTree(join(root, 'missing-folder', 'x'));
  assert.deepEqual((await readdir(root)).sort(), ['target']);
  assert.deepEqual(await readdir(target), ['keep.txt']);
});

test('removeTree and ensureDirectory refuse to work under a folder other users may change', async (t) => {
  const root = await tempRoot(t);
  const open = join(root, 'open');
  await mkdir(open);
  await chmod(open, 0o777);
  await mkdir(join(open, 'x'));
  const refused = (err: BerthError) => err.code === 'BERTH_E_STATE' && /may be written by other users/.test(err.message);
  await assert.rejects(removeTree(join(open, 'x')), refused);
  await assert.rejects(ensureDirectory(join(open, 'y'), self, 0o700), refused);
  await assert.rejects(trustedFolder(open), refused);
  assert.equal(await trustedFolder(root), root, 'a folder reached through sticky /tmp, owned by us, is trusted');
  assert.equal(await trustedFolder(join(root, 'nothing')), null);
});

test('ensureDirectory replaces a link or a file with a real folder, never following the link', async (t) => {
  const root = await tempRoot(t);
  const target = join(root, 'target');
  await mkdir(target, { mode: 0o755 });
  await chmod(target, 0o755);
  await symlink(target, join(root, 'cache'));
  await writeFile(join(root, 'home'), 'a file');
  await ensureDirectory(join(root, 'cache'), self, 0o700);
  await ensureDirectory(join(root, 'home'), self, 0o750);
  await ensureDirectory(join(root, 'fresh'), self, 0o711);
  for (const [name, mode] of [['cache', 0o700], ['home', 0o750], ['fresh', 0o711]] as const) {
    const facts = await lstat(join(root, name));
    assert.ok(facts.isDirectory() && !facts.isSymbolicLink(), `${name} is a real folder`);
    assert.equal(facts.mode & 0o7777, mode);
  }
  assert.equal((await stat(target)).mode & 0o777, 0o755, 'the link target is untouched');
});

test('giveTree refuses a tree others can enter, and gives the top last', async (t) => {
  const root = await tempRoot(t);
  const tree = join(root, 'tree');
  await mkdir(join(tree, 'a', 'b'), { recursive: true, mode: 0o700 });
  await chmod(tree, 0o755);
  await assert.rejects(giveTree(tree, self, 0o750), (err: BerthError) => err.code === 'BERTH_E_STATE');
  await chmod(tree, 0o700);
  await writeFile(join(tree, 'a', 'b', 'f'), 'x');
  const target = join(root, 'target');
  await writeFile(target, 'root\'s');
  await symlink(target, join(tree, 'a', 'link'));
  // As root: to another user (nobody), every entry, the link itself and not its target.
  const owner = process.getuid!() === 0 ? { uid: 65534, gid: 65534 } : self;
  await giveTree(tree, owner, 0o750);
  assert.equal((await stat(tree)).mode & 0o777, 0o750);
  for (const path of [tree, join(tree, 'a'), join(tree, 'a', 'b'), join(tree, 'a', 'b', 'f'), join(tree, 'a', 'link')]) {
    assert.equal((await lstat(path)).uid, owner.uid, path);
  }
  assert.equal((await stat(target)).uid, self.uid, 'the link target keeps its owner');
});
