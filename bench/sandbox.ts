// `npm run bench:sandbox`: what containing apps costs, measured side by side
// in one run. Two real `berth server`s from dist/, as root, one with
// `--sandbox required` and one with `--sandbox off` (separate state
// folders, ephemeral ports), the same apps deployed to both; then
//   start      scale 0 → 1 until the edge serves, the daemons taking turns;
//   latency    wrk through each daemon's edge (and nginx, for reference);
//   neighbour  the same while another app spins (lib/sandbox/neighbour.ts);
//   breakdown  where a sandboxed start's time goes, layer by layer.
// Issue 15's targets: start ≤ 1.2× and p99 ≤ 1.1× unsandboxed, a
// neighbour's p99 while an app spins ≤ 2× its idle p99. See
// bench/README.md ("Sandboxes") for how to read the numbers.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDistBuild } from './lib/dist-build.ts';
import { ChildProcesses } from './lib/child-processes.ts';
import { machineInfo } from './lib/machine.ts';
import { writeJsonAtomically } from './lib/results-file.ts';
import { writeBenchApp, writeSpinnerApp, type BenchApp } from './lib/sandbox/apps.ts';
import { measureBreakdown } from './lib/sandbox/breakdown.ts';
import { appHost, createAndDeploy, instancePid, removeUsers, scale, startBerthServer, stopBerthServer, type BenchDaemon, type DaemonKind } from './lib/sandbox/daemon.ts';
import { measureNeighbour, spinnerFiles, type NeighbourSeries } from './lib/sandbox/neighbour.ts';
import { measureLatency, startNginxReference, type LatencySeries, type LatencyTarget, type NginxReference } from './lib/sandbox/latency.ts';
import { BENCH_APPS, parseSandboxBenchOptions, SANDBOX_USAGE, UsageError, type BenchAppName } from './lib/sandbox/options.ts';
import { evaluateTargets, failsCheck, renderMarkdown, type SandboxBenchReport } from './lib/sandbox/report.ts';
import { measureStarts, type StartSeries } from './lib/sandbox/start-rounds.ts';

const ROOT = join(import.meta.dirname, '..');
const RESULTS = join(ROOT, 'bench', 'results', 'sandbox.json');
/** Not under the system's temp folder: see lib/sandbox/daemon.ts. */
const WORK_PARENT = '/var/tmp';

const log = (line: string) => process.stderr.write(`bench:sandbox: ${line}\n`);

const ensureBuild = (build: boolean) => ensureDistBuild(ROOT, build, log);

async function main(): Promise<number> {
  let options;
  try {
    options = parseSandboxBenchOptions(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bench:sandbox: ${err.message}\n\n${SANDBOX_USAGE}`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(SANDBOX_USAGE);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    log('needs root: berth contains apps only when it runs as root');
    return 2;
  }
  await ensureBuild(options.build);

  const children = new ChildProcesses();
  const work = await mkdtemp(join(WORK_PARENT, 'berth-bench-sandbox-'));
  await chmod(work, 0o711);
  const tag = randomBytes(2).toString('hex');
  const prefixes: Record<DaemonKind, string> = { sandboxed: `bench${tag}s-`, unsandboxed: `bench${tag}u-` };
  const daemons: BenchDaemon[] = [];
  const apps: BenchApp[] = [];
  let nginx: NginxReference | null = null;
  // Whatever happens, nothing is left: SIGKILL and users removed on exit, an orderly stop on a signal.
  process.on('exit', () => {
    children.killAllNow();
    for (const prefix of Object.values(prefixes)) removeUsers(prefix);
  });
  const cleanup = async () => {
    for (const d of daemons) await stopBerthServer(children, d, [...apps.map((a) => a.app), 'bench-spinner'], log);
    await children.stopAll();
    await rm(work, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping the daemons`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  const began = performance.now();
  try {
    const machine = await machineInfo(children);
    // The start rounds time every app asked for; the latency and the breakdown use the node app.
    const wanted = new Set<BenchAppName>(options.parts.includes('start') ? options.apps : []);
    if (options.parts.some((part) => part !== 'start')) wanted.add('node');
    for (const name of BENCH_APPS) if (wanted.has(name)) apps.push(await writeBenchApp(work, name));
    const node = apps.find((a) => a.name === 'node');
    const spinner = options.parts.includes('neighbour') ? await writeSpinnerApp(work, spinnerFiles()) : null;

    log(`starting berth server --sandbox required and --sandbox off from dist/`);
    const kinds: DaemonKind[] = ['sandboxed', 'unsandboxed'];
    await Promise.all(
      kinds.map(async (kind) => {
        const folder = join(work, kind);
        await mkdir(folder, { mode: 0o711 });
        daemons.push(await startBerthServer(children, ROOT, kind, join(folder, 'state'), prefixes[kind]));
      }),
    );
    daemons.sort((a, b) => kinds.indexOf(a.kind) - kinds.indexOf(b.kind));
    // One deploy at a time: two builds at once on two cores only make each slower.
    for (const d of daemons) {
      for (const app of apps) {
        await createAndDeploy(d, app.app, app.dir);
        log(`${d.kind}: ${app.app} deployed`);
      }
      if (spinner) {
        await createAndDeploy(d, spinner.app, spinner.dir);
        log(`${d.kind}: ${spinner.app} deployed`);
      }
    }

    const start: StartSeries[] = [];
    if (options.parts.includes('start')) {
      for (const app of apps.filter((a) => options.apps.includes(a.name))) start.push(...(await measureStarts(daemons, app, options.rounds, log)));
    }

    let latency: LatencySeries[] = [];
    if (options.parts.includes('latency') && node) {
      for (const d of daemons) await scale(d, node.app, 1);
      const targets: LatencyTarget[] = daemons.map((d) => ({ server: d.kind, origin: d.edge, host: appHost(node.app), ...(d.kind === 'sandboxed' ? { instancePid: () => instancePid(d, node.app) } : {}) }));
      if (options.nginx) {
        try {
          const dir = join(work, 'nginx');
          await mkdir(dir, { mode: 0o755 });
          nginx = await startNginxReference(children, dir, node);
          targets.push(nginx.target);
        } catch (err) {
          log(`no nginx reference row: ${(err as Error).message.split('\n')[0]}`);
        }
      }
      const settings = { rounds: options.latencyRounds, durationS: options.durationS, warmupS: options.warmupS, connections: options.connections, quietWaitS: options.quietWaitS };
      latency = await measureLatency(children, targets, settings, log);
    }

    let neighbour: NeighbourSeries[] = [];
    if (spinner && node) {
      for (const d of daemons) await scale(d, node.app, 1);
      const settings = { rounds: options.neighbourRounds, durationS: options.durationS, warmupS: options.warmupS, connections: options.connections };
      neighbour = await measureNeighbour(children, daemons, { neighbour: node.app, spinner: spinner.app }, settings, log);
    }

    const breakdown = options.parts.includes('breakdown') && node
      ? await measureBreakdown({ state: daemons[0]!.state, app: node.app, workDir: join(work, 'breakdown'), runs: options.breakdownRuns }, log)
      : null;

    const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
    const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim() !== '';
    const partial = { start, latency, neighbour };
    const report: SandboxBenchReport = {
      generatedAt: new Date().toISOString(),
      commit: `${commit}${dirty ? ' + uncommitted changes in src/' : ''}`,
      machine,
      settings: {
        rounds: options.rounds,
        wrk: `wrk -t1 -c${options.connections} -d${options.durationS}s (after a ${options.warmupS} s warm-up)`,
        latencyRounds: options.latencyRounds,
        neighbourRounds: options.neighbourRounds,
        breakdownRuns: options.breakdownRuns,
      },
      apps: apps.map((a) => ({ name: a.name, description: a.description })),
      start,
      latency,
      neighbour,
      nginxVersion: nginx?.version ?? null,
      breakdown,
      notes: [
        'Both daemons run from dist/ as root with their defaults (--default-memory 512m --default-cpu 1 --default-processes 512 apply to the sandboxed one only), 2 edge engines each.',
        "berth's readiness probe looks 10 ms after a start, then less often (a quarter of the time since the start, up to 100 ms), so \"ready\" and everything after it move in steps; \"the app listens\" is the app's own clock and has no such step.",
        `Whole run: ${((performance.now() - began) / 1000).toFixed(0)} s on a shared 2-core machine; "others' CPU" is what processes outside this run used (⚠ above 10 % of a core).`,
      ],
      targets: evaluateTargets(partial),
    };
    process.stdout.write(renderMarkdown(report));
    await writeJsonAtomically(RESULTS, report);
    log(`results written to ${RESULTS}`);
    return options.check && report.targets.some(failsCheck) ? 1 : 0;
  } finally {
    await cleanup();
  }
}

process.exitCode = await main();
