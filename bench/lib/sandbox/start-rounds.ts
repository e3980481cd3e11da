// Instance start, timed from outside: scale the app's web to 0 (untimed),
// then ask for 1 and take the wall clock to the first 200 through the
// daemon's edge, the daemons taking turns (the order alternating every
// round, so that neither always runs right after the other). berth's API
// answers a scale once the new instance is ready and the routes say so; the
// edge is then asked until it serves (it has to, but a 200 is the proof).
import { cpuOutsideTree, cpuUsedBetween } from '../proc-tree.ts';
import type { BenchApp } from './apps.ts';
import { appHost, edgeStatus, scale, webLog, type BenchDaemon, type DaemonKind } from './daemon.ts';
import { startMarks, type StartMarks } from './start-marks.ts';

export interface StartSample extends StartMarks {
  /** Asked → the API answered (the instance ready, the routes published, the old formation of none stopped). */
  readonly apiMs: number;
  /** Asked → the first 200 through the edge: the instance start as a user sees it. */
  readonly edgeMs: number;
  /** Requests to the edge until that 200 (1: the first one after the API's answer). */
  readonly polls: number;
}

export interface StartSeries {
  readonly app: BenchApp['name'];
  readonly daemon: DaemonKind;
  readonly samples: readonly StartSample[];
  readonly errors: readonly string[];
  /** CPU other processes on the machine used while the app's rounds ran, in % of one core. */
  readonly otherCpuPercent: number;
}

const SERVE_TIMEOUT_MS = 15_000;

async function oneStart(d: BenchDaemon, app: string): Promise<StartSample> {
  await scale(d, app, 0);
  const before = await edgeStatus(d.edge, appHost(app));
  if (before === 200) throw new Error(`${d.kind}: ${app} still served with web=0`);
  const askedAt = performance.timeOrigin + performance.now();
  const started = performance.now();
  await scale(d, app, 1);
  const apiMs = performance.now() - started;
  let polls = 0;
  for (;;) {
    polls++;
    if ((await edgeStatus(d.edge, appHost(app))) === 200) break;
    if (performance.now() - started > SERVE_TIMEOUT_MS) throw new Error(`${d.kind}: ${app} not served ${SERVE_TIMEOUT_MS / 1000} s after web=1`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const edgeMs = performance.now() - started;
  return { apiMs, edgeMs, polls, ...startMarks(await webLog(d, app), askedAt) };
}

/**
 * `rounds` timed starts of `app` on each daemon, after one untimed start
 * each (the first start after a deploy finds colder caches).
 */
export async function measureStarts(daemons: readonly BenchDaemon[], app: BenchApp, rounds: number, log: (line: string) => void): Promise<StartSeries[]> {
  const samples = new Map<DaemonKind, StartSample[]>(daemons.map((d) => [d.kind, []]));
  const errors = new Map<DaemonKind, string[]>(daemons.map((d) => [d.kind, []]));
  for (const d of daemons) await oneStart(d, app.app);
  const othersBefore = await cpuOutsideTree(process.pid);
  const began = performance.now();
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? daemons : [...daemons].reverse();
    const said: string[] = [];
    for (const d of order) {
      try {
        const sample = await oneStart(d, app.app);
        samples.get(d.kind)!.push(sample);
        said.push(`${d.kind} ${sample.edgeMs.toFixed(0)} ms`);
      } catch (err) {
        errors.get(d.kind)!.push((err as Error).message);
        said.push(`${d.kind} failed: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    log(`start ${app.name} ${round}/${rounds}: ${said.join(', ')}`);
  }
  const seconds = (performance.now() - began) / 1000;
  const otherCpuPercent = (cpuUsedBetween(othersBefore, await cpuOutsideTree(process.pid)) / seconds) * 100;
  return daemons.map((d) => ({ app: app.name, daemon: d.kind, samples: samples.get(d.kind)!, errors: errors.get(d.kind)!, otherCpuPercent }));
}
