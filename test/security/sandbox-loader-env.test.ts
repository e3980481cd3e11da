// An app's config vars are its processes' environment, and berth's root
// programs that make a sandbox (nsenter, bwrap, setpriv) used to start with
// that environment: `berth config set LD_PRELOAD=/path/to/own.so` would
// have loaded the app's own library into them, as root, before any sandbox
// existed. The attack here uses the loader's debug output instead of a
// library (the same variables, no compiler needed): every root stage that
// obeyed LD_DEBUG_OUTPUT would write a root-owned file on the host.
import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { apiCall } from '../helpers/daemon.ts';
import { descendants } from '../helpers/processes.ts';
import { attackScene, deployHostile } from './hostile-app.ts';

test("loader variables in an app's config never reach the root programs that make its sandbox, and still reach the app", { timeout: 240_000 }, async (t) => {
  const scene = await attackScene(t, 'loader-env', ['--sandbox', 'required']);
  const trap = join(scene.root, 'loader-trap');
  await mkdir(trap, { mode: 0o1777 });
  await deployHostile(scene.daemon, 'evil', join(scene.root, 'evil'));
  const set = await apiCall(scene.daemon, 'PATCH', '/apps/evil/config', { set: { LD_DEBUG: 'libs', LD_DEBUG_OUTPUT: join(trap, 'root-stage'), GCONV_PATH: '/nonexistent' } });
  assert.equal(set.status, 200, JSON.stringify(set.json));

  // The release's instance started after the change: its launch is what would have obeyed.
  const [instance] = (await apiCall(scene.daemon, 'GET', '/apps/evil/ps')).json.instances;
  assert.equal(instance.state, 'ready');
  assert.deepEqual(await readdir(trap), [], 'no root stage wrote its loader debug output (nsenter, bwrap or setpriv ran with LD_DEBUG_OUTPUT)');

  // The app still gets its variables: they are set again after the drop to its user.
  const server = descendants(instance.pid).find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('node\0');
    } catch {
      return false;
    }
  });
  assert.ok(server !== undefined, 'the app server runs');
  const environ = readFileSync(`/proc/${server}/environ`, 'utf8').split('\0');
  assert.ok(environ.includes('LD_DEBUG=libs') && environ.includes('GCONV_PATH=/nonexistent'), 'the app has its own loader variables');
  const owner = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${server}/status`, 'utf8'))![1];
  assert.notEqual(owner, '0', 'and it runs as its own user');
});
