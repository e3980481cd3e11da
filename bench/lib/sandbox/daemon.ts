// A real `berth server` from dist/, as root, on ephemeral ports, driven
// through its API the way the CLI drives it: create an app, deploy a
// folder, scale, read the app's log, destroy. Its state folder lies outside
// the system's temp folder on purpose: `npm test`'s leftover check counts
// any daemon whose state is under it, and other sessions' suites run on
// this machine at the same time.
import { execFileSync } from 'node:child_process';
import { chmod, readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { packSource } from '../../../src/build/index.ts';
import { Sandboxes } from '../../../src/sandbox/index.ts';
import type { Child, ChildProcesses } from '../child-processes.ts';

export type DaemonKind = 'sandboxed' | 'unsandboxed';
export const DAEMON_KINDS: readonly DaemonKind[] = ['sandboxed', 'unsandboxed'];

export interface BenchDaemon {
  readonly kind: DaemonKind;
  readonly child: Child;
  readonly state: string;
  /** Its apps' Unix users start with this. */
  readonly userPrefix: string;
  readonly api: string;
  readonly edge: string;
  readonly token: string;
}

const STARTUP_TIMEOUT_MS = 60_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the child's output matches; fails when it exits first or after `timeoutMs`. */
export async function waitForOutput(child: Child, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = child.output().match(pattern);
    if (match) return match;
    if (child.exit) throw new Error(child.describeExit());
    if (Date.now() > deadline) throw new Error(`${child.name}: no ${pattern} within ${timeoutMs / 1000} s:\n${child.output().slice(-2000)}`);
    await sleep(25);
  }
}

/** Starts `berth server --sandbox required|off` on `state` (its parent folder must be passable by the apps' users). */
export async function startBerthServer(children: ChildProcesses, repoRoot: string, kind: DaemonKind, state: string, userPrefix: string): Promise<BenchDaemon> {
  await chmod(join(state, '..'), 0o711);
  const child = children.start({
    name: `berth server (${kind})`,
    command: process.execPath,
    args: [
      join(repoRoot, 'dist', 'cli', 'main.js'),
      'server',
      '--state', state,
      '--http', '127.0.0.1:0',
      '--api', '127.0.0.1:0',
      '--user-prefix', userPrefix,
      '--sandbox', kind === 'sandboxed' ? 'required' : 'off',
    ],
    cwd: repoRoot,
    env: { ...process.env, NO_COLOR: '1' },
  });
  const edge = (await waitForOutput(child, /edge listening on (http:\/\/127\.0\.0\.1:\d+)/, STARTUP_TIMEOUT_MS))[1]!;
  const api = (await waitForOutput(child, /api listening on (http:\/\/127\.0\.0\.1:\d+)/, STARTUP_TIMEOUT_MS))[1]!;
  await waitForOutput(child, /\| ready$/m, STARTUP_TIMEOUT_MS);
  const token = (await readFile(join(state, 'admin-token'), 'utf8')).trim();
  return { kind, child, state, userPrefix, api, edge, token };
}

/** One API call; throws with berth's answer unless it is a 2xx. */
export async function apiCall(d: BenchDaemon, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(d.api + path, {
    method,
    headers: { authorization: `Bearer ${d.token}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(120_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${d.kind}: ${method} ${path} answered ${res.status}: ${text.trim().slice(0, 500)}`);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Creates `app` and deploys `dir` to it; throws with the build's output when it does not serve. */
export async function createAndDeploy(d: BenchDaemon, app: string, dir: string): Promise<void> {
  await apiCall(d, 'POST', '/apps', { name: app });
  const packed = await packSource(dir);
  const res = await fetch(`${d.api}/apps/${app}/deploy`, {
    method: 'POST',
    headers: { authorization: `Bearer ${d.token}`, 'content-type': 'application/gzip' },
    body: packed.stream as unknown as RequestInit['body'],
    duplex: 'half',
    signal: AbortSignal.timeout(180_000),
  } as RequestInit);
  const lines = (await res.text()).trim().split('\n');
  let last: { result?: string } = {};
  try {
    last = JSON.parse(lines.at(-1) ?? '{}') as { result?: string };
  } catch {
    // not the outcome line: the deploy failed before it
  }
  if (last.result !== 'ok') throw new Error(`${d.kind}: the deploy of ${app} failed:\n${lines.slice(-20).join('\n')}`);
}

export async function scale(d: BenchDaemon, app: string, web: number): Promise<void> {
  await apiCall(d, 'PUT', `/apps/${app}/formation`, { web });
}

/** The pid berth started for the app's web.1 (for a sandbox: bwrap's, in the instance's cgroup), or null. */
export async function instancePid(d: BenchDaemon, app: string): Promise<number | null> {
  const answer = (await apiCall(d, 'GET', `/apps/${app}/ps`)) as { instances?: Array<{ name?: string; pid?: number }> };
  return answer.instances?.find((i) => i.name === 'web.1')?.pid ?? null;
}

/** The app's recent log lines (its web.1's, berth's events about it included), as text. */
export async function webLog(d: BenchDaemon, app: string, lines = 40): Promise<string> {
  return String(await apiCall(d, 'GET', `/apps/${app}/logs?process=web.1&lines=${lines}`));
}

/** GET / through the daemon's edge for the app's host name, on a fresh connection: the status, or 0 when the connection failed. */
export function edgeStatus(edge: string, host: string): Promise<number> {
  const { hostname, port } = new URL(edge);
  return new Promise((resolve) => {
    const req = request({ host: hostname, port, path: '/', headers: { host }, agent: false, timeout: 5_000 }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
      res.once('error', () => resolve(0));
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(0));
    req.end();
  });
}

export function appHost(app: string): string {
  return `${app}.localhost`;
}

/**
 * Stops the daemon and takes down all it made: its apps destroyed first
 * (their users, networks, control groups), then the daemon, then whatever
 * a failure left (sandboxes purged, users with its prefix deleted).
 */
export async function stopBerthServer(children: ChildProcesses, d: BenchDaemon, apps: readonly string[], log: (line: string) => void): Promise<void> {
  if (!d.child.exit) {
    for (const app of apps) await apiCall(d, 'DELETE', `/apps/${app}?confirm=${app}`).catch(() => {});
  }
  // SIGINT: a full stop (SIGTERM would leave the edge process and the apps running for a next daemon).
  await children.stop(d.child, 20_000, 'SIGINT');
  await Sandboxes.purge(d.state, log).catch((err: Error) => log(`purging ${d.kind}'s sandboxes: ${err.message}`));
  removeUsers(d.userPrefix);
}

/** Deletes the Unix users and groups whose names start with `prefix` (apps a failed run did not destroy). Synchronous: exit hooks use it too. */
export function removeUsers(prefix: string): void {
  if (process.getuid?.() !== 0) return;
  for (const [database, remove] of [['passwd', 'userdel'], ['group', 'groupdel']] as const) {
    let text = '';
    try {
      text = execFileSync('getent', [database], { encoding: 'utf8' });
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const name = line.split(':')[0] ?? '';
      if (!name.startsWith(prefix)) continue;
      try {
        execFileSync(remove, [name], { stdio: 'ignore' });
      } catch {
        // a leftover user harms nothing; the run's log says what was made
      }
    }
  }
}
