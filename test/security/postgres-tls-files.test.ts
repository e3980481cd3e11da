// The local PostgreSQL's TLS files are written by root in
// STATE/addons/postgres/tls. Nothing but root can write there, but the
// habit holds anyway, as an attack: whatever stands at those names (a link
// to a file of root's, a link where the folder should be) is replaced,
// never written through or chowned through.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePostgresTls, postgresTlsFiles } from '../../src/addons/postgres-tls.ts';
import { findUser } from '../../src/platform/app-users.ts';
import { LocalCa } from '../../src/tls/index.ts';

if (process.getuid?.() !== 0) throw new Error('this attack runs as root: run it as root');

test('links planted at the key, the certificate and the folder are replaced: their targets keep their content, owner and mode', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-pgtls-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const stateDir = join(root, 'state');
  await mkdir(stateDir);
  const ca = await LocalCa.open({ stateDir });
  const victim = join(root, 'victim');
  await writeFile(victim, 'root-only', { mode: 0o600 });
  const elsewhere = join(root, 'elsewhere');
  await mkdir(elsewhere, { mode: 0o700 });
  const postgres = await findUser('postgres');
  assert.ok(postgres !== null, 'the postgres user exists (Debian\'s postgresql package)');

  const cluster = join(root, 'cluster');
  await mkdir(cluster);
  const files = postgresTlsFiles(cluster);
  // The folder itself a link to another folder.
  await symlink(elsewhere, files.dir);
  // And, inside the folder berth makes, the key and certificate as links to a file of root's.
  await ensurePostgresTls(files, ca, ['localhost'], { uid: postgres!.uid, gid: postgres!.gid });
  assert.ok((await lstat(files.dir)).isDirectory(), 'the link at the folder was replaced by a folder');
  assert.deepEqual(await readdir(elsewhere), [], 'nothing was written into the link\'s target');
  await rm(files.key);
  await rm(files.cert);
  await symlink(victim, files.key);
  await symlink(victim, files.cert);
  await ensurePostgresTls(files, ca, ['localhost', '127.0.0.2'], { uid: postgres!.uid, gid: postgres!.gid });

  const before = await stat(victim);
  assert.equal(await readFile(victim, 'utf8'), 'root-only');
  assert.equal(before.mode & 0o777, 0o600);
  assert.equal(before.uid, 0);
  assert.equal(before.gid, 0);
  const key = await lstat(files.key);
  assert.ok(key.isFile(), 'the key is a file of its own');
  assert.equal(key.mode & 0o777, 0o640);
  assert.equal(key.gid, postgres!.gid, 'readable by the server\'s group, set through the descriptor');
  assert.ok((await lstat(files.cert)).isFile());
});
