// Issue 14, finding 7: the edge spilled large bodies to
// /tmp/berth-edge-<pid>, a name any app on the machine can create first —
// as a file (every large upload fails), or as a folder or a link of its own
// (root's spill files land where the app can see them, or wherever the link
// points). The hostile app plants all three; large uploads through the edge
// still work, nothing is written through its plants, and the folder the edge
// really uses is root's, 0700, inside the state folder.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../helpers/berth-process.ts';
import { startDaemon, viaEdge, type Daemon } from '../helpers/daemon.ts';
import { deployHostile, edgeRequest, hostileRun } from './hostile-app.ts';
import { edgePaths, readEdgeRecord } from '../../src/edge-process/index.ts';

// These attacks come from an app that can write its own release and the
// host's /tmp: an uncontained app (a daemon without root, or --sandbox off).
// A sandboxed app cannot even stage them (its release is read-only, /tmp
// its own: test/security/sandbox-*.test.ts); what is tested here is that
// berth's own code holds regardless, so the daemon runs with --sandbox off.
const UNCONTAINED = ['--sandbox', 'off'];

const UPLOAD_BYTES = 2 * 1024 * 1024; // far above the 64 KiB kept in memory: spilled to disk

/** A large upload through the edge: the app counts the bytes it received (wc -c of its input). */
async function upload(d: Daemon): Promise<void> {
  const res = await edgeRequest(d.edge, 'evil.localhost', 'POST', '/run', JSON.stringify({ argv: ['wc', '-c'], input: 'x'.repeat(UPLOAD_BYTES) }));
  assert.equal(res.status, 200, `the upload failed: ${res.status} ${res.body}`);
  assert.equal(Number(JSON.parse(res.body).stdout.trim()), UPLOAD_BYTES);
}

/** What a folder holds and when it last changed: a file created and unlinked in it still moves its mtime. */
async function footprint(dir: string): Promise<string> {
  const st = await stat(dir);
  return `${st.mtimeMs} ${st.ctimeMs} ${(await readdir(dir)).join(',')}`;
}

test('temp files: names an app plants in /tmp never break large uploads or receive berth\'s files; the spill folder is root\'s and private', { timeout: 600_000 }, async (t) => {
  assert.equal(process.getuid?.(), 0, 'the hostile app needs a Unix user of its own: run the tests as root');
  const root = await mkdtemp(join(tmpdir(), 'berth-sec-temp-'));
  const state = join(root, 'state');
  let running: Daemon | undefined;
  const start = async () => (running = await startDaemon(state, 2, UNCONTAINED));
  // The daemon first: until it is gone it writes its logs into the state folder.
  t.after(async () => {
    await running?.berth.kill();
    await rm(root, { recursive: true, force: true });
  });
  let d = await start();
  await deployHostile(d, 'evil', join(root, 'evil'));
  const pid = d.berth.child.pid!;
  const planted = join(tmpdir(), `berth-edge-${pid}`);
  t.after(() => rm(planted, { recursive: true, force: true }));
  const evilDir = join(tmpdir(), `berth-evil-${pid}`);
  t.after(() => rm(evilDir, { recursive: true, force: true }));
  const asEvil = async (script: string) => {
    const result = await hostileRun(d, 'evil.localhost', ['sh', '-c', script]);
    assert.equal(result.code, 0, `${script}: ${result.stderr}`);
  };

  await t.test('the old predictable name planted as a file: large uploads still work', async () => {
    await asEvil(`rm -rf ${planted} && echo mine > ${planted}`);
    await upload(d);
    assert.equal((await lstat(planted)).isFile(), true);
  });

  await t.test('planted as a link to a folder of the app\'s: nothing is written through it', async () => {
    await asEvil(`rm -rf ${planted} ${evilDir} && mkdir -m 0777 ${evilDir} && ln -s ${evilDir} ${planted}`);
    const before = await footprint(evilDir);
    await upload(d);
    assert.equal(await footprint(evilDir), before, 'a file was created in the folder the link points at');
  });

  await t.test('planted as a folder of the app\'s: nothing is written in it', async () => {
    await asEvil(`rm -rf ${planted} && mkdir -m 0777 ${planted}`);
    const before = await footprint(planted);
    await upload(d);
    assert.equal(await footprint(planted), before, 'a file was created in the app\'s folder');
  });

  await t.test('the spill folder the edge uses is root\'s alone, in STATE/run/edge-tmp, its edge process\'s own; one a killed edge left goes', async () => {
    const parent = join(state, 'run', 'edge-tmp');
    const parentStat = await lstat(parent);
    assert.ok(parentStat.isDirectory());
    assert.equal(parentStat.uid, 0);
    assert.equal(parentStat.mode & 0o777, 0o700);
    assert.equal((await lstat(join(state, 'run'))).mode & 0o777, 0o700);
    const [own, ...others] = await readdir(parent);
    assert.equal(others.length, 0);
    const edgePid = readEdgeRecord(edgePaths(state).record)!.pid;
    assert.ok(own!.startsWith(`${edgePid}-`));
    const ownStat = await lstat(join(parent, own!));
    assert.equal(ownStat.uid, 0);
    assert.equal(ownStat.mode & 0o777, 0o700);
    const [spill] = await readdir(join(parent, own!));
    assert.deepEqual(await readdir(join(parent, own!, spill!)), [], 'spill files are unlinked as soon as they are made');

    // An edge killed outright leaves its folder; the edge that replaces it clears it.
    process.kill(edgePid, 'SIGKILL');
    await eventually('a new edge process', () => {
      const record = readEdgeRecord(edgePaths(state).record);
      return record !== null && record.pid !== edgePid ? record : null;
    }, 30_000);
    const after = await readdir(parent);
    assert.equal(after.length, 1);
    assert.notEqual(after[0], own);
    await eventually('evil serves again', async () => (await viaEdge(d.edge, 'evil.localhost', '/whoami')).status === 200, 60_000);
    await upload(d);
  });
});
