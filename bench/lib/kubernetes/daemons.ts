// The two berth servers the Kubernetes bench drives, from dist/, as root:
// one with `--runtime kubernetes` (the test cluster, the registry) and one
// with the local runtime (sandboxes), and the app they both deploy. State
// lives under /var/tmp (see lib/sandbox/daemon.ts for why not /tmp).
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packSource } from '../../../src/build/index.ts';
import { Sandboxes } from '../../../src/sandbox/index.ts';
import type { Child, ChildProcesses } from '../child-processes.ts';
import { removeUsers, waitForOutput } from '../sandbox/daemon.ts';
import type { TimedLine } from './phases.ts';

export type RuntimeKind = 'kubernetes' | 'local';

export interface Berth {
  readonly kind: RuntimeKind;
  readonly child: Child;
  readonly state: string;
  readonly userPrefix: string;
  readonly api: string;
  readonly token: string;
}

const STARTUP_TIMEOUT_MS = 120_000;
const CALL_TIMEOUT_MS = 300_000;

export async function startBerth(children: ChildProcesses, repoRoot: string, kind: RuntimeKind, state: string, userPrefix: string, extraArgs: readonly string[]): Promise<Berth> {
  const child = children.start({
    name: `berth server (${kind})`,
    command: process.execPath,
    args: [join(repoRoot, 'dist', 'cli', 'main.js'), 'server', '--state', state, '--http', '127.0.0.1:0', '--api', '127.0.0.1:0', '--user-prefix', userPrefix, ...extraArgs],
    cwd: repoRoot,
    env: { ...process.env, NO_COLOR: '1' },
  });
  const api = (await waitForOutput(child, /api listening on (http:\/\/127\.0\.0\.1:\d+)/, STARTUP_TIMEOUT_MS))[1]!;
  await waitForOutput(child, /\| ready$/m, STARTUP_TIMEOUT_MS);
  const token = (await readFile(join(state, 'admin-token'), 'utf8')).trim();
  return { kind, child, state, userPrefix, api, token };
}

/** One API call, timed; throws with berth's answer unless it is a 2xx. */
export async function call(b: Berth, method: string, path: string, body?: unknown): Promise<{ ms: number; json: any }> {
  const started = performance.now();
  const res = await fetch(b.api + path, {
    method,
    headers: { authorization: `Bearer ${b.token}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
  });
  const text = await res.text();
  const ms = performance.now() - started;
  if (!res.ok) throw new Error(`${b.kind}: ${method} ${path} answered ${res.status}: ${text.trim().slice(0, 500)}`);
  try {
    return { ms, json: JSON.parse(text) };
  } catch {
    return { ms, json: text };
  }
}

/**
 * Deploys `dir` to `app`: each line of the stream with when it arrived
 * (ms after `started`, the bench's performance.now() when the upload
 * began), and when the outcome came. Throws with the stream's tail unless
 * the outcome is ok.
 */
export async function timedDeploy(b: Berth, app: string, dir: string): Promise<{ started: number; lines: TimedLine[]; total: number }> {
  const started = performance.now();
  const packed = await packSource(dir);
  const res = await fetch(`${b.api}/apps/${app}/deploy`, {
    method: 'POST',
    headers: { authorization: `Bearer ${b.token}`, 'content-type': 'application/gzip' },
    body: packed.stream as unknown as RequestInit['body'],
    duplex: 'half',
    signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
  } as RequestInit);
  const lines: TimedLine[] = [];
  let pending = '';
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const at = performance.now() - started;
    pending += decoder.decode(chunk, { stream: true });
    const parts = pending.split('\n');
    pending = parts.pop()!;
    for (const line of parts) if (line.trim() !== '') lines.push({ at, line });
  }
  if (pending.trim() !== '') lines.push({ at: performance.now() - started, line: pending });
  const total = performance.now() - started;
  let outcome: { result?: string } = {};
  try {
    outcome = JSON.parse(lines.at(-1)?.line ?? '{}') as { result?: string };
  } catch {
    // not the outcome line: the deploy failed before it
  }
  if (!res.ok || outcome.result !== 'ok') throw new Error(`${b.kind}: the deploy of ${app} failed (${res.status}):\n${lines.slice(-20).map((l) => l.line).join('\n')}`);
  return { started, lines, total };
}

/** Destroys the apps, stops the daemon, and takes down what a failure left (sandboxes, users). */
export async function stopBerth(children: ChildProcesses, b: Berth, apps: readonly string[], log: (line: string) => void): Promise<void> {
  if (!b.child.exit) for (const app of apps) await call(b, 'DELETE', `/apps/${app}?confirm=${app}`).catch(() => {});
  await children.stop(b.child, 20_000);
  await Sandboxes.purge(b.state, log).catch((err: Error) => log(`purging the ${b.kind} daemon's sandboxes: ${err.message}`));
  removeUsers(b.userPrefix);
}

export const APP_FIXTURE = join(import.meta.dirname, 'app');

/**
 * The app: express 4 from the npm registry (package.json and its lockfile
 * from app/, so `npm ci` installs the same 69 packages every run), a web
 * process with a health path, a release command. `server.js` is the file
 * the second deploy changes.
 */
export async function writeApp(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  for (const file of ['package.json', 'package-lock.json']) await copyFile(join(APP_FIXTURE, file), join(dir, file));
  await writeServer(dir, 0);
  await writeFile(join(dir, 'migrate.js'), 'console.log("migrated");\n', { mode: 0o644 });
  await writeFile(join(dir, 'Procfile'), 'web: node server.js\nrelease: node migrate.js\n', { mode: 0o644 });
  await writeFile(join(dir, 'berth.toml'), '[health]\npath = "/health"\n', { mode: 0o644 });
}

export async function writeServer(dir: string, change: number): Promise<void> {
  const server = `// change ${change}
const express = require('express');
const app = express();
app.get('/health', (req, res) => res.send('ok'));
app.get('/', (req, res) => res.send(process.env.GREETING ?? 'hello'));
app.listen(Number(process.env.PORT));
`;
  await writeFile(join(dir, 'server.js'), server, { mode: 0o644 });
}
