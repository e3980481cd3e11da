// The results as data, the verdicts against the targets, and the markdown
// that prints them. Everything here is pure: the runner fills a BenchReport,
// these functions read it.
import type { IdleMemoryResult } from './idle-memory.ts';
import { contentOf, usesCache, type LoadScenario, type LoadScenarioId } from './scenarios.ts';
import { totalErrors, type WrkErrors, type WrkResult } from './wrk.ts';

export type RunStatus = 'ok' | 'failed' | 'not installed';

export interface LoadRun {
  readonly server: string;
  readonly status: RunStatus;
  readonly error?: string;
  /** The reported round: the median by req/s of the successful rounds. */
  readonly wrk?: WrkResult;
  /** Every successful round, in order. */
  readonly rounds?: readonly WrkResult[];
  /** CPU used by the server's processes during the reported round, in % of one core (200 = both cores). */
  readonly serverCpuPercent?: number;
  /** The same for the tiny upstream, proxy runs only. */
  readonly upstreamCpuPercent?: number;
  /** Cache runs only: requests for the cached path that still reached the upstream during the reported round (0 when every answer was a hit). */
  readonly upstreamRequests?: number;
  /** The same for every process outside the harness's tree: other work on the machine. */
  readonly otherCpuPercent?: number;
}

export interface ScenarioReport {
  readonly scenario: LoadScenario;
  readonly runs: readonly LoadRun[];
}

export interface IdleRun {
  readonly server: string;
  readonly status: RunStatus;
  readonly error?: string;
  readonly result?: IdleMemoryResult;
}

export interface ServerInfo {
  readonly name: string;
  readonly version: string;
  readonly cores: string;
}

export interface BenchReport {
  readonly generatedAt: string;
  readonly machine: Readonly<Record<string, string | number>>;
  readonly settings: {
    readonly wrk: string;
    /** How the HTTP/2 scenarios are loaded. */
    readonly h2load?: string;
    readonly durationS: number;
    readonly warmupS: number;
    readonly rounds: number;
    readonly idleConnections: number;
    readonly fdLimit: string;
  };
  readonly servers: readonly ServerInfo[];
  readonly upstream: { readonly description: string; readonly aloneRequestsPerSec: number | null };
  readonly notes: readonly string[];
  readonly scenarios: readonly ScenarioReport[];
  readonly idleMemory: readonly IdleRun[];
  readonly targets: readonly TargetVerdict[];
}

export interface Target {
  readonly scenario: LoadScenarioId;
  readonly metric: 'req/s' | 'p99';
  /** req/s: berth ≥ limit × nginx; p99: berth ≤ limit × nginx. */
  readonly limit: number;
  /** A goal is reported like a target but never fails the run (--check ignores it). Default: target. */
  readonly kind?: 'target' | 'goal';
}

export const TARGETS: readonly Target[] = [
  { scenario: 'static-1k', metric: 'req/s', limit: 0.9 },
  { scenario: 'static-1k', metric: 'p99', limit: 2 },
  { scenario: 'proxy-tiny', metric: 'req/s', limit: 0.7 },
  { scenario: 'proxy-tiny', metric: 'p99', limit: 2 },
];

/** Where berth should be over TLS, HTTP/2 and from its cache: reported with a verdict, not enforced. */
export const GOALS: readonly Target[] = [
  { scenario: 'https-static-1k', metric: 'req/s', limit: 0.8, kind: 'goal' },
  { scenario: 'h2-static-1k', metric: 'req/s', limit: 0.7, kind: 'goal' },
  { scenario: 'h2-proxy-tiny', metric: 'req/s', limit: 0.7, kind: 'goal' },
  { scenario: 'cache-hit', metric: 'req/s', limit: 0.7, kind: 'goal' },
];

/** Whether a verdict should fail `--check`: targets that did not pass; goals never. */
export function failsCheck(verdict: TargetVerdict): boolean {
  return verdict.kind !== 'goal' && verdict.verdict !== 'PASS';
}

export type Verdict = 'PASS' | 'FAIL' | 'INVALID' | 'NOT RUN';

export interface TargetVerdict extends Target {
  readonly title: string;
  readonly ratio: number | null;
  readonly verdict: Verdict;
  readonly reason?: string;
}

export const REFERENCE = 'nginx';
/** Other processes' CPU use above which a run counts as disturbed. */
export const DISTURBED_PERCENT = 10;
export const SUBJECT = 'berth';

function metricOf(wrk: WrkResult, metric: Target['metric']): number | null {
  return metric === 'req/s' ? wrk.requestsPerSec : wrk.latencyMs.p99;
}

/** subject / reference for one metric, or null when either is missing. */
export function ratio(subject: LoadRun | undefined, reference: LoadRun | undefined, metric: Target['metric']): number | null {
  if (subject?.status !== 'ok' || reference?.status !== 'ok' || !subject.wrk || !reference.wrk) return null;
  const a = metricOf(subject.wrk, metric);
  const b = metricOf(reference.wrk, metric);
  return a === null || b === null || b === 0 ? null : a / b;
}

function hasErrors(run: LoadRun): boolean {
  return run.wrk !== undefined && totalErrors(run.wrk.errors) > 0;
}

/** A cache run some of whose answers were not hits. */
function missedCache(run: LoadRun): boolean {
  return (run.upstreamRequests ?? 0) > 0;
}

export function targetTitle(target: Target, scenarioTitle: string): string {
  const goal = target.kind === 'goal' ? ' (goal)' : '';
  return target.metric === 'req/s'
    ? `${scenarioTitle}: req/s ≥ ${target.limit.toFixed(2)}× nginx${goal}`
    : `${scenarioTitle}: p99 ≤ ${target.limit.toFixed(2)}× nginx${goal}`;
}

/** berth against nginx for each target. A run with errors never passes; an nginx run with errors makes the comparison invalid. */
export function evaluateTargets(scenarios: readonly ScenarioReport[], targets: readonly Target[] = TARGETS): TargetVerdict[] {
  return targets.map((target) => {
    const report = scenarios.find((s) => s.scenario.id === target.scenario);
    const title = targetTitle(target, report?.scenario.title ?? target.scenario);
    const subject = report?.runs.find((run) => run.server === SUBJECT);
    const reference = report?.runs.find((run) => run.server === REFERENCE);
    if (!subject || !reference || subject.status !== 'ok' || reference.status !== 'ok') {
      const missing = [subject, reference].find((run) => run?.status !== 'ok');
      return { ...target, title, ratio: null, verdict: 'NOT RUN', reason: missing?.error ?? 'not measured in this run' };
    }
    const value = ratio(subject, reference, target.metric);
    if (hasErrors(reference)) return { ...target, title, ratio: value, verdict: 'INVALID', reason: 'nginx had errors in this run' };
    if (missedCache(reference)) return { ...target, title, ratio: value, verdict: 'INVALID', reason: `${reference.upstreamRequests} of nginx's requests reached the upstream: not all cache hits` };
    if (hasErrors(subject)) return { ...target, title, ratio: value, verdict: 'FAIL', reason: 'berth had errors' };
    if (missedCache(subject)) return { ...target, title, ratio: value, verdict: 'FAIL', reason: `${subject.upstreamRequests} of berth's requests reached the upstream: not all cache hits` };
    if (value === null) return { ...target, title, ratio: null, verdict: 'NOT RUN', reason: 'no latency percentiles' };
    const met = target.metric === 'req/s' ? value >= target.limit : value <= target.limit;
    const disturbed = Math.max(subject.otherCpuPercent ?? 0, reference.otherCpuPercent ?? 0);
    return {
      ...target,
      title,
      ratio: value,
      verdict: met ? 'PASS' : 'FAIL',
      ...(disturbed > DISTURBED_PERCENT ? { reason: `⚠ other work used ${disturbed.toFixed(0)} % CPU during a run: repeat on a quiet machine` } : {}),
    };
  });
}

/** The median of the rounds by req/s (the lower middle for an even count, so ties do not flatter). */
export function medianRound(rounds: readonly WrkResult[]): WrkResult | undefined {
  const sorted = [...rounds].sort((a, b) => a.requestsPerSec - b.requestsPerSec);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

// ---- markdown ---------------------------------------------------------------

function thousands(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

export function formatMs(ms: number | null): string {
  if (ms === null) return '—';
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 100) return `${ms.toFixed(2)} ms`;
  return `${ms.toFixed(0)} ms`;
}

function formatRatio(value: number | null): string {
  return value === null ? '—' : `${value.toFixed(2)}×`;
}

export function formatErrors(errors: WrkErrors): string {
  const parts = Object.entries({ 'non-2xx/3xx': errors.non2xx3xx, connect: errors.connect, read: errors.read, write: errors.write, timeout: errors.timeout, 'stream/connection': errors.stream ?? 0 })
    .filter(([, n]) => n > 0)
    .map(([what, n]) => `${what} ${n}`);
  return parts.length === 0 ? '0' : `⚠ ${parts.join(', ')}`;
}

function throughput(wrk: WrkResult): string {
  const mib = wrk.transferBytesPerSec / 1024 / 1024;
  return mib >= 100 ? `${mib.toFixed(0)} MiB/s` : `${mib.toFixed(1)} MiB/s`;
}

function table(header: readonly string[], align: readonly ('l' | 'r')[], rows: readonly (readonly string[])[]): string {
  const lines = [`| ${header.join(' | ')} |`, `|${align.map((a) => (a === 'r' ? '---:' : ':---')).join('|')}|`];
  for (const row of rows) lines.push(`| ${row.map((cell) => cell.replaceAll('|', '\\|').replaceAll('\n', ' ')).join(' | ')} |`);
  return lines.join('\n');
}

function firstLine(text: string | undefined): string {
  return (text ?? '').split('\n')[0]!.slice(0, 160);
}

/** How a scenario's requests travel, for its heading: nothing for plain HTTP/1.1 with wrk. */
function transport(scenario: LoadScenario): string {
  if (scenario.client === 'h2load') return ' over HTTP/2 + TLS (h2load)';
  return scenario.scheme === 'https' ? ' over HTTP/1.1 + TLS (wrk)' : '';
}

export function scenarioTable(report: ScenarioReport, rounds: number): string {
  const proxy = contentOf(report.scenario.mode) === 'proxy';
  const cache = usesCache(report.scenario.mode);
  const reference = report.runs.find((run) => run.server === REFERENCE);
  const header = ['server', 'req/s', 'p50', 'p99', 'errors', 'req/s vs nginx', 'p99 vs nginx', 'transfer', 'server CPU', ...(proxy ? ['upstream CPU'] : []), ...(cache ? ['upstream requests'] : []), 'other CPU', ...(rounds > 1 ? ['req/s of rounds'] : [])];
  const align: ('l' | 'r')[] = ['l', 'r', 'r', 'r', 'l', 'r', 'r', 'r', 'r', ...(proxy ? ['r' as const] : []), ...(cache ? ['r' as const] : []), 'r', ...(rounds > 1 ? ['l' as const] : [])];
  const cpu = (percent: number | undefined, warnAbove = Infinity) => (percent === undefined ? '—' : `${percent > warnAbove ? '⚠ ' : ''}${percent.toFixed(0)} %`);
  const rows = report.runs.map((run) => {
    if (run.status !== 'ok' || !run.wrk) {
      const blank = header.length - 2;
      return [run.server, run.status === 'not installed' ? 'not installed' : `failed: ${firstLine(run.error)}`, ...Array<string>(blank).fill('')];
    }
    const wrk = run.wrk;
    return [
      run.server,
      thousands(wrk.requestsPerSec),
      formatMs(wrk.latencyMs.p50),
      formatMs(wrk.latencyMs.p99),
      formatErrors(wrk.errors),
      formatRatio(ratio(run, reference, 'req/s')),
      formatRatio(ratio(run, reference, 'p99')),
      throughput(wrk),
      cpu(run.serverCpuPercent),
      ...(proxy ? [cpu(run.upstreamCpuPercent)] : []),
      ...(cache ? [run.upstreamRequests === undefined ? '—' : `${missedCache(run) ? '⚠ ' : ''}${thousands(run.upstreamRequests)}`] : []),
      cpu(run.otherCpuPercent, DISTURBED_PERCENT),
      ...(rounds > 1 ? [(run.rounds ?? []).map((round) => thousands(round.requestsPerSec)).join(', ')] : []),
    ];
  });
  return `### ${report.scenario.title} — GET ${report.scenario.path}${transport(report.scenario)}\n\n${table(header, align, rows)}`;
}

export function idleTable(runs: readonly IdleRun[]): string {
  const header = ['server', 'connections open', 'RSS before', 'RSS after', 'per connection', 'processes', 'note'];
  const align: ('l' | 'r')[] = ['l', 'r', 'r', 'r', 'r', 'r', 'l'];
  const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
  const rows = runs.map((run) => {
    if (run.status !== 'ok' || !run.result) return [run.server, run.status === 'not installed' ? 'not installed' : `failed: ${firstLine(run.error)}`, '', '', '', '', ''];
    const r = run.result;
    const notes: string[] = [];
    if (r.opened < r.wanted) notes.push(`${r.wanted - r.opened} of ${r.wanted} could not be opened`);
    if (r.openAtSample < r.opened) notes.push(`⚠ server closed ${r.opened - r.openAtSample} idle connections before the sample (${(r.elapsedMs / 1000).toFixed(1)} s after the first)`);
    return [
      run.server,
      `${r.openAtSample.toLocaleString('en-US')} / ${r.wanted.toLocaleString('en-US')}`,
      mib(r.rssBeforeKiB),
      mib(r.rssAfterKiB),
      r.perConnectionKiB === null ? '—' : `${r.perConnectionKiB.toFixed(2)} KiB`,
      String(r.processes),
      notes.join('; '),
    ];
  });
  return table(header, align, rows);
}

export function targetsTable(verdicts: readonly TargetVerdict[]): string {
  const label = (v: TargetVerdict) => {
    if (v.kind === 'goal') return v.verdict === 'PASS' ? '✅ met' : v.verdict === 'FAIL' ? '❌ not yet' : v.verdict;
    return v.verdict === 'PASS' ? '✅ PASS' : v.verdict === 'FAIL' ? '❌ FAIL' : v.verdict;
  };
  const rows = verdicts.map((v) => [v.title, formatRatio(v.ratio), label(v), firstLine(v.reason)]);
  return table(['target (berth vs nginx)', 'measured', 'verdict', 'note'], ['l', 'r', 'l', 'l'], rows);
}

export function renderMarkdown(report: BenchReport): string {
  const m = report.machine;
  const out: string[] = [
    `# berth edge benchmark — ${report.generatedAt}`,
    '',
    `- machine: ${m.nproc} cores (${m.cpu}), ${m.memory}, ${m.kernel}; node ${m.node ?? '?'}; wrk ${m.wrk ?? '?'}; load average at start ${m.loadAverageAtStart ?? '?'}; other processes using CPU at start: ${m.otherProcessesBusy ?? '?'}`,
    `- load: \`${report.settings.wrk}\`${report.settings.h2load ? ` (HTTP/2 scenarios: \`${report.settings.h2load}\`)` : ''} after a ${report.settings.warmupS} s warm-up (discarded); keep-alive; 127.0.0.1 only; ${report.settings.rounds === 1 ? 'one round' : `median of ${report.settings.rounds} rounds by req/s`}`,
    `- servers: ${report.servers.map((s) => `${s.name} ${s.version} (${s.cores})`).join('; ')}`,
    `- upstream for proxy runs: ${report.upstream.description}${report.upstream.aloneRequestsPerSec === null ? '' : `; alone it answers ${thousands(report.upstream.aloneRequestsPerSec)} req/s under the same wrk load`}`,
    `- open files: ${report.settings.fdLimit}`,
    ...report.notes.map((note) => `- ${note}`),
  ];
  for (const scenario of report.scenarios) out.push('', scenarioTable(scenario, report.settings.rounds));
  if (report.idleMemory.length > 0) {
    out.push('', `### memory per idle keep-alive connection (${report.settings.idleConnections.toLocaleString('en-US')} connections, one request each, then idle)`, '', idleTable(report.idleMemory));
  }
  out.push('', '### targets', '', targetsTable(report.targets), '');
  return out.join('\n');
}
