import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WrkResult } from '../wrk.ts';
import type { BreakdownResult } from './breakdown.ts';
import type { LatencySeries } from './latency.ts';
import { breakdownTable, evaluateTargets, failsCheck, percentile, renderMarkdown, summarize, summarizeLatency, summarizeNeighbour, type SandboxBenchReport } from './report.ts';
import type { NeighbourSeries } from './neighbour.ts';
import type { StartSample, StartSeries } from './start-rounds.ts';

const NO_ERRORS = { connect: 0, read: 0, write: 0, timeout: 0, non2xx3xx: 0 };

function sample(edgeMs: number): StartSample {
  return { apiMs: edgeMs - 10, edgeMs, polls: 1, launchedMs: 5, listeningMs: edgeMs - 60, readyMs: edgeMs - 20 };
}

function series(daemon: 'sandboxed' | 'unsandboxed', edge: readonly number[], extra: Partial<StartSeries> = {}): StartSeries {
  return { app: 'node', daemon, samples: edge.map(sample), errors: [], otherCpuPercent: 3, ...extra };
}

function wrk(p99: number, errors = NO_ERRORS): WrkResult {
  return { requests: 5000, seconds: 5, requestsPerSec: 1000, transferBytesPerSec: 1e5, latencyMs: { avg: p99 / 3, max: p99 * 2, p50: p99 / 4, p75: p99 / 3, p90: p99 / 2, p99 }, errors };
}

function latency(server: LatencySeries['server'], p99s: readonly number[], otherCpuPercent = 2, errors = NO_ERRORS): LatencySeries {
  return { server, rounds: p99s.map((p99) => ({ wrk: wrk(p99, errors), otherCpuPercent })), errors: [] };
}

test('nearest-rank percentiles and medians (the mean of the middle two for an even count); nothing gives nulls', () => {
  assert.equal(percentile([5, 1, 4, 2, 3], 90), 5);
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90), 9);
  assert.equal(percentile([7], 50), 7);
  assert.equal(percentile([], 90), null);
  assert.deepEqual(summarize([300, 100, 200]), { n: 3, median: 200, p90: 300 });
  assert.deepEqual(summarize([4, 1, 3, 2]), { n: 4, median: 2.5, p90: 4 });
  assert.deepEqual(summarize([]), { n: 0, median: null, p90: null });
});

test('start is judged on the medians of "the edge serves it": ≤ 1.2× unsandboxed is met, above is not', () => {
  const met = evaluateTargets({ start: [series('sandboxed', [330, 300, 360]), series('unsandboxed', [300, 290, 310])], latency: [], neighbour: [] });
  assert.equal(met.length, 1);
  assert.equal(met[0]!.id, 'start-node');
  assert.ok(Math.abs(met[0]!.ratio! - 1.1) < 1e-9);
  assert.equal(met[0]!.verdict, 'met');
  assert.equal(failsCheck(met[0]!), false);
  const missed = evaluateTargets({ start: [series('sandboxed', [400, 390, 410]), series('unsandboxed', [300, 290, 310])], latency: [], neighbour: [] });
  assert.equal(missed[0]!.verdict, 'not met');
  assert.equal(failsCheck(missed[0]!), true);
});

test('a start series where most rounds failed, or that never ran, is not measured (and fails --check)', () => {
  const failing = series('sandboxed', [300], { errors: ['a', 'b'] });
  const verdict = evaluateTargets({ start: [failing, series('unsandboxed', [300])], latency: [], neighbour: [] })[0]!;
  assert.equal(verdict.verdict, 'not measured');
  assert.match(verdict.reason!, /2 of 3 rounds failed/);
  assert.equal(failsCheck(verdict), true);
  assert.equal(evaluateTargets({ start: [series('unsandboxed', [300])], latency: [], neighbour: [] })[0]!.reason, 'not run');
});

test('p99 is judged on each server\'s median round; wrk errors make it unmeasured; a busy machine is flagged, not hidden', () => {
  const ok = evaluateTargets({ start: [], latency: [latency('sandboxed', [10, 50, 11]), latency("unsandboxed", [10, 10.5, 9])], neighbour: [] });
  assert.equal(ok[0]!.id, 'latency-p99');
  assert.ok(Math.abs(ok[0]!.ratio! - 11 / 10) < 1e-9);
  assert.equal(ok[0]!.verdict, 'met', 'one slow round of three does not decide');
  assert.equal(ok[0]!.disturbed, false);
  const busy = evaluateTargets({ start: [], latency: [latency('sandboxed', [12], 40), latency('unsandboxed', [10])], neighbour: [] })[0]!;
  assert.equal(busy.verdict, 'not met');
  assert.equal(busy.disturbed, true);
  const errors = evaluateTargets({ start: [], latency: [latency('sandboxed', [10], 2, { ...NO_ERRORS, non2xx3xx: 3 }), latency('unsandboxed', [10])], neighbour: [] })[0]!;
  assert.equal(errors.verdict, 'not measured');
  assert.match(errors.reason!, /3 errors/);
  assert.deepEqual(summarizeLatency(undefined), { rounds: 0, requestsPerSec: null, p50: null, p99: null, errors: 0, otherCpuPercent: null, throttled: null });
  const held = summarizeLatency({ server: 'sandboxed', rounds: [{ wrk: wrk(10), otherCpuPercent: 1, throttle: { periods: 50, throttled: 2, throttledMs: 30 } }, { wrk: wrk(12), otherCpuPercent: 1, throttle: { periods: 50, throttled: 0, throttledMs: 0 } }], errors: [] });
  assert.deepEqual(held.throttled, { periods: 100, throttled: 2, ms: 30 }, 'summed over the rounds');
});

function breakdown(): BreakdownResult {
  return {
    upMs: {
      plain: [60, 62, 61],
      setpriv: [62, 63, 64],
      'nsenter+setpriv': [65, 66, 67],
      'bwrap+setpriv': [80, 81, 82],
      'nsenter+bwrap+setpriv': [82, 83, 84],
      'nsenter+bwrap+setpriv, /etc entry by entry': [90, 91, 92],
      'nsenter+bwrap+seccomp+setpriv': [84, 85, 86],
      launchSandboxed: [95, 96, 97],
      'launchSandboxed, no CPU quota': [90, 91, 92],
    },
    launchReturnedMs: [30, 31, 32],
    cgroupCreateMs: [7, 8, 9],
    cgroupRemoveMs: [2, 2, 2],
    cgroupVersion: 1,
    mounts: 19,
    mountsEntryByEntry: 42,
    errors: [],
  };
}

test('the breakdown says what each layer adds over the one it is built on', () => {
  const text = breakdownTable(breakdown()).join('\n');
  assert.match(text, /\| setpriv \| 63\.0 ms \/ 64\.0 ms \| 2\.0 ms over plain \|/);
  assert.match(text, /\| nsenter\+bwrap\+setpriv \| 83\.0 ms \/ 84\.0 ms \| 17\.0 ms over nsenter\+setpriv \|/);
  assert.match(text, /\| launchSandboxed \| 96\.0 ms \/ 97\.0 ms \| 11\.0 ms over nsenter\+bwrap\+seccomp\+setpriv \|/);
  assert.match(text, /\| launchSandboxed, no CPU quota \| 91\.0 ms \/ 92\.0 ms \| -5\.0 ms over launchSandboxed \|/);
  assert.match(text, /\| nsenter\+bwrap\+setpriv, \/etc entry by entry \| 91\.0 ms \/ 92\.0 ms \| 8\.0 ms over nsenter\+bwrap\+setpriv \|/);
  assert.match(text, /create 8\.00 ms, remove 2\.00 ms/);
  assert.match(text, /19 mounts \(42 with \/etc entry by entry\)/);
  assert.match(text, /1\.57× the plain start/);
});

test('the markdown has a table per part that ran and a verdict per target', () => {
  const partial = { start: [series('sandboxed', [330]), series('unsandboxed', [300])], latency: [latency('sandboxed', [12]), latency('unsandboxed', [10]), latency('nginx', [5])], neighbour: [neighbour('sandboxed', [5, 6], [8, 9]), neighbour('unsandboxed', [5], [40])] };
  const report: SandboxBenchReport = {
    generatedAt: '2026-12-07T05:00:00.000Z',
    commit: 'abc1234',
    machine: { nproc: 2 },
    settings: { rounds: 1, wrk: 'wrk -t1 -c64 -d5s', latencyRounds: 1, neighbourRounds: 2, breakdownRuns: 3 },
    apps: [{ name: 'node', description: 'node:http server' }],
    ...partial,
    nginxVersion: '1.22.1',
    breakdown: breakdown(),
    notes: ['a note'],
    targets: evaluateTargets(partial),
  };
  const text = renderMarkdown(report);
  assert.match(text, /### node app — node:http server/);
  assert.match(text, /\| \*\*the edge serves it \(first 200\)\*\* \| 330 ms \/ 330 ms \| 300 ms \/ 300 ms \| 1\.10× \/ 1\.10× \|/);
  assert.match(text, /\| nginx 1\.22\.1 → the same app run plainly \(reference\) \| 1000 \|/);
  assert.match(text, /\| berth edge → app, \*\*sandboxed\*\* \| 1000 \| 3\.00 ms \| 12\.0 ms \| 1\.20× \| 1\.00× \| 0 \| 2 % \| — \|/);
  assert.match(text, /\| node app: instance start .* \| 1\.10× \| ≤ 1\.2× \| \*\*met\*\* \|/);
  assert.match(text, /\| p99 through the edge, node app \| 1\.20× \| ≤ 1\.1× \| \*\*not met\*\* \|/);
  assert.match(text, /\| \*\*sandboxed\*\* .* \| 1000, 1\.38 ms, 5\.50 ms \| 1000, 2\.13 ms, 8\.50 ms \| 1\.55× \| 1\.00× \| 0 \|/);
  assert.match(text, /\| unsandboxed \(the same loops, uncontained\) \| .* \| 8\.00× \|/);
  assert.match(text, /while a neighbour spins .* \| 1\.55× \| ≤ 2× \| \*\*met\*\* \|/);
  assert.match(text, /- a note/);
});

function neighbour(daemon: 'sandboxed' | 'unsandboxed', idle: number[], spinning: number[], errors: string[] = []): NeighbourSeries {
  return { daemon, rounds: [...idle.map((p99) => ({ state: 'idle' as const, wrk: wrk(p99) })), ...spinning.map((p99) => ({ state: 'spinning' as const, wrk: wrk(p99) }))], errors };
}

test('the neighbour is judged on the sandboxed daemon\'s p99 spinning ÷ idle (median rounds); no rounds is unmeasured, not met', () => {
  const [ok] = evaluateTargets({ start: [], latency: [], neighbour: [neighbour('sandboxed', [5, 6, 50], [9, 10, 11]), neighbour('unsandboxed', [5], [60])] });
  assert.equal(ok!.id, 'neighbour-p99');
  assert.ok(Math.abs(ok!.ratio! - 10 / 6) < 1e-9);
  assert.equal(ok!.verdict, 'met');
  const [slow] = evaluateTargets({ start: [], latency: [], neighbour: [neighbour('sandboxed', [5], [11])] });
  assert.equal(slow!.verdict, 'not met');
  const [failed] = evaluateTargets({ start: [], latency: [], neighbour: [neighbour('sandboxed', [], [], ['the spinner did not start'])] });
  assert.equal(failed!.verdict, 'not measured');
  assert.match(failed!.reason!, /the spinner did not start/);
  assert.equal(evaluateTargets({ start: [], latency: [], neighbour: [neighbour('unsandboxed', [5], [60])] }).length, 0, 'the uncontained row is a reference only');
  assert.deepEqual(summarizeNeighbour(undefined, 'idle'), { rounds: 0, requestsPerSec: null, p50: null, p99: null, errors: 0 });
});
