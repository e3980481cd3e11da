// The benchmark from top to bottom: find the servers; make the run's one
// certificate if an HTTPS scenario is selected; for each round, mode and
// server, start it, check it answers correctly (over TLS, over HTTP/2, from
// its cache, as the scenario needs), warm it up, measure it with wrk or
// h2load and stop it; then the idle-memory runs. A server that fails is
// reported as failed and the run goes on.
import { join } from 'node:path';
import type { Child, ChildProcesses } from './child-processes.ts';
import { berth, caddy, nginx, nodeBaseline, type Availability, type Contender, type RunningServer, type StartContext, type Upstream } from './contenders/index.ts';
import { describeH2Load, runH2Load } from './h2load.ts';
import { ownFdLimits, serverFdLimit, type ServerFdLimit } from './fd-limit.ts';
import type { Workspace } from './fixtures.ts';
import { get, verify, waitUntilServing, type Expectation } from './http-probe.ts';
import { measureIdleMemory } from './idle-memory.ts';
import { machineInfo } from './machine.ts';
import type { BenchOptions, ServerName } from './options.ts';
import { freePort, HOST } from './ports.ts';
import { cpuOutsideTree, cpuUsedBetween, treeUsage } from './proc-tree.ts';
import { waitForQuiet } from './quiet.ts';
import { DISTURBED_PERCENT, evaluateTargets, formatMs, GOALS, medianRound, TARGETS, type BenchReport, type IdleRun, type LoadRun, type ScenarioReport } from './report.ts';
import { contentOf, IDLE_PATH, LOAD_SCENARIOS, MODES, STATIC_FILES, usesCache, usesTls, type LoadScenario, type Mode } from './scenarios.ts';
import { makeCertificate, type TlsFiles } from './tls-cert.ts';
import { runWrk, type WrkLoad, type WrkResult } from './wrk.ts';
import { STATS_PATH, TINY_BODY, type UpstreamCounts } from '../upstream/responses.ts';

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
  /** The run's certificate, when an HTTPS scenario is selected and openssl made it. */
  readonly tls: TlsFiles | null;
}

/** One measured wrk run with the CPU use around it. */
interface Sample {
  readonly wrk: WrkResult;
  readonly serverCpuPercent: number;
  readonly otherCpuPercent: number;
  readonly upstreamCpuPercent?: number;
  /** Cache mode: requests for the cached path that reached the upstream during the measured run. */
  readonly upstreamRequests?: number;
}

interface RunningUpstream {
  readonly child: Child;
  readonly address: Upstream;
  /** What it has answered so far (GET /__bench/stats, straight to it). */
  counts(): Promise<UpstreamCounts>;
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
  const scenarios = LOAD_SCENARIOS.filter((scenario) => options.scenarios.includes(scenario.id));
  let tls: TlsFiles | null = null;
  let tlsError: string | null = null;
  if (scenarios.some((scenario) => usesTls(scenario.mode))) {
    try {
      tls = await makeCertificate(children, deps.workspace);
    } catch (err) {
      tlsError = `no certificate: ${(err as Error).message.split('\n')[0]}`;
      log(tlsError);
    }
  }
  const setup: Setup = { ...deps, fd, availability, installed, tls };

  const notes: string[] = [
    `wrk, the server under test and, for proxy runs, the upstream all share the same ${machine.nproc} cores: wrk -t1 keeps about one core busy itself, and the servers are set up to use both cores anyway (the given setup); no CPU pinning. The numbers compare servers within one run; they are not capacities.`,
    `before each measured run the harness waits up to ${options.quietWaitS} s for other processes to use under ${DISTURBED_PERCENT} % CPU (this machine is shared); "other CPU" shows what they used during the run.`,
    `wrk is closed-loop: each of the ${options.connections} connections sends its next request when the previous answer arrives. "The same load" therefore means the same wrk settings, and p99 moves with throughput.`,
    `HTTPS scenarios: one certificate per run (openssl, ECDSA P-256, self-signed for 127.0.0.1 and localhost), the same files for every server; TLS 1.2 and 1.3 with the same 1.2 AEAD suites, session cache and tickets on. wrk speaks HTTP/1.1 over TLS (no ALPN); h2load speaks HTTP/2 (ALPN h2, checked), -c${options.h2Connections} -m${options.h2Streams} so that ${options.h2Connections * options.h2Streams} requests are in flight as with wrk; its p50/p99 come from its per-request log. Connections are reused: these runs measure TLS record and HTTP/2 framing costs, not handshakes. Caddy (own TLS defaults) joins the HTTPS runs; node:http does not.`,
    `cache-hit: the upstream answers ${'`'}Cache-Control: public, max-age=3600${'`'}; nginx caches with proxy_cache (no proxy_cache_valid, so the header decides; files in the run's temp folder, in the page cache), berth with its default in-memory cache. Before measuring, each is checked to answer from its cache (berth: cache-status "berth; hit", nginx: X-Cache-Status HIT); "upstream requests" counts what still reached the upstream during the measured run (⚠ above 0). Caddy and node:http have no cache and are not run.`,
    `server CPU / upstream CPU: CPU time used by all the processes of the server (or of the upstream) during the measured run, divided by its duration; 100 % is one core. other CPU: the same for every process outside the harness (other work on this machine); above ${DISTURBED_PERCENT} % the run was disturbed and is marked ⚠.`,
  ];
  if (idleConnections < options.idleConnections) {
    notes.push(`idle memory uses ${idleConnections} connections, not ${options.idleConnections}: that is what the open-file limits allow (${fd.note}; the harness has ${own.soft}).`);
  }

  const load = await measureLoad(setup, scenarios, tlsError);
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
      h2load: describeH2Load(options.h2Connections, options.h2Streams, options.durationS),
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
    targets: evaluateTargets(load.reports, [...TARGETS, ...GOALS]),
  };
}

// ---- load scenarios ----------------------------------------------------------

function key(scenario: string, server: string): string {
  return `${scenario}\u0000${server}`;
}

function wrkLoad(options: BenchOptions, url: string, seconds: number): WrkLoad {
  return { url, threads: options.threads, connections: options.connections, seconds };
}

/** Where a scenario's load goes on a running server: its plain or its TLS listener. */
function urlOf(server: RunningServer, scenario: LoadScenario): string {
  if (scenario.scheme === 'http') return `${server.origin}${scenario.path}`;
  if (!server.httpsOrigin) throw new Error(`${scenario.id} needs an HTTPS listener, and the server was started without one`);
  return `${server.httpsOrigin}${scenario.path}`;
}

/** A 200 with the right body, over the scenario's protocol, trusting only the run's certificate. */
function expectation(setup: Setup, server: RunningServer, scenario: LoadScenario): Expectation {
  return {
    url: urlOf(server, scenario),
    bodyBytes: scenario.bodyBytes,
    options: { ...(setup.tls ? { ca: setup.tls.certPem } : {}), h2: scenario.client === 'h2load' },
  };
}

function startContext(setup: Setup, upstream: RunningUpstream | null, mode: Mode): StartContext {
  return {
    children: setup.children,
    workspace: setup.workspace,
    repoRoot: setup.repoRoot,
    wrapper: setup.fd.wrapper,
    nofile: setup.fd.nofile,
    upstream: upstream?.address ?? null,
    tls: usesTls(mode) ? setup.tls : null,
  };
}

/** The contenders measured in a mode: installed, and able to (HTTPS, a cache). */
function contendersFor(setup: Setup, mode: Mode): Contender[] {
  return setup.installed.filter((contender) => contender.modes.includes(mode));
}

/** Every round: each mode's scenarios for each server, mode by mode in MODES' order; the median round is reported. */
async function measureLoad(setup: Setup, scenarios: readonly LoadScenario[], tlsError: string | null): Promise<{ reports: ScenarioReport[]; upstreamAlone: number | null }> {
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
      for (const mode of MODES) {
        const modeScenarios = scenarios.filter((scenario) => scenario.mode === mode);
        if (modeScenarios.length === 0) continue;
        const contenders = contendersFor(setup, mode);
        if (usesTls(mode) && tlsError) {
          for (const contender of contenders) fail(modeScenarios, contender.name, tlsError);
          continue;
        }
        const proxied = contentOf(mode) === 'proxy';
        if (proxied && upstreamError) {
          for (const contender of contenders) fail(modeScenarios, contender.name, upstreamError);
          continue;
        }
        if (proxied && !upstream) {
          try {
            upstream = await startUpstream(setup);
            await runWrk(children, wrkLoad(options, `http://${HOST}:${upstream.address.port}/`, options.warmupS));
            upstreamAlone = (await runWrk(children, wrkLoad(options, `http://${HOST}:${upstream.address.port}/`, options.durationS))).requestsPerSec;
            log(`upstream alone: ${Math.round(upstreamAlone)} req/s`);
          } catch (err) {
            upstreamError = `the upstream failed: ${(err as Error).message}`;
            log(upstreamError);
            for (const contender of contenders) fail(modeScenarios, contender.name, upstreamError);
            continue;
          }
        }
        for (const contender of contenders) {
          const label = `${contender.name}${options.rounds > 1 ? ` (round ${round})` : ''}`;
          try {
            await measureServer(setup, contender, mode, modeScenarios, proxied ? upstream : null, (scenario, sample) => {
              const list = samples.get(key(scenario.id, contender.name)) ?? [];
              samples.set(key(scenario.id, contender.name), [...list, sample]);
              const reached = sample.upstreamRequests === undefined ? '' : `, ${sample.upstreamRequests} upstream requests`;
              log(`${scenario.id} ${label}: ${Math.round(sample.wrk.requestsPerSec)} req/s, p99 ${formatMs(sample.wrk.latencyMs.p99)}${reached}`);
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
    // A server that has no setup for this mode (Caddy has no cache, node:http no TLS) is left out of its table.
    runs: options.servers.filter((name) => CONTENDERS[name].modes.includes(scenario.mode)).map((name): LoadRun => {
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
 * each scenario, stops the server. `upstream` is given for the proxy modes
 * only; its CPU use is then measured too, and in the cache mode the requests
 * that still reached it.
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
    server = await contender.start(mode, startContext(setup, upstream, mode));
    await waitUntilServing(server.child, expectation(setup, server, scenarios[0]!));
    await server.child.noteDescendants();
    for (const scenario of scenarios) {
      if (usesCache(mode)) await verifyCacheHit(contender, expectation(setup, server, scenario));
      else await verify(expectation(setup, server, scenario));
    }
    const cache = usesCache(mode) && upstream ? upstream : null;
    for (const scenario of scenarios) {
      const url = urlOf(server, scenario);
      const load = (seconds: number) =>
        scenario.client === 'h2load'
          ? runH2Load(children, { url, connections: options.h2Connections, streams: options.h2Streams, seconds, logFile: join(setup.workspace.dir, `h2load-${process.pid}.log`) })
          : runWrk(children, wrkLoad(options, url, seconds));
      await waitForQuiet(DISTURBED_PERCENT, options.quietWaitS * 1000, log);
      await load(options.warmupS);
      const cachedBefore = cache ? (await cache.counts()).cached : 0;
      const otherBefore = await cpuOutsideTree(process.pid);
      const serverBefore = await treeUsage(server.child.pid!);
      const upstreamBefore = upstream ? await treeUsage(upstream.child.pid!) : null;
      const wrk = await load(options.durationS);
      const serverAfter = await treeUsage(server.child.pid!);
      const upstreamAfter = upstream ? await treeUsage(upstream.child.pid!) : null;
      const otherAfter = await cpuOutsideTree(process.pid);
      const cachedAfter = cache ? (await cache.counts()).cached : 0;
      if (server.child.exit) throw new Error(server.child.describeExit());
      const percent = (cpuSeconds: number) => (cpuSeconds / wrk.seconds) * 100;
      record(scenario, {
        wrk,
        serverCpuPercent: percent(serverAfter.cpuSeconds - serverBefore.cpuSeconds),
        otherCpuPercent: percent(cpuUsedBetween(otherBefore, otherAfter)),
        ...(upstreamBefore && upstreamAfter ? { upstreamCpuPercent: percent(upstreamAfter.cpuSeconds - upstreamBefore.cpuSeconds) } : {}),
        ...(cache ? { upstreamRequests: cachedAfter - cachedBefore } : {}),
      });
    }
  } finally {
    if (server) await children.stop(server.child);
  }
}

/**
 * The cache mode's check: the answer is right and comes from the cache. The
 * first requests (waitUntilServing's among them) may be misses, and a server
 * with one cache per engine thread misses once in each, so it asks up to 20
 * times on fresh connections and wants one hit; the measured run's upstream
 * count then shows whether every answer was a hit.
 */
async function verifyCacheHit(contender: Contender, expected: Expectation): Promise<void> {
  if (!contender.cacheHit) throw new Error(`${contender.name} has no response cache`);
  const withHeader: Expectation = { ...expected, header: contender.cacheHit };
  let last: unknown = null;
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      await verify(withHeader);
      return;
    } catch (err) {
      last = err;
    }
  }
  throw new Error(`never answered from its cache: ${(last as Error).message}`);
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
  const statsUrl = `http://${HOST}:${port}${STATS_PATH}`;
  return {
    child,
    address: { host: HOST, port },
    async counts() {
      const answer = await get(statsUrl);
      if (answer.status !== 200) throw new Error(`GET ${statsUrl} answered ${answer.status}`);
      return JSON.parse(answer.body.toString('utf8')) as UpstreamCounts;
    },
  };
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
      server = await CONTENDERS[name].start('static', startContext(setup, null, 'static'));
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
