// `npm run bench:restart`: what restarting `berth server` does to the apps'
// traffic today (issue 18's baseline, which the work on it must bring to 0).
// One real `berth server` from dist/, as root, on fixed ports; one app
// (examples/node-hello) with two web instances; steady load through the
// edge (test/helpers/steady-load.ts: several clients, a request every 20 ms
// each, some over keep-alive connections, some a new connection per
// request); then, round after round, the daemon stopped with SIGTERM (an
// orderly restart) or killed with SIGKILL (a crash) and started again at
// once on the same state. Per round: failed requests per kind, the gap
// from the first failure to the last, and whether the instances' pids
// changed. Then the spike of option (a), a listening socket handed over
// between Node processes (lib/restart/handover-spike.ts), and what option
// (b) costs (lib/restart/edge-costs.ts). See bench/README.md ("Restarts").
//
//   npm run bench:restart [-- --rounds N (3)] [-- --clients N (4)] [-- --sandbox required|off]
//                         [-- --handovers N (20)] [-- --only daemon,handover,costs] [-- --no-build]
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDistBuild } from './lib/dist-build.ts';
import { describeSummary } from '../test/helpers/steady-load.ts';
import { ChildProcesses } from './lib/child-processes.ts';
import { machineInfo } from './lib/machine.ts';
import { freePort } from './lib/ports.ts';
import { isSameProcessAlive, type ProcStat } from './lib/proc-tree.ts';
import { measureEdgeCosts, type EdgeCosts } from './lib/restart/edge-costs.ts';
import { measureHandovers, type HandoverReport } from './lib/restart/handover-spike.ts';
import { restartRound, startDaemon, type RestartSignal, type RoundResult } from './lib/restart/rounds.ts';
import { writeJsonAtomically } from './lib/results-file.ts';
import { createAndDeploy, removeUsers, scale, stopBerthServer, type BenchDaemon } from './lib/sandbox/daemon.ts';
import { parseRestartOptions, RESTART_USAGE as USAGE, type RestartOptions as Options } from './lib/restart/options.ts';

const ROOT = join(import.meta.dirname, '..');
const RESULTS = join(ROOT, 'bench', 'results', 'restart.json');
/** Not under the system's temp folder: see lib/sandbox/daemon.ts. */
const WORK_PARENT = '/var/tmp';
const APP = 'bench-restart';
const log = (line: string) => process.stderr.write(`bench:restart: ${line}\n`);

const ensureBuild = (build: boolean) => ensureDistBuild(ROOT, build, log);

const ms = (v: number | null) => (v === null ? '–' : String(Math.round(v)));

function renderRounds(rounds: readonly RoundResult[]): string {
  const lines = [
    '| signal | round | requests | failed | refused | reset | timeout | status | other | first → last failure (ms after the signal) | gap ms | exit ms | exec → edge ms | exec → ready ms | same pids | old instances alive |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rounds) {
    const s = r.summary;
    lines.push(
      `| ${r.signal} | ${r.round} | ${s.total} | ${s.failed} | ${s.byOutcome.refused} | ${s.byOutcome.reset} | ${s.byOutcome.timeout} | ${s.byOutcome.status} | ${s.byOutcome.other} | ${ms(r.firstFailureMs)} → ${ms(r.lastFailureMs)} | ${ms(s.gapMs)} | ${ms(r.exitMs)} | ${ms(r.toEdgeMs)} | ${ms(r.toReadyMs)} | ${r.samePids ? 'yes' : 'no'} | ${r.oldInstancesAlive} |`,
    );
  }
  return lines.join('\n');
}

async function runDaemonRounds(children: ChildProcesses, options: Options, work: string, prefix: string, seen: ProcStat[], owned: { daemon: BenchDaemon | null }): Promise<RoundResult[]> {
  const folder = join(work, 'daemon');
  await mkdir(folder, { mode: 0o711 });
  const state = join(folder, 'state');
  const place = { repoRoot: ROOT, kind: options.sandbox === 'required' ? ('sandboxed' as const) : ('unsandboxed' as const), state, userPrefix: prefix, edgePort: await freePort(), apiPort: await freePort() };
  const token = async () => (await readFile(join(state, 'admin-token'), 'utf8')).trim();
  log(`starting berth server --sandbox ${options.sandbox} from dist/ (edge on ${place.edgePort})`);
  owned.daemon = (await startDaemon(children, place, token)).daemon;
  await createAndDeploy(owned.daemon, APP, join(ROOT, 'examples', 'node-hello'));
  await scale(owned.daemon, APP, 2);
  log(`${APP} deployed with two web instances`);
  const results: RoundResult[] = [];
  const ctx = { children, place, app: APP, load: options.load, token, seen, log };
  for (const signal of ['SIGTERM', 'SIGKILL'] as RestartSignal[]) {
    for (let round = 1; round <= options.rounds; round++) {
      const { next, result } = await restartRound(ctx, owned.daemon, signal, round);
      owned.daemon = next;
      results.push(result);
      log(`${signal} ${round}: ${describeSummary(result.summary)} ${JSON.stringify(result.failureDetails)}; same pids: ${result.samePids ? 'yes' : 'no'}`);
    }
  }
  return results;
}

async function main(): Promise<number> {
  const options = parseRestartOptions(process.argv.slice(2));
  if (options === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (typeof options === 'string') {
    process.stderr.write(`bench:restart: ${options}\n\n${USAGE}`);
    return 2;
  }
  if (options.parts.includes('daemon') && process.getuid?.() !== 0) {
    log('the daemon part needs root (berth runs apps as their own users only as root)');
    return 2;
  }
  if (options.parts.includes('daemon') || options.parts.includes('costs')) await ensureBuild(options.build);

  const children = new ChildProcesses();
  const work = await mkdtemp(join(WORK_PARENT, 'berth-bench-restart-'));
  await chmod(work, 0o711);
  const prefix = `bench${randomBytes(2).toString('hex')}r-`;
  const seen: ProcStat[] = [];
  const owned: { daemon: BenchDaemon | null } = { daemon: null };
  process.on('exit', () => {
    children.killAllNow();
    removeUsers(prefix);
  });
  const cleanup = async () => {
    if (owned.daemon) await stopBerthServer(children, owned.daemon, [APP], log);
    await children.stopAll();
    // Instances a crash orphaned, by pid and start time (never by name).
    for (const stat of seen) {
      if (!(await isSameProcessAlive(stat))) continue;
      try {
        process.kill(stat.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    removeUsers(prefix);
    await rm(work, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  const began = performance.now();
  try {
    const machine = await machineInfo(children);
    const rounds = options.parts.includes('daemon') ? await runDaemonRounds(children, options, work, prefix, seen, owned) : [];
    if (owned.daemon) {
      await stopBerthServer(children, owned.daemon, [APP], log);
      owned.daemon = null;
    }
    let handover: HandoverReport | null = null;
    if (options.parts.includes('handover')) {
      log(`handover spike: ${options.handovers} handovers under the same load`);
      handover = await measureHandovers(children, { handovers: options.handovers, load: options.load }, log);
    }
    let costs: EdgeCosts | null = null;
    if (options.parts.includes('costs')) {
      log('costs of a separate edge process');
      costs = await measureEdgeCosts(children, ROOT, join(work, 'costs'), log);
    }
    const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
    const report = {
      generatedAt: new Date().toISOString(),
      commit,
      machine,
      settings: { ...options.load, sandbox: options.sandbox, roundsPerSignal: options.rounds, handovers: options.handovers, app: 'examples/node-hello, web=2' },
      rounds,
      handover,
      costs,
      notes: [
        'Each round: 2 s of load, the signal, the old daemon waited for, the new one started at once on the same state and ports (a supervisor with no restart delay), load until every client was served again plus 2 s.',
        'Failures count requests that started in the round; the gap is the start of the first failed request to the end of the last.',
        `Whole run: ${((performance.now() - began) / 1000).toFixed(0)} s on a shared 2-core machine.`,
      ],
    };
    if (rounds.length > 0) process.stdout.write(`## berth server restarts under load\n\n${renderRounds(rounds)}\n\n`);
    if (handover) process.stdout.write(`## Option (a): listening-socket handover between Node processes\n\n${handover.markdown}\n\n`);
    if (costs) process.stdout.write(`## Option (b): what a separate edge process costs\n\n${costs.markdown}\n\n`);
    await writeJsonAtomically(RESULTS, report);
    log(`results written to ${RESULTS}`);
    return 0;
  } finally {
    await cleanup();
  }
}

process.exitCode = await main();
