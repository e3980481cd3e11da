import { execFileSync } from 'node:child_process';
import { after } from 'node:test';
import { Sandboxes } from '../../src/sandbox/index.ts';
import { edgePaths, endEdgeProcess, readEdgeRecord, type EdgeRecord } from '../../src/edge-process/index.ts';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { packSource } from '../../src/build/index.ts';
import { BerthProcess } from './berth-process.ts';

/** A real `berth server` on ephemeral ports, with its admin token. */
export interface Daemon {
  readonly berth: BerthProcess;
  readonly api: string;
  readonly edge: string;
  readonly token: string;
}

/**
 * The Unix user prefix of a test daemon: its own per state folder (so
 * parallel tests that each create an app "shop" as root do not fight over
 * the user berth-shop) and the same across restarts of that daemon.
 */
export function testUserPrefix(stateDir: string): string {
  return `t${createHash('sha256').update(stateDir).digest('hex').slice(0, 6)}-`;
}

/** For a daemon a test starts itself (not through startDaemon): its users and sandboxes are cleaned up with the file's. */
export function cleanUpAfter(stateDir: string): string {
  const prefix = testUserPrefix(stateDir);
  prefixes.add(prefix);
  states.add(stateDir);
  return prefix;
}

const prefixes = new Set<string>();
/** State folders of the daemons this test file started: their sandboxes' networks and control groups go when the file's tests are done. */
const states = new Set<string>();
/** The edge processes the file's daemons ran (pid and start time, from STATE/run/edge.json). */
const edges: EdgeRecord[] = [];

// The file's own tests stop their daemons (t.after); what those daemons made
// for sandboxes outlives them by design (apps keep their networks across a
// daemon restart), so it is taken down here, once every test of the file ran.
after(async () => {
  // A daemon killed with SIGKILL leaves its edge process serving, by design: it goes too.
  for (const record of edges) await endEdgeProcess(record, 2_000).catch(() => {});
  edges.length = 0;
  for (const state of states) await Sandboxes.purge(state).catch(() => {});
  states.clear();
});

// Apps a test did not destroy leave their users behind; remove them when the
// test process ends (synchronously: that is all an exit handler can do).
process.once('exit', () => {
  if (prefixes.size === 0 || process.getuid?.() !== 0) return;
  let passwd = '';
  try {
    passwd = execFileSync('getent', ['passwd'], { encoding: 'utf8' });
  } catch {
    return;
  }
  for (const line of passwd.split('\n')) {
    const name = line.split(':')[0] ?? '';
    if (![...prefixes].some((prefix) => name.startsWith(prefix))) continue;
    try {
      execFileSync('userdel', [name], { stdio: 'ignore' });
    } catch {
      // Best effort: a leftover test user harms nothing.
    }
  }
});

export async function startDaemon(stateDir: string, workers = 1, extraArgs: readonly string[] = [], env: Record<string, string> = {}, wrapper: readonly string[] = []): Promise<Daemon> {
  const prefix = testUserPrefix(stateDir);
  prefixes.add(prefix);
  states.add(stateDir);
  // The test's mkdtemp folder is 0700; apps running as their own users
  // (the tests run as root) must be able to pass through it.
  chmodSync(dirname(stateDir), 0o711);
  const berth = new BerthProcess(['server', '--state', stateDir, '--http', '127.0.0.1:0', '--api', '127.0.0.1:0', '--workers', String(workers), '--user-prefix', prefix, ...extraArgs], { env, wrapper });
  try {
    const edge = (await berth.waitFor(/edge listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
    const api = (await berth.waitFor(/api listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
    await berth.waitFor(/\| ready$/m);
    const record = readEdgeRecord(edgePaths(stateDir).record);
    if (record !== null) edges.push(record);
    const token = (await readFile(join(stateDir, 'admin-token'), 'utf8')).trim();
    return { berth, api, edge, token };
  } catch (err) {
    // The caller never gets the process to stop: a daemon left running keeps the test file from ever ending.
    await berth.kill();
    throw err;
  }
}

/** A GET to the edge for an app's host name (fetch cannot set Host). */
export function viaEdge(edge: string, host: string, path = '/'): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(edge);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** One API call with the daemon's admin token; the answer's JSON (or its text when it is not JSON). */
export async function apiCall(d: Daemon, method: string, path: string, body?: unknown, token = d.token): Promise<{ status: number; json: any }> {
  const res = await fetch(d.api + path, { method, headers: { authorization: `Bearer ${token}` }, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  try {
    return { status: res.status, json: JSON.parse(text) };
  } catch {
    return { status: res.status, json: text };
  }
}

/** Starts a deploy of the folder `dir` to `app`: the API's answer, its build output still streaming. */
export async function deployRequest(d: Daemon, app: string, dir: string): Promise<Response> {
  const packed = await packSource(dir);
  return fetch(`${d.api}/apps/${app}/deploy`, {
    method: 'POST',
    headers: { authorization: `Bearer ${d.token}`, 'content-type': 'application/gzip' },
    body: packed.stream as unknown as RequestInit['body'],
    duplex: 'half',
  } as RequestInit);
}

/** Deploys the folder `dir` to `app` through the API; the streamed lines and the last one (the outcome) parsed. */
export async function deployDir(d: Daemon, app: string, dir: string): Promise<{ lines: string[]; last: any }> {
  const res = await deployRequest(d, app, dir);
  const lines = (await res.text()).trim().split('\n');
  return { lines, last: JSON.parse(lines.at(-1)!) };
}
