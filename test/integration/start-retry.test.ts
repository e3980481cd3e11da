import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiCall, deployDir, startDaemon, viaEdge } from '../helpers/daemon.ts';

const SERVER = `require('node:http').createServer((req, res) => res.end('back')).listen(Number(process.env.PORT), '127.0.0.1');\nprocess.on('SIGTERM', () => process.exit(0));\n`;

test('an app that cannot start when the daemon starts is tried again with backoff, each failure logged once with the next try, and serves once a try succeeds', { timeout: 300_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-start-retry-'));
  const state = join(root, 'state');
  let daemon = await startDaemon(state);
  t.after(async () => {
    await daemon.berth.kill();
    await rm(root, { recursive: true, force: true });
  });
  const source = join(root, 'app');
  await mkdir(source);
  await writeFile(join(source, 'server.js'), SERVER);
  await writeFile(join(source, 'Procfile'), 'web: node server.js\n');
  assert.equal((await apiCall(daemon, 'POST', '/apps', { name: 'flaky' })).status, 201);
  assert.equal((await deployDir(daemon, 'flaky', source)).last.release?.name, 'v1');
  await daemon.berth.stop();

  // The build folder is away while the daemon starts (a slow mount, a restore in progress)…
  const builds = join(state, 'apps', 'flaky', 'builds');
  const [build] = await readdir(builds);
  await rename(join(builds, build!), join(root, 'away'));
  daemon = await startDaemon(state);
  await daemon.berth.waitFor(/flaky: cannot start v1: .*; next try at \d{4}-\d\d-\d\dT[\d:.]+Z \(in 2 s\)/);
  assert.notEqual((await viaEdge(daemon.edge, 'flaky.localhost')).body, 'back', 'not serving yet');

  // … and comes back: a later try serves it, without anyone asking.
  await rename(join(root, 'away'), join(builds, build!));
  await daemon.berth.waitFor(/flaky: serving v1 \(after \d+ failed starts?\)/, 60_000);
  assert.equal((await viaEdge(daemon.edge, 'flaky.localhost')).body, 'back');
  const failures = daemon.berth.output.match(/flaky: cannot start v1/g) ?? [];
  const tries = daemon.berth.output.match(/next try at/g) ?? [];
  assert.equal(failures.length, tries.length, 'each failure is one line, with its next try');
});
