import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measureDisk, parseDu } from '../../src/disk/index.ts';

test('parseDu reads du -0 records (a path may hold tabs and newlines); anything else is skipped', () => {
  const sizes = parseDu('4096\t/a\x008192\t/b c\tand\nmore\x00junk\x00x\t/not-a-number\x00\x00');
  assert.deepEqual([...sizes], [['/a', 4096], ['/b c\tand\nmore', 8192]]);
});

test('measureDisk counts each folder’s blocks, a missing folder as nothing, and never follows a link out', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-du-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const outside = join(root, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'big'), Buffer.alloc(4 * 1024 * 1024, 1));
  const home = join(root, 'home');
  await mkdir(home);
  await writeFile(join(home, 'one'), Buffer.alloc(1024 * 1024, 1));
  // The app's link to a big folder elsewhere counts as a link, not as what it points at.
  await symlink(outside, join(home, 'link'));
  const data = join(root, 'data');
  await mkdir(data);
  // A sparse file costs what it occupies, not its apparent size.
  const { open } = await import('node:fs/promises');
  const sparse = await open(join(data, 'sparse'), 'w');
  await sparse.truncate(1024 ** 3);
  await sparse.close();
  const usage = await measureDisk({ releases: join(root, 'missing'), cache: null, home, data, logs: null }, () => 7);
  assert.equal(usage.parts.releases, 0);
  assert.equal(usage.parts.cache, 0);
  assert.ok(usage.parts.home >= 1024 * 1024 && usage.parts.home < 2 * 1024 * 1024, `home: ${usage.parts.home}`);
  assert.ok(usage.parts.data < 1024 * 1024, `a sparse gigabyte counted as ${usage.parts.data}`);
  assert.equal(usage.totalBytes, usage.parts.home + usage.parts.data);
  assert.equal(usage.measuredAt, 7);
});
