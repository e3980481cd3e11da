// The attack: a hostile app binds the port berth just gave another app's
// new instance, before that instance does (the window between berth
// choosing a free port and the app binding it; an attacker can see berth's
// probe socket come and go in /proc/net/tcp). Before the fix, readiness
// only asked "does something accept on the port?", so the hostile listener
// was published to the edge and got the victim's requests.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { apiCall, deployDir, viaEdge, type Daemon } from '../helpers/daemon.ts';
import { eventually } from '../helpers/berth-process.ts';
import { attackScene, deployHostile, hostileSpawn, whoami } from './hostile-app.ts';

// These attacks come from an app that can write its own release and the
// host's /tmp: an uncontained app (a daemon without root, or --sandbox off).
// A sandboxed app cannot even stage them (its release is read-only, /tmp
// its own: test/security/sandbox-*.test.ts); what is tested here is that
// berth's own code holds regardless, so the daemon runs with --sandbox off.
const UNCONTAINED = ['--sandbox', 'off'];

// The victim waits a few seconds before it binds $PORT: the race the attacker wins, made certain.
const VICTIM = `
const http = require('node:http');
setTimeout(() => http.createServer((req, res) => res.end('victim')).listen(Number(process.env.PORT), '127.0.0.1'), Number(process.env.BIND_DELAY_MS ?? 0));
process.on('SIGTERM', () => process.exit(0));
`;

/** The victim's log so far, as text. */
async function victimLog(d: Daemon): Promise<string> {
  const res = await apiCall(d, 'GET', '/apps/victim/logs?lines=1000');
  return typeof res.json === 'string' ? res.json : JSON.stringify(res.json);
}

/** GET http://127.0.0.1:PORT/ straight (the test is root, outside any app): the body, or null when refused. */
function direct(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve(body));
    });
    req.on('error', () => resolve(null));
    req.end();
  });
}

/**
 * Starts a rollout of the victim (`start` returns when it has finished), and
 * as soon as its new web.1 is given a port, has the hostile app listen on
 * that port at `address`. Resolves with the port and the rollout's result.
 */
async function raceFor(d: Daemon, address: string, start: () => Promise<unknown>, pids: number[]): Promise<{ port: number; result: unknown }> {
  const seen = new Set([...(await victimLog(d)).matchAll(/started \(pid \d+, port (\d+)\)/g)].map((m) => m[1]));
  const rollout = start();
  const port = Number(
    await eventually('the victim’s new instance has a port', async () => [...(await victimLog(d)).matchAll(/started \(pid \d+, port (\d+)\)/g)].map((m) => m[1]).find((p) => !seen.has(p)), 30_000),
  );
  const listener = `require('node:http').createServer((q, s) => s.end('HOSTILE')).listen(${port}, ${JSON.stringify(address)})`;
  pids.push(await hostileSpawn(d, 'hostile.localhost', ['node', '-e', listener]));
  // The attack must really have won the race, or the test proves nothing.
  assert.equal(await eventually(`the hostile app listens on ${address} port ${port}`, () => direct(port).then((b) => (b === 'HOSTILE' ? b : null)), 20_000), 'HOSTILE');
  return { port, result: await rollout };
}

test('a hostile app that binds the port another app’s instance was given never gets that app’s traffic (0.0.0.0 during a deploy, :: during a restart)', { timeout: 300_000 }, async (t) => {
  const { root, daemon, strays: hostilePids } = await attackScene(t, 'port-takeover', UNCONTAINED);

  await deployHostile(daemon, 'hostile', join(root, 'hostile'));
  const hostileUid = (await whoami(daemon, 'hostile.localhost')).uid;
  assert.equal((await apiCall(daemon, 'POST', '/apps', { name: 'victim' })).status, 201);
  const victimDir = join(root, 'victim');
  await mkdir(victimDir);
  await writeFile(join(victimDir, 'server.js'), VICTIM);
  await writeFile(join(victimDir, 'Procfile'), 'web: node server.js\n');
  assert.equal((await deployDir(daemon, 'victim', victimDir)).last.release?.name, 'v1');
  assert.equal((await viaEdge(daemon.edge, 'victim.localhost')).body, 'victim');
  // From now on the victim binds 5 s after it starts.
  assert.equal((await apiCall(daemon, 'PATCH', '/apps/victim/config', { set: { BIND_DELAY_MS: '5000' } })).status, 200);

  const answers = async () => {
    const bodies = new Set<string>();
    for (let i = 0; i < 20; i++) bodies.add((await viaEdge(daemon.edge, 'victim.localhost')).body);
    return [...bodies];
  };

  // A deploy: the hostile app listens on 0.0.0.0 on the new instance's port.
  const deployed = await raceFor(daemon, '0.0.0.0', () => deployDir(daemon, 'victim', victimDir), hostilePids);
  assert.equal((deployed.result as { last: { release?: { name: string } } }).last.release?.name, 'v3', JSON.stringify(deployed.result));
  assert.deepEqual(await answers(), ['victim']);
  assert.ok((await victimLog(daemon)).includes(`port ${deployed.port} is held by another process (uid ${hostileUid}), not web.1`));

  // A restart: the hostile app listens on :: (IPv6, which takes IPv4 connections too).
  const restarted = await raceFor(daemon, '::', () => apiCall(daemon, 'POST', '/apps/victim/restart'), hostilePids);
  assert.equal((restarted.result as { status: number }).status, 200, JSON.stringify(restarted.result));
  assert.deepEqual(await answers(), ['victim']);
  assert.ok((await victimLog(daemon)).includes(`port ${restarted.port} is held by another process (uid ${hostileUid}), not web.1`));
});
