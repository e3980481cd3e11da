import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { TestContext } from 'node:test';
import { makePrivateDir, resetPrivateDir } from '../../src/safe-fs/index.ts';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'berth-private-dir-')));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('makePrivateDir: a new 0700 folder of ours with an unpredictable name, never one that was there', async (t) => {
  const parent = await tempDir(t);
  // Whatever anyone made beforehand under the obvious names stays untouched.
  await writeFile(join(parent, 'berth-edge-'), 'a file');
  await mkdir(join(parent, 'berth-edge-1234'));
  const a = await makePrivateDir(parent, 'berth-edge-');
  const b = await makePrivateDir(parent, 'berth-edge-');
  assert.notEqual(a, b);
  for (const dir of [a, b]) {
    assert.match(basename(dir), /^berth-edge-[A-Za-z0-9]{6}$/);
    const st = await lstat(dir);
    assert.ok(st.isDirectory());
    assert.equal(st.mode & 0o777, 0o700);
    assert.equal(st.uid, process.geteuid!());
    assert.deepEqual(await readdir(dir), []);
  }
});

test('resetPrivateDir empties what was left, replaces a file or a link (never following it), and makes it 0700', async (t) => {
  const parent = await tempDir(t);
  const target = join(parent, 'tmp');
  await mkdir(join(target, 'edge-old', 'deep'), { recursive: true });
  await writeFile(join(target, 'edge-old', 'deep', 'left'), 'x');
  await resetPrivateDir(target);
  assert.deepEqual(await readdir(target), []);
  assert.equal((await stat(target)).mode & 0o777, 0o700);

  await rm(target, { recursive: true });
  await writeFile(target, 'a file');
  await resetPrivateDir(target);
  assert.ok((await lstat(target)).isDirectory());

  const elsewhere = join(parent, 'elsewhere');
  await mkdir(elsewhere);
  await writeFile(join(elsewhere, 'keep'), 'keep');
  await rm(target, { recursive: true });
  await symlink(elsewhere, target);
  await resetPrivateDir(target);
  const st = await lstat(target);
  assert.ok(st.isDirectory() && !st.isSymbolicLink());
  assert.deepEqual(await readdir(elsewhere), ['keep'], 'the link was removed, not what it pointed at');
});
