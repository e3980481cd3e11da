import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { unpackSource } from '../../src/build/index.ts';
import { commitFiles, git, gitClient, makeRepo } from './git-helpers.ts';

/** `git archive --format=tar REV`, as the pre-receive hook runs it, gzipped as the daemon does. */
function archive(dir: string, env: Record<string, string>, rev: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['archive', '--format=tar', rev], { cwd: dir, env, stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(gzipSync(Buffer.concat(chunks))) : reject(new Error(`git archive exited ${code}`))));
  });
}

test("what git archive writes (a pax global header with the commit id, long and non-ASCII names, links, executables) unpacks", async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-archive-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const env = await gitClient(join(root, 'home'));
  const repo = join(root, 'repo');
  const longName = `${'deep/'.repeat(25)}file.txt`;
  await makeRepo(repo, env, { 'Procfile': 'web: node server.js\n', 'server.js': 'console.log(1)\n', 'bin/run': '#!/bin/sh\necho hi\n', 'données/été.txt': 'ok\n', [longName]: 'long\n' });
  await chmod(join(repo, 'bin/run'), 0o755);
  await mkdir(join(repo, 'public'), { recursive: true });
  await symlink('../server.js', join(repo, 'public', 'link.js'));
  await commitFiles(repo, env, { 'README': 'x\n' }, 'second');
  const tarball = await archive(repo, env, (await git(repo, env, ['rev-parse', 'HEAD'])).trim());
  const head = (await git(repo, env, ['rev-parse', 'HEAD'])).trim();
  assert.match(gunzipSync(tarball).subarray(0, 1024).toString('latin1'), new RegExp(`pax_global_header[\\s\\S]*comment=${head}`));

  const dest = join(root, 'build');
  await mkdir(dest);
  const result = await unpackSource(Readable.from([tarball]), dest);
  assert.equal(result.files, 7);
  assert.equal(await readFile(join(dest, 'données/été.txt'), 'utf8'), 'ok\n');
  assert.equal(await readFile(join(dest, longName), 'utf8'), 'long\n');
  assert.equal((await lstat(join(dest, 'bin/run'))).mode & 0o777, 0o755);
  assert.equal((await lstat(join(dest, 'server.js'))).mode & 0o777, 0o644);
  assert.equal(await readlink(join(dest, 'public/link.js')), '../server.js');
});

test('an archive whose link leads outside is still refused (the reader stays strict for git archives too)', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-archive-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const env = await gitClient(join(root, 'home'));
  const repo = join(root, 'repo');
  await makeRepo(repo, env, { 'index.html': 'hi\n' });
  await symlink('../../etc/passwd', join(repo, 'escape'));
  await commitFiles(repo, env, {}, 'link out');
  const tarball = await archive(repo, env, 'HEAD');
  const dest = join(root, 'build');
  await mkdir(dest);
  await assert.rejects(unpackSource(Readable.from([tarball]), dest), { code: 'BERTH_E_ARCHIVE' });
});
