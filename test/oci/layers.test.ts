// Reproducible layers: the same release gives the same bytes whatever its
// files' times, the umask or the cache; a code change leaves the
// dependencies layer alone; limits refuse with a typed error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createGzip, gunzipSync } from 'node:zlib';
import { Parser } from 'tar';
import { buildImage, GZIP_OPTIONS, LayerCache, type BaseImage, type BuildImageOptions } from '../../src/oci/index.ts';
import { isBerthError } from '../../src/errors.ts';

const BASE: BaseImage = {
  reference: { registry: 'registry.example', repository: 'base', tag: 'latest', digest: undefined },
  manifestDigest: `sha256:${'a'.repeat(64)}`,
  config: { architecture: 'amd64', os: 'linux', variant: undefined, env: ['PATH=/usr/bin:/bin'], diffIds: [], history: undefined },
  layers: [],
};

async function tempDir(t: { after(fn: () => Promise<void>): void }, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function makeRelease(dir: string): Promise<void> {
  await mkdir(join(dir, 'node_modules', 'left-pad', 'lib'), { recursive: true });
  await writeFile(join(dir, 'node_modules', 'left-pad', 'package.json'), '{"name":"left-pad","version":"1.3.0"}\n');
  await writeFile(join(dir, 'node_modules', 'left-pad', 'lib', 'index.js'), 'module.exports = (s) => s;\n');
  await mkdir(join(dir, '.venv', 'bin'), { recursive: true });
  await writeFile(join(dir, '.venv', 'bin', 'gunicorn'), '#!/bin/sh\n');
  await chmod(join(dir, '.venv', 'bin', 'gunicorn'), 0o750);
  await mkdir(join(dir, 'src'));
  await writeFile(join(dir, 'src', 'server.js'), 'console.log("v1");\n');
  await writeFile(join(dir, 'package.json'), '{"name":"app"}\n');
  await writeFile(join(dir, 'big.bin'), randomBytes(300 * 1024));
}

function options(release: string, cache: LayerCache, more: Partial<BuildImageOptions> = {}): BuildImageOptions {
  return { base: BASE, releaseDir: release, cache, app: 'shop', release: 'src-1', ...more };
}

test('the same release gives the same image digest, cold or warm, whatever the times and modes of its files', async (t) => {
  const root = await tempDir(t, 'berth-oci-repro-');
  const first = join(root, 'first');
  const second = join(root, 'second');
  await mkdir(first);
  await mkdir(second);
  await makeRelease(first);
  execFileSync('cp', ['-a', '--', `${first}/.`, second]);
  // Another machine, another umask, another day: times and group/other bits differ.
  await utimes(join(second, 'src', 'server.js'), new Date('2030-01-01'), new Date('2030-01-01'));
  await chmod(join(second, 'package.json'), 0o600);
  await chmod(join(second, '.venv', 'bin', 'gunicorn'), 0o700);
  await chmod(join(second, 'src'), 0o700);

  const coldA = await buildImage(options(first, await LayerCache.open(join(root, 'cache-a'))));
  const coldB = await buildImage(options(second, await LayerCache.open(join(root, 'cache-b'))));
  assert.equal(coldB.manifestDigest, coldA.manifestDigest);
  assert.deepEqual(coldA.appLayers.map((l) => l.reused), [false, false]);

  const warmCache = await LayerCache.open(join(root, 'cache-a'));
  const warm = await buildImage(options(first, warmCache));
  assert.equal(warm.manifestDigest, coldA.manifestDigest);
  assert.deepEqual(warm.appLayers.map((l) => l.reused), [true, true], 'a warm build finds both layers by their diff_id');

  const other = await buildImage(options(first, warmCache, { release: 'src-2' }));
  assert.notEqual(other.manifestDigest, coldA.manifestDigest, 'the release label is part of the config');
  assert.deepEqual(other.layers, coldA.layers, '…and of nothing else');
});

test('a code change makes a new app layer and reuses the dependencies layer', async (t) => {
  const root = await tempDir(t, 'berth-oci-change-');
  const release = join(root, 'release');
  await mkdir(release);
  await makeRelease(release);
  const cache = await LayerCache.open(join(root, 'cache'));
  const before = await buildImage(options(release, cache));
  await writeFile(join(release, 'src', 'server.js'), 'console.log("v2");\n');
  const after = await buildImage(options(release, cache));
  const [depsBefore, appBefore] = before.appLayers;
  const [depsAfter, appAfter] = after.appLayers;
  assert.equal(depsAfter!.digest, depsBefore!.digest);
  assert.equal(depsAfter!.reused, true);
  assert.notEqual(appAfter!.digest, appBefore!.digest);
  assert.equal(appAfter!.reused, false);
  assert.notEqual(after.manifestDigest, before.manifestDigest);
});

test('layers hold sorted entries owned by 0:0 with one mtime, normalised modes, and the app folder in each', async (t) => {
  const root = await tempDir(t, 'berth-oci-entries-');
  const release = join(root, 'release');
  await mkdir(release);
  await makeRelease(release);
  await chmod(join(release, 'package.json'), 0o4755);
  const cache = await LayerCache.open(join(root, 'cache'));
  const image = await buildImage(options(release, cache, { mtime: 1_700_000_000 }));
  const entries = async (digest: string) => {
    const tar = gunzipSync(await readFile(cache.blobPath(digest as `sha256:${string}`)));
    const list: { path: string; mode: number; uid: number; gid: number; mtime: number; type: string }[] = [];
    await new Promise<void>((resolve, reject) => {
      const parser = new Parser({ onReadEntry: (e) => { list.push({ path: e.path, mode: e.mode!, uid: e.uid!, gid: e.gid!, mtime: e.mtime!.getTime() / 1000, type: e.type }); e.resume(); } });
      parser.on('end', resolve).on('error', reject);
      parser.end(tar);
    });
    return list;
  };
  const deps = await entries(image.appLayers[0]!.digest);
  const app = await entries(image.appLayers[1]!.digest);
  assert.deepEqual(deps.map((e) => e.path), ['app/', 'app/.venv/', 'app/.venv/bin/', 'app/.venv/bin/gunicorn', 'app/node_modules/', 'app/node_modules/left-pad/', 'app/node_modules/left-pad/lib/', 'app/node_modules/left-pad/lib/index.js', 'app/node_modules/left-pad/package.json']);
  assert.deepEqual(app.map((e) => e.path), ['app/', 'app/big.bin', 'app/package.json', 'app/src/', 'app/src/server.js']);
  // Folders 755; files 755 when any x bit was set (gunicorn 750; package.json 4755 loses its set-uid bit), else 644.
  const executable = new Set(['app/.venv/bin/gunicorn', 'app/package.json']);
  for (const e of [...deps, ...app]) {
    assert.deepEqual({ uid: e.uid, gid: e.gid, mtime: e.mtime }, { uid: 0, gid: 0, mtime: 1_700_000_000 }, e.path);
    assert.equal(e.mode, e.type === 'Directory' || executable.has(e.path) ? 0o755 : 0o644, e.path);
  }
});

test("zlib's gzip gives the same bytes for the same input and settings, however the input is chunked", async () => {
  const data = Buffer.concat([randomBytes(200_000), Buffer.alloc(300_000, 'abc'), randomBytes(50_000)]);
  const gzip = async (chunkSize: number) => {
    const chunks: Buffer[] = [];
    const pieces: Buffer[] = [];
    for (let i = 0; i < data.length; i += chunkSize) pieces.push(data.subarray(i, i + chunkSize));
    for await (const chunk of Readable.from(pieces).pipe(createGzip(GZIP_OPTIONS))) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };
  const reference = await gzip(512);
  for (const size of [7, 4096, 65_536, 1 << 20]) assert.deepEqual(await gzip(size), reference, `chunks of ${size}`);
  assert.equal(reference.readUInt32LE(4), 0, 'no time in the gzip header');
});

test('a release over the byte, entry or depth limit is refused with BERTH_E_IMAGE_TOO_LARGE, leaving no temp file', async (t) => {
  const root = await tempDir(t, 'berth-oci-limits-');
  const release = join(root, 'release');
  await mkdir(release);
  await makeRelease(release);
  const cache = await LayerCache.open(join(root, 'cache'));
  const tooLarge = (err: unknown) => isBerthError(err) && err.code === 'BERTH_E_IMAGE_TOO_LARGE';
  await assert.rejects(buildImage(options(release, cache, { limits: { maxBytes: 200 * 1024 } })), tooLarge);
  await assert.rejects(buildImage(options(release, cache, { limits: { maxEntries: 5 } })), tooLarge);
  await assert.rejects(buildImage(options(release, cache, { limits: { maxDepth: 2 } })), tooLarge);
  assert.deepEqual(await readdir(join(root, 'cache', 'tmp')), [], 'no temp file is left');
  // Within the limits the same release builds.
  await buildImage(options(release, cache, { limits: { maxBytes: 400 * 1024, maxEntries: 20, maxDepth: 3 } }));
});

test('options that would make a root image or leave the release are refused', async (t) => {
  const root = await tempDir(t, 'berth-oci-opts-');
  const cache = await LayerCache.open(join(root, 'cache'));
  const usage = (err: unknown) => isBerthError(err) && err.code === 'BERTH_E_USAGE';
  await assert.rejects(buildImage(options(root, cache, { uid: 0 })), usage);
  await assert.rejects(buildImage(options(root, cache, { path: ['../bin'] })), usage);
  await assert.rejects(buildImage(options(root, cache, { appDir: '/app/../etc' })), usage);
  await assert.rejects(buildImage(options(root, cache, { mtime: -1 })), usage);
});
