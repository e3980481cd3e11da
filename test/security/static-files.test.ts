// The edge serves apps' static folders as root, and the app may change
// those folders at any moment. The attacks of issue 14, finding 1: a
// hostile app (and a static site's own user) tries to make the edge read a
// file outside its folder — by swapping a folder for a link between the
// edge's check and its open, by a precompressed sibling, by a FIFO or a
// device, by turning its whole [static] folder into a link and waiting for
// a restart, by a hard link — and to stop other apps' routes by breaking
// its own folder. Whatever it does, the edge never sends a byte of a file
// outside the app's folder, never hangs, and the other apps keep working.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, chown, link, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../helpers/berth-process.ts';
import { apiCall, deployDir, startDaemon, viaEdge, type Daemon } from '../helpers/daemon.ts';
import { deployHostile, hostileRun, hostileSpawn, whoami } from './hostile-app.ts';

// These attacks come from an app that can write its own release and the
// host's /tmp: an uncontained app (a daemon without root, or --sandbox off).
// A sandboxed app cannot even stage them (its release is read-only, /tmp
// its own: test/security/sandbox-*.test.ts); what is tested here is that
// berth's own code holds regardless, so the daemon runs with --sandbox off.
const UNCONTAINED = ['--sandbox', 'off'];

const DECOY_BYTES = 300 * 1024; // above the small-file limit: the edge opens it on every request
const FETCHES = 300;
const SWAP_SECONDS = 120; // an upper bound: the test kills the loop as soon as its requests are done

/**
 * One GET through the edge on a fresh connection; every byte that came back,
 * even when the edge cut the connection midway (a leak is a leak, framed or
 * not). Rejects only when nothing ends the exchange: the edge hung.
 */
function rawGet(edge: string, host: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; bytes: Buffer }> {
  const { hostname, port } = new URL(edge);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`GET ${path} on ${host}: no answer, the edge hung`));
    }, 30_000);
    const done = () => {
      clearTimeout(timer);
      const bytes = Buffer.concat(chunks);
      resolve({ status: Number(bytes.subarray(0, 16).toString('latin1').split(' ')[1] ?? 0), bytes });
    };
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', done);
    socket.on('close', done);
    const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
    socket.write(`GET ${path} HTTP/1.1\r\nhost: ${host}\r\n${extra}connection: close\r\n\r\n`);
  });
}

/** A loop in node that swaps `a` and `b` (renames, so each name is always something) until killed or `seconds` pass. */
const SWAP_LOOP = `
const fs = require('fs');
const [a, b, seconds] = process.argv.slice(1);
const spare = a + '.swap';
const end = Date.now() + Number(seconds) * 1000;
for (let i = 0; i < 1e8 && Date.now() < end; i++) {
  try { fs.renameSync(a, spare); fs.renameSync(b, a); fs.renameSync(spare, b); } catch {}
}
`;

/** The secrets the attacks go after, read as root. */
interface Secrets {
  readonly token: string;
  readonly shadowLine: string;
}

function assertNoSecret(secrets: Secrets, bytes: Buffer, what: string): void {
  const text = bytes.toString('latin1');
  assert.ok(!text.includes(secrets.token), `${what}: the admin token was served`);
  assert.ok(!text.includes('SQLite format 3'), `${what}: berth.db was served`);
  assert.ok(!text.includes(secrets.shadowLine), `${what}: /etc/shadow was served`);
}

/** Fetches `path` FETCHES times while `loop` runs; no answer may carry a secret, every request must be answered. */
async function hammer(d: Daemon, secrets: Secrets, host: string, path: string, headers: Record<string, string> = {}): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  for (let i = 0; i < FETCHES; i++) {
    const { status, bytes } = await rawGet(d.edge, host, path, headers);
    assertNoSecret(secrets, bytes, `request ${i + 1} for ${path}`);
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  }
  return statuses;
}

test('static files: whatever an app does to its folders, the edge serves nothing outside them and other apps keep their routes', { timeout: 900_000 }, async (t) => {
  assert.equal(process.getuid?.(), 0, 'these attacks need apps with their own Unix users: run the tests as root');
  const root = await mkdtemp(join(tmpdir(), 'berth-sec-static-'));
  const state = join(root, 'state');
  let running: Daemon | undefined;
  const start = async () => (running = await startDaemon(state, 2, UNCONTAINED));
  // The daemon first: until it is gone it writes its logs into the state folder.
  t.after(async () => {
    await running?.berth.kill();
    await rm(root, { recursive: true, force: true });
  });
  let d = await start();
  const secrets: Secrets = {
    token: (await readFile(join(state, 'admin-token'), 'utf8')).trim(),
    shadowLine: (await readFile('/etc/shadow', 'utf8')).split('\n')[0]!,
  };
  const pids: number[] = [];
  const killLoops = () => {
    for (const pid of pids.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  t.after(killLoops);

  // The hostile app: three static mounts, a decoy where the secret would be.
  await deployHostile(d, 'evil', join(root, 'evil'), {
    'berth.toml': '[static]\n"/static" = "static"\n"/root" = "rootdir"\n"/gone" = "gonedir"\n',
    'static/sub/admin-token': 'd'.repeat(DECOY_BYTES),
    'static/site.css': 'body { color: red; }\n'.repeat(200),
    'rootdir/hello.txt': 'root mount\n',
    'gonedir/hello.txt': 'gone mount\n',
  });
  // Another tenant, with nothing to do with it.
  await deployHostile(d, 'good', join(root, 'good'), { 'static/hello.txt': 'good v1\n' });
  const evil = await whoami(d, 'evil.localhost');
  const build = evil.cwd;
  const statics = join(build, 'static');
  const run = async (argv: string[]) => {
    const result = await hostileRun(d, 'evil.localhost', argv, { cwd: build });
    assert.equal(result.code, 0, `${argv.join(' ')}: ${result.stderr}`);
  };
  const loop = async (a: string, b: string) => pids.push(await hostileSpawn(d, 'evil.localhost', ['node', '-e', SWAP_LOOP, a, b, String(SWAP_SECONDS)], { cwd: build }));

  await t.test('(d) a FIFO and a device in the static folder are 404, and the edge goes on serving', async () => {
    await run(['mkfifo', join(statics, 'fifo')]);
    execFileSync('mknod', [join(statics, 'zero'), 'c', '1', '5']); // the app cannot make one; it could find one linked in
    await run(['ln', '-s', '/dev/zero', join(statics, 'devlink')]);
    for (const path of ['/static/fifo', '/static/zero', '/static/devlink']) assert.equal((await rawGet(d.edge, 'evil.localhost', path)).status, 404, path);
    assert.equal((await viaEdge(d.edge, 'evil.localhost', '/static/hello.txt')).status, 200);
  });

  await t.test('(g) a file of another user, private (0600), or a hard link to one of root\'s, is not served', async () => {
    await writeFile(join(statics, 'other.txt'), 'another user\'s private file\n');
    await chown(join(statics, 'other.txt'), 4444, 4444);
    await chmod(join(statics, 'other.txt'), 0o600);
    // What fs.protected_hardlinks forbids the app itself; were it off, the owner rule still holds.
    await link(join(state, 'admin-token'), join(statics, 'token-link'));
    for (const path of ['/static/other.txt', '/static/token-link']) {
      const { status, bytes } = await rawGet(d.edge, 'evil.localhost', path);
      assertNoSecret(secrets, bytes, path);
      assert.equal(status, 404, path);
    }
    await rm(join(statics, 'token-link'));
  });

  await t.test('(b) a subfolder swapped for a link to the state folder, again and again: never the token', async () => {
    await run(['ln', '-s', state, join(statics, 'sub.link')]);
    await loop(join(statics, 'sub'), join(statics, 'sub.link'));
    const statuses = await hammer(d, secrets, 'evil.localhost', '/static/sub/admin-token');
    killLoops();
    t.diagnostic(`answers: ${JSON.stringify([...statuses])}`);
  });

  await t.test('(c) a precompressed sibling swapped for a link out, again and again: never the token', async () => {
    await run(['sh', '-c', `head -c 4096 /dev/urandom > ${join(statics, 'site.css.br')}`]);
    await run(['ln', '-s', join(state, 'admin-token'), join(statics, 'sibling.link')]);
    await loop(join(statics, 'site.css.br'), join(statics, 'sibling.link'));
    // A precondition makes every request planned afresh (no ready-made answer from a moment ago).
    const statuses = await hammer(d, secrets, 'evil.localhost', '/static/site.css', { 'accept-encoding': 'br', 'if-none-match': '"another"' });
    killLoops();
    t.diagnostic(`answers: ${JSON.stringify([...statuses])}`);
  });

  // The static-site app (index.html, no processes): it has no process to run
  // commands in, so its user does it, as it could from a cron job.
  const siteDir = join(root, 'site');
  let siteBuild = '';
  const asSite = async (argv: string[], background = false): Promise<void> => {
    const { uid, gid } = await stat(join(state, 'apps', 'site'));
    if (!background) {
      execFileSync(argv[0]!, argv.slice(1), { uid, gid, cwd: siteBuild });
      return;
    }
    const child = spawn(argv[0]!, argv.slice(1), { uid, gid, cwd: siteBuild, stdio: 'ignore' });
    pids.push(child.pid!);
  };

  await t.test('(e) the static-site app (index.html, no processes): a subfolder swapped for a link, again and again: never the token', async () => {
    await mkdir(join(siteDir, 'sub'), { recursive: true });
    await writeFile(join(siteDir, 'index.html'), '<h1>a static site</h1>\n');
    await writeFile(join(siteDir, 'sub', 'admin-token'), 'd'.repeat(DECOY_BYTES));
    await writeFile(join(siteDir, 'big.bin'), Buffer.alloc(DECOY_BYTES));
    assert.equal((await apiCall(d, 'POST', '/apps', { name: 'site' })).status, 201);
    const deployed = await deployDir(d, 'site', siteDir);
    assert.ok(deployed.last.release, deployed.lines.join('\n'));
    assert.equal((await viaEdge(d.edge, 'site.localhost', '/')).status, 200);
    const builds = await readdir(join(state, 'apps', 'site', 'builds'));
    siteBuild = join(state, 'apps', 'site', 'builds', builds.find((name) => !name.startsWith('.'))!);
    await asSite(['ln', '-s', state, join(siteBuild, 'sub.link')]);
    await asSite(['node', '-e', SWAP_LOOP, join(siteBuild, 'sub'), join(siteBuild, 'sub.link'), String(SWAP_SECONDS)], true);
    const statuses = await hammer(d, secrets, 'site.localhost', '/sub/admin-token');
    killLoops();
    t.diagnostic(`answers: ${JSON.stringify([...statuses])}`);
  });

  await t.test('(a) the [static] folder made a link to the state folder, and a mount made a link to /, then a restart: none of it is served', async () => {
    await run(['mv', join(build, 'static'), join(build, 'static.away')]);
    await run(['ln', '-s', state, join(build, 'static')]);
    await run(['mv', join(build, 'rootdir'), join(build, 'rootdir.away')]);
    await run(['ln', '-s', '/', join(build, 'rootdir')]);
    await d.berth.stop('SIGTERM');
    d = await start();
    await eventually('evil serves again', async () => (await viaEdge(d.edge, 'evil.localhost', '/whoami')).status === 200, 60_000);
    for (const path of ['/static/admin-token', '/static/berth.db', '/root/etc/shadow', '/root' + state + '/admin-token']) {
      const { status, bytes } = await rawGet(d.edge, 'evil.localhost', path);
      assertNoSecret(secrets, bytes, path);
      assert.equal(status, 404, path);
    }
    // (The edge process outlived the daemon and kept its built routes, so
    // no "not served" line need come from a rebuild: the 404s above, each
    // request checked on its own, are the boundary.)
    assert.equal((await viaEdge(d.edge, 'good.localhost', '/static/hello.txt')).body, 'good v1\n');
  });

  await t.test('(f) one app removing its static folder stops neither another app\'s deploy nor its routes, before and after a restart', async () => {
    await run(['rm', '-r', join(build, 'gonedir')]);
    const deployGood = async (version: string) => {
      await writeFile(join(root, 'good', 'static', 'hello.txt'), `good ${version}\n`);
      const { last, lines } = await deployDir(d, 'good', join(root, 'good'));
      assert.ok(last.release, lines.join('\n'));
      assert.equal((await viaEdge(d.edge, 'good.localhost', '/static/hello.txt')).body, `good ${version}\n`);
    };
    await deployGood('v2');
    await d.berth.stop('SIGTERM');
    d = await start();
    await eventually('good serves again', async () => (await viaEdge(d.edge, 'good.localhost', '/static/hello.txt')).body === 'good v2\n', 60_000);
    await eventually('evil serves again', async () => (await viaEdge(d.edge, 'evil.localhost', '/whoami')).status === 200, 60_000);
    assert.equal((await viaEdge(d.edge, 'evil.localhost', '/gone/hello.txt')).status, 404);
    await deployGood('v3');
    assert.equal((await viaEdge(d.edge, 'good.localhost', '/whoami')).status, 200);
  });
  // Last: on a server that opens by path, a FIFO swapped in blocks its
  // thread pool for good, and nothing after it would be worth running.
  await t.test('(d) a file swapped for a FIFO, again and again: every request is answered, for the app and the static site', async () => {
    // The [static] folder back as it was, looked at again with the next route update.
    await run(['rm', join(build, 'static')]);
    await run(['mv', join(build, 'static.away'), join(build, 'static')]);
    assert.equal((await apiCall(d, 'POST', '/apps/evil/restart')).status, 200);
    await eventually('evil serves its static folder again', async () => (await viaEdge(d.edge, 'evil.localhost', '/static/hello.txt')).status === 200, 60_000);
    await run(['sh', '-c', `head -c ${DECOY_BYTES} /dev/zero > ${join(statics, 'big.bin')}`]);
    await run(['mkfifo', join(statics, 'big.fifo')]);
    await loop(join(statics, 'big.bin'), join(statics, 'big.fifo'));
    await hammer(d, secrets, 'evil.localhost', '/static/big.bin');
    killLoops();
    await asSite(['mkfifo', join(siteBuild, 'big.fifo')]);
    await asSite(['node', '-e', SWAP_LOOP, join(siteBuild, 'big.bin'), join(siteBuild, 'big.fifo'), String(SWAP_SECONDS)], true);
    await hammer(d, secrets, 'site.localhost', '/big.bin');
    killLoops();
    assert.equal((await viaEdge(d.edge, 'evil.localhost', '/static/hello.txt')).status, 200);
    assert.equal((await viaEdge(d.edge, 'site.localhost', '/')).status, 200);
  });
});
