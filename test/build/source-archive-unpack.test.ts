import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gzipSync } from 'node:zlib';
import { Header, create as createTar } from 'tar';
import { unpackSource, type UnpackLimits } from '../../src/build/index.ts';
import { isBerthError } from '../../src/errors.ts';

type After = { after(fn: () => Promise<void> | void): void };

// ------------------------------------------------------- archives by hand

type EntryType = 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'BlockDevice' | 'FIFO' | 'SparseFile';

interface RawEntry {
  path: string;
  type?: EntryType;
  mode?: number;
  body?: string | Buffer;
  linkpath?: string;
  /** Records of a pax header written before this entry ('x', or 'g' when global). */
  pax?: Record<string, string | Buffer>;
  globalPax?: Record<string, string | Buffer>;
  /** Raw bytes for the name field, for names no encoder would write. */
  rawName?: Buffer;
}

/** One pax header with exactly these records (node-tar's Pax only writes the keys it knows). */
function paxHeader(records: Record<string, string | Buffer>, global: boolean): Buffer {
  const body = Buffer.concat(
    Object.entries(records).map(([key, value]) => {
      const rest = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
      let length = rest.length + 1;
      while (String(length).length + rest.length !== length) length++;
      return Buffer.concat([Buffer.from(String(length)), rest]);
    }),
  );
  const block = Buffer.alloc(512);
  new Header({ path: 'PaxHeader/x', type: global ? 'GlobalExtendedHeader' : 'ExtendedHeader', mode: 0o644, size: body.length, mtime: new Date(0) }).encode(block);
  return Buffer.concat([block, body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}

function fixChecksum(block: Buffer): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
}

/** Uncompressed tar data with these entries, bad ones included as they are. */
function tarOf(entries: RawEntry[], { end = true }: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const body = typeof entry.body === 'string' ? Buffer.from(entry.body) : (entry.body ?? Buffer.alloc(0));
    if (entry.globalPax) parts.push(paxHeader(entry.globalPax, true));
    if (entry.pax) parts.push(paxHeader(entry.pax, false));
    const block = Buffer.alloc(512);
    const type = entry.type ?? 'File';
    new Header({ path: entry.path, type, mode: entry.mode ?? (type === 'Directory' ? 0o755 : 0o644), uid: 0, gid: 0, size: body.length, mtime: new Date('2024-01-01T00:00:00Z'), linkpath: entry.linkpath ?? '' }).encode(block);
    if (entry.rawName) {
      block.fill(0, 0, 100);
      entry.rawName.copy(block, 0);
      fixChecksum(block);
    } else {
      // The hostile entry really is in the archive: node-tar reads back what was meant.
      const decoded = new Header(block);
      assert.ok(decoded.cksumValid);
      assert.equal(decoded.path, entry.path);
      // (node-tar reads a file named `a/` as a folder: the ambiguity berth refuses.)
      if (!(type === 'File' && entry.path.endsWith('/'))) assert.equal(decoded.type, type);
    }
    parts.push(block, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  if (end) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const tgz = (entries: RawEntry[]) => gzipSync(tarOf(entries));

// ------------------------------------------------------------- the harness

interface Place {
  base: string;
  dest: string;
  sentinel: string;
  /** A name unique to this test, for paths that try to land outside. */
  token: string;
}

/** dest beside a sentinel folder, both in a temp folder of their own. */
async function place(t: After): Promise<Place> {
  const base = await mkdtemp(join(tmpdir(), 'berth-unpack-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const dest = join(base, 'dest');
  const sentinel = join(base, 'sentinel');
  await mkdir(dest);
  await mkdir(sentinel);
  await writeFile(join(sentinel, 'keep.txt'), 'untouched');
  return { base, dest, sentinel, token: `berth-escaped-${randomBytes(6).toString('hex')}` };
}

async function assertRefused(where: Place, archive: Buffer | Readable, expected: { code: string; status: number; message: RegExp; limits?: Partial<UnpackLimits> }): Promise<void> {
  const input = Buffer.isBuffer(archive) ? Readable.from([archive]) : archive;
  await assert.rejects(unpackSource(input, where.dest, expected.limits), (err: unknown) => {
    assert.ok(isBerthError(err), `expected a BerthError, got ${String(err)}`);
    assert.equal(err.code, expected.code);
    assert.equal(err.status, expected.status);
    assert.match(err.message, expected.message);
    assert.ok(err.hint);
    return true;
  });
  // Nothing half-unpacked is kept, and nothing landed beside or above dest.
  assert.deepEqual(await readdir(where.dest), []);
  assert.deepEqual((await readdir(where.base)).sort(), ['dest', 'sentinel']);
  assert.deepEqual(await readdir(where.sentinel), ['keep.txt']);
  assert.equal(await readFile(join(where.sentinel, 'keep.txt'), 'utf8'), 'untouched');
  assert.equal(existsSync(join(dirname(where.base), where.token)), false);
  assert.equal(existsSync(join('/tmp', where.token)), false);
}

const ARCHIVE = { code: 'BERTH_E_ARCHIVE', status: 400 };
const TOO_LARGE = { code: 'BERTH_E_ARCHIVE_TOO_LARGE', status: 413 };

interface Case {
  name: string;
  archive(where: Place): Buffer;
  expect: { code: string; status: number; message: RegExp; limits?: Partial<UnpackLimits> };
}

const ok = { path: 'index.js', body: 'console.log(1)\n' };

const cases: Case[] = [
  {
    name: 'an absolute path',
    archive: (w) => tgz([ok, { path: `${w.sentinel}/pwned`, body: 'x' }]),
    expect: { ...ARCHIVE, message: /sentinel\/pwned" is an absolute path/ },
  },
  {
    name: 'a ../ traversal',
    archive: () => tgz([ok, { path: '../sentinel/pwned', body: 'x' }]),
    expect: { ...ARCHIVE, message: /"\.\.\/sentinel\/pwned" has a "\.\." segment/ },
  },
  {
    name: 'a ".." in the middle of a path (a/../../x)',
    archive: (w) => tgz([ok, { path: 'a/', type: 'Directory' }, { path: `a/../../../${w.token}`, body: 'x' }]),
    expect: { ...ARCHIVE, message: /has a "\.\." segment/ },
  },
  {
    name: 'a directory traversal (../)',
    archive: (w) => tgz([ok, { path: `../${w.token}/`, type: 'Directory' }]),
    expect: { ...ARCHIVE, message: /has a "\.\." segment/ },
  },
  {
    name: 'a backslash path',
    archive: () => tgz([ok, { path: '..\\..\\pwned', body: 'x' }]),
    expect: { ...ARCHIVE, message: /contains a backslash/ },
  },
  {
    name: 'a NUL byte in a pax path',
    archive: () => tgz([ok, { path: 'placeholder.txt', body: 'x', pax: { path: 'safe.txt\0/../../pwned' } }]),
    expect: { ...ARCHIVE, message: /contains a NUL byte/ },
  },
  {
    name: 'a name that is not valid UTF-8',
    archive: () => tgz([ok, { path: 'xxxx.txt', body: 'x', rawName: Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x2e, 0x74, 0x78, 0x74]) }]),
    expect: { ...ARCHIVE, message: /not valid UTF-8/ },
  },
  {
    name: 'a pax path that is not valid UTF-8',
    archive: () => tgz([ok, { path: 'placeholder.txt', body: 'x', pax: { path: Buffer.from([0x61, 0xc3, 0x28]) } }]),
    expect: { ...ARCHIVE, message: /not valid UTF-8/ },
  },
  {
    name: 'pax names declared binary (hdrcharset)',
    archive: () => tgz([ok, { path: 'placeholder.txt', body: 'x', pax: { hdrcharset: 'BINARY', path: 'a.txt' } }]),
    expect: { ...ARCHIVE, message: /hdrcharset/ },
  },
  {
    name: 'a global pax header renaming every entry',
    archive: () => tgz([{ ...ok, globalPax: { path: '../pwned' } }]),
    expect: { ...ARCHIVE, message: /global pax header setting path/ },
  },
  {
    name: 'a symlink to an absolute path outside',
    archive: (w) => tgz([ok, { path: 'passwd', type: 'SymbolicLink', linkpath: '/etc/passwd' }, { path: 'sneaky', type: 'SymbolicLink', linkpath: w.sentinel }]),
    expect: { ...ARCHIVE, message: /"passwd" is a link that is absolute \(-> \/etc\/passwd\)/ },
  },
  {
    name: 'a relative symlink leading outside',
    archive: () => tgz([ok, { path: 'sub/', type: 'Directory' }, { path: 'sub/up', type: 'SymbolicLink', linkpath: '../../sentinel' }]),
    expect: { ...ARCHIVE, message: /"sub\/up" is a link that leads outside the folder \(-> \.\.\/\.\.\/sentinel\)/ },
  },
  {
    name: 'a symlink to outside, then a file written through it',
    archive: (w) => tgz([ok, { path: 'a', type: 'SymbolicLink', linkpath: w.sentinel }, { path: 'a/pwned', body: 'x' }]),
    expect: { ...ARCHIVE, message: /"a" is a link that is absolute/ },
  },
  {
    name: 'a symlink inside, then a file written through it',
    archive: () => tgz([ok, { path: 'sub/', type: 'Directory' }, { path: 'a', type: 'SymbolicLink', linkpath: 'sub' }, { path: 'a/pwned', body: 'x' }]),
    expect: { ...ARCHIVE, message: /"a\/pwned" would be written through the link "a"/ },
  },
  {
    name: 'a symlink inside, then a folder made through it',
    archive: () => tgz([ok, { path: 'sub/', type: 'Directory' }, { path: 'a', type: 'SymbolicLink', linkpath: 'sub' }, { path: 'a/deeper/', type: 'Directory' }]),
    expect: { ...ARCHIVE, message: /"a\/deeper\/" would be written through the link "a"/ },
  },
  {
    name: 'a file written over a symlink of the same name',
    archive: () => tgz([ok, { path: 'target.txt', body: 't' }, { path: 'a', type: 'SymbolicLink', linkpath: 'target.txt' }, { path: 'a', body: 'overwrite' }]),
    expect: { ...ARCHIVE, message: /"a" appears twice/ },
  },
  {
    name: 'a link that only leads outside once a later link exists (m -> l/.., then l -> .)',
    archive: () => tgz([ok, { path: 'm', type: 'SymbolicLink', linkpath: 'l/..' }, { path: 'l', type: 'SymbolicLink', linkpath: '.' }]),
    expect: { ...ARCHIVE, message: /"m" is a link that leads outside the folder/ },
  },
  {
    name: 'a hard link to /etc/passwd',
    archive: () => tgz([ok, { path: 'passwd', type: 'Link', linkpath: '/etc/passwd' }]),
    expect: { ...ARCHIVE, message: /"passwd" is a hard link/ },
  },
  {
    name: 'a hard link inside the archive',
    archive: () => tgz([ok, { path: 'copy.js', type: 'Link', linkpath: 'index.js' }]),
    expect: { ...ARCHIVE, message: /"copy\.js" is a hard link/ },
  },
  {
    name: 'a character device',
    archive: () => tgz([ok, { path: 'null', type: 'CharacterDevice' }]),
    expect: { ...ARCHIVE, message: /"null" is a device/ },
  },
  {
    name: 'a block device',
    archive: () => tgz([ok, { path: 'sda', type: 'BlockDevice' }]),
    expect: { ...ARCHIVE, message: /"sda" is a device/ },
  },
  {
    name: 'a FIFO',
    archive: () => tgz([ok, { path: 'pipe', type: 'FIFO' }]),
    expect: { ...ARCHIVE, message: /"pipe" is a FIFO/ },
  },
  {
    name: 'an entry type berth does not know (sparse file)',
    archive: () => tgz([ok, { path: 'sparse', type: 'SparseFile' }]),
    expect: { ...ARCHIVE, message: /"sparse" has the unsupported tar type "S"/ },
  },
  {
    name: 'a setuid file',
    archive: () => tgz([ok, { path: 'su', body: '#!/bin/sh\n', mode: 0o4755 }]),
    expect: { ...ARCHIVE, message: /"su" has mode 4755: setuid, setgid and sticky bits are not accepted/ },
  },
  {
    name: 'a sticky folder',
    archive: () => tgz([ok, { path: 'tmp/', type: 'Directory', mode: 0o1777 }]),
    expect: { ...ARCHIVE, message: /"tmp\/" has mode 1777/ },
  },
  {
    name: 'a file with a folder\'s name (old-style a/)',
    archive: () => tgz([ok, { path: 'a/', body: '' }, { path: 'a/x', body: 'x' }]),
    expect: { ...ARCHIVE, message: /"a\/" is a file with a folder's name/ },
  },
  {
    name: 'the same file twice',
    archive: () => tgz([ok, { path: 'index.js', body: 'again' }]),
    expect: { ...ARCHIVE, message: /"index\.js" appears twice/ },
  },
  {
    name: 'a folder over a file',
    archive: () => tgz([ok, { path: 'index.js/', type: 'Directory' }]),
    expect: { ...ARCHIVE, message: /"index\.js\/" would replace the file written before it/ },
  },
  {
    name: 'a file inside a file',
    archive: () => tgz([ok, { path: 'index.js/inner', body: 'x' }]),
    expect: { ...ARCHIVE, message: /"index\.js\/inner" would be written through the file "index\.js"/ },
  },
  {
    name: 'data that is not gzip',
    archive: () => Buffer.from('this is not a tarball, just some text that someone uploaded by mistake\n'.repeat(20)),
    expect: { ...ARCHIVE, message: /not gzip data/ },
  },
  {
    name: 'a tarball that is not gzipped',
    archive: () => tarOf([ok]),
    expect: { ...ARCHIVE, message: /not gzip data/ },
  },
  {
    name: 'gzip data that is not a tar archive',
    archive: () => gzipSync(randomBytes(4096)),
    expect: { ...ARCHIVE, message: /gzip data but not a tar archive/ },
  },
  {
    name: 'a truncated upload (gzip cut short)',
    archive: () => {
      const whole = tgz([ok, { path: 'big.bin', body: randomBytes(200_000) }]);
      return whole.subarray(0, Math.floor(whole.length / 2));
    },
    expect: { ...ARCHIVE, message: /truncated/ },
  },
  {
    name: 'a tar cut inside an entry (intact gzip)',
    archive: () => gzipSync(tarOf([ok, { path: 'big.bin', body: randomBytes(10_000) }]).subarray(0, 2048)),
    expect: { ...ARCHIVE, message: /truncated inside entry "big\.bin"/ },
  },
  {
    name: 'a tar without its end-of-archive marker',
    archive: () => gzipSync(tarOf([ok], { end: false })),
    expect: { ...ARCHIVE, message: /truncated: .*without the end-of-archive marker/ },
  },
  {
    name: 'data hidden after the end-of-archive marker',
    archive: () => gzipSync(Buffer.concat([tarOf([ok]), tarOf([{ path: 'smuggled.js', body: 'x' }])])),
    expect: { ...ARCHIVE, message: /data after the end-of-archive marker/ },
  },
  {
    name: 'an upload over the compressed-size limit',
    archive: () => tgz([ok, { path: 'noise.bin', body: randomBytes(64 * 1024) }]),
    expect: { ...TOO_LARGE, message: /larger than 16384 bytes/, limits: { maxCompressedBytes: 16 * 1024 } },
  },
  {
    name: 'an upload that unpacks past the limit in many small files (counted, not claimed)',
    archive: () => tgz([ok, ...Array.from({ length: 20 }, (_, i) => ({ path: `zeros-${i}.bin`, body: Buffer.alloc(8 * 1024) }))]),
    expect: { ...TOO_LARGE, message: /unpacks to more than 65536 bytes/, limits: { maxUnpackedBytes: 64 * 1024 } },
  },
  {
    name: 'a file claiming more than the unpacked limit (a gzip bomb)',
    archive: () => tgz([ok, { path: 'bomb.bin', body: Buffer.alloc(1024 * 1024) }]),
    expect: { ...TOO_LARGE, message: /"bomb\.bin" claims 1048576 bytes/, limits: { maxUnpackedBytes: 64 * 1024 } },
  },
  {
    name: 'more entries than the limit',
    archive: () => tgz(Array.from({ length: 10 }, (_, i) => ({ path: `f${i}.js`, body: '' }))),
    expect: { ...TOO_LARGE, message: /more than 5 entries \(at "f5\.js"\)/, limits: { maxEntries: 5 } },
  },
  {
    name: 'an empty archive',
    archive: () => tgz([]),
    expect: { code: 'BERTH_E_NOTHING_TO_DEPLOY', status: 400, message: /the upload holds no files/ },
  },
  {
    name: 'an archive of empty folders',
    archive: () => tgz([{ path: 'a/', type: 'Directory' }, { path: 'a/b/', type: 'Directory' }]),
    expect: { code: 'BERTH_E_NOTHING_TO_DEPLOY', status: 400, message: /the upload holds no files/ },
  },
];

for (const refusal of cases) {
  test(`unpacking refuses ${refusal.name}, keeps nothing and touches nothing outside`, async (t) => {
    const where = await place(t);
    await assertRefused(where, refusal.archive(where), refusal.expect);
  });
}

test('a refusal leaves the input stream for the caller to answer and close', async (t) => {
  const where = await place(t);
  const archive = tgz([ok, { path: 'noise.bin', body: randomBytes(256 * 1024) }]);
  const input = Readable.from(Array.from({ length: archive.length / 1024 + 1 }, (_, i) => archive.subarray(i * 1024, (i + 1) * 1024)), { objectMode: false });
  await assertRefused(where, input, { ...TOO_LARGE, message: /larger than/, limits: { maxCompressedBytes: 8 * 1024 } });
  assert.equal(input.destroyed, false);
  input.destroy();
});

test('archives from other tar writers unpack: node-tar, GNU tar (gnu and posix formats)', async (t) => {
  const source = await mkdtemp(join(tmpdir(), 'berth-writers-'));
  t.after(() => rm(source, { recursive: true, force: true }));
  const long = `${'d'.repeat(80)}/${'f'.repeat(120)}-ü.txt`;
  await mkdir(join(source, dirname(long)), { recursive: true });
  await writeFile(join(source, long), 'long');
  await writeFile(join(source, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
  await execFileSync('ln', ['-s', 'run.sh', join(source, 'link')]);

  const archives: Record<string, Buffer> = {
    'node-tar': await buffer(createTar({ gzip: true, cwd: source, portable: true }, ['.'])),
    'gnu tar --format=gnu': execFileSync('tar', ['--format=gnu', '-czf', '-', '-C', source, '.']),
    'gnu tar --format=posix': execFileSync('tar', ['--format=posix', '-czf', '-', '-C', source, '.']),
  };
  for (const [writer, archive] of Object.entries(archives)) {
    const where = await place(t);
    const result = await unpackSource(Readable.from([archive]), where.dest);
    assert.deepEqual(result, { files: 3, bytes: 14 }, writer);
    assert.equal(await readFile(join(where.dest, long), 'utf8'), 'long', writer);
    assert.equal(await readlink(join(where.dest, 'link')), 'run.sh', writer);
  }
});
