// One restart round of `npm run bench:restart`: a real `berth server` from
// dist/ on fixed ports (a restart must come back on the same ones), the
// steady load running through its edge, the daemon signalled (SIGTERM: an
// orderly stop; SIGKILL: a crash) and started again at once on the same
// state, as a supervisor with no restart delay would. What the clients saw
// is kept, with the daemon's own marks (exit, edge listening, ready) on
// the same clock.
import { join } from 'node:path';
import { now, startSteadyLoad, summarize, type LoadSummary, type RequestRecord } from '../../../test/helpers/steady-load.ts';
import type { ChildProcesses } from '../child-processes.ts';
import { processTree, type ProcStat } from '../proc-tree.ts';
import { apiCall, appHost, waitForOutput, type BenchDaemon, type DaemonKind } from '../sandbox/daemon.ts';

export type RestartSignal = 'SIGTERM' | 'SIGKILL';

export interface DaemonPlace {
  readonly repoRoot: string;
  readonly kind: DaemonKind;
  readonly state: string;
  readonly userPrefix: string;
  readonly edgePort: number;
  readonly apiPort: number;
}

export interface LoadShape {
  readonly clients: number;
  readonly keepAliveClients: number;
  readonly intervalMs: number;
}

export interface StartedDaemon {
  readonly daemon: BenchDaemon;
  /** From the exec to "edge listening", and to "ready" (the apps started), in ms. */
  readonly toEdgeMs: number;
  readonly toReadyMs: number;
}

const STARTUP_TIMEOUT_MS = 60_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts `berth server` on the place's state and ports; resolves once it says `ready`. */
export async function startDaemon(children: ChildProcesses, place: DaemonPlace, token: () => Promise<string>): Promise<StartedDaemon> {
  const exec = now();
  const child = children.start({
    name: `berth server (${place.kind})`,
    command: process.execPath,
    args: [
      join(place.repoRoot, 'dist', 'cli', 'main.js'),
      'server',
      '--state', place.state,
      '--http', `127.0.0.1:${place.edgePort}`,
      '--api', `127.0.0.1:${place.apiPort}`,
      '--user-prefix', place.userPrefix,
      '--sandbox', place.kind === 'sandboxed' ? 'required' : 'off',
    ],
    cwd: place.repoRoot,
    env: { ...process.env, NO_COLOR: '1' },
  });
  // Polls every 25 ms: the marks are exact to about that.
  await waitForOutput(child, /edge listening on /, STARTUP_TIMEOUT_MS);
  const toEdgeMs = now() - exec;
  await waitForOutput(child, /\| ready$/m, STARTUP_TIMEOUT_MS);
  const toReadyMs = now() - exec;
  const daemon: BenchDaemon = {
    kind: place.kind,
    child,
    state: place.state,
    userPrefix: place.userPrefix,
    api: `http://127.0.0.1:${place.apiPort}`,
    edge: `http://127.0.0.1:${place.edgePort}`,
    token: await token(),
  };
  return { daemon, toEdgeMs, toReadyMs };
}

/** The app's web instances' pids, by instance name ("web.1" → 12345). */
export async function instancePids(d: BenchDaemon, app: string): Promise<Record<string, number>> {
  const answer = (await apiCall(d, 'GET', `/apps/${app}/ps`)) as { instances?: Array<{ name?: string; pid?: number }> };
  const pids: Record<string, number> = {};
  for (const i of answer.instances ?? []) if (i.name?.startsWith('web.') && typeof i.pid === 'number') pids[i.name] = i.pid;
  return pids;
}

export interface RoundResult {
  readonly signal: RestartSignal;
  readonly round: number;
  readonly summary: LoadSummary;
  /** Failed requests by what the client saw: "status 502", "ECONNREFUSED", "ECONNRESET", ... */
  readonly failureDetails: Record<string, number>;
  /** The first and last failure relative to the signal, in ms. */
  readonly firstFailureMs: number | null;
  readonly lastFailureMs: number | null;
  /** Signal → the old daemon's exit; exit → the new one's "edge listening" and "ready"; signal → the first ok after them. */
  readonly exitMs: number;
  readonly toEdgeMs: number;
  readonly toReadyMs: number;
  readonly signalToServingMs: number | null;
  readonly pidsBefore: Record<string, number>;
  readonly pidsAfter: Record<string, number>;
  readonly samePids: boolean;
  /** Instance processes from before the signal that still ran once the new daemon was ready, outside the instances serving then (orphans). */
  readonly oldInstancesAlive: number;
}

export interface RoundContext {
  readonly children: ChildProcesses;
  readonly place: DaemonPlace;
  readonly app: string;
  readonly load: LoadShape;
  readonly token: () => Promise<string>;
  /** Every instance process seen, so the run can stop the ones a crash orphaned. */
  readonly seen: ProcStat[];
  readonly log: (line: string) => void;
}

const WARM_MS = 2_000;
const SETTLE_MS = 2_000;
const RECOVERY_TIMEOUT_MS = 60_000;

/**
 * Runs the load, signals `current`, starts the next daemon, waits until
 * every client has been served again (bounded), lets it settle, stops the
 * load. Returns the new daemon with the round's numbers.
 */
export async function restartRound(ctx: RoundContext, current: BenchDaemon, signal: RestartSignal, round: number): Promise<{ next: BenchDaemon; result: RoundResult; records: readonly RequestRecord[] }> {
  const pidsBefore = await instancePids(current, ctx.app);
  const before: ProcStat[] = [];
  for (const pid of Object.values(pidsBefore)) before.push(...(await processTree(pid)));
  ctx.seen.push(...before);
  await current.child.noteDescendants();

  const load = startSteadyLoad({
    origin: current.edge,
    host: appHost(ctx.app),
    clients: ctx.load.clients,
    keepAliveClients: ctx.load.keepAliveClients,
    intervalMs: ctx.load.intervalMs,
    durationMs: WARM_MS + RECOVERY_TIMEOUT_MS + STARTUP_TIMEOUT_MS + SETTLE_MS,
    timeoutMs: 5_000,
  });
  let next: BenchDaemon | null = null;
  try {
    await sleep(WARM_MS);
    const signalled = now();
    current.child.process.kill(signal);
    const exit = await Promise.race([current.child.exited, sleep(30_000).then(() => null)]);
    if (exit === null) throw new Error(`berth server did not exit within 30 s of ${signal}`);
    const exited = now();
    const started = await startDaemon(ctx.children, ctx.place, ctx.token);
    next = started.daemon;
    const ready = now();
    // Served again: every client has had an ok answer to a request started after "ready".
    for (const deadline = ready + RECOVERY_TIMEOUT_MS; ; ) {
      const served = new Set(load.records.filter((r) => r.start >= ready && r.outcome === 'ok').map((r) => r.client));
      if (served.size === ctx.load.clients) break;
      if (now() > deadline) throw new Error(`the edge did not serve every client within ${RECOVERY_TIMEOUT_MS / 1000} s of ready`);
      await sleep(25);
    }
    await sleep(SETTLE_MS);
    load.stop();
    const records = await load.done;
    const summary = summarize(records);
    const firstOkAfter = records.find((r) => r.start >= signalled && r.outcome === 'ok' && !records.some((f) => f.outcome !== 'ok' && f.start > r.start));
    const pidsAfter = await instancePids(next, ctx.app);
    let oldInstancesAlive = 0;
    const afterPids = new Set(Object.values(pidsAfter));
    // Processes of the instances serving now (taken over: the same trees) are no orphans.
    const afterTrees: ProcStat[] = [];
    for (const pid of afterPids) afterTrees.push(...(await processTree(pid)));
    const serving = new Set(afterTrees.map((stat) => `${stat.pid}@${stat.startTime}`));
    for (const stat of before) {
      const alive = (await processTree(stat.pid))[0];
      if (alive && alive.startTime === stat.startTime && alive.state !== 'Z' && !serving.has(`${stat.pid}@${stat.startTime}`)) oldInstancesAlive++;
    }
    ctx.seen.push(...afterTrees);
    const failureDetails: Record<string, number> = {};
    for (const r of records) if (r.outcome !== 'ok') failureDetails[r.detail ?? r.outcome] = (failureDetails[r.detail ?? r.outcome] ?? 0) + 1;
    const result: RoundResult = {
      signal,
      round,
      summary,
      failureDetails,
      firstFailureMs: summary.firstFailure === null ? null : summary.firstFailure - signalled,
      lastFailureMs: summary.lastFailure === null ? null : summary.lastFailure - signalled,
      exitMs: exited - signalled,
      toEdgeMs: started.toEdgeMs,
      toReadyMs: started.toReadyMs,
      signalToServingMs: firstOkAfter ? firstOkAfter.end - signalled : null,
      pidsBefore,
      pidsAfter,
      samePids: JSON.stringify(pidsBefore) === JSON.stringify(pidsAfter),
      oldInstancesAlive,
    };
    return { next, result, records };
  } finally {
    load.stop();
    await load.done;
  }
}
