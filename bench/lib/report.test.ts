import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateTargets, failsCheck, formatMs, GOALS, medianRound, renderMarkdown, scenarioTable, TARGETS, targetsTable, type BenchReport, type LoadRun, type ScenarioReport } from './report.ts';
import { LOAD_SCENARIOS } from './scenarios.ts';
import type { WrkResult } from './wrk.ts';

const NO_ERRORS = { connect: 0, read: 0, write: 0, timeout: 0, non2xx3xx: 0 };

function wrk(requestsPerSec: number, p99: number, errors = NO_ERRORS): WrkResult {
  return {
    requests: requestsPerSec * 10,
    seconds: 10,
    requestsPerSec,
    transferBytesPerSec: requestsPerSec * 1200,
    latencyMs: { avg: p99 / 3, max: p99 * 2, p50: p99 / 4, p75: p99 / 3, p90: p99 / 2, p99 },
    errors,
  };
}

function run(server: string, result: WrkResult): LoadRun {
  return { server, status: 'ok', wrk: result, rounds: [result], serverCpuPercent: 150 };
}

function scenarios(staticBerth: LoadRun, proxyBerth: LoadRun, nginxStatic = run('nginx', wrk(50_000, 4)), nginxProxy = run('nginx', wrk(30_000, 5))): ScenarioReport[] {
  const [static1k, , proxyTiny] = LOAD_SCENARIOS;
  return [
    { scenario: static1k!, runs: [nginxStatic, staticBerth] },
    { scenario: proxyTiny!, runs: [nginxProxy, proxyBerth] },
  ];
}

test('targets pass at and above the limits, fail below them', () => {
  const verdicts = evaluateTargets(scenarios(run('berth', wrk(45_000, 8)), run('berth', wrk(20_000, 10.5))));
  assert.deepEqual(
    verdicts.map((v) => [v.scenario, v.metric, v.verdict]),
    [
      ['static-1k', 'req/s', 'PASS'],
      ['static-1k', 'p99', 'PASS'],
      ['proxy-tiny', 'req/s', 'FAIL'],
      ['proxy-tiny', 'p99', 'FAIL'],
    ],
  );
  assert.equal(verdicts[0]!.ratio, 0.9);
});

test('a berth run with errors never passes, whatever its speed', () => {
  const fast = run('berth', wrk(90_000, 1, { ...NO_ERRORS, read: 3 }));
  const verdicts = evaluateTargets(scenarios(fast, run('berth', wrk(30_000, 5))));
  assert.equal(verdicts[0]!.verdict, 'FAIL');
  assert.match(verdicts[0]!.reason ?? '', /errors/);
});

test('nginx with errors makes the comparison invalid; a missing run is NOT RUN', () => {
  const badNginx = run('nginx', wrk(50_000, 4, { ...NO_ERRORS, non2xx3xx: 10 }));
  const failedBerth: LoadRun = { server: 'berth', status: 'failed', error: 'berth exited with code 1' };
  const verdicts = evaluateTargets(scenarios(run('berth', wrk(50_000, 4)), failedBerth, badNginx));
  assert.equal(verdicts[0]!.verdict, 'INVALID');
  assert.equal(verdicts[2]!.verdict, 'NOT RUN');
  assert.equal(verdicts[2]!.reason, 'berth exited with code 1');
});

test('a verdict made while other work ran says so', () => {
  const busy: LoadRun = { ...run('berth', wrk(45_000, 8)), otherCpuPercent: 35 };
  const verdicts = evaluateTargets(scenarios(busy, run('berth', wrk(30_000, 5))));
  assert.equal(verdicts[0]!.verdict, 'PASS');
  assert.match(verdicts[0]!.reason ?? '', /other work used 35 % CPU/);
  assert.equal(verdicts[2]!.reason, undefined);
});

test('the reported round is the median by req/s, the lower one for an even count', () => {
  const rounds = [wrk(30, 1), wrk(10, 1), wrk(20, 1), wrk(40, 1)];
  assert.equal(medianRound(rounds)?.requestsPerSec, 20);
  assert.equal(medianRound(rounds.slice(0, 3))?.requestsPerSec, 20);
  assert.equal(medianRound([]), undefined);
});

test('latencies print in µs below a millisecond', () => {
  assert.equal(formatMs(0.25), '250 µs');
  assert.equal(formatMs(4.567), '4.57 ms');
  assert.equal(formatMs(812.3), '812 ms');
  assert.equal(formatMs(null), '—');
});

test('the markdown has a table per scenario, flags errors and prints the verdicts', () => {
  const report: BenchReport = {
    generatedAt: '2026-01-01T00:00:00.000Z',
    machine: { nproc: 2, cpu: 'test cpu', memory: '1 GiB', kernel: 'Linux test' },
    settings: { wrk: 'wrk -t1 -c64 -d10s --latency', durationS: 10, warmupS: 2, rounds: 1, idleConnections: 10_000, fdLimit: 'ok' },
    servers: [{ name: 'nginx', version: '1.22.1', cores: 'worker_processes 2' }],
    upstream: { description: 'tiny', aloneRequestsPerSec: 60_000 },
    notes: ['a note'],
    scenarios: scenarios(run('berth', wrk(45_000, 8, { ...NO_ERRORS, timeout: 2 })), { server: 'berth', status: 'not installed', error: 'x' }),
    idleMemory: [],
    targets: [],
  };
  const markdown = renderMarkdown(report);
  assert.match(markdown, /### static 1 KiB file — GET \/1kib\.txt/);
  assert.match(markdown, /\| berth \| 45,000 \| 2\.00 ms \| 8\.00 ms \| ⚠ timeout 2 \| 0\.90× \| 2\.00× \|/);
  assert.match(markdown, /\| berth \| not installed \|/);
  assert.match(markdown, /- a note/);
});

test('goals are judged like targets but never fail --check; a cache run that reached the upstream fails its goal', () => {
  const cacheHit = LOAD_SCENARIOS.find((s) => s.id === 'cache-hit')!;
  const h2 = LOAD_SCENARIOS.find((s) => s.id === 'h2-static-1k')!;
  const reports: ScenarioReport[] = [
    { scenario: h2, runs: [run('nginx', wrk(40_000, 4)), run('berth', wrk(20_000, 8))] },
    { scenario: cacheHit, runs: [{ ...run('nginx', wrk(40_000, 4)), upstreamRequests: 0 }, { ...run('berth', wrk(39_000, 4)), upstreamRequests: 12 }] },
  ];
  const verdicts = evaluateTargets(reports, [...TARGETS, ...GOALS]);
  const h2Goal = verdicts.find((v) => v.scenario === 'h2-static-1k')!;
  assert.equal(h2Goal.verdict, 'FAIL');
  assert.equal(h2Goal.ratio, 0.5);
  assert.match(h2Goal.title, /\(goal\)$/);
  const cacheGoal = verdicts.find((v) => v.scenario === 'cache-hit')!;
  assert.equal(cacheGoal.verdict, 'FAIL');
  assert.match(cacheGoal.reason ?? '', /12 of berth's requests reached the upstream/);
  assert.equal(verdicts.filter((v) => v.kind === 'goal').some(failsCheck), false);
  assert.equal(verdicts.find((v) => v.scenario === 'static-1k')!.verdict, 'NOT RUN');
  assert.equal(failsCheck(verdicts.find((v) => v.scenario === 'static-1k')!), true);
  assert.match(targetsTable(verdicts), /\| HTTP\/2 static 1 KiB file: req\/s ≥ 0\.70× nginx \(goal\) \| 0\.50× \| ❌ not yet \|/);
});

test('the cache table shows the requests that reached the upstream, and the HTTP/2 heading says how it was loaded', () => {
  const cacheHit = LOAD_SCENARIOS.find((s) => s.id === 'cache-hit')!;
  const h2 = LOAD_SCENARIOS.find((s) => s.id === 'h2-static-1k')!;
  const cache = scenarioTable({ scenario: cacheHit, runs: [{ ...run('nginx', wrk(40_000, 4)), upstreamRequests: 0 }, { ...run('berth', wrk(39_000, 4)), upstreamRequests: 1200 }] }, 1);
  assert.match(cache, /\| upstream CPU \| upstream requests \| other CPU \|/);
  assert.match(cache, /\| nginx \|.*\| 0 \| — \|$/m);
  assert.match(cache, /\| berth \|.*\| ⚠ 1,200 \| — \|$/m);
  const table = scenarioTable({ scenario: h2, runs: [run('nginx', wrk(40_000, 4))] }, 1);
  assert.match(table, /^### HTTP\/2 static 1 KiB file — GET \/1kib\.txt over HTTP\/2 \+ TLS \(h2load\)/);
  assert.doesNotMatch(table, /upstream/);
});
