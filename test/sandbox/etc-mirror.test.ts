import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mirrorAction, openToOthers, syncEtcMirror, type EntryFacts } from '../../src/sandbox/etc-mirror.ts';

const file = (mode: number, size = 10, mtimeMs = 1000): EntryFacts => ({ type: 'file', mode: 0o100000 | mode, size, mtimeMs, linkTo: null });
const dir = (mode: number): EntryFacts => ({ type: 'dir', mode: 0o40000 | mode, size: 4096, mtimeMs: 1, linkTo: null });
const link = (to: string): EntryFacts => ({ type: 'symlink', mode: 0o120777, size: to.length, mtimeMs: 1, linkTo: to });

test('only what any user could read is mirrored', () => {
  assert.equal(openToOthers(file(0o644)), true);
  assert.equal(openToOthers(file(0o640)), false, 'a file closed to others (a key readable by a group)');
  assert.equal(openToOthers(file(0o600)), false);
  assert.equal(openToOthers(dir(0o755)), true);
  assert.equal(openToOthers(dir(0o710)), false, '/etc/ssl/private');
  assert.equal(openToOthers(dir(0o751)), false, 'passable but not listable: its names are not shown');
  assert.equal(openToOthers(link('/usr/x')), true);
  assert.equal(openToOthers({ type: 'other', mode: 0o10644, size: 0, mtimeMs: 1, linkTo: null }), false, 'a fifo');
});

test('each entry is kept, copied, linked, descended into or skipped', () => {
  assert.equal(mirrorAction(file(0o644), null), 'copy');
  assert.equal(mirrorAction(file(0o644), file(0o644)), 'keep');
  assert.equal(mirrorAction(file(0o644, 10, 1000), file(0o644, 10, 1000.4)), 'keep', 'the copy keeps the time to the millisecond');
  assert.equal(mirrorAction(file(0o644, 11), file(0o644, 10)), 'copy', 'size changed');
  assert.equal(mirrorAction(file(0o644, 10, 2000), file(0o644, 10, 1000)), 'copy', 'rewritten');
  assert.equal(mirrorAction(file(0o755), file(0o644)), 'copy', 'mode changed');
  assert.equal(mirrorAction(file(0o4755), file(0o755)), 'keep', 'set-id bits never reach the copy');
  assert.equal(mirrorAction(file(0o644), link('x')), 'copy', 'a link became a file');
  assert.equal(mirrorAction(file(0o600), file(0o644)), 'skip', 'closed to others since: the copy goes');
  assert.equal(mirrorAction(link('/usr/a'), link('/usr/a')), 'keep');
  assert.equal(mirrorAction(link('/usr/b'), link('/usr/a')), 'link');
  assert.equal(mirrorAction(link('/usr/a'), file(0o644)), 'link');
  assert.equal(mirrorAction(dir(0o755), null), 'descend');
  assert.equal(mirrorAction(dir(0o755), file(0o644)), 'descend');
  assert.equal(mirrorAction(dir(0o700), dir(0o755)), 'skip');
});

async function scene(t: import('node:test').TestContext): Promise<{ source: string; mirror: string }> {
  const root = await mkdtemp(join(tmpdir(), 'berth-etc-mirror-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const source = join(root, 'etc');
  await mkdir(join(source, 'ssl', 'certs'), { recursive: true });
  await mkdir(join(source, 'ssl', 'private'), { mode: 0o710 });
  await chmod(join(source, 'ssl', 'private'), 0o710);
  await writeFile(join(source, 'ssl', 'private', 'key.pem'), 'SECRET');
  await writeFile(join(source, 'ssl', 'certs', 'a.pem'), 'CERT A');
  await symlink('a.pem', join(source, 'ssl', 'certs', 'hash.0'));
  await writeFile(join(source, 'ssl', 'openssl.cnf'), 'conf');
  await writeFile(join(source, 'ld.so.cache'), 'cache v1');
  await writeFile(join(source, 'shadow-like'), 'root:x', { mode: 0o640 });
  await chmod(join(source, 'shadow-like'), 0o640);
  await symlink('/usr/share/zoneinfo/Etc/UTC', join(source, 'localtime'));
  await writeFile(join(source, 'not-allowed'), 'host only');
  execFileSync('mkfifo', [join(source, 'ssl', 'fifo')]);
  return { source, mirror: join(root, 'state', 'run', 'etc-mirror') };
}

const NAMES = ['ssl', 'ld.so.cache', 'localtime', 'shadow-like', 'absent'];
const PLACEHOLDERS = ['passwd', 'hosts'];

test('a pass copies the allowed entries open to others, links as links, and leaves empty placeholders', async (t) => {
  const { source, mirror } = await scene(t);
  const result = await syncEtcMirror({ source, names: NAMES, mirror, placeholders: PLACEHOLDERS });
  assert.deepEqual((await readdir(mirror)).sort(), ['hosts', 'ld.so.cache', 'localtime', 'passwd', 'ssl']);
  assert.deepEqual((await readdir(join(mirror, 'ssl'))).sort(), ['certs', 'openssl.cnf'], 'no private folder, no fifo');
  assert.equal(await readFile(join(mirror, 'ssl', 'certs', 'a.pem'), 'utf8'), 'CERT A');
  assert.equal(await readlink(join(mirror, 'ssl', 'certs', 'hash.0')), 'a.pem');
  assert.equal(await readlink(join(mirror, 'localtime')), '/usr/share/zoneinfo/Etc/UTC', 'resolved inside the sandbox, where /usr is');
  assert.equal((await stat(join(mirror, 'passwd'))).size, 0);
  assert.equal((await stat(join(mirror, 'ld.so.cache'))).mode & 0o7777, 0o644);
  assert.equal(result.changed, 5);
  assert.equal(result.entries, 7);

  const again = await syncEtcMirror({ source, names: NAMES, mirror, placeholders: PLACEHOLDERS });
  assert.equal(again.changed, 0, 'nothing changed, nothing copied');
  assert.equal(again.removed, 0);
});

test('a later pass follows the host in place: changed files, new and removed entries, a folder closed since', async (t) => {
  const { source, mirror } = await scene(t);
  await syncEtcMirror({ source, names: NAMES, mirror, placeholders: PLACEHOLDERS });
  const sslBefore = (await stat(join(mirror, 'ssl'))).ino;
  await writeFile(join(source, 'ld.so.cache'), 'cache v2, longer');
  await writeFile(join(source, 'ssl', 'certs', 'b.pem'), 'CERT B');
  await rm(join(source, 'ssl', 'certs', 'a.pem'));
  await rm(join(source, 'localtime'));
  await symlink('/usr/share/zoneinfo/Europe/Paris', join(source, 'localtime'));
  await writeFile(join(mirror, 'stray'), 'left by a crash');
  await writeFile(join(mirror, 'passwd'), 'not empty');
  const result = await syncEtcMirror({ source, names: NAMES, mirror, placeholders: PLACEHOLDERS });
  assert.equal(await readFile(join(mirror, 'ld.so.cache'), 'utf8'), 'cache v2, longer');
  assert.deepEqual((await readdir(join(mirror, 'ssl', 'certs'))).sort(), ['b.pem', 'hash.0']);
  assert.equal(await readlink(join(mirror, 'localtime')), '/usr/share/zoneinfo/Europe/Paris');
  assert.equal((await stat(join(mirror, 'ssl'))).ino, sslBefore, 'the folder a running sandbox has bound is the same one');
  assert.equal((await readdir(mirror)).includes('stray'), false);
  assert.equal((await stat(join(mirror, 'passwd'))).size, 0, 'a placeholder is empty again');
  assert.ok(result.removed >= 2);

  await chmod(join(source, 'ssl'), 0o700);
  await syncEtcMirror({ source, names: NAMES, mirror, placeholders: PLACEHOLDERS });
  assert.equal((await readdir(mirror)).includes('ssl'), false, 'closed to others: its copy goes');
});

test('the limits bound the walk: too many entries, too many bytes, too deep', async (t) => {
  const { source, mirror } = await scene(t);
  await assert.rejects(syncEtcMirror({ source, names: NAMES, mirror, placeholders: [], limits: { entries: 3, bytes: 1e6, depth: 8 } }), /more than 3 entries/);
  await assert.rejects(syncEtcMirror({ source, names: NAMES, mirror, placeholders: [], limits: { entries: 100, bytes: 5, depth: 8 } }), /more than 5 bytes/);
  await assert.rejects(syncEtcMirror({ source, names: NAMES, mirror, placeholders: [], limits: { entries: 100, bytes: 1e6, depth: 1 } }), /more than 1 folders deep/);
});

test('the mirror folder must be a folder, not a link someone left there', async (t) => {
  const { source, mirror } = await scene(t);
  await mkdir(join(mirror, '..'), { recursive: true });
  await symlink(source, mirror);
  await assert.rejects(syncEtcMirror({ source, names: NAMES, mirror, placeholders: [] }), /not a folder of berth's own/);
  assert.equal((await lstat(join(source, 'not-allowed'))).isFile(), true, 'nothing of the link\'s target was touched');
});

test('a copied file keeps the host\'s time, which is how the next pass knows it', async (t) => {
  const { source, mirror } = await scene(t);
  await utimes(join(source, 'ld.so.cache'), 1_700_000_000.123, 1_700_000_000.123);
  await syncEtcMirror({ source, names: NAMES, mirror, placeholders: [] });
  assert.ok(Math.abs((await stat(join(mirror, 'ld.so.cache'))).mtimeMs - 1_700_000_000_123) < 1);
});
