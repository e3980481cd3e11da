// The benchmark from top to bottom: find the servers, start the upstream,
// and for each mode, round and server: start it, check it answers correctly,
// warm it up, measure it with wrk, stop it. Then the idle-memory runs. A
// server that fails is reported as failed and the run goes on.
import { join } from 'node:path';
import type { Child, ChildProcesses } from './child-processes.ts';
import { berth, caddy, nginx, nodeBaseline, type Availability, type Contender, type RunningServer, type StartContext, type Upstream } from './contenders/index.ts';
import { ownFdLimits, serverFdLimit } from './fd-limit.ts';
import type { Workspace } from './fixtures.ts';
import { verify, waitUntilServing } from './http-probe.ts';
import { measureIdleMemory } from './idle-memory.ts';
import { machineInfo } from './machine.ts';
import type { BenchOptions, ServerName } from './options.ts';
import { freePort, HOST } from './ports.ts';
import { cpuOutsideTree, cpuUsedBetween, treeUsage } from './proc-tree.ts';
import { waitForQuiet } from './quiet.ts';
import { DISTURBED_PERCENT, evaluateTargets, formatMs, medianRound, type BenchReport, type IdleRun, type LoadRun, type ScenarioReport } from './report.ts';
import { IDLE_PATH, LOAD_SCENARIOS, STATIC_FILES, type LoadScenario, type Mode } from './scenarios.ts';
import { runWrk, type WrkResult } from './wrk.ts';
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

interface Sample {
  readonly wrk: WrkResult;
  readonly serverCpuPercent: number;
  readonly otherCpuPercent: number;
  readonly upstreamCpuPercent?: number;
}

interface Installed {
  readonly contender: Contender;
  readonly version: string;
}

function key(scenario: string, server: string): string {
  return `${scenario}\u0000${server}`;
}

export async function runBenchmark(deps: RunnerDeps): Promise<BenchReport> {
  const { options, children, workspace, repoRoot, log } = deps;
  const machine = await machineInfo(children);
  const fd = await serverFdLimit(children, WANTED_NOFILE);
  const own = await ownFdLimits();
  const idleConnections = Math.min(options.idleConnections, fd.nofile - FD_MARGIN, own.soft - FD_MARGIN);
  const notes: string[] = [
    `wrk, the server under test and, for proxy runs, the upstream all share the same ${machine.nproc} cores: wrk -t1 keeps about one core busy itself, and the servers are set up to use both cores anyway (the given setup); no CPU pinning. The numbers compare servers within one run; they are not capacities.`,
    `before each measured run the harness waits up to ${options.quietWaitS} s for other processes to use under ${DISTURBED_PERCENT} % CPU (this machine is shared); "other CPU" shows what they used during the run.`,
    `wrk is closed-loop: each of the ${options.connections} connections sends its next request when the previous answer arrives. "The same load" therefore means the same wrk settings, and p99 moves with throughput.`,
    'server CPU / upstream CPU: CPU time used by all the processes of the server (or of the upstream) during the measured run, divided by its duration; 100 % is one core. other CPU: the same for every process outside the harness (other work on this machine); above 10 % the run was disturbed and is marked ⚠.',
  ];
  if (idleConnections < options.idleConnections) {
    notes.push(`idle memory uses ${idleConnections} connections, not ${options.idleConnections}: that is what the open-file limits allow (${fd.note}; the harness has ${own.soft}).`);
  }

  const installed: Installed[] = [];
  const availability = new Map<string, Availability>();
  for (const name of options.servers) {
    const contender = CONTENDERS[name];
    const status = await contender.availability(children, repoRoot);
    availability.set(name, status);
    if (status.installed) installed.push({ contender, version: status.version });
    else log(`${name}: ${status.reason}`);
  }

  const scenarios = LOAD_SCENARIOS.filter((scenario) => options.scenarios.includes(scenario.id));
  const samples = new Map<string, Sample[]>();
  const failures = new Map<string, string>();
  let upstream: { child: Child; address: Upstream } | null = null;
  let upstreamAlone: number | null = null;
  const context = (mode: Mode): StartContext => ({
    children,
    workspace,
    repoRoot,
    wrapper: fd.wrapper,
    nofile: fd.nofile,
    upstream: mode === 'proxy' ? upstream!.address : null,
  });
  const wrkLoad = (url: string, seconds: number) => ({ url, threads: options.threads, connections: options.connections, seconds });

  for (let round = 1; round <= options.rounds; round++) {
    for (const mode of ['static', 'proxy'] as const) {
      const modeScenarios = scenarios.filter((scenario) => scenario.mode === mode);
      if (modeScenarios.length === 0) continue;
      if (mode === 'proxy' && !upstream) {
        upstream = await startUpstream(children, repoRoot, fd.wrapper);
        await runWrk(children, wrkLoad(`http://${HOST}:${upstream.address.port}/`, options.warmupS));
        upstreamAlone = (await runWrk(children, wrkLoad(`http://${HOST}:${upstream.address.port}/`, options.durationS))).requestsPerSec;
        log(`upstream alone: ${Math.round(upstreamAlone)} req/s`);
      }
      for (const { contender } of installed) {
        const label = `${contender.name}${options.rounds > 1 ? ` (round ${round})` : ''}`;
        let server: RunningServer | null = null;
        try {
          server = await contender.start(mode, context(mode));
          await waitUntilServing(server.child, expectation(server.origin, modeScenarios[0]!));
          await server.child.noteDescendants();
          for (const scenario of modeScenarios) await verify(expectation(server.origin, scenario));
          for (const scenario of modeScenarios) {
            const url = `${server.origin}${scenario.path}`;
            await waitForQuiet(DISTURBED_PERCENT, options.quietWaitS * 1000, log);
            await runWrk(children, wrkLoad(url, options.warmupS));
            const otherBefore = await cpuOutsideTree(process.pid);
            const serverBefore = await treeUsage(server.child.pid!);
            const upstreamBefore = upstream && mode === 'proxy' ? await treeUsage(upstream.child.pid!) : null;
            const wrk = await runWrk(children, wrkLoad(url, options.durationS));
            const serverAfter = await treeUsage(server.child.pid!);
            const upstreamAfter = upstream && mode === 'proxy' ? await treeUsage(upstream.child.pid!) : null;
            const otherAfter = await cpuOutsideTree(process.pid);
            if (server.child.exit) throw new Error(server.child.describeExit());
            const percent = (before: number, after: number) => ((after - before) / wrk.seconds) * 100;
            const sample: Sample = {
              wrk,
              serverCpuPercent: percent(serverBefore.cpuSeconds, serverAfter.cpuSeconds),
              otherCpuPercent: percent(0, cpuUsedBetween(otherBefore, otherAfter)),
              ...(upstreamBefore && upstreamAfter ? { upstreamCpuPercent: percent(upstreamBefore.cpuSeconds, upstreamAfter.cpuSeconds) } : {}),
            };
            const list = samples.get(key(scenario.id, contender.name)) ?? [];
            list.push(sample);
            samples.set(key(scenario.id, contender.name), list);
            log(`${scenario.id} ${label}: ${Math.round(wrk.requestsPerSec)} req/s, p99 ${formatMs(wrk.latencyMs.p99)}`);
          }
        } catch (err) {
          const message = (err as Error).message;
          log(`${mode} ${label} failed: ${message}`);
          for (const scenario of modeScenarios) if (!samples.has(key(scenario.id, contender.name))) failures.set(key(scenario.id, contender.name), message);
        } finally {
          if (server) await children.stop(server.child);
        }
      }
    }
  }
  if (upstream) await children.stop(upstream.child);

  const scenarioReports: ScenarioReport[] = scenarios.map((scenario) => ({
    scenario,
    runs: options.servers.map((name): LoadRun => {
      const status = availability.get(name);
      if (!status?.installed) return { server: name, status: 'not installed', error: status?.reason ?? 'not installed' };
      const list = samples.get(key(scenario.id, name)) ?? [];
      const median = medianRound(list.map((sample) => sample.wrk));
      const chosen = list.find((sample) => sample.wrk === median);
      if (!chosen) return { server: name, status: 'failed', error: failures.get(key(scenario.id, name)) ?? 'no successful round' };
      return {
        server: name,
        status: 'ok',
        wrk: chosen.wrk,
        rounds: list.map((sample) => sample.wrk),
        serverCpuPercent: chosen.serverCpuPercent,
        otherCpuPercent: chosen.otherCpuPercent,
        ...(chosen.upstreamCpuPercent === undefined ? {} : { upstreamCpuPercent: chosen.upstreamCpuPercent }),
      };
    }),
  }));

  const idleMemory: IdleRun[] = [];
  if (options.scenarios.includes('idle-memory')) {
    notes.push('idle memory: RSS summed over all the server\'s processes (/proc/PID/status VmRSS of the root and its descendants), sampled after a warm-up and again 1 s after the last idle connection got its answer. nginx allocates its connection slots (worker_connections) at start, so they are in "RSS before".');
    for (const name of options.servers) {
      const status = availability.get(name);
      if (!status?.installed) {
        idleMemory.push({ server: name, status: 'not installed', error: status?.reason ?? 'not installed' });
        continue;
      }
      let server: RunningServer | null = null;
      try {
        server = await CONTENDERS[name].start('static', context('static'));
        const expected = { url: `${server.origin}${IDLE_PATH}`, bodyBytes: STATIC_FILES[0]!.bytes };
        await waitUntilServing(server.child, expected);
        await server.child.noteDescendants();
        await waitForQuiet(DISTURBED_PERCENT, options.quietWaitS * 1000, log);
        await runWrk(children, wrkLoad(expected.url, options.warmupS));
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        const result = await measureIdleMemory({
          host: HOST,
          port: Number(new URL(server.origin).port),
          path: IDLE_PATH,
          rootPid: server.child.pid!,
          connections: idleConnections,
        });
        if (server.child.exit) throw new Error(server.child.describeExit());
        idleMemory.push({ server: name, status: 'ok', result });
        log(`idle-memory ${name}: ${result.openAtSample} open, ${result.perConnectionKiB?.toFixed(2) ?? '—'} KiB per connection`);
      } catch (err) {
        const message = (err as Error).message;
        log(`idle-memory ${name} failed: ${message}`);
        idleMemory.push({ server: name, status: 'failed', error: message });
      } finally {
        if (server) await children.stop(server.child);
      }
    }
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
    servers: installed.map(({ contender, version }) => ({ name: contender.name, version, cores: contender.cores })),
    upstream: {
      description: 'bench/upstream/tiny-upstream.ts, one bare node:net process with prebuilt keep-alive responses, shared by every proxy',
      aloneRequestsPerSec: upstreamAlone,
    },
    notes,
    scenarios: scenarioReports,
    idleMemory,
    targets: evaluateTargets(scenarioReports),
  };
}

function expectation(origin: string, scenario: LoadScenario): { url: string; bodyBytes: number } {
  return { url: `${origin}${scenario.path}`, bodyBytes: scenario.bodyBytes };
}

async function startUpstream(children: ChildProcesses, repoRoot: string, wrapper: readonly string[]): Promise<{ child: Child; address: Upstream }> {
  const port = await freePort();
  const child = children.start({
    name: 'upstream',
    command: process.execPath,
    args: [join(repoRoot, 'bench', 'upstream', 'tiny-upstream.ts'), '--listen', `${HOST}:${port}`],
    cwd: repoRoot,
    wrapper,
  });
  await waitUntilServing(child, { url: `http://${HOST}:${port}/`, bodyBytes: TINY_BODY.length });
  return { child, address: { host: HOST, port } };
}
