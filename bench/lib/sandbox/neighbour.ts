// A neighbour's latency while another app spins: the "CPU spin"
// bound (the neighbour's p99 under the busy loops within 2× of its idle
// p99) is a timing, so it is measured here rather than asserted in the
// attack test (test/security/sandbox-cpu.test.ts asserts the quota
// itself). On each daemon a spinner app (four busy threads in one node
// process, `cpu = 0.5` in its berth.toml) runs beside the node app; wrk
// measures the node app through the edge in rounds that alternate between
// the spinner paused (SIGSTOP, so switching costs nothing) and spinning.
// The unsandboxed daemon ignores the quota: its row shows what the same
// loops do uncontained.
import { readdir, readFile } from 'node:fs/promises';
import type { ChildProcesses } from '../child-processes.ts';
import { runWrk, type WrkResult } from '../wrk.ts';
import { apiCall, appHost, type BenchDaemon, type DaemonKind } from './daemon.ts';

/** The spinner's process type and the mark its command line carries (how its process is found on the host). */
export const SPIN_TYPE = 'spin';
const SPIN_MARK = 'berth-bench-spin.mjs';
export const SPIN_THREADS = 4;
export const SPIN_CPU = 0.5;

/** The spinner app's files: a Procfile with only the spin type, its script, and its quota. */
export function spinnerFiles(): Record<string, string> {
  return {
    Procfile: `${SPIN_TYPE}: node ${SPIN_MARK}\n`,
    'berth.toml': `[resources]\ncpu = ${SPIN_CPU}\n`,
    [SPIN_MARK]: `import { Worker } from 'node:worker_threads';
for (let i = 0; i < ${SPIN_THREADS - 1}; i++) new Worker('for (;;) {}', { eval: true });
for (;;) {}
`,
  };
}

export type NeighbourState = 'idle' | 'spinning';

export interface NeighbourRound {
  readonly state: NeighbourState;
  readonly wrk: WrkResult;
}

export interface NeighbourSeries {
  readonly daemon: DaemonKind;
  readonly rounds: readonly NeighbourRound[];
  readonly errors: readonly string[];
}

export interface NeighbourSettings {
  readonly rounds: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly connections: number;
}

/** Every process of the host whose parent chain reaches `root` (itself included). */
async function treeOf(root: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // The field after the command (which may hold spaces and parentheses) is the state, then the parent.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // gone meanwhile
    }
  }
  return [...parents.keys()].filter((pid) => {
    for (let p: number | undefined = pid, hops = 0; p !== undefined && p > 1 && hops < 64; p = parents.get(p), hops++) if (p === root) return true;
    return false;
  });
}

/** The spinner's node process on `d`: the one below its spin.1 instance whose command line names the script. */
async function spinnerPid(d: BenchDaemon, app: string): Promise<number> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const answer = (await apiCall(d, 'GET', `/apps/${app}/ps`)) as { instances?: Array<{ name?: string; pid?: number }> };
    const root = answer.instances?.find((i) => i.name === `${SPIN_TYPE}.1`)?.pid;
    if (root !== undefined) {
      for (const pid of await treeOf(root)) {
        const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        if (cmdline.split('\0').some((arg) => arg.endsWith(SPIN_MARK))) return pid;
      }
    }
    if (Date.now() > deadline) throw new Error(`${d.kind}: the spinner's process did not show up within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * On each daemon in turn: the spinner scaled to one instance and paused,
 * then `rounds` pairs of wrk runs against the neighbour (idle, spinning;
 * the pair's order alternating), then the spinner scaled back to zero.
 */
export async function measureNeighbour(children: ChildProcesses, daemons: readonly BenchDaemon[], apps: { neighbour: string; spinner: string }, settings: NeighbourSettings, log: (line: string) => void): Promise<NeighbourSeries[]> {
  const out: NeighbourSeries[] = [];
  for (const d of daemons) {
    const rounds: NeighbourRound[] = [];
    const errors: string[] = [];
    let spinner: number | null = null;
    try {
      await apiCall(d, 'PUT', `/apps/${apps.spinner}/formation`, { [SPIN_TYPE]: 1 });
      spinner = await spinnerPid(d, apps.spinner);
      process.kill(spinner, 'SIGSTOP');
      const load = { url: `${d.edge}/`, threads: 1, connections: settings.connections, headers: { Host: appHost(apps.neighbour) } };
      for (let round = 0; round < settings.rounds; round++) {
        const order: NeighbourState[] = round % 2 === 0 ? ['idle', 'spinning'] : ['spinning', 'idle'];
        for (const state of order) {
          process.kill(spinner, state === 'spinning' ? 'SIGCONT' : 'SIGSTOP');
          try {
            await runWrk(children, { ...load, seconds: settings.warmupS });
            const wrk = await runWrk(children, { ...load, seconds: settings.durationS });
            rounds.push({ state, wrk });
            log(`neighbour ${d.kind} ${round + 1}/${settings.rounds} ${state}: ${wrk.requestsPerSec.toFixed(0)} req/s, p99 ${wrk.latencyMs.p99?.toFixed(2)} ms`);
          } catch (err) {
            errors.push((err as Error).message);
            log(`neighbour ${d.kind} ${round + 1}/${settings.rounds} ${state} failed: ${(err as Error).message.split('\n')[0]}`);
          }
        }
      }
    } catch (err) {
      errors.push((err as Error).message);
      log(`neighbour ${d.kind} failed: ${(err as Error).message.split('\n')[0]}`);
    } finally {
      if (spinner !== null) {
        try {
          process.kill(spinner, 'SIGCONT');
        } catch {
          // already gone
        }
      }
      await apiCall(d, 'PUT', `/apps/${apps.spinner}/formation`, { [SPIN_TYPE]: 0 }).catch((err: Error) => log(`neighbour ${d.kind}: scaling the spinner down: ${err.message}`));
    }
    out.push({ daemon: d.kind, rounds, errors });
  }
  return out;
}
