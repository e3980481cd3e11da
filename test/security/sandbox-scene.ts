// The stage of the sandbox attacks (test/security/sandbox-*.test.ts): a
// real `berth server --sandbox required` (root) with two apps, a neighbour
// that serves (the victim, bound to 0.0.0.0 as gunicorn from a Procfile
// is, with a secret in its environment) and the hostile app of
// hostile-app.ts. Each attack must fail or be contained while the
// neighbour keeps answering through the edge: askNeighbour asks it again
// and again during the attack and says what it got.

import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { detectCgroups, stateId, type CgroupHandle } from '../../src/sandbox/index.ts';
import { apiCall, deployDir, type Daemon } from '../helpers/daemon.ts';
import { eventually } from '../helpers/berth-process.ts';
import { attackScene, deployHostile, edgeRequest, hostileRun, type AttackScene } from './hostile-app.ts';

if (process.getuid?.() !== 0) throw new Error('the sandbox attacks need berth server as root (it contains apps only then): run the tests as root');

/** How the scene's daemon runs its apps: contained, or it refuses to start. */
export const SANDBOX = ['--sandbox', 'required'];

export const HOSTILE = 'hostile';
export const HOSTILE_HOST = `${HOSTILE}.localhost`;
export const NEIGHBOUR = 'neighbour';
export const NEIGHBOUR_HOST = `${NEIGHBOUR}.localhost`;

/** The victim: answers "neighbour" on every address of its port, and says who it is at /whoami. */
const NEIGHBOUR_SERVER = `
import { createServer } from 'node:http';
const server = createServer((req, res) => {
  if (req.url === '/whoami') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ uid: process.getuid(), pid: process.pid, port: Number(process.env.PORT) }));
    return;
  }
  res.end('neighbour');
});
server.listen(Number(process.env.PORT), '0.0.0.0');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

export interface SandboxScene extends AttackScene {
  /** The value of NEIGHBOUR_SECRET in the neighbour's environment. */
  readonly secret: string;
}

/**
 * A daemon with the neighbour and the hostile app deployed and serving.
 * `hostileResources` is the body of the hostile app's berth.toml
 * [resources] table ("memory = \"96m\"").
 */
export async function sandboxScene(t: TestContext, name: string, hostileResources = '', daemonArgs: readonly string[] = SANDBOX): Promise<SandboxScene> {
  const scene = await attackScene(t, name, daemonArgs);
  const d = scene.daemon;
  const secret = randomBytes(16).toString('hex');
  const created = await apiCall(d, 'POST', '/apps', { name: NEIGHBOUR });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  assert.equal((await apiCall(d, 'PATCH', `/apps/${NEIGHBOUR}/config`, { set: { NEIGHBOUR_SECRET: secret } })).status, 200);
  const source = join(scene.root, 'neighbour-source');
  await mkdir(source);
  await writeFile(join(source, 'neighbour.mjs'), NEIGHBOUR_SERVER);
  await writeFile(join(source, 'Procfile'), 'web: node neighbour.mjs\n');
  const { lines, last } = await deployDir(d, NEIGHBOUR, source);
  assert.ok(last.release, `the neighbour's deploy failed:\n${lines.join('\n')}`);
  await deployHostile(d, HOSTILE, join(scene.root, 'hostile-source'), { 'berth.toml': `[static]\n"/static" = "static"\n\n[resources]\n${hostileResources}\n` });
  assert.equal((await edgeRequest(d.edge, NEIGHBOUR_HOST, 'GET', '/')).body, 'neighbour');
  return { ...scene, secret };
}

/** What the neighbour answered while it was asked. */
export interface Served {
  readonly answers: number;
  /** Anything but a 200 "neighbour": the status and body, or the error. */
  readonly failures: readonly string[];
  /** Each answer's time in ms, in order. */
  readonly latencies: readonly number[];
}

/** One request to the neighbour through the edge: its time, or what went wrong. */
async function askOnce(d: Daemon, latencies: number[], failures: string[]): Promise<void> {
  const started = performance.now();
  try {
    const res = await edgeRequest(d.edge, NEIGHBOUR_HOST, 'GET', '/');
    latencies.push(performance.now() - started);
    if (res.status !== 200 || res.body !== 'neighbour') failures.push(`${res.status} ${res.body.slice(0, 200)}`);
  } catch (err) {
    failures.push((err as Error).message);
  }
}

/**
 * Asks the neighbour through the edge, one request after another (a pause
 * of `gapMs` between them), until stop() or the test's end; bounded by
 * `limitMs` whatever happens.
 */
export function askNeighbour(t: TestContext, d: Daemon, gapMs = 20, limitMs = 120_000): { stop(): Promise<Served> } {
  let stopped = false;
  const failures: string[] = [];
  const latencies: number[] = [];
  const deadline = Date.now() + limitMs;
  const loop = (async () => {
    while (!stopped && Date.now() < deadline) {
      await askOnce(d, latencies, failures);
      if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
  })();
  const stop = async (): Promise<Served> => {
    stopped = true;
    await loop;
    return { answers: latencies.length, failures, latencies };
  };
  // A test that failed half-way never asked it to stop: the asking ends with the test, not at its limit.
  t.after(stop);
  return { stop };
}

/** `count` requests to the neighbour through the edge, one after another. */
export async function sampleNeighbour(d: Daemon, count: number): Promise<Served> {
  const failures: string[] = [];
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) await askOnce(d, latencies, failures);
  return { answers: latencies.length, failures, latencies };
}

/** The neighbour answered every request with a 200, at least `atLeast` times. */
export function assertServed(served: Served, atLeast: number, during: string): void {
  assert.deepEqual(served.failures, [], `the neighbour failed during ${during}`);
  assert.ok(served.answers >= atLeast, `the neighbour answered ${served.answers} times during ${during} (at least ${atLeast} expected)`);
}

/** The control groups of the app's instances that hold processes now (their names under berth's root, "hostile/web.1-…"). */
export async function liveGroups(state: string, app: string): Promise<CgroupHandle[]> {
  const { driver, reason } = await detectCgroups({ rootName: `berth/${stateId(state)}` });
  if (driver === null) throw new Error(`no control groups: ${reason}`);
  const live: CgroupHandle[] = [];
  for (const name of await driver.list(app)) {
    if (!/\/web\.\d+-[0-9a-f]+$/.test(name)) continue;
    const group = await driver.open(name);
    if (group !== null && (await group.pids().catch(() => [])).length > 0) live.push(group);
  }
  return live;
}

/** The control group of the app's one running web instance. */
export async function instanceGroup(state: string, app: string): Promise<CgroupHandle> {
  return eventually(`${app} runs in one control group`, async () => {
    const live = await liveGroups(state, app);
    return live.length === 1 ? live[0] : null;
  });
}

/** One line of the app's log that matches, read through the API. */
export async function logLine(d: Daemon, app: string, pattern: RegExp): Promise<string> {
  return eventually(`${app}'s log says ${String(pattern)}`, async () => {
    const res = await fetch(`${d.api}/apps/${app}/logs?lines=500`, { headers: { authorization: `Bearer ${d.token}` } });
    const text = await res.text();
    return text.split('\n').find((line) => pattern.test(line)) ?? null;
  });
}

/** The app's instances as `GET /apps/NAME/ps` shows them. */
export async function ps(d: Daemon, app: string): Promise<Array<{ name: string; state: string; pid: number; port: number; lastExit: string | null; memory: { usedBytes: number; limitBytes: number | null } | null; processes: { count: number; limit: number | null } | null }>> {
  const res = await apiCall(d, 'GET', `/apps/${app}/ps`);
  assert.equal(res.status, 200, JSON.stringify(res.json));
  return res.json.instances;
}

/**
 * A program that connects to each HOST:PORT (optionally @LOCAL: from that
 * address) and prints one JSON object: target → "connected …" (with the
 * first line the server sent), "refused", "reset", "unreachable",
 * "timeout", or the error's code.
 */
export const PROBE = `
const net = require('node:net');
const [timeout, ...targets] = process.argv.slice(1);
const out = {};
const named = { ECONNREFUSED: 'refused', ECONNRESET: 'reset', ENETUNREACH: 'unreachable', EHOSTUNREACH: 'unreachable' };
Promise.all(targets.map((t) => new Promise((resolve) => {
  const [target, local] = t.split('@');
  const i = target.lastIndexOf(':');
  const s = net.connect({ host: target.slice(0, i), port: Number(target.slice(i + 1)), ...(local ? { localAddress: local } : {}) });
  let connected = false;
  let settled = false;
  const finish = (what) => {
    if (settled) return;
    settled = true;
    out[t] = what;
    clearTimeout(timer);
    s.destroy();
    resolve();
  };
  const timer = setTimeout(() => finish(connected ? 'connected' : 'timeout'), Number(timeout));
  s.on('connect', () => { connected = true; s.write('GET / HTTP/1.0\\r\\n\\r\\n'); });
  s.on('data', (d) => finish('connected ' + d.toString().split('\\n')[0].trim()));
  s.on('close', () => finish(connected ? 'connected' : 'closed'));
  s.on('error', (e) => finish(connected ? 'connected' : named[e.code] ?? String(e.code)));
}))).then(() => console.log(JSON.stringify(out)));
`;

/** Connection attempts from inside the hostile app, as its user. */
export async function probeFromHostile(d: Daemon, targets: readonly string[], timeoutMs = 5_000): Promise<Record<string, string>> {
  const run = await hostileRun(d, HOSTILE_HOST, ['node', '-e', PROBE, String(timeoutMs), ...targets]);
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout);
}

/** Targets that connected (anything that is not a refusal, a reset, a timeout…). */
export function connected(outcomes: Record<string, string>): string[] {
  return Object.entries(outcomes)
    .filter(([, outcome]) => outcome.startsWith('connected'))
    .map(([target, outcome]) => `${target}: ${outcome}`);
}
