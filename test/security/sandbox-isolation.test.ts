// Attacks on what an app can see and touch of the machine, from inside
// the app, through a real `berth server --sandbox required`: its
// neighbour's environment (secrets) through /proc, its neighbour's
// processes with signals, berth's state folder (the database, the admin
// token, the SSH host key) and other apps' folders. Before the sandbox an
// app ran as its own user on the host: it listed every process of the
// machine, got EPERM (not "no such process") for its neighbour's pids,
// and met EACCES, not absence, at berth's files. Now what is not its own
// does not exist for it, and its neighbour serves throughout.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { descendants } from '../helpers/processes.ts';
import { ETC_ALLOWED, ETC_GENERATED } from '../../src/sandbox/spec.ts';
import { edgeRequest, hostileRun, whoami } from './hostile-app.ts';
import { askNeighbour, assertServed, HOSTILE, HOSTILE_HOST, NEIGHBOUR, NEIGHBOUR_HOST, ps, SANDBOX, sandboxScene, type SandboxScene } from './sandbox-scene.ts';

/** The host pid of the neighbour's server: in its sandbox (under its bwrap), never another test's neighbour. */
function serverOf(bwrap: number): number | null {
  return descendants(bwrap).find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === 'node\0neighbour.mjs\0';
    } catch {
      return false;
    }
  }) ?? null;
}

/** The neighbour's processes as the host knows them (bwrap's, which berth started, and its server's) and its server's pid in its own namespace. */
async function neighbourPids(scene: SandboxScene): Promise<{ bwrap: number; server: number; nsPid: number }> {
  const [instance] = await ps(scene.daemon, NEIGHBOUR);
  const nsPid = (JSON.parse((await edgeRequest(scene.daemon.edge, NEIGHBOUR_HOST, 'GET', '/whoami')).body) as { pid: number }).pid;
  const server = serverOf(instance?.pid ?? 0);
  assert.ok(instance !== undefined && server !== null, 'the neighbour runs');
  assert.equal(/^NSpid:.*\s(\d+)$/m.exec(readFileSync(`/proc/${server}/status`, 'utf8'))?.[1], String(nsPid), 'the server the neighbour says it is');
  // The attack's prize is real: the host sees the secret in its environment.
  assert.ok(readFileSync(`/proc/${server}/environ`, 'utf8').includes(`NEIGHBOUR_SECRET=${scene.secret}`));
  return { bwrap: instance.pid, server, nsPid };
}

// Lists /proc as `ps` does (pid, uid, command, environment) and reads the
// files it is given; one JSON object: {seen: [...], reads: {path: text or errno}}.
const LOOK = `
const fs = require('node:fs');
const read = (p) => { try { return fs.readFileSync(p, 'utf8'); } catch (e) { return { error: e.code }; } };
const seen = [];
for (const entry of fs.readdirSync('/proc')) {
  if (!/^\\d+$/.test(entry)) continue;
  const status = read('/proc/' + entry + '/status');
  if (typeof status !== 'string') continue;
  seen.push({ pid: Number(entry), uid: Number(/^Uid:\\s+(\\d+)/m.exec(status)[1]), command: String(read('/proc/' + entry + '/cmdline')).split('\\0').join(' ').trim(), environ: read('/proc/' + entry + '/environ') });
}
const reads = {};
for (const p of process.argv.slice(1)) reads[p] = read(p);
console.log(JSON.stringify({ seen, reads }));
`;

test('a hostile app cannot read its neighbour\'s environment through /proc, by host pid or namespace pid, and sees only its own processes', async (t) => {
  const scene = await sandboxScene(t, 'sbproc');
  const { daemon: d, secret } = scene;
  const { uid } = await whoami(d, HOSTILE_HOST);
  const pids = await neighbourPids(scene);
  const neighbour = askNeighbour(t, d);
  const paths = [pids.server, pids.bwrap, pids.nsPid, d.berth.child.pid!].flatMap((pid) => [`/proc/${pid}/environ`, `/proc/${pid}/cmdline`]);
  const look = await hostileRun(d, HOSTILE_HOST, ['node', '-e', LOOK, ...paths]);
  assertServed(await neighbour.stop(), 1, 'the look through /proc');
  assert.equal(look.code, 0, look.stderr);
  const { seen, reads } = JSON.parse(look.stdout) as { seen: Array<{ pid: number; uid: number; command: string; environ: string | { error: string } }>; reads: Record<string, string | { error: string }> };
  t.diagnostic(`the hostile app's /proc: ${seen.map((p) => `${p.pid} ${p.uid} ${p.command.split("\n")[0]!.slice(0, 60)}`).join('; ')}`);

  // Nowhere the secret, nor any trace of the neighbour or berth.
  assert.doesNotMatch(look.stdout, new RegExp(secret));
  assert.doesNotMatch(look.stdout, /neighbour\.mjs|src\/cli\/main\.ts/);
  // Its /proc holds its own processes (its server, the listing) and its sandbox's init, root's and unreadable to it.
  assert.ok(seen.length <= 4, `${seen.length} processes seen`);
  for (const p of seen) {
    if (p.uid === uid) continue;
    assert.equal(p.pid, 1, `a process not its own: ${JSON.stringify(p)}`);
    assert.deepEqual(p.environ, { error: 'EACCES' });
  }
  assert.ok(seen.some((p) => p.uid === uid && p.command === 'node server.mjs'), 'it sees its own server');
  // The neighbour's and the daemon's host pids do not exist there; the neighbour's namespace pid, when it exists, is one of its own.
  for (const pid of [pids.server, pids.bwrap, d.berth.child.pid!]) {
    assert.deepEqual(reads[`/proc/${pid}/environ`], { error: 'ENOENT' }, `pid ${pid}`);
    assert.deepEqual(reads[`/proc/${pid}/cmdline`], { error: 'ENOENT' }, `pid ${pid}`);
  }
  const own = seen.find((p) => p.pid === pids.nsPid);
  assert.deepEqual(reads[`/proc/${pids.nsPid}/environ`], own === undefined ? { error: 'ENOENT' } : own.environ);
});

// Sends SIGNAL to every pid from 1 to MAX and to the extra pids, but its
// own processes (signalling itself is its own business); one JSON object: outcome → count, and the outcome for
// every pid that did not answer ESRCH and every extra pid.
const SIGNAL_ALL = `
const fs = require('node:fs');
const [max, signal, ...extra] = process.argv.slice(1);
// Its own processes and their threads (a thread's id takes a signal for its whole process).
const own = new Set();
for (const entry of fs.readdirSync('/proc')) {
  try { if (/^\\d+$/.test(entry) && fs.statSync('/proc/' + entry).uid === process.getuid()) for (const task of fs.readdirSync('/proc/' + entry + '/task')) own.add(Number(task)); } catch {}
}
const tally = {};
const notable = {};
const targets = [...Array.from({ length: Number(max) }, (_, i) => i + 1), ...extra.map(Number)];
for (const pid of targets) {
  if (own.has(pid)) continue;
  let outcome;
  try { process.kill(pid, signal); outcome = 'ok'; } catch (e) { outcome = e.code; }
  tally[outcome] = (tally[outcome] ?? 0) + 1;
  if (outcome !== 'ESRCH' || extra.includes(String(pid))) notable[pid] = outcome;
}
console.log(JSON.stringify({ tally, notable }));
`;

test('a hostile app signalling its neighbour\'s pids, and every pid there is, reaches nothing but its own; the neighbour serves on', async (t) => {
  const scene = await sandboxScene(t, 'sbsignal');
  const d = scene.daemon;
  const pids = await neighbourPids(scene);
  const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
  const neighbour = askNeighbour(t, d);
  const extra = [pids.server, pids.bwrap, d.berth.child.pid!].map(String);
  const outcomes: Record<string, { tally: Record<string, number>; notable: Record<string, string> }> = {};
  for (const signal of ['SIGTERM', 'SIGKILL']) {
    const run = await hostileRun(d, HOSTILE_HOST, ['node', '-e', SIGNAL_ALL, String(pidMax), signal, ...extra]);
    assert.equal(run.code, 0, run.stderr);
    outcomes[signal] = JSON.parse(run.stdout);
  }
  const served = await neighbour.stop();
  t.diagnostic(`signals over pids 1–${pidMax}: ${JSON.stringify(outcomes)}`);
  assertServed(served, 5, 'the signals');
  for (const [signal, { tally, notable }] of Object.entries(outcomes)) {
    // Not one signal delivered; every pid but its sandbox's init (root's: EPERM) does not exist for it.
    assert.equal(tally.ok, undefined, `${signal} reached ${JSON.stringify(notable)}`);
    assert.deepEqual(notable, { 1: 'EPERM', ...Object.fromEntries(extra.map((pid) => [pid, 'ESRCH'])) }, signal);
  }
  // The same neighbour process serves: nothing restarted it.
  const [instance] = await ps(d, NEIGHBOUR);
  assert.equal(instance?.pid, pids.bwrap);
  assert.equal(instance?.state, 'ready');
  assert.equal(serverOf(pids.bwrap), pids.server);
});

// Stats each path: a folder's names, a file's size, or the errno.
const PEEK = `
const fs = require('node:fs');
const out = {};
for (const p of process.argv.slice(1)) {
  try { out[p] = fs.statSync(p).isDirectory() ? { names: fs.readdirSync(p).sort() } : { bytes: fs.readFileSync(p).length }; } catch (e) { out[p] = e.code; }
}
console.log(JSON.stringify(out));
`;

test('berth\'s state folder (database, admin token, SSH host key) and other apps\' folders do not exist for a hostile app: ENOENT, not EACCES', async (t) => {
  // With git over SSH, so the daemon has its host key.
  const { daemon: d, state } = await sandboxScene(t, 'sbstate', '', [...SANDBOX, '--ssh', '127.0.0.1:0']);
  const me = await whoami(d, HOSTILE_HOST);
  const apps = join(state, 'apps');
  const secrets = [
    join(state, 'berth.db'),
    join(state, 'admin-token'),
    join(state, 'ssh', 'host_ed25519_key'),
    join(state, 'ssh'),
    join(state, 'logs'),
    join(state, 'data'),
    join(state, 'run'),
    join(apps, NEIGHBOUR),
    join(apps, NEIGHBOUR, 'home'),
    join(apps, NEIGHBOUR, 'builds'),
    join(apps, HOSTILE, 'cache'),
    '/run/berth',
    '/root',
    '/home',
    '/etc/shadow',
    '/etc/ssh',
    '/etc/ssl/private',
    '/etc/sudoers',
    '/var/lib',
  ];
  // They are there on the host.
  for (const path of secrets.slice(0, 3)) readFileSync(path);
  const neighbour = askNeighbour(t, d);
  const peek = await hostileRun(d, HOSTILE_HOST, ['node', '-e', PEEK, state, apps, join(apps, HOSTILE), me.home, '/etc', '/etc/ssl/certs/ca-certificates.crt', ...secrets]);
  assertServed(await neighbour.stop(), 1, 'the look at berth\'s folders');
  assert.equal(peek.code, 0, peek.stderr);
  const seen = JSON.parse(peek.stdout) as Record<string, unknown>;
  t.diagnostic(`what the hostile app sees: ${peek.stdout.trim()}`);
  for (const path of secrets) assert.equal(seen[path], 'ENOENT', path);
  // Of the state folder, only the way to its own folders: its home and the build it runs.
  assert.deepEqual(seen[state], { names: ['apps'] });
  assert.deepEqual(seen[apps], { names: [HOSTILE] });
  assert.deepEqual(seen[join(apps, HOSTILE)], { names: ['builds', 'home'] });
  assert.equal(me.home, join(apps, HOSTILE, 'home'));
  assert.ok(typeof seen[me.home] === 'object', 'its own home is there');
  // Its /etc: what programs need (the allowlist, one copy for every sandbox) and berth's files for it, nothing else of the host's.
  const etc = (seen['/etc'] as { names: string[] }).names;
  for (const name of etc) assert.ok(ETC_ALLOWED.includes(name) || ETC_GENERATED.includes(name), `/etc/${name} is shown`);
  for (const name of ETC_GENERATED) assert.ok(etc.includes(name), `berth's /etc/${name}`);
  assert.ok((seen['/etc/ssl/certs/ca-certificates.crt'] as { bytes: number }).bytes > 1000, 'TLS roots are there');
});
