// The attack: a hostile app hides processes where berth's stop does not
// look — a session of its own (setsid), double-forked to init, with a
// clean environment (no supervisor tag) — and waits for its app to be
// destroyed and the name (and, before the fix, the uid) to be given to the
// next tenant, whose environment and files it could then read.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appUserName } from '../../src/platform/index.ts';
import { apiCall, startDaemon, testUserPrefix } from '../helpers/daemon.ts';
import { eventually } from '../helpers/berth-process.ts';
import { attackScene, deployHostile, hostileRun, hostileSpawn, whoami } from './hostile-app.ts';

// These attacks come from an app that can write its own release and the
// host's /tmp: an uncontained app (a daemon without root, or --sandbox off).
// A sandboxed app cannot even stage them (its release is read-only, /tmp
// its own: test/security/sandbox-*.test.ts); what is tested here is that
// berth's own code holds regardless, so the daemon runs with --sandbox off.
const UNCONTAINED = ['--sandbox', 'off'];

/** True while the process runs (a zombie waiting to be reaped runs nothing). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Pids of every running process with `uid` among its uids. */
function processesOf(uid: number): number[] {
  const out = execFileSync('ps', ['-e', '-o', 'pid=,ruid=,euid=,suid=,stat='], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length === 5 && f.slice(1, 4).map(Number).includes(uid) && !f[4]!.startsWith('Z'))
    .map((f) => Number(f[0]));
}

function passwd(name: string): string[] | null {
  try {
    return execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim().split(':');
  } catch {
    return null;
  }
}

/** Starts the three kinds of hidden process inside the app; their pids. */
async function hide(d: Parameters<typeof hostileSpawn>[0], host: string): Promise<number[]> {
  const setsid = await hostileSpawn(d, host, ['sleep', '1001']);
  // Double-forked: sh (in a session of its own) starts sleep in the background and exits; init adopts sleep.
  await hostileSpawn(d, host, ['sh', '-c', 'sleep 1002 & echo $! > /tmp/.berth-destroy-test-$$; exit 0']);
  const clean = await hostileSpawn(d, host, ['env', '-i', 'sleep', '1003']);
  const doubled = Number(await eventually('the double-forked sleep runs', () => {
    const found = execFileSync('ps', ['-e', '-o', 'pid=,args='], { encoding: 'utf8' }).split('\n').find((l) => l.trim().endsWith('sleep 1002'));
    return found?.trim().split(/\s+/)[0];
  }));
  const pids = [setsid, doubled, clean];
  for (const pid of pids) assert.ok(running(pid), `${pid} runs`);
  const env = readFileSync(`/proc/${clean}/environ`, 'utf8');
  assert.ok(!env.includes('BERTH_SUPERVISOR'), 'the clean one carries no supervisor tag');
  return pids;
}

test('destroying an app ends every process its user hid, removes the user, and the next app of that name gets another uid', { timeout: 300_000 }, async (t) => {
  const { root, state, daemon, strays: stray } = await attackScene(t, 'app-destroy', UNCONTAINED);
  await deployHostile(daemon, 'hostile', join(root, 'hostile'));
  const before = await whoami(daemon, 'hostile.localhost');
  const userName = appUserName(testUserPrefix(state), 'hostile');
  assert.equal(Number(passwd(userName)![2]), before.uid);
  const hidden = await hide(daemon, 'hostile.localhost');
  stray.push(...hidden);

  const destroyed = await apiCall(daemon, 'DELETE', '/apps/hostile?confirm=hostile');
  assert.equal(destroyed.status, 200, JSON.stringify(destroyed.json));
  for (const pid of hidden) assert.equal(running(pid), false, `pid ${pid} was ended`);
  assert.deepEqual(processesOf(before.uid), [], 'nothing runs as the old uid');
  assert.equal(passwd(userName), null, 'the user is gone');

  // The same name again: a new user with another uid, nothing of the old one in sight.
  await deployHostile(daemon, 'hostile', join(root, 'hostile-again'));
  const after = await whoami(daemon, 'hostile.localhost');
  assert.notEqual(after.uid, before.uid, 'the uid is never given to a second app');
  assert.equal(Number(passwd(userName)![2]), after.uid);
  // (A zombie that init has not reaped yet runs nothing and holds nothing: not counted.)
  const seen = await hostileRun(daemon, 'hostile.localhost', ['ps', '-e', '-o', 'uid=,stat=']);
  const live = seen.stdout.split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f.length === 2 && !f[1]!.startsWith('Z'));
  assert.ok(!live.map((f) => Number(f[0])).includes(before.uid), `no process of the old uid is left to see:\n${seen.stdout}`);
  const home = await hostileRun(daemon, 'hostile.localhost', ['ls', '-A', after.home]);
  assert.equal(home.stdout.trim(), '', 'a fresh, empty home: nothing of the old app in sight');
});

test('a destroy that cannot end a process of the app keeps the app and says what is left; once it is gone, the destroy finishes', { timeout: 300_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-app-destroy-'));
  const state = join(root, 'state');
  const daemon = await startDaemon(state, 1, UNCONTAINED);
  let stuck: ReturnType<typeof spawn> | null = null;
  t.after(async () => {
    stuck?.kill('SIGKILL');
    await daemon.berth.kill();
    await rm(root, { recursive: true, force: true });
  });
  await deployHostile(daemon, 'hostile', join(root, 'hostile'));
  const { uid, gid } = await whoami(daemon, 'hostile.localhost');
  // A process with the app's uid as its effective uid only (real and saved are root's): kill(-1) as the app cannot signal it, as with one stuck in the kernel.
  stuck = spawn('python3', ['-c', `import os, time\nos.setgroups([])\nos.setresgid(0, ${gid}, 0)\nos.setresuid(0, ${uid}, 0)\ntime.sleep(1004)`], { stdio: 'ignore' });
  await eventually('the stuck process runs as the app', () => processesOf(uid).includes(stuck!.pid!));

  const refused = await apiCall(daemon, 'DELETE', '/apps/hostile?confirm=hostile');
  assert.equal(refused.status, 409, JSON.stringify(refused.json));
  assert.equal(refused.json.code, 'BERTH_E_APP_BUSY');
  assert.match(refused.json.message, new RegExp(`${stuck.pid} \\([^)]*python3 -c import os, time\\\\nos`));
  assert.equal((await apiCall(daemon, 'GET', '/apps/hostile')).status, 200, 'the app is still there');
  assert.ok(passwd(appUserName(testUserPrefix(state), 'hostile')), 'and so is its user');

  stuck.kill('SIGKILL');
  await eventually('the stuck process is gone', () => !running(stuck!.pid!));
  const destroyed = await apiCall(daemon, 'DELETE', '/apps/hostile?confirm=hostile');
  assert.equal(destroyed.status, 200, JSON.stringify(destroyed.json));
  assert.equal((await apiCall(daemon, 'GET', '/apps/hostile')).status, 404);
  assert.equal(passwd(appUserName(testUserPrefix(state), 'hostile')), null);
});

test('a daemon killed with SIGKILL: the next start takes the instance over but ends what the app hid, tagged or not', { timeout: 300_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-app-destroy-'));
  const state = join(root, 'state');
  let daemon = await startDaemon(state, 1, UNCONTAINED);
  const stray: number[] = [];
  t.after(async () => {
    for (const pid of stray) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await daemon.berth.kill();
    await rm(root, { recursive: true, force: true });
  });
  await deployHostile(daemon, 'hostile', join(root, 'hostile'));
  const { uid, pid: instance } = await whoami(daemon, 'hostile.localhost');
  const hidden = await hide(daemon, 'hostile.localhost');
  stray.push(instance, ...hidden);
  await daemon.berth.stop('SIGKILL');
  for (const pid of hidden) assert.ok(running(pid), `${pid} outlived the killed daemon`);

  daemon = await startDaemon(state, 1, UNCONTAINED);
  for (const pid of hidden) assert.equal(running(pid), false, `pid ${pid} was ended by the next start`);
  const now = await whoami(daemon, 'hostile.localhost');
  assert.equal(now.uid, uid, 'the app itself runs on as its user');
  assert.equal(now.pid, instance, 'its instance is the one taken over');
  assert.deepEqual(processesOf(uid), [instance], 'and only that instance runs as it');
});
