import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { Parser, type ReadEntry } from 'tar';
import { packSource, unpackSource } from '../../src/build/index.ts';
import { isBerthError } from '../../src/errors.ts';

type After = { after(fn: () => Promise<void> | void): void };

async function tempDir(t: After, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `berth-${prefix}-`));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** An app folder from a map of path -> contents (a trailing `/` makes an empty folder). */
async function appWith(t: After, files: Record<string, string>): Promise<string> {
  const dir = await tempDir(t, 'app');
  for (const [name, content] of Object.entries(files)) {
    if (name.endsWith('/')) {
      await mkdir(join(dir, name), { recursive: true });
      continue;
    }
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), content);
  }
  return dir;
}

async function pack(dir: string): Promise<{ data: Buffer; files: number; bytes: number }> {
  const packed = await packSource(dir);
  return { data: await buffer(packed.stream), files: packed.files, bytes: packed.bytes };
}

/** The archive as node-tar reads it: an independent parser checks what we wrote. */
async function listArchive(data: Buffer): Promise<Array<{ path: string; type: string; mode: number; uid: number; gid: number; uname: string; gname: string; linkpath: string }>> {
  const entries: Array<{ path: string; type: string; mode: number; uid: number; gid: number; uname: string; gname: string; linkpath: string }> = [];
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        entries.push({ path: entry.path, type: entry.type, mode: entry.mode ?? 0, uid: entry.uid ?? -1, gid: entry.gid ?? -1, uname: entry.uname ?? '', gname: entry.gname ?? '', linkpath: entry.linkpath ?? '' });
        entry.resume();
      },
    });
    parser.on('error', reject);
    parser.on('end', resolve);
    parser.end(data);
  });
  return entries;
}

async function packedPaths(dir: string): Promise<string[]> {
  return (await listArchive((await pack(dir)).data)).map((entry) => entry.path).sort();
}

async function rejectsWith(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isBerthError(err), `expected a BerthError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    assert.ok(err.hint, 'a refusal says what to do');
    return true;
  });
}

test('pack then unpack reproduces the folder: contents, executable bits, inside links, empty folders, mtimes', async (t) => {
  const long = `${'deep/'.repeat(30)}${'n'.repeat(120)}-é文.txt`;
  const app = await appWith(t, {
    'server.js': 'console.log("hi")\n',
    'bin/run': '#!/bin/sh\necho run\n',
    'bin/private': 'only me\n',
    'lib/util.js': 'module.exports = 1;\n',
    [long]: 'a long, non-ASCII name\n',
    'empty/': '',
    'public/big.bin': '',
  });
  await writeFile(join(app, 'public/big.bin'), Buffer.alloc(300_000, 7));
  await chmod(join(app, 'bin/run'), 0o700);
  await chmod(join(app, 'bin/private'), 0o600);
  await symlink('../lib/util.js', join(app, 'bin/util.js'));
  await symlink('lib', join(app, 'lib-link'));
  await symlink('does-not-exist-yet', join(app, 'dangling'));
  const then = new Date('2024-02-03T04:05:06Z');
  await utimes(join(app, 'server.js'), then, then);

  const contents = ['server.js', 'bin/run', 'bin/private', 'lib/util.js', long, 'public/big.bin'];
  const { data, files, bytes } = await pack(app);
  assert.equal(files, contents.length + 3);
  let expectedBytes = 0;
  for (const name of contents) expectedBytes += (await stat(join(app, name))).size;
  assert.equal(bytes, expectedBytes);

  const dest = await tempDir(t, 'dest');
  const unpacked = await unpackSource(Readable.from([data]), dest);
  assert.deepEqual(unpacked, { files, bytes });

  for (const name of contents) {
    assert.deepEqual(await readFile(join(dest, name)), await readFile(join(app, name)), name);
  }
  assert.equal((await stat(join(dest, 'bin/run'))).mode & 0o7777, 0o755);
  assert.equal((await stat(join(dest, 'bin/private'))).mode & 0o7777, 0o644);
  assert.equal((await stat(join(dest, 'server.js'))).mode & 0o7777, 0o644);
  assert.equal((await stat(join(dest, 'lib'))).mode & 0o7777, 0o755);
  assert.equal(await readlink(join(dest, 'bin/util.js')), '../lib/util.js');
  assert.equal(await readlink(join(dest, 'lib-link')), 'lib');
  assert.equal(await readlink(join(dest, 'dangling')), 'does-not-exist-yet');
  assert.equal(await readFile(join(dest, 'lib-link/util.js'), 'utf8'), 'module.exports = 1;\n');
  assert.ok((await stat(join(dest, 'empty'))).isDirectory());
  assert.equal((await stat(join(dest, 'server.js'))).mtimeMs, then.getTime());
  assert.equal((await lstat(join(dest, 'public'))).mtimeMs, Math.floor((await lstat(join(app, 'public'))).mtimeMs / 1000) * 1000);
});

test('the archive has relative paths, owner 0:0 and no user names, as another tar reads it', async (t) => {
  const app = await appWith(t, { 'a.txt': 'a', 'sub/b.txt': 'b' });
  await symlink('a.txt', join(app, 'link'));
  const entries = await listArchive((await pack(app)).data);
  assert.deepEqual(entries.map((entry) => [entry.path, entry.type]), [
    ['a.txt', 'File'],
    ['link', 'SymbolicLink'],
    ['sub/', 'Directory'],
    ['sub/b.txt', 'File'],
  ]);
  for (const entry of entries) {
    assert.ok(!entry.path.startsWith('/') && !entry.path.split('/').includes('..'), entry.path);
    assert.deepEqual([entry.uid, entry.gid, entry.uname, entry.gname], [0, 0, '', '']);
  }
});

test('.gitignore files (root and nested, with negation) and .berthignore decide what is packed', async (t) => {
  const app = await appWith(t, {
    '.gitignore': '*.log\n/build\ndist/\nsecret.txt\n!keep.log\n',
    '.berthignore': '# deploy the built assets git does not track\n!dist/\ndocs/\n*.md\n!README.md\n',
    'app.js': '',
    'debug.log': '',
    'keep.log': '',
    'secret.txt': '',
    'build/out.js': '',
    'dist/bundle.js': '',
    'docs/guide.txt': '',
    'NOTES.md': '',
    'README.md': '',
    'web/.gitignore': '/local.js\n*.tmp\n!important.log\n',
    'web/local.js': '',
    'web/index.js': '',
    'web/x.tmp': '',
    'web/important.log': '',
    'web/other.log': '',
    'web/inner/local.js': '',
    'web/inner/y.tmp': '',
    'web/build/kept.js': '',
  });
  assert.deepEqual(await packedPaths(app), [
    '.berthignore',
    '.gitignore',
    'README.md',
    'app.js',
    'dist/',
    'dist/bundle.js',
    'keep.log',
    'web/',
    'web/.gitignore',
    'web/build/',
    'web/build/kept.js',
    'web/important.log',
    'web/index.js',
    'web/inner/',
    'web/inner/local.js',
  ]);
});

test('packing leaves out what git would, on a real repository', async (t) => {
  const app = await appWith(t, {
    '.gitignore': '*.log\n!/keep.log\nvendor/*\n!vendor/ours/\ntmp\n',
    'a.js': '',
    'x.log': '',
    'keep.log': '',
    'vendor/theirs/lib.js': '',
    'vendor/ours/lib.js': '',
    'tmp/file': '',
    'nested/tmp': '',
    'nested/.gitignore': 'generated-*\n!generated-keep.js\nsub/*.js\n',
    'nested/generated-a.js': '',
    'nested/generated-keep.js': '',
    'nested/sub/b.js': '',
    'nested/sub/b.txt': '',
    'nested/deeper/sub/c.js': '',
    'sp[ecial]*/.gitignore': 'x?\n',
    'sp[ecial]*/xy': '',
    'sp[ecial]*/xyz': '',
  });
  execFileSync('git', ['init', '-q', app]);
  const gitFiles = execFileSync('git', ['-C', app, 'ls-files', '--others', '--exclude-standard', '-z'], { encoding: 'utf8' }).split('\0').filter(Boolean).sort();
  const ours = (await packedPaths(app)).filter((path) => !path.endsWith('/'));
  assert.deepEqual(ours, gitFiles);
});

test('node_modules and .git are never packed, at any depth, even when re-included', async (t) => {
  const app = await appWith(t, {
    '.berthignore': '!node_modules/\n!.git\n',
    'index.js': '',
    'node_modules/dep/index.js': '',
    '.git/HEAD': '',
    'packages/a/node_modules/x.js': '',
    'packages/a/index.js': '',
    'packages/sub/.git': 'gitdir: ../../.git/modules/sub\n',
  });
  assert.deepEqual(await packedPaths(app), ['.berthignore', 'index.js', 'packages/', 'packages/a/', 'packages/a/index.js', 'packages/sub/']);
});

test('a link leading outside the folder is refused at pack time, naming it', async (t) => {
  const outside = await appWith(t, { 'secret.txt': 'secret' });
  const relative = await appWith(t, { 'a.js': '' });
  await mkdir(join(relative, 'config'));
  await symlink('../../escape', join(relative, 'config/creds'));
  await rejectsWith(packSource(relative), 'BERTH_E_SOURCE_FILE', /link config\/creds .*leads outside the folder/);

  const absolute = await appWith(t, { 'a.js': '' });
  await symlink(join(outside, 'secret.txt'), join(absolute, 'secret'));
  await rejectsWith(packSource(absolute), 'BERTH_E_SOURCE_FILE', /link secret .*is absolute/);

  // Each link is harmless alone; together `b` leads out through `a`.
  const chained = await appWith(t, { 'a.js': '' });
  await mkdir(join(chained, 'sub'));
  await symlink('..', join(chained, 'sub/up'));
  await symlink('sub/up/..', join(chained, 'b'));
  await rejectsWith(packSource(chained), 'BERTH_E_SOURCE_FILE', /link b .*leads outside/);

  const ignored = await appWith(t, { '.berthignore': 'secret\n', 'a.js': '' });
  await symlink('/etc/passwd', join(ignored, 'secret'));
  assert.deepEqual(await packedPaths(ignored), ['.berthignore', 'a.js']);
});

test('sockets and FIFOs are refused at pack time unless ignored', async (t) => {
  const app = await appWith(t, { 'a.js': '' });
  execFileSync('mkfifo', [join(app, 'pipe')]);
  await rejectsWith(packSource(app), 'BERTH_E_SOURCE_FILE', /a FIFO at pipe/);

  const withSocket = await appWith(t, { 'a.js': '' });
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(join(withSocket, 'app.sock'), resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  await rejectsWith(packSource(withSocket), 'BERTH_E_SOURCE_FILE', /a socket at app\.sock/);
  await writeFile(join(withSocket, '.berthignore'), '*.sock\n');
  assert.deepEqual(await packedPaths(withSocket), ['.berthignore', 'a.js']);
});

test('an empty folder, or one with only ignored files, is nothing to deploy', async (t) => {
  const empty = await appWith(t, {});
  await rejectsWith(packSource(empty), 'BERTH_E_NOTHING_TO_DEPLOY', new RegExp(`^nothing to deploy in ${empty.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
  const onlyIgnored = await appWith(t, { '.gitignore': '*\n', 'node_modules/x.js': '', 'a.log': '', 'sub/': '' });
  await writeFile(join(onlyIgnored, '.berthignore'), '.gitignore\n');
  await rejectsWith(packSource(onlyIgnored), 'BERTH_E_NOTHING_TO_DEPLOY', /nothing to deploy in/);
  const foldersOnly = await appWith(t, { 'a/b/': '' });
  await rejectsWith(packSource(foldersOnly), 'BERTH_E_NOTHING_TO_DEPLOY', /nothing to deploy in/);
});

test('a missing folder or a file is not an app folder', async (t) => {
  const dir = await tempDir(t, 'missing');
  await rejectsWith(packSource(join(dir, 'nope')), 'BERTH_E_APP_DIR', /is not a folder/);
  await writeFile(join(dir, 'file'), '');
  await rejectsWith(packSource(join(dir, 'file')), 'BERTH_E_APP_DIR', /is not a folder/);
});

test('a file that changes size after listing fails the stream instead of sending a lie', async (t) => {
  const app = await appWith(t, { 'b.txt': 'short' });
  // Incompressible and large: backpressure holds the packer inside this file
  // until the stream is read, so b.txt is changed before it is reached.
  await writeFile(join(app, 'a.bin'), randomBytes(4 * 1024 * 1024));
  const packed = await packSource(app);
  await writeFile(join(app, 'b.txt'), 'much longer now');
  await rejectsWith(buffer(packed.stream), 'BERTH_E_SOURCE_CHANGED', /b\.txt changed while it was being packed/);
});

test('unpacking refuses a destination that is not empty, and leaves it alone', async (t) => {
  const app = await appWith(t, { 'a.txt': 'a' });
  const dest = await tempDir(t, 'dest');
  await writeFile(join(dest, 'mine'), 'keep');
  await assert.rejects(unpackSource(Readable.from([(await pack(app)).data]), dest), /needs a new, empty folder/);
  assert.deepEqual(await readdir(dest), ['mine']);
});
