// The sandbox bench's results as data, its verdicts against issue 15's
// targets (start ≤ 1.2× and p99 ≤ 1.1× unsandboxed; a neighbour's p99
// while another app spins ≤ 2× its idle p99), and the markdown that
// prints them. Pure: the runner fills a SandboxBenchReport, these read it.
import { totalErrors, type WrkResult } from '../wrk.ts';
import type { BreakdownResult, Variant } from './breakdown.ts';
import type { DaemonKind } from './daemon.ts';
import type { LatencySeries, LatencyServer } from './latency.ts';
import { SPIN_CPU, SPIN_THREADS, type NeighbourSeries, type NeighbourState } from './neighbour.ts';
import type { StartSample, StartSeries } from './start-rounds.ts';

/** Other processes' CPU use (% of one core) above which a measurement counts as disturbed. */
export const DISTURBED_PERCENT = 10;

export const START_LIMIT = 1.2;
export const P99_LIMIT = 1.1;
export const NEIGHBOUR_LIMIT = 2;

export interface Summary {
  readonly n: number;
  readonly median: number | null;
  readonly p90: number | null;
}

/** The nearest-rank percentile (p in (0, 100]) of the values; null for none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

/** The median (the mean of the middle two for an even count) and the nearest-rank p90. */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { n: 0, median: null, p90: null };
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median = sorted.length % 2 === 1 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { n: values.length, median, p90: percentile(sorted, 90) };
}

export function ratioOf(subject: number | null, reference: number | null): number | null {
  return subject === null || reference === null || reference <= 0 ? null : subject / reference;
}

export type VerdictWord = 'met' | 'not met' | 'not measured';

export interface TargetVerdict {
  readonly id: string;
  readonly title: string;
  /** The ratio (sandboxed ÷ unsandboxed; for the neighbour, spinning ÷ idle) must be at most this. */
  readonly limit: number;
  readonly ratio: number | null;
  readonly verdict: VerdictWord;
  /** Other work on the machine used more than DISTURBED_PERCENT of a core meanwhile. */
  readonly disturbed: boolean;
  readonly reason?: string;
}

export interface SandboxBenchReport {
  readonly generatedAt: string;
  readonly commit: string;
  readonly machine: Readonly<Record<string, string | number>>;
  readonly settings: {
    readonly rounds: number;
    readonly wrk: string;
    readonly latencyRounds: number;
    readonly neighbourRounds: number;
    readonly breakdownRuns: number;
  };
  readonly apps: ReadonlyArray<{ readonly name: string; readonly description: string }>;
  readonly start: readonly StartSeries[];
  readonly latency: readonly LatencySeries[];
  readonly neighbour: readonly NeighbourSeries[];
  readonly nginxVersion: string | null;
  readonly breakdown: BreakdownResult | null;
  readonly notes: readonly string[];
  readonly targets: readonly TargetVerdict[];
}

/** What a start row reads from a sample. */
export const START_STEPS: ReadonlyArray<{ readonly key: keyof StartSample; readonly title: string }> = [
  { key: 'launchedMs', title: 'berth launched it ("started" in its log)' },
  { key: 'listeningMs', title: 'the app listens (its own clock)' },
  { key: 'readyMs', title: 'berth found it ready ("ready on port")' },
  { key: 'apiMs', title: 'the API answered the scale' },
  { key: 'edgeMs', title: '**the edge serves it (first 200)**' },
];

function valuesOf(series: StartSeries | undefined, key: keyof StartSample): number[] {
  return (series?.samples ?? []).map((s) => s[key]).filter((v): v is number => typeof v === 'number');
}

function seriesOf(report: Pick<SandboxBenchReport, 'start'>, app: string, daemon: DaemonKind): StartSeries | undefined {
  return report.start.find((s) => s.app === app && s.daemon === daemon);
}

/** A start series is usable when most of its rounds succeeded. */
function startProblem(series: StartSeries | undefined): string | null {
  if (series === undefined) return 'not run';
  if (series.samples.length === 0) return `no round succeeded${series.errors[0] ? `: ${series.errors[0].split('\n')[0]}` : ''}`;
  if (series.errors.length > series.samples.length) return `${series.errors.length} of ${series.errors.length + series.samples.length} rounds failed`;
  return null;
}

export interface LatencySummary {
  readonly rounds: number;
  readonly requestsPerSec: number | null;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly errors: number;
  readonly otherCpuPercent: number | null;
  /** Over every round: periods the instance was held back for its CPU quota, of all periods (sandboxed only). */
  readonly throttled: { readonly periods: number; readonly throttled: number; readonly ms: number } | null;
}

/** Each metric's median over wrk's rounds (a round's p99 is wrk's, over that round's requests), and their errors summed. */
function summarizeWrk(runs: readonly WrkResult[]): NeighbourSummary {
  const metric = (pick: (wrk: WrkResult) => number | null) => summarize(runs.map(pick).filter((v): v is number => v !== null)).median;
  return {
    rounds: runs.length,
    requestsPerSec: metric((w) => w.requestsPerSec),
    p50: metric((w) => w.latencyMs.p50),
    p99: metric((w) => w.latencyMs.p99),
    errors: runs.reduce((sum, w) => sum + totalErrors(w.errors), 0),
  };
}

/** Each metric's median over the rounds, the busiest round's others' CPU, and the quota's throttling summed. */
export function summarizeLatency(series: LatencySeries | undefined): LatencySummary {
  const rounds = series?.rounds ?? [];
  return {
    ...summarizeWrk(rounds.map((r) => r.wrk)),
    otherCpuPercent: rounds.length === 0 ? null : Math.max(...rounds.map((r) => r.otherCpuPercent)),
    throttled: rounds.some((r) => r.throttle)
      ? rounds.reduce((sum, r) => ({ periods: sum.periods + (r.throttle?.periods ?? 0), throttled: sum.throttled + (r.throttle?.throttled ?? 0), ms: sum.ms + (r.throttle?.throttledMs ?? 0) }), { periods: 0, throttled: 0, ms: 0 })
      : null,
  };
}

function latencyOf(report: Pick<SandboxBenchReport, 'latency'>, server: LatencyServer): LatencySummary {
  return summarizeLatency(report.latency.find((s) => s.server === server));
}

function judge(id: string, title: string, limit: number, ratio: number | null, problem: string | null, disturbed: boolean): TargetVerdict {
  if (problem !== null || ratio === null) return { id, title, limit, ratio, verdict: 'not measured', disturbed, reason: problem ?? 'no ratio' };
  return { id, title, limit, ratio, verdict: ratio <= limit ? 'met' : 'not met', disturbed };
}

export interface NeighbourSummary {
  readonly rounds: number;
  readonly requestsPerSec: number | null;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly errors: number;
}

/** The neighbour's rounds of one state on one daemon: each metric's median round. */
export function summarizeNeighbour(series: NeighbourSeries | undefined, state: NeighbourState): NeighbourSummary {
  return summarizeWrk((series?.rounds ?? []).filter((r) => r.state === state).map((r) => r.wrk));
}

/** The targets of the parts that ran: each app's start (medians of "the edge serves it"), p99 through the edge, and the neighbour's p99 while the spinner spins (sandboxed). */
export function evaluateTargets(report: Pick<SandboxBenchReport, 'start' | 'latency' | 'neighbour'>): TargetVerdict[] {
  const verdicts: TargetVerdict[] = [];
  const apps = [...new Set(report.start.map((s) => s.app))];
  for (const app of apps) {
    const sandboxed = seriesOf(report, app, 'sandboxed');
    const unsandboxed = seriesOf(report, app, 'unsandboxed');
    const problem = startProblem(sandboxed) ?? startProblem(unsandboxed);
    const ratio = ratioOf(summarize(valuesOf(sandboxed, 'edgeMs')).median, summarize(valuesOf(unsandboxed, 'edgeMs')).median);
    const disturbed = [sandboxed, unsandboxed].some((s) => (s?.otherCpuPercent ?? 0) > DISTURBED_PERCENT);
    verdicts.push(judge(`start-${app}`, `${app} app: instance start (scale 0 → 1 until the edge serves), median`, START_LIMIT, ratio, problem, disturbed));
  }
  if (report.latency.length > 0) {
    const sandboxed = latencyOf(report, 'sandboxed');
    const unsandboxed = latencyOf(report, 'unsandboxed');
    const problem =
      sandboxed.rounds === 0 || unsandboxed.rounds === 0
        ? 'a server was not measured'
        : sandboxed.errors + unsandboxed.errors > 0
          ? `wrk saw ${sandboxed.errors + unsandboxed.errors} errors or non-2xx answers`
          : null;
    const disturbed = [sandboxed, unsandboxed].some((s) => (s.otherCpuPercent ?? 0) > DISTURBED_PERCENT);
    verdicts.push(judge('latency-p99', 'p99 through the edge, node app', P99_LIMIT, ratioOf(sandboxed.p99, unsandboxed.p99), problem, disturbed));
  }
  const contained = report.neighbour.find((s) => s.daemon === 'sandboxed');
  if (contained !== undefined) {
    const idle = summarizeNeighbour(contained, 'idle');
    const spinning = summarizeNeighbour(contained, 'spinning');
    const problem =
      idle.rounds === 0 || spinning.rounds === 0
        ? `not measured${contained.errors[0] ? `: ${contained.errors[0].split('\n')[0]}` : ''}`
        : idle.errors + spinning.errors > 0
          ? `wrk saw ${idle.errors + spinning.errors} errors or non-2xx answers`
          : null;
    verdicts.push(judge('neighbour-p99', `the node app's p99 while a neighbour spins (${SPIN_THREADS} busy threads, cpu = ${SPIN_CPU}), sandboxed: spinning ÷ idle`, NEIGHBOUR_LIMIT, ratioOf(spinning.p99, idle.p99), problem, false));
  }
  return verdicts;
}

/** Whether `--check` fails on this verdict: every target must be met. */
export function failsCheck(verdict: TargetVerdict): boolean {
  return verdict.verdict !== 'met';
}

export function formatMs(ms: number | null): string {
  if (ms === null) return '—';
  return ms >= 100 ? `${ms.toFixed(0)} ms` : ms >= 10 ? `${ms.toFixed(1)} ms` : `${ms.toFixed(2)} ms`;
}

export function formatRatio(ratio: number | null): string {
  return ratio === null ? '—' : `${ratio.toFixed(2)}×`;
}

function cpu(percent: number | null): string {
  if (percent === null) return '—';
  return `${percent.toFixed(0)} %${percent > DISTURBED_PERCENT ? ' ⚠' : ''}`;
}

function verdictText(v: TargetVerdict): string {
  const word = v.verdict === 'met' ? '**met**' : v.verdict === 'not met' ? '**not met**' : `not measured (${v.reason})`;
  return `${word}${v.disturbed ? ' ⚠ (other processes were busy meanwhile)' : ''}`;
}

export function startTable(report: Pick<SandboxBenchReport, 'start'>, app: string): string[] {
  const sandboxed = seriesOf(report, app, 'sandboxed');
  const unsandboxed = seriesOf(report, app, 'unsandboxed');
  const lines = [
    `| from asking for web=1 to … | sandboxed, median / p90 | unsandboxed, median / p90 | sandboxed ÷ unsandboxed (median / p90) |`,
    `|---|---|---|---|`,
  ];
  for (const step of START_STEPS) {
    const a = summarize(valuesOf(sandboxed, step.key));
    const b = summarize(valuesOf(unsandboxed, step.key));
    lines.push(`| ${step.title} | ${formatMs(a.median)} / ${formatMs(a.p90)} | ${formatMs(b.median)} / ${formatMs(b.p90)} | ${formatRatio(ratioOf(a.median, b.median))} / ${formatRatio(ratioOf(a.p90, b.p90))} |`);
  }
  const rounds = (s: StartSeries | undefined) => `${s?.samples.length ?? 0} rounds${s?.errors.length ? `, ${s.errors.length} failed` : ''}`;
  lines.push('', `Rounds: sandboxed ${rounds(sandboxed)}, unsandboxed ${rounds(unsandboxed)}; other processes used ${cpu(sandboxed?.otherCpuPercent ?? null)} of a core meanwhile.`);
  return lines;
}

export function latencyTable(report: Pick<SandboxBenchReport, 'latency' | 'nginxVersion'>): string[] {
  const base = latencyOf(report, 'unsandboxed');
  const names: Record<LatencyServer, string> = {
    sandboxed: 'berth edge → app, **sandboxed**',
    unsandboxed: 'berth edge → app, unsandboxed',
    nginx: `nginx${report.nginxVersion ? ` ${report.nginxVersion}` : ''} → the same app run plainly (reference)`,
  };
  const lines = ['| server | req/s | p50 | p99 | p99 ÷ unsandboxed | req/s ÷ unsandboxed | errors | others\' CPU (max) | held back by its CPU quota |', '|---|---|---|---|---|---|---|---|---|'];
  for (const series of report.latency) {
    const s = summarizeLatency(series);
    if (s.rounds === 0) {
      lines.push(`| ${names[series.server]} | failed: ${series.errors[0]?.split('\n')[0] ?? '?'} | | | | | | | |`);
      continue;
    }
    lines.push(
      `| ${names[series.server]} | ${s.requestsPerSec?.toFixed(0) ?? '—'} | ${formatMs(s.p50)} | ${formatMs(s.p99)} | ${formatRatio(ratioOf(s.p99, base.p99))} | ${formatRatio(ratioOf(s.requestsPerSec, base.requestsPerSec))} | ${s.errors}${s.errors > 0 ? ' ⚠' : ''} | ${cpu(s.otherCpuPercent)} | ${s.throttled ? `${s.throttled.throttled} of ${s.throttled.periods} periods (${s.throttled.ms.toFixed(0)} ms)` : '—'} |`,
    );
  }
  return lines;
}

export function neighbourTable(report: Pick<SandboxBenchReport, 'neighbour'>): string[] {
  const lines = ['| daemon | idle: req/s, p50, p99 | spinning: req/s, p50, p99 | p99 spinning ÷ idle | req/s spinning ÷ idle | errors |', '|---|---|---|---|---|---|'];
  for (const series of report.neighbour) {
    const idle = summarizeNeighbour(series, 'idle');
    const spinning = summarizeNeighbour(series, 'spinning');
    const cells = (s: NeighbourSummary) => (s.rounds === 0 ? '—' : `${s.requestsPerSec?.toFixed(0) ?? '—'}, ${formatMs(s.p50)}, ${formatMs(s.p99)}`);
    const name = series.daemon === 'sandboxed' ? '**sandboxed** (the quota holds the spinner to half a core)' : 'unsandboxed (the same loops, uncontained)';
    lines.push(`| ${name} | ${cells(idle)} | ${cells(spinning)} | ${formatRatio(ratioOf(spinning.p99, idle.p99))} | ${formatRatio(ratioOf(spinning.requestsPerSec, idle.requestsPerSec))} | ${idle.errors + spinning.errors}${series.errors.length > 0 ? `; failed: ${series.errors[0]!.split('\n')[0]}` : ''} |`);
  }
  return lines;
}

/** Each layer of a sandboxed launch and the variant it is measured against. */
export const LAYERS: ReadonlyArray<{ readonly variant: Variant; readonly over: Variant | null; readonly adds: string }> = [
  { variant: 'plain', over: null, adds: 'spawn as the app\'s uid (the unsandboxed launcher)' },
  { variant: 'setpriv', over: 'plain', adds: 'setpriv: uid drop, no capabilities, no_new_privs' },
  { variant: 'nsenter+setpriv', over: 'setpriv', adds: 'nsenter into the app\'s network namespace' },
  { variant: 'bwrap+setpriv', over: 'setpriv', adds: 'bwrap with a fresh network namespace instead (for comparison)' },
  { variant: 'nsenter+bwrap+setpriv', over: 'nsenter+setpriv', adds: 'bwrap: pid, mount, ipc, uts namespaces and the mounts' },
  { variant: 'nsenter+bwrap+setpriv, /etc entry by entry', over: 'nsenter+bwrap+setpriv', adds: 'the same with each allowed /etc entry bound from the host instead of the daemon\'s copy of /etc in one bind (for comparison)' },
  { variant: 'nsenter+bwrap+seccomp+setpriv', over: 'nsenter+bwrap+setpriv', adds: 'the seccomp filter' },
  { variant: 'launchSandboxed', over: 'nsenter+bwrap+seccomp+setpriv', adds: 'berth\'s launcher: a cgroup with the default limits (made while bwrap starts), bwrap and its init moved in before the program runs' },
  { variant: 'launchSandboxed, no CPU quota', over: 'launchSandboxed', adds: 'the same without the CPU quota (--default-cpu none), for comparison' },
];

export function breakdownTable(breakdown: BreakdownResult): string[] {
  const medianOf = (v: Variant) => summarize(breakdown.upMs[v]).median;
  const lines = ['| variant | spawn → listening, median / p90 | adds (median) | what the layer is |', '|---|---|---|---|'];
  for (const layer of LAYERS) {
    const s = summarize(breakdown.upMs[layer.variant]);
    const adds = layer.over === null || s.median === null || medianOf(layer.over) === null ? '' : `${(s.median - medianOf(layer.over)!).toFixed(1)} ms over ${layer.over}`;
    lines.push(`| ${layer.variant} | ${formatMs(s.median)} / ${formatMs(s.p90)} | ${adds} | ${layer.adds} |`);
  }
  const created = summarize(breakdown.cgroupCreateMs);
  const removed = summarize(breakdown.cgroupRemoveMs);
  const returned = summarize(breakdown.launchReturnedMs);
  const total = ratioOf(medianOf('launchSandboxed'), medianOf('plain'));
  lines.push(
    '',
    `launchSandboxed returned (berth logs "started") after ${formatMs(returned.median)} (median); a cgroup (v${breakdown.cgroupVersion}, with limits) alone: create ${formatMs(created.median)}, remove ${formatMs(removed.median)}. ` +
      `${breakdown.mounts} mounts (${breakdown.mountsEntryByEntry} with /etc entry by entry). The whole sandbox: ${formatRatio(total)} the plain start of this program.`,
  );
  if (breakdown.errors.length > 0) lines.push('', `Errors (${breakdown.errors.length}): ${breakdown.errors.slice(0, 3).join('; ')}`);
  return lines;
}

export function renderMarkdown(report: SandboxBenchReport): string {
  const out: string[] = [
    `# berth sandboxed vs unsandboxed — ${report.generatedAt}, commit ${report.commit}`,
    '',
    Object.entries(report.machine).map(([k, v]) => `${k}: ${v}`).join(' · '),
    '',
  ];
  const apps = [...new Set(report.start.map((s) => s.app))];
  if (apps.length > 0) {
    out.push(`## Instance start: \`PUT /apps/NAME/formation {"web":1}\` after web=0, ${report.settings.rounds} rounds per daemon, taking turns`, '');
    for (const app of apps) {
      const description = report.apps.find((a) => a.name === app)?.description ?? '';
      out.push(`### ${app} app — ${description}`, '', ...startTable(report, app), '');
    }
  }
  if (report.latency.length > 0) {
    out.push(`## Latency through the edge: ${report.settings.wrk}, ${report.settings.latencyRounds} interleaved rounds, each metric's median round`, '', ...latencyTable(report), '');
  }
  if (report.neighbour.length > 0) {
    out.push(`## A neighbour spinning: the node app through the edge while a spinner app (${SPIN_THREADS} busy threads, berth.toml cpu = ${SPIN_CPU}) is paused or spinning, ${report.settings.wrk}, ${report.settings.neighbourRounds} pairs of rounds per daemon, each metric's median round`, '', ...neighbourTable(report), '');
  }
  if (report.breakdown !== null) {
    out.push(`## Where a sandboxed start goes: the same program (node listens on 127.0.0.1:0, says so, exits), ${report.settings.breakdownRuns} launches per variant`, '', ...breakdownTable(report.breakdown), '');
  }
  out.push('## Targets (issue 15)', '', '| target | ratio | limit | verdict |', '|---|---|---|---|');
  for (const v of report.targets) out.push(`| ${v.title} | ${formatRatio(v.ratio)} | ≤ ${v.limit}× | ${verdictText(v)} |`);
  if (report.notes.length > 0) out.push('', ...report.notes.map((note) => `- ${note}`));
  return `${out.join('\n')}\n`;
}
