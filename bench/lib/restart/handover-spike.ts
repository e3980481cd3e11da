// Option (a) of issue 18, measured in Node (a spike, not product code):
// lib/restart/handover-server.ts under the steady load hands its listening
// socket to a successor it spawns, again and again; then it is killed
// (a crash: nobody is there to hand over) and a fresh one started at once
// on the same port, as a supervisor would. Both ways of draining the old
// one's keep-alive connections are measured.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeSummary, now, startSteadyLoad, summarize, summarizeByMode, type LoadSummary } from '../../../test/helpers/steady-load.ts';
import type { ChildProcesses } from '../child-processes.ts';
import { freePort } from '../ports.ts';
import { isSameProcessAlive, parseStat, type ProcStat } from '../proc-tree.ts';
import type { LoadShape } from './rounds.ts';

const SERVER = join(import.meta.dirname, 'handover-server.ts');
const STRATEGIES = ['close-idle', 'next-close'] as const;
type Strategy = (typeof STRATEGIES)[number];
const CRASHES = 3;
const GAP_BETWEEN_MS = 1_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface HandoverEvent {
  readonly kind: 'handover' | 'crash';
  /** Signal → the successor serving ("serving" line seen); signal → the old process gone. */
  readonly servingMs: number;
  readonly oldGoneMs: number;
  readonly summary: LoadSummary;
  /** The failed requests: ms after the signal (start → end), outcome, connection mode, reused connection, error. */
  readonly failures: readonly string[];
  /** The successor's parent once the old one had exited, "PID (NAME)": init, or the nearest subreaper. */
  readonly successorParent: string | null;
}

export interface StrategyResult {
  readonly strategy: Strategy;
  readonly handovers: readonly HandoverEvent[];
  readonly crashes: readonly HandoverEvent[];
  readonly handoverTotal: LoadSummary;
  readonly handoverByMode: Record<string, LoadSummary>;
  readonly crashTotal: LoadSummary;
}

export interface HandoverReport {
  readonly strategies: readonly StrategyResult[];
  readonly markdown: string;
}

async function stat(pid: number): Promise<ProcStat | null> {
  try {
    return parseStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null> | T | null): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; ; ) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`handover spike: no ${what} within ${timeoutMs / 1000} s`);
    await sleep(5);
  }
}

async function runStrategy(children: ChildProcesses, strategy: Strategy, handovers: number, load: LoadShape, log: (line: string) => void): Promise<StrategyResult> {
  const port = await freePort();
  const generations: ProcStat[] = [];
  const started = [children.start({ name: `handover server (${strategy})`, command: process.execPath, args: [SERVER, String(port), strategy] })];
  const servingPids = () => [...started.map((c) => c.output()).join('').matchAll(/serving pid=(\d+)/g)].map((m) => Number(m[1]));
  const nextServing = (count: number) => () => {
    const pids = servingPids();
    return pids.length > count ? pids[count]! : null;
  };
  try {
    let current = await waitFor('first server', 10_000, nextServing(0));
    generations.push((await stat(current))!);
    const steady = startSteadyLoad({ origin: `http://127.0.0.1:${port}`, clients: load.clients, keepAliveClients: load.keepAliveClients, intervalMs: load.intervalMs, durationMs: (handovers + CRASHES + 2) * (GAP_BETWEEN_MS + 12_000), timeoutMs: 5_000 });
    const marks: Array<{ kind: 'handover' | 'crash'; at: number; servingMs: number; oldGoneMs: number; successorParent: string | null }> = [];
    try {
      await sleep(GAP_BETWEEN_MS);
      for (let i = 0; i < handovers + CRASHES; i++) {
        const kind = i < handovers ? 'handover' : 'crash';
        const old = generations.at(-1)!;
        const at = now();
        const count = servingPids().length;
        if (kind === 'handover') process.kill(current, 'SIGUSR2');
        else {
          // A crash: nobody hands over; the supervisor starts a fresh one on the same port at once.
          process.kill(current, 'SIGKILL');
          await waitFor('the killed server gone', 5_000, async () => ((await isSameProcessAlive(old)) ? null : true));
          started.push(children.start({ name: `handover server (${strategy}, after a crash)`, command: process.execPath, args: [SERVER, String(port), strategy] }));
        }
        current = await waitFor('successor serving', 10_000, nextServing(count));
        const servingMs = now() - at;
        generations.push((await stat(current))!);
        await waitFor('the old server gone', 12_000, async () => ((await isSameProcessAlive(old)) ? null : true));
        const oldGoneMs = now() - at;
        // Read a while later: right at the old one's exit the successor may still hang from one of its exiting threads.
        await sleep(GAP_BETWEEN_MS);
        const successorParent = (await stat(current))?.ppid ?? null;
        const parentName = successorParent === null ? '' : ((await stat(successorParent))?.name ?? '?');
        marks.push({ kind, at, servingMs, oldGoneMs, successorParent: successorParent === null ? null : `${successorParent} (${parentName})` });
      }
    } finally {
      steady.stop();
    }
    const records = await steady.done;
    const events: HandoverEvent[] = marks.map((m, i) => ({
      kind: m.kind,
      servingMs: m.servingMs,
      oldGoneMs: m.oldGoneMs,
      successorParent: m.successorParent,
      // By end time: a request in flight at a kill fails because of it.
      summary: summarize(records, m.at, marks[i + 1]?.at ?? Infinity, 'end'),
      failures: records
        .filter((r) => r.outcome !== 'ok' && r.end >= m.at && r.end < (marks[i + 1]?.at ?? Infinity))
        .slice(0, 20)
        .map((r) => `${Math.round(r.start - m.at)} → ${Math.round(r.end - m.at)} ms ${r.outcome} ${r.mode}${r.reused ? ' reused' : ''} ${r.detail ?? ''}`.trim()),
    }));
    const firstCrash = marks.find((m) => m.kind === 'crash')?.at ?? Infinity;
    const result: StrategyResult = {
      strategy,
      handovers: events.filter((e) => e.kind === 'handover'),
      crashes: events.filter((e) => e.kind === 'crash'),
      handoverTotal: summarize(records, -Infinity, firstCrash, 'end'),
      handoverByMode: summarizeByMode(records, -Infinity, firstCrash, 'end'),
      crashTotal: summarize(records, firstCrash, Infinity, 'end'),
    };
    log(`${strategy}: ${handovers} handovers: ${describeSummary(result.handoverTotal)}; ${CRASHES} crashes: ${describeSummary(result.crashTotal)}`);
    return result;
  } finally {
    // Successors are nobody's child of ours once their parent exited: stopped by pid and start time.
    for (const g of generations) {
      if (!(await isSameProcessAlive(g))) continue;
      try {
        process.kill(g.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    for (const child of started) await children.stop(child, 2_000);
  }
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? null : sorted[Math.floor(sorted.length / 2)]!;
};

function render(results: readonly StrategyResult[]): string {
  const lines = ['| old one drains | event | count | requests | failed | refused | reset | timeout | gap ms (worst) | successor serving, median ms | old gone, median ms | successor\'s parent after |', '|---|---|---|---|---|---|---|---|---|---|---|---|'];
  for (const r of results) {
    for (const [kind, events, total] of [['handover', r.handovers, r.handoverTotal], ['crash + fresh start', r.crashes, r.crashTotal]] as const) {
      const worstGap = Math.max(0, ...events.map((e) => e.summary.gapMs ?? 0));
      const parents = [...new Set(events.map((e) => e.successorParent))].join(', ');
      lines.push(
        `| ${r.strategy} | ${kind} | ${events.length} | ${total.total} | ${total.failed} | ${total.byOutcome.refused} | ${total.byOutcome.reset} | ${total.byOutcome.timeout} | ${Math.round(worstGap)} | ${Math.round(median(events.map((e) => e.servingMs)) ?? 0)} | ${Math.round(median(events.map((e) => e.oldGoneMs)) ?? 0)} | ${parents} |`,
      );
    }
  }
  return lines.join('\n');
}

export async function measureHandovers(children: ChildProcesses, settings: { handovers: number; load: LoadShape }, log: (line: string) => void): Promise<HandoverReport> {
  const strategies: StrategyResult[] = [];
  for (const strategy of STRATEGIES) strategies.push(await runStrategy(children, strategy, settings.handovers, settings.load, log));
  return { strategies, markdown: render(strategies) };
}
