import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiCall, deployDir, startDaemon, viaEdge } from '../helpers/daemon.ts';

const SERVER = `const http = require('node:http');
http.createServer((req, res) => res.end(String(process.getuid()))).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

/** Pids of running processes whose real or effective uid is `uid`. */
function processesOf(uid: number): number[] {
  return execFileSync('ps', ['-e', '-o', 'pid=,ruid=,euid=,stat='], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length === 4 && (Number(f[1]) === uid || Number(f[2]) === uid) && !f[3]!.startsWith('Z'))
    .map((f) => Number(f[0]));
}

test('a full stop (SIGINT) stops the apps even with clients that never leave attached: a log follower, an idle SSH connection', { timeout: 300_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-shutdown-'));
  const daemon = await startDaemon(join(root, 'state'), 1, ['--ssh', '127.0.0.1:0']);
  t.after(async () => {
    await daemon.berth.kill();
    await rm(root, { recursive: true, force: true });
  });
  const sshPort = Number((await daemon.berth.waitFor(/ssh listening on 127\.0\.0\.1:(\d+)/))[1]);
  const source = join(root, 'app');
  await mkdir(source);
  await writeFile(join(source, 'server.js'), SERVER);
  await writeFile(join(source, 'Procfile'), 'web: node server.js\n');
  assert.equal((await apiCall(daemon, 'POST', '/apps', { name: 'kept' })).status, 201);
  assert.equal((await deployDir(daemon, 'kept', source)).last.release?.name, 'v1');
  const uid = Number((await viaEdge(daemon.edge, 'kept.localhost')).body);
  const instances = process.getuid?.() === 0 ? processesOf(uid) : [];

  // Clients that never go away on their own.
  const follower = new AbortController();
  const following = fetch(`${daemon.api}/apps/kept/logs?follow=1`, { headers: { authorization: `Bearer ${daemon.token}` }, signal: follower.signal });
  const res = await following;
  assert.equal(res.status, 200);
  const reading = res.text().catch(() => 'cut');
  const ssh = connect(sshPort, '127.0.0.1');
  ssh.on('error', () => {});
  await new Promise((resolve) => ssh.once('data', resolve)); // the server's SSH banner: connected
  t.after(() => {
    ssh.destroy();
    follower.abort();
  });

  const exit = await daemon.berth.stop('SIGINT', 60_000);
  assert.equal(exit.code, 0, daemon.berth.output);
  assert.match(daemon.berth.output, /\| stopped$/m);
  await reading; // the follower was cut, not left hanging
  if (process.getuid?.() === 0) {
    assert.ok(instances.length > 0);
    assert.deepEqual(processesOf(uid), [], 'nothing runs as the app once the daemon has stopped');
  }
});
