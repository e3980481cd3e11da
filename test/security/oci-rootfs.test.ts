// The attack: a base image's layers are hostile input (a registry is the
// network) and root unpacks them into the root builds run in. Hostile
// layers must never write, link or remove anything outside that root —
// through absolute names, `..`, links made by an earlier layer or earlier
// in the same layer, hard links or whiteouts — nor make devices or set-id
// programs; a layer over the limits or unlike its diff_id leaves no root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { entryParts, LayerCache, mediaTypes, unpackRootfs, type BaseImage, type Digest } from '../../src/oci/index.ts';
import { isBerthError } from '../../src/errors.ts';

interface RawEntry {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'BlockDevice' | 'FIFO';
  mode?: number;
  body?: string;
  linkpath?: string;
}

function tarOf(entries: RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const body = Buffer.from(entry.body ?? '');
    const type = entry.type ?? 'File';
    const block = Buffer.alloc(512);
    // Long names go through a pax header, as image writers do.
    const header = new Header({ path: entry.path, type, mode: entry.mode ?? (type === 'Directory' ? 0o755 : 0o644), uid: 0, gid: 0, size: body.length, mtime: new Date('2024-01-01T00:00:00Z'), linkpath: entry.linkpath ?? '' });
    header.encode(block);
    assert.ok(!header.needPax, `the test's entry ${entry.path} fits a ustar header`);
    parts.push(block, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

function sha(bytes: Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

interface Scene {
  readonly dir: string;
  /** A folder outside the root that nothing may touch; holds `secret`. */
  readonly outside: string;
  readonly rootsDir: string;
  readonly cache: LayerCache;
  base(layers: RawEntry[][], options?: { wrongDiffId?: boolean }): Promise<BaseImage>;
  unpack(layers: RawEntry[][], options?: Parameters<typeof unpackRootfs>[2] extends infer O ? Partial<O> : never): Promise<string>;
}

async function scene(t: { after(fn: () => Promise<void>): void }): Promise<Scene> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-rootfs-attack-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const outside = join(dir, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'secret'), 'the host\'s\n');
  const cache = await LayerCache.open(join(dir, 'cache'));
  const rootsDir = join(dir, 'roots');
  let n = 0;
  const base = async (layers: RawEntry[][], options: { wrongDiffId?: boolean } = {}): Promise<BaseImage> => {
    const descriptors = [];
    const diffIds: Digest[] = [];
    for (const entries of layers) {
      const tar = tarOf(entries);
      const blob = await cache.putBytes(gzipSync(tar));
      descriptors.push({ mediaType: mediaTypes.OCI_LAYER_GZIP, digest: blob.digest, size: blob.size });
      diffIds.push(options.wrongDiffId ? sha(Buffer.from('another layer')) : sha(tar));
    }
    return {
      reference: { registry: 'registry.example', repository: 'base', tag: 'latest', digest: undefined },
      // Each scene's bases get their own root.
      manifestDigest: sha(Buffer.from(`manifest ${dir} ${n++}`)),
      config: { architecture: 'amd64', os: 'linux', variant: undefined, env: [], diffIds, history: undefined },
      layers: descriptors,
    };
  };
  return {
    dir,
    outside,
    rootsDir,
    cache,
    base,
    async unpack(layers, options = {}) {
      return (await unpackRootfs(await base(layers), cache, { rootsDir, ...options })).path;
    },
  };
}

async function untouched(s: Scene): Promise<void> {
  assert.deepEqual(await readdir(s.outside), ['secret'], 'nothing was written next to the secret');
  assert.equal(await readFile(join(s.outside, 'secret'), 'utf8'), 'the host\'s\n');
  assert.equal((await stat(join(s.outside, 'secret'))).nlink, 1, 'no hard link was made to the secret');
}

async function refused(s: Scene, layers: RawEntry[][], pattern: RegExp, code = 'BERTH_E_BASE_LAYER'): Promise<void> {
  await assert.rejects(s.unpack(layers), (err: unknown) => {
    assert.ok(isBerthError(err), String(err));
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  });
  assert.deepEqual(await readdir(s.rootsDir), [], 'no root, and no half-made one, is left');
  await untouched(s);
}

/** Where a host path lands inside a root. */
function inRoot(root: string, hostPath: string): string {
  return join(root, hostPath);
}

test('absolute names land inside the root', async (t) => {
  const s = await scene(t);
  const root = await s.unpack([[{ path: `${s.outside}/pwned`, body: 'x' }, { path: '/etc/passwd', body: 'root:x:0:0::/root:/bin/sh\n' }]]);
  await untouched(s);
  assert.equal(await readFile(inRoot(root, `${s.outside}/pwned`), 'utf8'), 'x');
  assert.match(await readFile(join(root, 'etc', 'passwd'), 'utf8'), /^root:x:0:0/);
});

test('a ".." name is refused and nothing is left', async (t) => {
  const s = await scene(t);
  await refused(s, [[{ path: 'ok', body: 'fine' }, { path: `a/../../../../../../..${s.outside}/pwned`, body: 'x' }]], /climbs out/);
});

test("a link made by an earlier layer is followed inside the root, never to the host's folder", async (t) => {
  const s = await scene(t);
  const root = await s.unpack([
    [{ path: 'usr/', type: 'Directory' }, { path: 'usr/lib', type: 'SymbolicLink', linkpath: s.outside }],
    [{ path: 'usr/lib/secret', body: 'replaced' }, { path: 'usr/lib/passwd', body: 'x' }],
  ]);
  await untouched(s);
  assert.equal(await readlink(join(root, 'usr', 'lib')), s.outside, 'the link stays a link');
  assert.equal(await readFile(inRoot(root, `${s.outside}/passwd`), 'utf8'), 'x', 'written where the link leads inside the root');
  assert.equal(await readFile(inRoot(root, `${s.outside}/secret`), 'utf8'), 'replaced');
});

test('a link earlier in the same layer, relative and climbing, is clamped at the root', async (t) => {
  const s = await scene(t);
  const climb = `${'../'.repeat(20)}${s.outside.slice(1)}`;
  const root = await s.unpack([
    [
      { path: 'evil', type: 'SymbolicLink', linkpath: s.outside },
      { path: 'evil/a', body: 'a' },
      { path: 'deep/er/', type: 'Directory' },
      { path: 'deep/er/up', type: 'SymbolicLink', linkpath: climb },
      { path: 'deep/er/up/b', body: 'b' },
      { path: 'deep/er/up/secret', body: 'replaced' },
    ],
  ]);
  await untouched(s);
  assert.equal(await readFile(inRoot(root, `${s.outside}/a`), 'utf8'), 'a');
  assert.equal(await readFile(inRoot(root, `${s.outside}/b`), 'utf8'), 'b');
});

test("an entry over a link replaces the link, never writes its target", async (t) => {
  const s = await scene(t);
  const root = await s.unpack([[{ path: 'x', type: 'SymbolicLink', linkpath: `${s.outside}/secret` }], [{ path: 'x', body: 'mine' }, { path: 'd', type: 'SymbolicLink', linkpath: s.outside }, { path: 'd', type: 'Directory', mode: 0o700 }]]);
  await untouched(s);
  assert.equal(await readFile(join(root, 'x'), 'utf8'), 'mine');
  assert.ok((await lstat(join(root, 'd'))).isDirectory(), 'the folder replaced the link');
  assert.equal((await stat(s.outside)).mode & 0o777, 0o755, "the host folder's mode was not changed through the link");
});

test('hard links only to files of the layers before it, resolved inside the root', async (t) => {
  const s = await scene(t);
  await refused(s, [[{ path: 'h', type: 'Link', linkpath: `${s.outside}/secret` }]], /not a file of the layers before it/);
  await refused(s, [[{ path: 'd', type: 'SymbolicLink', linkpath: s.outside }, { path: 'h', type: 'Link', linkpath: 'd/secret' }]], /not a file of the layers before it/);
  await refused(s, [[{ path: 'l', type: 'SymbolicLink', linkpath: `${s.outside}/secret` }, { path: 'h', type: 'Link', linkpath: 'l' }]], /not a file of the layers before it/);
  await refused(s, [[{ path: 'h', type: 'Link', linkpath: '../../../etc/passwd' }]], /climbs out/);
  const root = await s.unpack([[{ path: 'bin/tool', body: 'tool', mode: 0o755 }], [{ path: 'bin/alias', type: 'Link', linkpath: 'bin/tool' }]]);
  assert.equal((await stat(join(root, 'bin', 'alias'))).ino, (await stat(join(root, 'bin', 'tool'))).ino, 'a hard link inside the root is made');
});

test('devices and FIFOs are not made; set-id bits are dropped', async (t) => {
  const s = await scene(t);
  const root = await s.unpack([
    [
      { path: 'dev/', type: 'Directory' },
      { path: 'dev/sda', type: 'BlockDevice' },
      { path: 'dev/mem', type: 'CharacterDevice' },
      { path: 'fifo', type: 'FIFO' },
      { path: 'bin/su', body: '#!/bin/sh\n', mode: 0o4755 },
      { path: 'bin/wall', body: '#!/bin/sh\n', mode: 0o2755 },
      { path: 'shared/', type: 'Directory', mode: 0o3777 },
    ],
  ]);
  assert.deepEqual(await readdir(join(root, 'dev')), []);
  await assert.rejects(lstat(join(root, 'fifo')), { code: 'ENOENT' });
  assert.equal((await stat(join(root, 'bin', 'su'))).mode & 0o7777, 0o755);
  assert.equal((await stat(join(root, 'bin', 'wall'))).mode & 0o7777, 0o755);
  assert.equal((await stat(join(root, 'shared'))).mode & 0o7777, 0o1777, 'set-gid dropped from a folder, sticky kept');
  assert.equal((await stat(join(root, 'bin', 'su'))).uid, 0);
});

test('whiteouts hide what the layers below made, and never reach through a link', async (t) => {
  const s = await scene(t);
  const root = await s.unpack([
    [
      { path: 'a/b', body: 'b' },
      { path: 'a/c', body: 'c' },
      { path: 'opq/old', body: 'old' },
      { path: 'l', type: 'SymbolicLink', linkpath: s.outside },
      { path: 'm', type: 'SymbolicLink', linkpath: s.outside },
    ],
    [
      { path: 'a/.wh.b' },
      { path: 'opq/', type: 'Directory' },
      { path: 'opq/new', body: 'new' },
      { path: 'opq/.wh..wh..opq' },
      { path: 'l/.wh.secret' },
      { path: 'l/.wh..wh..opq' },
      { path: '.wh.m' },
    ],
  ]);
  await untouched(s);
  assert.deepEqual(await readdir(join(root, 'a')), ['c']);
  assert.deepEqual(await readdir(join(root, 'opq')), ['new'], "the opaque folder keeps this layer's entry only");
  assert.equal(await readlink(join(root, 'l')), s.outside);
  await assert.rejects(lstat(join(root, 'm')), { code: 'ENOENT' }, 'the whiteout removed the link itself');
  await refused(await scene(t), [[{ path: 'x/.wh...' }]], /whiteout of nothing/);
});

test('link loops, limits and a wrong diff_id are refused, leaving no root', async (t) => {
  const s = await scene(t);
  await refused(s, [[{ path: 'a', type: 'SymbolicLink', linkpath: 'b' }, { path: 'b', type: 'SymbolicLink', linkpath: 'a' }, { path: 'a/x', body: 'x' }]], /more than 40 links/);
  await refused(s, [[{ path: 'f', type: 'File', body: 'x' }, { path: 'f/g', body: 'y' }]], /not a folder/);
  const many = Array.from({ length: 20 }, (_, i) => ({ path: `f${i}`, body: 'x' }));
  await assert.rejects(s.unpack([many], { limits: { maxEntries: 10 } }), /more than 10 entries/);
  await assert.rejects(s.unpack([[{ path: 'big', body: 'x'.repeat(100_000) }]], { limits: { maxBytes: 50_000 } }), /more than 50000 bytes/);
  assert.deepEqual(await readdir(s.rootsDir), []);
  const wrong = await s.base([[{ path: 'f', body: 'x' }]], { wrongDiffId: true });
  await assert.rejects(unpackRootfs(wrong, s.cache, { rootsDir: s.rootsDir }), (err: unknown) => isBerthError(err) && err.code === 'BERTH_E_DIGEST_MISMATCH');
  assert.deepEqual(await readdir(s.rootsDir), []);
  assert.throws(() => entryParts('a/\0b'), /NUL/);
  assert.deepEqual(entryParts('./usr//lib/./x'), ['usr', 'lib', 'x']);
});

test('mount points are made real: a link where the sandbox mounts is replaced, not followed', async (t) => {
  const s = await scene(t);
  const base = await s.base([
    [
      { path: 'etc/', type: 'Directory' },
      { path: 'etc/resolv.conf', type: 'SymbolicLink', linkpath: `${s.outside}/secret` },
      { path: 'etc/passwd', type: 'SymbolicLink', linkpath: '../outside' },
      { path: 'app', type: 'SymbolicLink', linkpath: s.outside },
      { path: 'tmp', type: 'SymbolicLink', linkpath: '/' },
    ],
  ]);
  const mountPoints = { dirs: ['/app', '/tmp', '/proc', '/.berth/tools'], files: ['/etc/resolv.conf', '/etc/passwd'] };
  // What an unpack killed two days ago left goes; one that may still run stays.
  await mkdir(join(s.rootsDir, '.unpacking-old', 'usr'), { recursive: true });
  await utimes(join(s.rootsDir, '.unpacking-old'), new Date(Date.now() - 2 * 86_400_000), new Date(Date.now() - 2 * 86_400_000));
  await mkdir(join(s.rootsDir, '.unpacking-now'));
  const first = await unpackRootfs(base, s.cache, { rootsDir: s.rootsDir, mountPoints });
  assert.deepEqual((await readdir(s.rootsDir)).filter((name) => name.startsWith('.')), ['.unpacking-now']);
  await rm(join(s.rootsDir, '.unpacking-now'), { recursive: true });
  assert.equal(first.reused, false);
  await untouched(s);
  for (const dir of mountPoints.dirs) assert.ok((await lstat(join(first.path, dir))).isDirectory(), dir);
  for (const file of mountPoints.files) {
    const found = await lstat(join(first.path, file));
    assert.ok(found.isFile() && found.size === 0, file);
  }
  const again = await unpackRootfs(base, s.cache, { rootsDir: s.rootsDir, mountPoints });
  assert.deepEqual(again, { path: first.path, reused: true, skipped: 0 }, 'made once, then reused');
  assert.deepEqual((await readdir(s.rootsDir)).filter((name) => name.startsWith('.')), [], 'no temporary folder is left');
  assert.equal((await stat(s.rootsDir)).mode & 0o777, 0o700);
  assert.equal((await stat(first.path)).mode & 0o777, 0o755);
});
