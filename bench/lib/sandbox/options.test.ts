import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BENCH_APPS, PARTS, parseSandboxBenchOptions, SANDBOX_DEFAULTS } from './options.ts';

test('defaults: 20 start rounds of both apps, 3 interleaved wrk rounds of 5 s at 64 connections, nginx, a build first', () => {
  const options = parseSandboxBenchOptions([], {});
  assert.equal(options.rounds, 20);
  assert.deepEqual(options.apps, BENCH_APPS);
  assert.deepEqual(options.parts, PARTS);
  assert.equal(options.latencyRounds, 3);
  assert.equal(options.durationS, 5);
  assert.equal(options.connections, 64);
  assert.equal(options.breakdownRuns, 10);
  assert.equal(options.quietWaitS, SANDBOX_DEFAULTS.quietWaitS);
  assert.equal(options.nginx, true);
  assert.equal(options.build, true);
  assert.equal(options.check, false);
});

test('--quick: fewer rounds, the node app only, one short wrk round, no wait for a quiet machine; explicit flags still win', () => {
  const quick = parseSandboxBenchOptions(['--quick'], {});
  assert.equal(quick.rounds, SANDBOX_DEFAULTS.quickRounds);
  assert.deepEqual(quick.apps, ['node']);
  assert.equal(quick.latencyRounds, 1);
  assert.equal(quick.durationS, 3);
  assert.equal(quick.quietWaitS, 0);
  const told = parseSandboxBenchOptions(['--quick', '--rounds', '9', '--apps', 'gunicorn,node', '--duration', '4'], { BENCH_QUIET_WAIT: '2' });
  assert.equal(told.rounds, 9);
  assert.deepEqual(told.apps, ['node', 'gunicorn'], 'the canonical order');
  assert.equal(told.durationS, 4);
  assert.equal(told.quietWaitS, 2);
});

test('--only picks parts in their running order; --no-nginx, --no-build and --check are flags', () => {
  const options = parseSandboxBenchOptions(['--only', 'breakdown,start', '--no-nginx', '--no-build', '--check'], { BENCH_QUIET_WAIT: '0' });
  assert.deepEqual(options.parts, ['start', 'breakdown']);
  assert.equal(options.nginx, false);
  assert.equal(options.build, false);
  assert.equal(options.check, true);
  assert.equal(options.quietWaitS, 0);
});

test('bad input is a usage error naming what is wrong', () => {
  assert.throws(() => parseSandboxBenchOptions(['--rounds', '0'], {}), /--rounds must be a whole number from 1 to 50/);
  assert.throws(() => parseSandboxBenchOptions(['--rounds', '51'], {}), /from 1 to 50/);
  assert.throws(() => parseSandboxBenchOptions(['--apps', 'php'], {}), /unknown app "php" \(known: node, gunicorn\)/);
  assert.throws(() => parseSandboxBenchOptions(['--only', ','], {}), /--only names nothing/);
  assert.throws(() => parseSandboxBenchOptions(['--fast'], {}), /Unknown option '--fast'/);
  assert.throws(() => parseSandboxBenchOptions([], { BENCH_QUIET_WAIT: 'soon' }), /BENCH_QUIET_WAIT must be a whole number/);
});
