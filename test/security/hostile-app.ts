// The attacker of the security tests: an app deployed to a real `berth
// server`, with an endpoint that runs any command it is sent, as the app's
// own Unix user (what a compromised app, or a tenant who means harm, can do
// on the machine). Tests drive it through the edge, like the attack review.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { apiCall, deployDir, startDaemon, type Daemon } from '../helpers/daemon.ts';

/**
 * POST /run {argv, cwd?, input?, detached?} runs argv (no shell unless the
 * argv is one) and answers {code, stdout, stderr}; with `detached` it starts
 * the command in the background in a session of its own (setsid) and
 * answers {pid} at once. GET /whoami answers {uid, gid, pid, cwd, home, port}.
 * POST /allocate {mib} makes the server itself hold that much more memory
 * (8 MiB at a time, at once after answering).
 */
export const HOSTILE_SERVER = `
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/whoami') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), pid: process.pid, cwd: process.cwd(), home: process.env.HOME, port: Number(process.env.PORT) }));
    return;
  }
  if (req.method === 'POST' && req.url === '/run') {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const job = JSON.parse(body);
      const child = spawn(job.argv[0], job.argv.slice(1), { cwd: job.cwd ?? process.cwd(), detached: Boolean(job.detached), stdio: job.detached ? 'ignore' : ['pipe', 'pipe', 'pipe'] });
      res.setHeader('content-type', 'application/json');
      if (job.detached) {
        child.unref();
        child.once('error', (err) => res.end(JSON.stringify({ error: err.message })));
        child.once('spawn', () => res.end(JSON.stringify({ pid: child.pid })));
        return;
      }
      let stdout = '', stderr = '';
      child.stdout.setEncoding('utf8').on('data', (c) => (stdout += c));
      child.stderr.setEncoding('utf8').on('data', (c) => (stderr += c));
      // A command that exits without reading its input closes the pipe: EPIPE must not kill the app.
      child.stdin.on('error', () => {});
      child.stdin.end(job.input ?? '');
      child.once('error', (err) => res.end(JSON.stringify({ code: -1, stdout, stderr: err.message })));
      child.once('close', (code, signal) => res.end(JSON.stringify({ code, signal, stdout, stderr })));
    });
    return;
  }
  if (req.method === 'POST' && req.url === '/allocate') {
    // Grows the app's own process (not a child's: the kernel's OOM killer takes the biggest process of the group) by MiB, touched so it is really used.
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      let left = JSON.parse(body).mib;
      const grow = setInterval(() => {
        if (left <= 0) return clearInterval(grow);
        hoard.push(Buffer.alloc(8 << 20, 1));
        left -= 8;
      }, 5);
      res.end(JSON.stringify({ allocating: left }));
    });
    return;
  }
  res.end('hostile app');
});
const hoard = [];
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

/** Writes the hostile app into `dir`, with a [static] folder and any extra files (path → content). */
export async function writeHostileApp(dir: string, extra: Record<string, string> = {}): Promise<void> {
  await mkdir(join(dir, 'static', 'sub'), { recursive: true });
  await writeFile(join(dir, 'server.mjs'), HOSTILE_SERVER);
  await writeFile(join(dir, 'Procfile'), 'web: node server.mjs\n');
  await writeFile(join(dir, 'berth.toml'), '[static]\n"/static" = "static"\n');
  await writeFile(join(dir, 'static', 'hello.txt'), 'hello from the static folder\n');
  await writeFile(join(dir, 'static', 'sub', 'page.txt'), 'a page in a subfolder\n');
  for (const [path, content] of Object.entries(extra)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

/** Creates `app` and deploys the hostile app to it; throws with the build log when the deploy fails. */
export async function deployHostile(d: Daemon, app: string, dir: string, extra: Record<string, string> = {}): Promise<void> {
  const created = await apiCall(d, 'POST', '/apps', { name: app });
  if (created.status !== 201) throw new Error(`cannot create ${app}: ${JSON.stringify(created.json)}`);
  await writeHostileApp(dir, extra);
  const { lines, last } = await deployDir(d, app, dir);
  if (!last.release) throw new Error(`deploy of ${app} failed:\n${lines.join('\n')}`);
}

/** One request through the edge to the app at `host` (raw, so Host can be set and nothing is followed). */
export function edgeRequest(edge: string, host: string, method: string, path: string, body?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { hostname, port } = new URL(edge);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method, headers: { host, ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }) }, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

export interface RunResult {
  readonly code: number | null;
  readonly signal?: string | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs argv inside the app at `host`, as its user, and returns what it printed. */
export async function hostileRun(d: Daemon, host: string, argv: readonly string[], options: { cwd?: string; input?: string } = {}): Promise<RunResult> {
  const res = await edgeRequest(d.edge, host, 'POST', '/run', JSON.stringify({ argv, ...options }));
  if (res.status !== 200) throw new Error(`the hostile app at ${host} answered ${res.status}: ${res.body}`);
  return JSON.parse(res.body) as RunResult;
}

/** Starts argv in the background inside the app, in a session of its own (escaping its process group); its pid. */
export async function hostileSpawn(d: Daemon, host: string, argv: readonly string[], options: { cwd?: string } = {}): Promise<number> {
  const res = await edgeRequest(d.edge, host, 'POST', '/run', JSON.stringify({ argv, detached: true, ...options }));
  const answer = JSON.parse(res.body) as { pid?: number; error?: string };
  if (answer.pid === undefined) throw new Error(`cannot start ${argv.join(' ')} in ${host}: ${answer.error ?? res.body}`);
  return answer.pid;
}

/** Who the app at `host` runs as, where, and on which port. */
export async function whoami(d: Daemon, host: string): Promise<{ uid: number; gid: number; pid: number; cwd: string; home: string; port: number }> {
  return JSON.parse((await edgeRequest(d.edge, host, 'GET', '/whoami')).body);
}

/** One attack's stage: a temp folder, a real daemon on its state, and pids the test must end whatever happens. */
export interface AttackScene {
  readonly root: string;
  readonly state: string;
  readonly daemon: Daemon;
  /** Processes the attack started outside the daemon's reach (or to check it): SIGKILLed at the end. */
  readonly strays: number[];
}

/**
 * Sets up an attack and its cleanup, in the order that leaves nothing: the
 * strays, then the daemon (until it is gone it writes into its state
 * folder), then the folder.
 */
export async function attackScene(t: TestContext, name: string, extraArgs: readonly string[] = []): Promise<AttackScene> {
  const root = await mkdtemp(join(tmpdir(), `berth-${name}-`));
  const state = join(root, 'state');
  const strays: number[] = [];
  let daemon: Daemon | undefined;
  t.after(async () => {
    for (const pid of strays) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await daemon?.berth.kill();
    await rm(root, { recursive: true, force: true });
  });
  daemon = await startDaemon(state, 1, extraArgs);
  return { root, state, daemon, strays };
}
