import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBenchOptions, SERVER_NAMES } from './options.ts';
import { SCENARIO_IDS } from './scenarios.ts';

test('defaults: 10 s runs after a 2 s warm-up, wrk -t1 -c64, h2load -c16 -m4, every server and scenario', () => {
  const options = parseBenchOptions([], {});
  assert.equal(options.durationS, 10);
  assert.equal(options.warmupS, 2);
  assert.equal(options.threads, 1);
  assert.equal(options.connections, 64);
  assert.equal(options.idleConnections, 10_000);
  assert.equal(options.rounds, 1);
  assert.deepEqual(options.servers, SERVER_NAMES);
  assert.deepEqual(options.scenarios, SCENARIO_IDS);
  assert.equal(options.h2Connections * options.h2Streams, options.connections, 'h2load keeps as many requests in flight as wrk');
});

test('--quick means 3 s runs, and wins over BENCH_DURATION', () => {
  assert.equal(parseBenchOptions(['--quick'], {}).durationS, 3);
  assert.equal(parseBenchOptions(['--quick'], { BENCH_DURATION: '30' }).durationS, 3);
  assert.equal(parseBenchOptions([], { BENCH_DURATION: '30s' }).durationS, 30);
  assert.equal(parseBenchOptions([], { BENCH_WARMUP: '1' }).warmupS, 1);
  assert.equal(parseBenchOptions([], {}).quietWaitS, 30);
  assert.equal(parseBenchOptions([], { BENCH_QUIET_WAIT: '0' }).quietWaitS, 0);
});

test('server and scenario lists keep the canonical order and accept aliases', () => {
  const options = parseBenchOptions(['--servers', 'node,nginx', '--scenarios=proxy-tiny,static-1k'], {});
  assert.deepEqual(options.servers, ['nginx', 'node:http']);
  assert.deepEqual(options.scenarios, ['static-1k', 'proxy-tiny']);
});

test('bad input is a usage error, not a silent default', () => {
  for (const [argv, env] of [
    [['--servers', 'apache'], {}],
    [['--scenarios', 'static-2k'], {}],
    [['--rounds', '0'], {}],
    [['--idle-connections', 'many'], {}],
    [['--fast'], {}],
    [[], { BENCH_DURATION: 'ten' }],
    [[], { BENCH_DURATION: '0' }],
  ] as const) {
    assert.throws(() => parseBenchOptions(argv, env), { name: 'UsageError' }, JSON.stringify(argv) + JSON.stringify(env));
  }
});
