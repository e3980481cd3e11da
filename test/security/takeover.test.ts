import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, eventually } from '../helpers/berth-process.ts';
import { apiCall, startDaemon, type Daemon } from '../helpers/daemon.ts';
import { deployHostile, hostileRun, hostileSpawn, whoami } from './hostile-app.ts';

// The instances a daemon takes over from the last one are spared when it
// ends what was left behind; nothing else an app runs is. A hostile app
// tries to get a process of its own past a control-plane restart, and to
// reach what the takeover trusts (its records, its output files).

if (process.getuid?.() !== 0) throw new Error('the takeover attacks need berth server as root (apps have users of their own only then): run the tests as root');

for (const sandbox of ['off', 'required'] as const) {
  test(`--sandbox ${sandbox}: across a control-plane restart the hostile app's instance is taken over, but a process it hid outside the instance's ${sandbox === 'off' ? 'process group' : 'sandbox'} (or a detached run) ends; its records and output files stay out of its reach`, { timeout: 300_000 }, async (t) => {
    const root = await mkdtemp(join(tmpdir(), `berth-takeover-${sandbox}-`));
    const state = join(root, 'state');
    const strays: number[] = [];
    let d: Daemon | null = null;
    // One hook, in the order that leaves nothing: strays, the daemon (it writes into the folder until it is gone), the folder.
    t.after(async () => {
      for (const pid of strays) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await d?.berth.kill();
      await rm(root, { recursive: true, force: true });
    });
    const args = ['--sandbox', sandbox];
    d = await startDaemon(state, 1, args);
    await deployHostile(d, 'hostile', join(root, 'hostile-source'));
    const host = 'hostile.localhost';
    const before = await whoami(d, host);

    // Its output file, reopened through /proc/self/fd: root's and 0600, so neither readable nor replaceable by the app.
    const reopen = await hostileRun(d, host, ['node', '-e', "const fs=require('fs');for (const fd of [1,2]) { for (const flags of ['r','a']) { try { fs.closeSync(fs.openSync('/proc/self/fd/'+fd, flags)); console.log('opened', fd, flags); } catch (e) { console.log('refused', fd, flags, e.code); } } }"]);
    assert.doesNotMatch(reopen.stdout, /opened/, reopen.stdout);
    // What the takeover trusts is in root's folders, out of the app's sight.
    const look = await hostileRun(d, host, ['node', '-e', `const fs=require('fs');for (const p of ${JSON.stringify([join(state, 'run', 'instances'), join(state, 'logs', 'hostile', 'output')])}) { try { console.log('listed', p, fs.readdirSync(p)); } catch (e) { console.log('refused', p, e.code); } }`]);
    assert.doesNotMatch(look.stdout, /listed/, look.stdout);

    // A process hidden from the instance: a session of its own (out of the process group), then a detached one-off run.
    const hidden = await hostileSpawn(d, host, ['sleep', '600']);
    // Without a sandbox its pid is the host's (with one, its own namespace's: never signalled from here).
    if (sandbox === 'off') strays.push(hidden);
    const run = await apiCall(d, 'POST', '/apps/hostile/runs', { command: ['sleep', '600'], detach: true });
    assert.equal(run.status, 201, JSON.stringify(run.json));

    await d.berth.stop('SIGTERM', 60_000);
    d = await startDaemon(state, 1, args);
    await eventually('the hostile app serves again', async () => (await whoami(d!, host).catch(() => null))?.pid === before.pid, 30_000);
    // In a sandbox the hidden process is the instance's own (its control group, its limits): it lives and ends with it.
    if (sandbox === 'off') await eventually('the hidden process ended', async () => (await hostileRun(d!, host, ['kill', '-0', String(hidden)])).code !== 0, 20_000);
    const runs = (await apiCall(d, 'GET', '/apps/hostile/runs')).json.runs as unknown[];
    assert.deepEqual(runs, [], 'the detached run did not outlive the control plane');
    // The daemon's own view: every process of the app's uid is the taken-over instance's.
    const uid = before.uid;
    const ofUid = (await readdir('/proc')).filter((e) => /^\d+$/.test(e)).map(Number).filter((pid) => {
      try {
        return processFacts(pid).uid === uid && alive(pid);
      } catch {
        return false;
      }
    });
    const ps = (await apiCall(d, 'GET', '/apps/hostile/ps')).json.instances as Array<{ pid: number }>;
    assert.equal(ps.length, 1);
    if (sandbox === 'off') assert.deepEqual(ofUid.filter((pid) => processFacts(pid).pgid !== ps[0]!.pid), [], 'nothing of the app outside its instance');
  });
}

function processFacts(pid: number): { uid: number; pgid: number } {
  const fs = process.getBuiltinModule('node:fs');
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
  const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  return { uid, pgid };
}
