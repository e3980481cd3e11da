import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open as openPath, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BodyCache, readIfUnchanged, type CachedBody } from '../../../src/edge/static/body-cache.ts';
import { ByteLru } from '../../../src/edge/static/lru.ts';
import { openVerified } from '../../../src/safe-fs/index.ts';
import { tempDir } from './helpers.ts';

/** The checked open a site gives its caches. */
const open = async (path: string) => (await openVerified(path))?.handle ?? null;

function counting(transform: (raw: Buffer) => Buffer) {
  const calls = { count: 0 };
  const fn = async (raw: Buffer) => {
    calls.count++;
    await new Promise((r) => setImmediate(r)); // let concurrent callers pile up
    return transform(raw);
  };
  return { calls, fn };
}

const halve = (raw: Buffer) => raw.subarray(0, Math.floor(raw.length / 2));

test('loads once, then answers from memory', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'a.txt');
  await writeFile(file, 'hello world');
  const st = await stat(file);
  const { calls, fn } = counting(halve);
  const cache = new BodyCache(new ByteLru<string, CachedBody>(1 << 20), 'x\0', fn, open);
  const first = await cache.load(file, st.size, st.mtimeMs);
  const second = await cache.load(file, st.size, st.mtimeMs);
  assert.equal(first?.toString(), 'hello');
  assert.equal(second, first);
  assert.equal(calls.count, 1);
});

test('concurrent loads of one version share one transform', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'a.txt');
  await writeFile(file, 'x'.repeat(10_000));
  const st = await stat(file);
  const { calls, fn } = counting(halve);
  const cache = new BodyCache(new ByteLru<string, CachedBody>(1 << 20), 'x\0', fn, open);
  const results = await Promise.all(Array.from({ length: 20 }, () => cache.load(file, st.size, st.mtimeMs)));
  assert.equal(calls.count, 1);
  for (const r of results) assert.equal(r, results[0]);
});

test('a changed file is read again, never served from the old entry', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'a.txt');
  await writeFile(file, 'version one');
  const st1 = await stat(file);
  const cache = new BodyCache(new ByteLru<string, CachedBody>(1 << 20), '', null, open);
  assert.equal((await cache.load(file, st1.size, st1.mtimeMs))?.toString(), 'version one');
  await writeFile(file, 'version two!');
  const st2 = await stat(file);
  assert.equal((await cache.load(file, st2.size, st2.mtimeMs))?.toString(), 'version two!');
});

test('same size, new mtime: read again', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'a.txt');
  await writeFile(file, 'aaaa');
  await utimes(file, 1000, 1000);
  const st1 = await stat(file);
  const cache = new BodyCache(new ByteLru<string, CachedBody>(1 << 20), '', null, open);
  assert.equal((await cache.load(file, st1.size, st1.mtimeMs))?.toString(), 'aaaa');
  await writeFile(file, 'bbbb');
  await utimes(file, 2000, 2000);
  const st2 = await stat(file);
  assert.equal((await cache.load(file, st2.size, st2.mtimeMs))?.toString(), 'bbbb');
});

test('a caller with stale stats gets null and nothing is cached', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'a.txt');
  await writeFile(file, 'current');
  const st = await stat(file);
  const lru = new ByteLru<string, CachedBody>(1 << 20);
  const cache = new BodyCache(lru, '', null, open);
  assert.equal(await cache.load(file, st.size + 1, st.mtimeMs), null);
  assert.equal(await cache.load(file, st.size, st.mtimeMs - 1000), null);
  assert.equal(lru.size, 0);
});

test('a missing file gives null', async (t) => {
  const dir = await tempDir(t);
  const cache = new BodyCache(new ByteLru<string, CachedBody>(1 << 20), '', null, open);
  assert.equal(await cache.load(join(dir, 'nope'), 3, 0), null);
});

test('a transform that does not shrink is remembered as "not worth it"', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'a.bin');
  await writeFile(file, 'abc');
  const st = await stat(file);
  const { calls, fn } = counting((raw) => Buffer.concat([raw, raw]));
  const cache = new BodyCache(new ByteLru<string, CachedBody>(1 << 20), 'x\0', fn, open);
  assert.equal(await cache.load(file, st.size, st.mtimeMs), null);
  assert.equal(await cache.load(file, st.size, st.mtimeMs), null);
  assert.equal(calls.count, 1);
});

test('two caches on one LRU keep their keys apart and share its budget', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'a.txt');
  await writeFile(file, 'y'.repeat(1000));
  const st = await stat(file);
  const lru = new ByteLru<string, CachedBody>(1000);
  const a = new BodyCache(lru, 'a\0', async (raw) => raw.subarray(0, 500), open);
  const b = new BodyCache(lru, 'b\0', async (raw) => raw.subarray(0, 400), open);
  assert.equal((await a.load(file, st.size, st.mtimeMs))?.length, 500);
  assert.equal((await b.load(file, st.size, st.mtimeMs))?.length, 400);
  assert.ok(lru.bytes <= 1000);
  assert.equal(lru.size, 1, 'the second entry evicted the first to stay in budget');
});

test('a body larger than the budget is served but not kept', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'a.txt');
  await writeFile(file, 'z'.repeat(5000));
  const st = await stat(file);
  const lru = new ByteLru<string, CachedBody>(1000);
  const cache = new BodyCache(lru, '', null, open);
  assert.equal((await cache.load(file, st.size, st.mtimeMs))?.length, 5000);
  assert.equal(lru.size, 0);
});

test('readIfUnchanged refuses a file whose stats moved', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'a.txt');
  await writeFile(file, 'abc');
  const st = await stat(file);
  const fh = await openPath(file, 'r');
  t.after(() => fh.close());
  assert.equal((await readIfUnchanged(fh, st.size, st.mtimeMs))?.toString(), 'abc');
  assert.equal(await readIfUnchanged(fh, 2, st.mtimeMs), null);
  assert.equal(await readIfUnchanged(fh, st.size, st.mtimeMs + 1), null);
});

test('a file its opener refuses is neither read nor kept: only checked reads reach the cache', async (t) => {
  const dir = await tempDir(t);
  const real = join(dir, 'real.txt');
  await writeFile(real, 'the real file');
  // Not canonical: a path through a link never verifies, whatever it leads to.
  await symlink('real.txt', join(dir, 'link.txt'));
  const st = await stat(real);
  const lru = new ByteLru<string, CachedBody>(1 << 20);
  const cache = new BodyCache(lru, '', null, open);
  assert.equal(await cache.load(join(dir, 'link.txt'), st.size, st.mtimeMs), null);
  assert.equal(lru.size, 0);
  const refusing = new BodyCache(lru, 'r\0', null, async () => null);
  assert.equal(await refusing.load(real, st.size, st.mtimeMs), null);
  assert.equal(lru.size, 0);
});

test('errors that are not file-system errors are not swallowed', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'a.txt');
  await writeFile(file, 'abc');
  const st = await stat(file);
  const cache = new BodyCache(
    new ByteLru<string, CachedBody>(1 << 20),
    'x\0',
    async () => {
      throw new TypeError('bug');
    },
    open,
  );
  await assert.rejects(cache.load(file, st.size, st.mtimeMs), TypeError);
  // and a failed attempt does not poison later ones
  await assert.rejects(cache.load(file, st.size, st.mtimeMs), TypeError);
});
