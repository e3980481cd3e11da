import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, chown, link, mkdir, mkdtemp, realpath, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { lookupPath, openVerified, ownerAllows } from '../../src/safe-fs/index.ts';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'berth-safe-fs-')));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function readAll(path: string, rule?: { owner?: number | null }): Promise<string | null> {
  const opened = await openVerified(path, rule);
  if (opened === null) return null;
  try {
    return await opened.handle.readFile('utf8');
  } finally {
    await opened.handle.close();
  }
}

test('ownerAllows: the owner, or anyone when others may read; no rule allows all', () => {
  assert.equal(ownerAllows({ uid: 1000, mode: 0o100600 }, 1000), true);
  assert.equal(ownerAllows({ uid: 0, mode: 0o100600 }, 1000), false);
  assert.equal(ownerAllows({ uid: 0, mode: 0o100640 }, 1000), false);
  assert.equal(ownerAllows({ uid: 0, mode: 0o100604 }, 1000), true);
  assert.equal(ownerAllows({ uid: 0, mode: 0o100644 }, 1000), true);
  assert.equal(ownerAllows({ uid: 0, mode: 0o100600 }, null), true);
  assert.equal(ownerAllows({ uid: 0, mode: 0o100600 }, undefined), true);
});

test('lookupPath gives the canonical path and stats of the file a path leads to, links followed', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'real'));
  await writeFile(join(dir, 'real', 'f.txt'), 'hello');
  await symlink('real', join(dir, 'link'));
  const found = await lookupPath(join(dir, 'link', 'f.txt'));
  assert.equal(found?.path, join(dir, 'real', 'f.txt'));
  assert.equal(found?.stats.isFile(), true);
  assert.equal(found?.stats.size, 5);
  assert.equal((await lookupPath(join(dir, 'link')))?.path, join(dir, 'real'));
  assert.equal((await lookupPath(join(dir, 'link')))?.stats.isDirectory(), true);
  for (const absent of ['nope', 'real/f.txt/x', 'real/nope']) assert.equal(await lookupPath(join(dir, absent)), null, absent);
  await symlink('loop', join(dir, 'loop'));
  assert.equal(await lookupPath(join(dir, 'loop')), null);
});

test('lookupPath looks at a FIFO without opening it (it would block)', async (t) => {
  const dir = await tempDir(t);
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  const found = await lookupPath(join(dir, 'fifo'));
  assert.equal(found?.stats.isFIFO(), true);
});

test('openVerified opens a regular file by its canonical path', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'f.txt'), 'content');
  assert.equal(await readAll(join(dir, 'f.txt')), 'content');
});

test('openVerified refuses any path with a link in it, at the end or on the way', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'real'));
  await writeFile(join(dir, 'real', 'f.txt'), 'content');
  await symlink('real', join(dir, 'dirlink'));
  await symlink('real/f.txt', join(dir, 'filelink'));
  assert.equal(await readAll(join(dir, 'dirlink', 'f.txt')), null);
  assert.equal(await readAll(join(dir, 'filelink')), null);
  assert.equal(await readAll(`${dir}/real/../real/f.txt`), null, 'not canonical');
  assert.equal(await readAll(`${dir}//real/f.txt`), null, 'not canonical');
});

test('openVerified refuses what is not a regular file: a folder, a FIFO (without blocking), a device', async (t) => {
  const dir = await tempDir(t);
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  assert.equal(await readAll(join(dir, 'fifo')), null);
  assert.equal(await readAll(dir), null);
  assert.equal(await readAll('/dev/null'), null);
});

test('openVerified: a folder swapped for a link after the path was checked is caught at the open', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'root', 'sub'), { recursive: true });
  await mkdir(join(dir, 'outside'));
  await writeFile(join(dir, 'root', 'sub', 'secret'), 'decoy');
  await writeFile(join(dir, 'outside', 'secret'), 'SECRET');
  const checked = (await lookupPath(join(dir, 'root', 'sub', 'secret')))!.path;
  // The swap, between the check and the open.
  await rename(join(dir, 'root', 'sub'), join(dir, 'root', 'sub.real'));
  await symlink(join(dir, 'outside'), join(dir, 'root', 'sub'));
  assert.equal(await readAll(checked), null);
});

test('openVerified: a file deleted as it is looked at is refused', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'f.txt'), 'x');
  await unlink(join(dir, 'f.txt'));
  assert.equal(await readAll(join(dir, 'f.txt')), null);
});

test('openVerified with an owner: a file of another uid, private (0600), is refused even through a hard link', async (t) => {
  assert.equal(process.getuid?.(), 0, 'this test makes files of other users: run it as root');
  const dir = await tempDir(t);
  const owner = 4242;
  await writeFile(join(dir, 'mine'), 'mine');
  await chown(join(dir, 'mine'), owner, owner);
  await chmod(join(dir, 'mine'), 0o600);
  await writeFile(join(dir, 'roots'), 'ROOT ONLY');
  await chmod(join(dir, 'roots'), 0o600);
  await link(join(dir, 'roots'), join(dir, 'hardlink'));
  await writeFile(join(dir, 'public'), 'public');
  await chmod(join(dir, 'public'), 0o644);
  assert.equal(await readAll(join(dir, 'mine'), { owner }), 'mine');
  assert.equal(await readAll(join(dir, 'roots'), { owner }), null);
  assert.equal(await readAll(join(dir, 'hardlink'), { owner }), null);
  assert.equal(await readAll(join(dir, 'public'), { owner }), 'public');
  assert.equal(await readAll(join(dir, 'roots')), 'ROOT ONLY', 'no rule, no refusal');
});
