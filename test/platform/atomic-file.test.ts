import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/platform/index.ts';

function tempDir(t: import('node:test').TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-atomic-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('writeFileAtomic writes the whole content with the given mode and leaves no temp file', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'secret');
  writeFileAtomic(path, 'first\n', 0o600);
  assert.equal(readFileSync(path, 'utf8'), 'first\n');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const big = Buffer.alloc(5 * 1024 * 1024, 7);
  writeFileAtomic(path, big, 0o600);
  assert.ok(readFileSync(path).equals(big));
  assert.deepEqual(readdirSync(dir), ['secret']);
});

test('writeFileAtomic replaces a looser file with the new mode (a new inode, not a chmod race)', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'token');
  writeFileSync(path, 'old', { mode: 0o644 });
  const before = statSync(path).ino;
  writeFileAtomic(path, 'new', 0o600);
  assert.equal(readFileSync(path, 'utf8'), 'new');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.notEqual(statSync(path).ino, before);
});

test('writeFileAtomic whose rename fails removes its temp file and leaves what was there', (t) => {
  const dir = tempDir(t);
  // A folder where the file should go: the temp file is written, the rename fails.
  const path = join(dir, 'target');
  mkdirSync(path);
  writeFileSync(join(path, 'inside'), 'old');
  assert.throws(() => writeFileAtomic(path, 'new', 0o600), /EISDIR|ENOTEMPTY|EEXIST/);
  assert.equal(readFileSync(join(path, 'inside'), 'utf8'), 'old');
  assert.deepEqual(readdirSync(dir), ['target']);
});
