// The layer cache: what comes in is checked against its digest, nothing
// wrong is kept, and its folder is berth's own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chown, lstat, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { digestOf, LayerCache } from '../../src/oci/index.ts';
import { isBerthError } from '../../src/errors.ts';

async function root(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-oci-cache-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('blobs come in only when they hash to the digest and have the size asked for', async (t) => {
  const dir = await root(t);
  const cache = await LayerCache.open(join(dir, 'cache'));
  const bytes = Buffer.from('layer bytes');
  const digest = digestOf(bytes);
  const mismatch = (err: unknown) => isBerthError(err) && err.code === 'BERTH_E_DIGEST_MISMATCH';
  await assert.rejects(cache.ingest(Readable.from([Buffer.from('other bytes')]), { digest }), mismatch);
  await assert.rejects(cache.ingest(Readable.from([bytes, Buffer.from('more')]), { digest, size: bytes.length }), mismatch);
  await assert.rejects(cache.ingest(Readable.from([bytes]), { digest, size: bytes.length + 1 }), mismatch);
  assert.equal(await cache.has(digest), undefined);
  assert.deepEqual(await readdir(join(dir, 'cache', 'tmp')), []);
  assert.deepEqual(await cache.ingest(Readable.from([bytes.subarray(0, 3), bytes.subarray(3)]), { digest, size: bytes.length }), { digest, size: bytes.length });
  assert.equal(await cache.has(digest), bytes.length);
});

test('a blob corrupted on disk is refused and removed when read', async (t) => {
  const dir = await root(t);
  const cache = await LayerCache.open(join(dir, 'cache'));
  const { digest } = await cache.putBytes(Buffer.from('{"config":1}'));
  await writeFile(cache.blobPath(digest), '{"config":2}');
  await assert.rejects(cache.readSmall(digest, 1024), (err) => isBerthError(err) && err.code === 'BERTH_E_DIGEST_MISMATCH');
  assert.equal(await cache.has(digest), undefined);
});

test("the cache folder is made 0700; a link in its place or another user's folder is refused", async (t) => {
  const dir = await root(t);
  await LayerCache.open(join(dir, 'cache'));
  for (const sub of ['', 'blobs', 'blobs/sha256', 'layers', 'tmp']) assert.equal((await lstat(join(dir, 'cache', sub))).mode & 0o777, 0o700, sub);
  await mkdir(join(dir, 'elsewhere'));
  await symlink(join(dir, 'elsewhere'), join(dir, 'linked'));
  await assert.rejects(LayerCache.open(join(dir, 'linked')), (err) => isBerthError(err) && err.code === 'BERTH_E_LAYER_CACHE');
  await mkdir(join(dir, 'theirs'));
  await chown(join(dir, 'theirs'), 4242, 4242);
  await assert.rejects(LayerCache.open(join(dir, 'theirs')), (err) => isBerthError(err) && err.code === 'BERTH_E_LAYER_CACHE' && /uid 4242/.test(err.message));
});
