// Attacks on the machine's resources from inside an app, through a real
// `berth server --sandbox required`: memory and processes (CPU: in
// sandbox-cpu.test.ts). Each is contained by the limits of the app's own
// berth.toml while its neighbour keeps answering through the edge. Before
// the sandbox, an app allocated 1 GiB and started 300 processes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { apiCall } from '../helpers/daemon.ts';
import { alive, eventually } from '../helpers/berth-process.ts';
import { edgeRequest, hostileRun, whoami } from './hostile-app.ts';
import { askNeighbour, assertServed, HOSTILE, HOSTILE_HOST, instanceGroup, logLine, ps, sandboxScene } from './sandbox-scene.ts';

const MIB = 1024 * 1024;

test('a memory hog over its limit is killed, said so in its log and ps, restarted, and serves again; its neighbour serves throughout', async (t) => {
  const { daemon: d, state } = await sandboxScene(t, 'sbmem', 'memory = "96m"');
  const before = (await ps(d, HOSTILE))[0]!;
  assert.equal(before.memory?.limitBytes, 96 * MIB);
  const neighbour = askNeighbour(t, d);
  // Ten times its limit, in the server process itself.
  const asked = await edgeRequest(d.edge, HOSTILE_HOST, 'POST', '/allocate', JSON.stringify({ mib: 960 }));
  assert.equal(asked.status, 200);
  const line = await logLine(d, HOSTILE, /out of memory: web\.1 used \d+ MiB, its limit/);
  const after = await eventually('the hog is restarted and ready', async () => {
    const [instance] = await ps(d, HOSTILE);
    return instance !== undefined && instance.state === 'ready' && instance.pid !== before.pid ? instance : null;
  });
  const served = await neighbour.stop();
  t.diagnostic(`${line.slice(line.indexOf(' ') + 1)}; ps: ${after.lastExit}; the neighbour answered ${served.answers} requests meanwhile`);
  assertServed(served, 10, 'the memory hog');
  assert.ok(!alive(before.pid), 'the hog\'s sandbox is gone');
  assert.match(line, /web\.1 \| out of memory: web\.1 used (9[6-9]|1\d\d) MiB, its limit/);
  assert.match(after.lastExit ?? '', /^out of memory: web\.1 used \d+ MiB, its limit$/);
  assert.equal(after.memory?.limitBytes, 96 * MIB);
  // The restarted instance serves, within its limit again.
  assert.equal((await whoami(d, HOSTILE_HOST)).port, after.port);
  const usage = await (await instanceGroup(state, HOSTILE)).usage();
  assert.ok(usage.memoryBytes < 96 * MIB, `${usage.memoryBytes} bytes`);
  assert.equal((await hostileRun(d, HOSTILE_HOST, ['true'])).code, 0);
});

// The bomb: forks as fast as it can, whatever fails, each child sleeping
// on; bounded by the test (1,000 forks or 5 s) so that, uncontained, it
// cannot take the shared machine down. Prints what it managed.
const FORK_BOMB = String.raw`
import errno, json, os, sys, time
os.setsid()
made = failed = 0
deadline = time.monotonic() + 5
while made < 1000 and time.monotonic() < deadline:
    try:
        pid = os.fork()
    except OSError as e:
        if e.errno != errno.EAGAIN:
            raise
        failed += 1
        continue
    if pid == 0:
        os.closerange(0, 3)
        time.sleep(60)
        os._exit(0)
    made += 1
print(json.dumps({'made': made, 'failed': failed}), flush=True)
`;

/** Processes on the host: all of them, and those running as `uid`. */
function hostProcesses(uid: number): { all: number; app: number } {
  let all = 0;
  let app = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    all++;
    try {
      if (statSync(`/proc/${entry}`).uid === uid) app++;
    } catch {
      // ended while we looked
    }
  }
  return { all, app };
}

test('a fork bomb is capped at its process limit: the host barely notices, its neighbour serves, and it serves again after a restart', async (t) => {
  const { daemon: d, state } = await sandboxScene(t, 'sbfork', 'processes = 64');
  const { uid } = await whoami(d, HOSTILE_HOST);
  const group = await instanceGroup(state, HOSTILE);
  const baseline = hostProcesses(uid);
  const neighbour = askNeighbour(t, d);
  let stop = false;
  let most = { group: 0, hostAll: baseline.all, hostApp: baseline.app };
  const watching = (async () => {
    while (!stop) {
      const now = hostProcesses(uid);
      const inGroup = (await group.usage()).processes;
      most = { group: Math.max(most.group, inGroup), hostAll: Math.max(most.hostAll, now.all), hostApp: Math.max(most.hostApp, now.app) };
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  let bomb;
  try {
    bomb = await hostileRun(d, HOSTILE_HOST, ['/usr/bin/python3', '-c', FORK_BOMB]);
  } finally {
    stop = true;
    await watching;
  }
  const served = await neighbour.stop();
  t.diagnostic(`bomb ${bomb.stdout.trim()}; most processes: ${most.group} in its group, ${most.hostApp} of its user on the host, ${most.hostAll} on the host (${baseline.all} before)`);
  assertServed(served, 10, 'the fork bomb');
  assert.equal(bomb.code, 0, bomb.stderr);
  const { made, failed } = JSON.parse(bomb.stdout) as { made: number; failed: number };
  // It reached its cap (its server's threads, the bomb and its children share the 64) and was refused beyond it.
  assert.ok(made > 20 && made < 64, `made ${made}`);
  assert.ok(failed > 0, 'no fork was refused');
  assert.ok(most.group <= 64, `${most.group} processes in its group`);
  assert.ok(most.hostApp <= 64, `${most.hostApp} processes of its user on the host`);
  // Other tests share the machine: the host may gain some processes of theirs meanwhile, never the bomb's 1,000.
  assert.ok(most.hostAll - baseline.all < 64 + 200, `the host went from ${baseline.all} to ${most.hostAll} processes`);
  // At its cap it can start nothing (its own business); a restart ends the bomb with the instance.
  assert.equal((await apiCall(d, 'POST', `/apps/${HOSTILE}/restart`)).status, 200);
  const again = await instanceGroup(state, HOSTILE);
  assert.notEqual(again.name, group.name);
  assert.equal((await hostileRun(d, HOSTILE_HOST, ['true'])).code, 0);
  assert.ok((await again.usage()).processes < 20);
  assert.ok(hostProcesses(uid).app < 20);
});
