// The benchmark from top to bottom: find the servers; for each round, mode
// and server, start it, check it answers correctly, warm it up, measure it
// with wrk and stop it; then the idle-memory runs. A server that fails is
// reported as failed and the run goes on.
import { join } from 'node:path';
import type { Child, ChildProcesses } from './child-processes.ts';
import { berth, caddy, nginx, nodeBaseline, type Availability, type Contender, type RunningServer, type StartContext, type Upstream } from './contenders/index.ts';
import { ownFdLimits, serverFdLimit, type ServerFdLimit } from './fd-limit.ts';
import type { Workspace } from './fixtures.ts';
import { verify, waitUntilServing, type Expectation } from './http-probe.ts';
import { measureIdleMemory } from './idle-memory.ts';
import { machineInfo } from './machine.ts';
import type { BenchOptions, ServerName } from './options.ts';
import { freePort, HOST } from './ports.ts';
import { cpuOutsideTree, cpuUsedBetween, treeUsage } from './proc-tree.ts';
import { waitForQuiet } from './quiet.ts';
import { DISTURBED_PERCENT, evaluateTargets, formatMs, medianRound, type BenchReport, type IdleRun, type LoadRun, type ScenarioReport } from './report.ts';
import { IDLE_PATH, LOAD_SCENARIOS, STATIC_FILES, type LoadScenario, type Mode } from './scenarios.ts';
import { runWrk, type WrkLoad, type WrkResult } from './wrk.ts';
import { TINY_BODY } from '../upstream/responses.ts';

const CONTENDERS: Record<ServerName, Contender> = { nginx, berth, caddy, 'node:http': nodeBaseline };
/** What servers are started with when prlimit may raise it. */
const WANTED_NOFILE = 65_536;
/** Descriptors a server (and the harness) keeps for itself beside the idle connections. */
const FD_MARGIN = 512;

export interface RunnerDeps {
  readonly options: BenchOptions;
  readonly children: ChildProcesses;
  readonly workspace: Workspace;
  readonly repoRoot: string;
  /** Progress lines (stderr); the report itself is returned. */
  readonly log: (line: string) => void;
}

/** What every step needs, settled once at the start. */
interface Setup extends RunnerDeps {
  readonly fd: ServerFdLimit;
  readonly availability: ReadonlyMap<ServerName, Availability>;
  readonly installed: readonly Contender[];
}

/** One measured wrk run with the CPU use around it. */
interface Sample {
  readonly wrk: WrkResult;
  readonly serverCpuPercent: number;
  readonly otherCpuPercent: number;
  readonly upstreamCpuPercent?: number;
}

interface RunningUpstream {
  readonly child: Child;
  readonly address: Upstream;
}

export async function runBenchmark(deps: RunnerDeps): Promise<BenchReport> {
  const { options, children, repoRoot, log } = deps;
  const machine = await machineInfo(children);
  const fd = await serverFdLimit(children, WANTED_NOFILE);
  const own = await ownFdLimits();
  const idleConnections = Math.min(options.idleConnections, fd.nofile - FD_MARGIN, own.soft - FD_MARGIN);

  const availability = new Map<ServerName, Availability>();
  const installed: Contender[] = [];
  for (const name of options.servers) {
    const status = await CONTENDERS[name].availability(children, repoRoot);
    availability.set(name, status);
    if (status.installed) installed.push(CONTENDERS[name]);
    else log(`${name}: ${status.reason}`);
  }
  const setup: Setup = { ...deps, fd, availability, installed };

  const notes: string[] = [
    `wrk, the server under test and, for proxy runs, the upstream all share the same ${machine.nproc} cores: wrk -t1 keeps about one core busy itself, and the servers are set up to use both cores anyway (the given setup); no CPU pinning. The numbers compare servers within one run; they are not capacities.`,
    `before each measured run the harness waits up to ${options.quietWaitS} s for other processes to use under ${DISTURBED_PERCENT} % CPU (this machine is shared); "other CPU" shows what they used during the run.`,
    `wrk is closed-loop: each of the ${options.connections} connections sends its next request when the previous answer arrives. "The same load" therefore means the same wrk settings, and p99 moves with throughput.`,
    `server CPU / upstream CPU: CPU time used by all the processes of the server (or of the upstream) during the measured run, divided by its duration; 100 % is one core. other CPU: the same for every process outside the harness (other work on this machine); above ${DISTURBED_PERCENT} % the run was disturbed and is marked ⚠.`,
  ];
  if (idleConnections < options.idleConnections) {
    notes.push(`idle memory uses ${idleConnections} connections, not ${options.idleConnections}: that is what the open-file limits allow (${fd.note}; the harness has ${own.soft}).`);
  }

  const scenarios = LOAD_SCENARIOS.filter((scenario) => options.scenarios.includes(scenario.id));
  const load = await measureLoad(setup, scenarios);
  let idleMemory: IdleRun[] = [];
  if (options.scenarios.includes('idle-memory')) {
    notes.push('idle memory: RSS summed over all the server\'s processes (/proc/PID/status VmRSS of the root and its descendants), sampled after a warm-up and again 1 s after the last idle connection got its answer. nginx allocates its connection slots (worker_connections) at start, so they are in "RSS before".');
    idleMemory = await measureIdle(setup, idleConnections);
  }

  return {
    generatedAt: new Date().toISOString(),
    machine,
    settings: {
      wrk: `wrk -t${options.threads} -c${options.connections} -d${options.durationS}s --latency`,
      durationS: options.durationS,
      warmupS: options.warmupS,
      rounds: options.rounds,
      idleConnections,
      fdLimit: fd.note,
    },
    servers: installed.map((contender) => {
      const status = availability.get(contender.name as ServerName);
      return { name: contender.name, version: status?.installed ? status.version : '?', cores: contender.cores };
    }),
    upstream: {
      description: 'bench/upstream/tiny-upstream.ts, one bare node:net process with prebuilt keep-alive responses, shared by every proxy',
      aloneRequestsPerSec: load.upstreamAlone,
    },
    notes,
    scenarios: load.reports,
    idleMemory,
    targets: evaluateTargets(load.reports),
  };
}

// ---- load scenarios ----------------------------------------------------------

function key(scenario: string, server: string): string {
  return `${scenario}\u0000${server}`;
}

function wrkLoad(options: BenchOptions, url: string, seconds: number): WrkLoad {
  return { url, threads: options.threads, connections: options.connections, seconds };
}

function expectation(origin: string, scenario: LoadScenario): Expectation {
  return { url: `${origin}${scenario.path}`, bodyBytes: scenario.bodyBytes };
}

function startContext(setup: Setup, upstream: RunningUpstream | null): StartContext {
  return { children: setup.children, workspace: setup.workspace, repoRoot: setup.repoRoot, wrapper: setup.fd.wrapper, nofile: setup.fd.nofile, upstream: upstream?.address ?? null };
}

/** Every round: the static scenarios for each server, then the proxy ones; the median round is reported. */
async function measureLoad(setup: Setup, scenarios: readonly LoadScenario[]): Promise<{ reports: ScenarioReport[]; upstreamAlone: number | null }> {
  const { options, children, log } = setup;
  const samples = new Map<string, Sample[]>();
  const failures = new Map<string, string>();
  const fail = (scenarios: readonly LoadScenario[], server: string, message: string) => {
    for (const scenario of scenarios) if (!samples.has(key(scenario.id, server))) failures.set(key(scenario.id, server), message);
  };
  let upstream: RunningUpstream | null = null;
  let upstreamAlone: number | null = null;
  let upstreamError: string | null = null;
  try {
    for (let round = 1; round <= options.rounds; round++) {
      for (const mode of ['static', 'proxy'] as const) {
        const modeScenarios = scenarios.filter((scenario) => scenario.mode === mode);
        if (modeScenarios.length === 0) continue;
        if (mode === 'proxy' && upstreamError) continue;
        if (mode === 'proxy' && !upstream) {
          try {
            upstream = await startUpstream(setup);
            await runWrk(children, wrkLoad(options, `http://${HOST}:${upstream.address.port}/`, options.warmupS));
            upstreamAlone = (await runWrk(children, wrkLoad(options, `http://${HOST}:${upstream.address.port}/`, options.durationS))).requestsPerSec;
            log(`upstream alone: ${Math.round(upstreamAlone)} req/s`);
          } catch (err) {
            upstreamError = `the upstream failed: ${(err as Error).message}`;
            log(upstreamError);
            for (const contender of setup.installed) fail(modeScenarios, contender.name, upstreamError);
            continue;
          }
        }
        for (const contender of setup.installed) {
          const label = `${contender.name}${options.rounds > 1 ? ` (round ${round})` : ''}`;
          try {
            await measureServer(setup, contender, mode, modeScenarios, mode === 'proxy' ? upstream : null, (scenario, sample) => {
              const list = samples.get(key(scenario.id, contender.name)) ?? [];
              samples.set(key(scenario.id, contender.name), [...list, sample]);
              log(`${scenario.id} ${label}: ${Math.round(sample.wrk.requestsPerSec)} req/s, p99 ${formatMs(sample.wrk.latencyMs.p99)}`);
            });
          } catch (err) {
            log(`${mode} ${label} failed: ${(err as Error).message}`);
            fail(modeScenarios, contender.name, (err as Error).message);
          }
        }
      }
    }
  } finally {
    if (upstream) await children.stop(upstream.child);
  }

  const reports = scenarios.map((scenario) => ({
    scenario,
    runs: options.servers.map((name): LoadRun => {
      const status = setup.availability.get(name);
      if (!status?.installed) return { server: name, status: 'not installed', error: status?.reason ?? 'not installed' };
      const list = samples.get(key(scenario.id, name)) ?? [];
      const median = medianRound(list.map((sample) => sample.wrk));
      const chosen = list.find((sample) => sample.wrk === median);
      if (!chosen) return { server: name, status: 'failed', error: failures.get(key(scenario.id, name)) ?? 'no successful round' };
      return { server: name, status: 'ok', ...chosen, rounds: list.map((sample) => sample.wrk) };
    }),
  }));
  return { reports, upstreamAlone };
}

/**
 * Starts one server in one mode, checks every scenario's answer, measures
 * each scenario, stops the server. `upstream` is given for proxy mode only;
 * its CPU use is then measured too.
 */
async function measureServer(
  setup: Setup,
  contender: Contender,
  mode: Mode,
  scenarios: readonly LoadScenario[],
  upstream: RunningUpstream | null,
  record: (scenario: LoadScenario, sample: Sample) => void,
): Promise<void> {
  const { options, children, log } = setup;
  let server: RunningServer | null = null;
  try {
    server = await contender.start(mode, startContext(setup, upstream));
    await waitUntilServing(server.child, expectation(server.origin, scenarios[0]!));
    await server.child.noteDescendants();
    for (const scenario of scenarios) await verify(expectation(server.origin, scenario));
    for (const scenario of scenarios) {
      const url = `${server.origin}${scenario.path}`;
      await waitForQuiet(DISTURBED_PERCENT, options.quietWaitS * 1000, log);
      await runWrk(children, wrkLoad(options, url, options.warmupS));
      const otherBefore = await cpuOutsideTree(process.pid);
      const serverBefore = await treeUsage(server.child.pid!);
      const upstreamBefore = upstream ? await treeUsage(upstream.child.pid!) : null;
      const wrk = await runWrk(children, wrkLoad(options, url, options.durationS));
      const serverAfter = await treeUsage(server.child.pid!);
      const upstreamAfter = upstream ? await treeUsage(upstream.child.pid!) : null;
      const otherAfter = await cpuOutsideTree(process.pid);
      if (server.child.exit) throw new Error(server.child.describeExit());
      const percent = (cpuSeconds: number) => (cpuSeconds / wrk.seconds) * 100;
      record(scenario, {
        wrk,
        serverCpuPercent: percent(serverAfter.cpuSeconds - serverBefore.cpuSeconds),
        otherCpuPercent: percent(cpuUsedBetween(otherBefore, otherAfter)),
        ...(upstreamBefore && upstreamAfter ? { upstreamCpuPercent: percent(upstreamAfter.cpuSeconds - upstreamBefore.cpuSeconds) } : {}),
      });
    }
  } finally {
    if (server) await children.stop(server.child);
  }
}

async function startUpstream(setup: Setup): Promise<RunningUpstream> {
  const port = await freePort();
  const child = setup.children.start({
    name: 'upstream',
    command: process.execPath,
    args: [join(setup.repoRoot, 'bench', 'upstream', 'tiny-upstream.ts'), '--listen', `${HOST}:${port}`],
    cwd: setup.repoRoot,
    wrapper: setup.fd.wrapper,
  });
  try {
    await waitUntilServing(child, { url: `http://${HOST}:${port}/`, bodyBytes: TINY_BODY.length });
  } catch (err) {
    await setup.children.stop(child);
    throw err;
  }
  return { child, address: { host: HOST, port } };
}

// ---- idle memory -------------------------------------------------------------

/** Each server serving static files, warmed up, then `connections` idle keep-alive connections. */
async function measureIdle(setup: Setup, connections: number): Promise<IdleRun[]> {
  const { options, children, log } = setup;
  const runs: IdleRun[] = [];
  for (const name of options.servers) {
    const status = setup.availability.get(name);
    if (!status?.installed) {
      runs.push({ server: name, status: 'not installed', error: status?.reason ?? 'not installed' });
      continue;
    }
    let server: RunningServer | null = null;
    try {
      server = await CONTENDERS[name].start('static', startContext(setup, null));
      const expected = { url: `${server.origin}${IDLE_PATH}`, bodyBytes: STATIC_FILES[0]!.bytes };
      await waitUntilServing(server.child, expected);
      await server.child.noteDescendants();
      await waitForQuiet(DISTURBED_PERCENT, options.quietWaitS * 1000, log);
      await runWrk(children, wrkLoad(options, expected.url, options.warmupS));
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const result = await measureIdleMemory({ host: HOST, port: Number(new URL(server.origin).port), path: IDLE_PATH, rootPid: server.child.pid!, connections });
      if (server.child.exit) throw new Error(server.child.describeExit());
      runs.push({ server: name, status: 'ok', result });
      log(`idle-memory ${name}: ${result.openAtSample} open, ${result.perConnectionKiB?.toFixed(2) ?? '—'} KiB per connection`);
    } catch (err) {
      log(`idle-memory ${name} failed: ${(err as Error).message}`);
      runs.push({ server: name, status: 'failed', error: (err as Error).message });
    } finally {
      if (server) await children.stop(server.child);
    }
  }
  return runs;
}
