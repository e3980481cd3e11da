// Attacks on berth run through a real daemon as root with --sandbox
// required: no valid token, no run; the argv is never a shell's; a run is
// the app's user, never root, and sees nothing of another app; a hostile
// stream ends its own run; names with paths in them are refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { encodeFrame, FRAME, FrameDecoder } from '../../src/api/run-frames.ts';
import { eventually } from '../helpers/berth-process.ts';
import { apiCall, deployDir, startDaemon, type Daemon } from '../helpers/daemon.ts';

const WEB = `
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
writeFileSync(process.env.HOME + '/secret.txt', 'secret of ' + process.env.BERTH_APP);
createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT));
process.on('SIGTERM', () => process.exit(0));
`;

type Answer = { kind: 'answer'; status: number; body: string } | { kind: 'upgraded'; socket: Duplex; head: Buffer };

/** POST /apps/APP/runs asking to upgrade, as any client could send it. */
function upgradeRequest(d: Daemon, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(`${d.api}${path}`, { method: 'POST', headers: { authorization: `Bearer ${d.token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), connection: 'Upgrade', upgrade: 'berth-run', ...headers } });
    req.once('upgrade', (_res, socket, head) => resolve({ kind: 'upgraded', socket, head }));
    req.once('response', (res) => {
      let answer = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
      res.once('end', () => resolve({ kind: 'answer', status: res.statusCode!, body: answer }));
    });
    req.once('error', reject);
    req.setTimeout(60_000, () => req.destroy(new Error(`no answer to POST ${path} in 60 s`)));
    req.end(text);
  });
}

/** Runs argv attached (no stdin) and collects its stdout and exit frame. */
async function runAttached(d: Daemon, app: string, argv: string[]): Promise<{ stdout: string; stderr: string; exit: { code: number | null; signal: string | null } }> {
  const answer = await upgradeRequest(d, `/apps/${app}/runs`, { command: argv });
  assert.equal(answer.kind, 'upgraded', answer.kind === 'answer' ? answer.body : '');
  const { socket, head } = answer as Extract<Answer, { kind: 'upgraded' }>;
  socket.write(encodeFrame(FRAME.stdinEnd));
  const decoder = new FrameDecoder();
  let stdout = '';
  let stderr = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) {
        if (frame.type === FRAME.stdout) stdout += frame.payload.toString('utf8');
        else if (frame.type === FRAME.stderr) stderr += frame.payload.toString('utf8');
        else if (frame.type === FRAME.exit) {
          socket.destroy();
          resolve({ stdout, stderr, exit: JSON.parse(frame.payload.toString('utf8')) });
        }
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed without an exit: ${stdout}${stderr}`)));
    setTimeout(() => reject(new Error(`${argv.join(' ')}: no exit in 60 s; so far: ${stdout}${stderr}`)), 60_000).unref();
    if (head.length > 0) onData(head);
  });
}

test('berth run cannot be had without a token, never runs a shell of its own, never runs as root, and one app\'s run sees nothing of another', { timeout: 300_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-run-attack-'));
  const d = await startDaemon(join(root, 'state'), 1, ['--sandbox', 'required']);
  t.after(() => d.berth.kill());
  t.after(() => rm(root, { recursive: true, force: true }));
  const app = join(root, 'app');
  await mkdir(app);
  await writeFile(join(app, 'server.mjs'), WEB);
  await writeFile(join(app, 'Procfile'), 'web: node server.mjs\n');
  for (const name of ['alpha', 'beta']) {
    assert.equal((await apiCall(d, 'POST', '/apps', { name })).status, 201);
    const { last, lines } = await deployDir(d, name, app);
    assert.ok(last.release, lines.join('\n'));
  }

  // No token, a wrong one, a revoked one: 401, on the upgrade and on the plain route, and nothing runs.
  const created = await apiCall(d, 'POST', '/tokens', { name: 'leaked' });
  const leaked = created.json.token as string;
  assert.equal((await apiCall(d, 'DELETE', '/tokens/leaked')).status, 200);
  for (const authorization of [undefined, 'Bearer berth_wrong', `Bearer ${leaked}`, `Basic ${Buffer.from(`x:${d.token}`).toString('base64')}`]) {
    const headers: Record<string, string> = authorization === undefined ? { authorization: '' } : { authorization };
    const upgraded = await upgradeRequest(d, '/apps/alpha/runs', { command: ['touch', '/tmp/pwned'] }, headers);
    assert.equal(upgraded.kind, 'answer');
    assert.equal((upgraded as { status: number }).status, 401, String(authorization));
    const plain = await fetch(`${d.api}/apps/alpha/runs`, { method: 'POST', headers: authorization === undefined ? {} : { authorization }, body: JSON.stringify({ command: ['id'], detach: true }) });
    assert.equal(plain.status, 401);
  }
  assert.deepEqual((await apiCall(d, 'GET', '/apps/alpha/runs')).json.runs, []);
  const status = await apiCall(d, 'GET', '/apps/alpha/ps');
  assert.ok(status.json.instances.every((instance: { name: string }) => !instance.name.startsWith('run.')));

  // The argv is the program's, word for word: nothing berth does parses it.
  const words = ['$(id -u)', '`id`', '; touch /tmp/injected', '&& id', "'", '"', '$HOME', '*', 'a\nb'];
  const echoed = await runAttached(d, 'alpha', ['python3', '-c', 'import json, sys; print(json.dumps(sys.argv[1:]))', ...words]);
  assert.deepEqual(JSON.parse(echoed.stdout), words);
  const injected = await runAttached(d, 'alpha', ['sh', '-c', 'test -e /tmp/injected && echo yes || echo no']);
  assert.equal(injected.stdout.trim(), 'no');

  // The app's user, no capability, no way up: setuid fails, no_new_privs holds (a setuid program gains nothing).
  const who = await runAttached(d, 'alpha', ['python3', '-c', `
import os
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
try:
    os.setuid(0)
    became = "root"
except PermissionError:
    became = "refused"
print(os.getuid(), os.geteuid(), status["CapEff"].strip(), status["CapPrm"].strip(), status["NoNewPrivs"].strip(), became)
`]);
  const [uid, euid, capEff, capPrm, noNewPrivs, became] = who.stdout.trim().split(' ');
  assert.notEqual(uid, '0');
  assert.equal(euid, uid);
  assert.equal(capEff, '0000000000000000');
  assert.equal(capPrm, '0000000000000000');
  assert.equal(noNewPrivs, '1');
  assert.equal(became, 'refused');
  const su = await runAttached(d, 'alpha', ['sh', '-c', 'su -c id root </dev/null; sudo -n id; id -u']);
  assert.equal(su.stdout.trim().split('\n').at(-1), uid, su.stdout + su.stderr);
  assert.doesNotMatch(su.stdout, /uid=0/);

  // Another app's files and processes are out of sight.
  const betaHome = ((await apiCall(d, 'GET', '/apps/beta/config?reveal=1')).json.vars as Array<{ key: string; value: string }>).find((v) => v.key === 'HOME')!.value;
  await eventually("beta's web has written its secret", async () => (await runAttached(d, 'beta', ['cat', `${betaHome}/secret.txt`])).stdout === 'secret of beta');
  const peek = await runAttached(d, 'alpha', ['sh', '-c', `cat ${betaHome}/secret.txt; ls /proc | grep -c '^[0-9]'; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c BERTH_APP=beta`]);
  assert.doesNotMatch(peek.stdout, /secret of beta/);
  const [processes, betaEnvs] = peek.stdout.trim().split('\n').slice(-2).map(Number);
  assert.ok(processes! < 10, `alpha's run sees only its own few processes, not ${processes}`);
  assert.equal(betaEnvs, 0);

  // A hostile stream: a frame announcing 2 GiB cuts the connection, and with it the run.
  const hostile = await upgradeRequest(d, '/apps/alpha/runs', { command: ['sleep', '120'] });
  assert.equal(hostile.kind, 'upgraded');
  const hostileSocket = (hostile as Extract<Answer, { kind: 'upgraded' }>).socket;
  // Read what the server sends (its started frame), so its close is seen.
  hostileSocket.on('error', () => {});
  hostileSocket.resume();
  await eventually('the run is listed', async () => (await apiCall(d, 'GET', '/apps/alpha/runs')).json.runs.length === 1);
  const header = Buffer.alloc(5);
  header[0] = FRAME.stdin;
  header.writeUInt32BE(2 ** 31, 1);
  hostileSocket.write(header);
  await new Promise((resolve, reject) => {
    hostileSocket.once('close', resolve);
    setTimeout(() => reject(new Error('the hostile stream was not cut')), 30_000).unref();
  });
  await eventually('the run is gone', async () => (await apiCall(d, 'GET', '/apps/alpha/runs')).json.runs.length === 0, 30_000);

  // Another Upgrade (a WebSocket) is not a run's stream; names with paths in them are refused.
  const websocket = await upgradeRequest(d, '/apps/alpha/runs', { command: ['id'] }, { upgrade: 'websocket' });
  assert.equal(websocket.kind, 'answer');
  assert.equal((websocket as { status: number }).status, 426);
  assert.equal((await apiCall(d, 'POST', '/apps/..%2Fbeta/runs', { command: ['id'], detach: true })).json.code, 'BERTH_E_NAME');
  assert.equal((await apiCall(d, 'DELETE', '/apps/alpha/runs/..%2F..%2Fx')).json.code, 'BERTH_E_NAME');
  assert.equal((await apiCall(d, 'DELETE', '/apps/alpha/runs/run.999')).json.code, 'BERTH_E_RUN_NOT_FOUND');
});
