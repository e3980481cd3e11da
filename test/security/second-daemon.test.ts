// The careless operator: a second `berth server` started on the state
// folder of one that runs (a service and a shell, two terminals). Before
// the fix it was refused only after it had made the folder 0700 again,
// which locked every app user out of its own files: the running apps could
// no longer start a process or open a file under the state folder.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiCall, startDaemon, testUserPrefix } from '../helpers/daemon.ts';
import { BerthProcess } from '../helpers/berth-process.ts';
import { deployHostile, edgeRequest, hostileRun } from './hostile-app.ts';

/** The mode and owner of every file and folder under `dir` (not following links). */
function modes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (path: string, depth: number) => {
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) return;
    out[path] = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
    if (st.isDirectory() && depth < 3) for (const name of readdirSync(path)) walk(join(path, name), depth + 1);
  };
  walk(dir, 0);
  return out;
}

test('a second berth server on a live state folder is refused before it touches anything, naming the running one; the first one’s apps keep working', { timeout: 300_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-second-daemon-'));
  const state = join(root, 'state');
  const first = await startDaemon(state);
  t.after(async () => {
    await first.berth.kill();
    await rm(root, { recursive: true, force: true });
  });
  await deployHostile(first, 'hostile', join(root, 'hostile'));
  assert.equal((await hostileRun(first, 'hostile.localhost', ['id', '-u'])).code, 0, 'the app runs commands');
  const before = modes(state);
  assert.equal(before[state]?.split(' ')[0], process.getuid?.() === 0 ? '711' : '700');

  const second = new BerthProcess(['server', '--state', state, '--http', '127.0.0.1:0', '--api', '127.0.0.1:0', '--workers', '1', '--user-prefix', testUserPrefix(state)]);
  t.after(() => second.kill());
  const timer = setTimeout(() => second.child.kill('SIGKILL'), 60_000);
  const { code } = await second.exited;
  clearTimeout(timer);
  assert.equal(code, 1, second.output);
  const after = modes(state);
  // (The first daemon may add files meanwhile, its access logs; none that existed changed.)
  assert.deepEqual(Object.fromEntries(Object.keys(before).map((path) => [path, after[path]])), before, 'every mode and owner in the state folder is as it was');
  assert.match(second.output, new RegExp(`another berth server \\(pid ${first.berth.child.pid}\\) is running on ${state.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\[BERTH_E_STATE_LOCKED\\]`));
  assert.doesNotMatch(second.output, /listening|ready/, 'it opened nothing');

  // The first daemon's app still works: it starts processes in its folder, and restarts.
  const id = await hostileRun(first, 'hostile.localhost', ['id', '-u']);
  assert.equal(id.code, 0, id.stderr);
  assert.equal((await apiCall(first, 'POST', '/apps/hostile/restart')).status, 200);
  assert.equal((await edgeRequest(first.edge, 'hostile.localhost', 'GET', '/')).body, 'hostile app');
  assert.equal((await apiCall(first, 'GET', '/apps')).status, 200, 'and its API answers');
});
