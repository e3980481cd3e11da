// Starting and ending edge processes: spawned detached, in their own
// session, output to edge.log (never a pipe: they outlive the daemon), a
// minimal environment; ended by pid and start time, never by a pid alone.
import { randomBytes } from 'node:crypto';
import { closeSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { BerthError } from '../errors.ts';
import { ControlClient } from './control-client.ts';
import { candidateSocket, edgePaths, isRunning, openAppendPrivate, readEdgeRecord, type EdgePaths } from './files.ts';
import type { EdgeContent, EdgeSettings, Hello, ListenAddress } from './protocol.ts';

// The CLI entry beside this build, with this module's extension (as WORKER_MAIN in edge-server.ts).
const CLI_MAIN = new URL(`../cli/main${import.meta.url.slice(import.meta.url.lastIndexOf('.'))}`, import.meta.url);

/** How long a new edge process may take to open its control socket. */
const START_TIMEOUT_MS = 15_000;
/** How long a stopping edge may take beyond its grace period before it is killed. */
export const STOP_MARGIN_MS = 5_000;
/** Node options an edge process keeps from the daemon's (type stripping, memory); never the debugger's or the test runner's. */
const KEPT_NODE_OPTIONS = /^--(?:no-)?(?:experimental-|max-old-space-size|max-semi-space-size|stack-size|enable-source-maps|warnings|disable-warning|conditions)/;

/** What starting an edge needs from RemoteEdge's options. */
export interface SpawnOptions {
  readonly stateDir: string;
  readonly codeSalt?: string;
  /** Where the new edge's log lines go while it is configured and starts to listen (its limits, a static root it cannot serve). */
  readonly log?: (line: string) => void;
}

export interface Running {
  readonly client: ControlClient;
  readonly hello: Hello;
}

/** Where a new edge listens, and which of its addresses it joins (a predecessor's sockets) rather than binds afresh. */
export type ListenPlan = { readonly http: ListenAddress; readonly https: ListenAddress | null; readonly join: { readonly http: boolean; readonly https: boolean } };

/**
 * Spawns an edge process, connects to its own socket, configures it and
 * has it listen as `at` says, then puts it in charge. Anything failing ends it.
 */
export async function startEdge(
  options: SpawnOptions,
  paths: EdgePaths,
  settings: EdgeSettings,
  content: EdgeContent | null,
  at: ListenPlan,
): Promise<Running> {
  const socket = candidateSocket(paths, randomBytes(8).toString('hex'));
  // Its output goes to a file, never a pipe: the edge outlives this daemon.
  const output = openAppendPrivate(paths.log);
  const args = [...process.execArgv.filter((arg) => KEPT_NODE_OPTIONS.test(arg)), CLI_MAIN.pathname, 'edge-process', '--state', options.stateDir, '--socket', socket];
  if (options.codeSalt) args.push('--code-salt', options.codeSalt);
  let exited: string | null = null;
  const child = spawn(process.execPath, args, { detached: true, cwd: '/', stdio: ['ignore', output, output], env: edgeEnvironment(options.stateDir) });
  closeSync(output);
  child.once('exit', (code, signal) => (exited = signal ?? `code ${code}`));
  child.once('error', (err) => (exited = err.message));
  child.unref();
  const pid = child.pid;
  try {
    let client: ControlClient | null = null;
    for (const deadline = Date.now() + START_TIMEOUT_MS; client === null; ) {
      if (exited !== null) throw new BerthError('BERTH_E_EDGE_PROCESS', `the edge process exited (${exited}) before it could be configured; see ${paths.log}`);
      if (Date.now() > deadline) throw new BerthError('BERTH_E_EDGE_PROCESS', `the edge process did not open its control socket within ${START_TIMEOUT_MS / 1000} s; see ${paths.log}`);
      client = await ControlClient.connect(socket, 1_000);
      if (client === null) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // From the first request on: what the edge says as it listens belongs in the daemon's log.
    client.onEvent = (event) => {
      if (event.event === 'log') options.log?.(event.line);
    };
    try {
      const empty: EdgeContent = { routes: { hosts: {}, fallback: null }, tls: { certificates: [], fallback: null }, challenges: [] };
      await client.call({ type: 'configure', settings, content: content ?? empty });
      await client.call<Hello>({ type: 'listen', ...at }, 60_000);
      const hello = await client.call<Hello>({ type: 'claim' });
      return { client, hello };
    } catch (err) {
      client.close();
      throw err;
    }
  } catch (err) {
    if (pid !== undefined && exited === null) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    throw err;
  }
}

/** What an edge process inherits: the basics, and its supervisor tag (the test suite's leftover check finds it by that). */
function edgeEnvironment(stateDir: string): Record<string, string> {
  const env: Record<string, string> = { BERTH_SUPERVISOR: `server:${stateDir}:edge` };
  for (const key of ['PATH', 'LANG', 'LC_ALL', 'TZ']) if (process.env[key] !== undefined) env[key] = process.env[key]!;
  return env;
}

/** Ends the edge process named by a record (edge.json), with SIGTERM then SIGKILL; resolves once it is gone. */
export async function endProcess(record: { pid: number; startTime: number }, graceMs: number, signal: NodeJS.Signals = 'SIGCONT'): Promise<void> {
  if (signal !== 'SIGCONT' && isRunning(record)) process.kill(record.pid, signal);
  for (const deadline = Date.now() + graceMs; isRunning(record) && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 25));
  if (!isRunning(record)) return;
  try {
    process.kill(record.pid, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
  for (const deadline = Date.now() + 5_000; isRunning(record) && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 25));
}

/**
 * A full stop without a daemon (`berth server stop --apps` after the daemon
 * is gone): ends the edge named by STATE/run/edge.json, if it still runs.
 * Resolves with its pid, or null when none ran.
 */
export async function stopEdgeProcess(stateDir: string, graceMs = 10_000): Promise<number | null> {
  const record = readEdgeRecord(edgePaths(stateDir).record);
  return record === null ? null : endEdgeProcess(record, graceMs);
}

/** Ends the edge process a record names, if that very process still runs (SIGTERM, SIGKILL after `graceMs`); its pid, or null. */
export async function endEdgeProcess(record: { pid: number; startTime: number }, graceMs = 10_000): Promise<number | null> {
  if (!isRunning(record)) return null;
  await endProcess(record, graceMs + STOP_MARGIN_MS, 'SIGTERM');
  return record.pid;
}
