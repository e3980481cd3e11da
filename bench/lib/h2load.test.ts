import { test } from 'node:test';
import assert from 'node:assert/strict';
import { h2loadArgs, parseH2LoadLog, parseH2LoadOutput, parseH2Time, percentile } from './h2load.ts';
import { totalErrors } from './wrk.ts';

// h2load 1.52 (Debian 12), -t1 -c16 -m4 -D 2 against nginx, progress lines shortened.
const CLEAN = `starting benchmark...
spawning thread #0: 16 total client(s). Timing-based test with 0s of warm-up time and 2s of main duration for measurements.
Warm-up started for thread #0.
progress: 6% of clients started
progress: 100% of clients started
Warm-up phase is over for thread #0.
Main benchmark duration is started for thread #0.
TLS Protocol: TLSv1.3
Cipher: TLS_AES_128_GCM_SHA256
Server Temp Key: X25519 253 bits
Application protocol: h2
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 2.00s, 45254.00 req/s, 49.63MB/s
requests: 90508 total, 90572 started, 90508 done, 90508 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 90508 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 99.26MB (104084984) total, 9.32MB (9774864) headers (space savings 39.66%), 88.39MB (92680192) data
                     min         max         mean         sd        +/- sd
time for request:       43us     10.93ms      1.02ms      1.03ms    91.74%
time for connect:     3.05ms     15.55ms     10.30ms      3.96ms    68.75%
time to 1st byte:    15.93ms     18.57ms     16.69ms       917us    81.25%
req/s           :    2706.21     2933.05     2827.59       88.01    56.25%
`;

test('a clean report: req/s over the measured duration, transfer from the byte count, no errors', () => {
  const result = parseH2LoadOutput(CLEAN);
  assert.equal(result.requestsPerSec, 45254);
  assert.equal(result.requests, 90508);
  assert.equal(result.seconds, 2);
  assert.equal(result.transferBytesPerSec, 104084984 / 2);
  assert.equal(totalErrors(result.errors), 0);
  // Without the log: h2load's own mean and max, no percentiles.
  assert.equal(result.latencyMs.avg, 1.02);
  assert.equal(result.latencyMs.max, 10.93);
  assert.equal(result.latencyMs.p99, null);
});

test('with a warm-up, "finished in" counts it but req/s does not: seconds come from done / req/s', () => {
  const warm = CLEAN.replace('finished in 2.00s, 45254.00 req/s', 'finished in 3.00s, 45254.00 req/s');
  assert.equal(parseH2LoadOutput(warm).seconds, 2);
});

test('percentiles come from the per-request log', () => {
  const lines = Array.from({ length: 100 }, (_, i) => `1795277339067054\t200\t${(i + 1) * 10}`).reverse().join('\n');
  const latencies = parseH2LoadLog(`${lines}\n`);
  assert.equal(latencies.length, 100);
  const result = parseH2LoadOutput(CLEAN, latencies);
  assert.equal(result.latencyMs.p50, 0.5);
  assert.equal(result.latencyMs.p90, 0.9);
  assert.equal(result.latencyMs.p99, 0.99);
  assert.equal(result.latencyMs.max, 1);
  assert.ok(Math.abs(result.latencyMs.avg - 0.505) < 1e-9);
});

test('nearest-rank percentiles', () => {
  const sorted = Float64Array.from([1, 2, 3, 4]);
  assert.equal(percentile(sorted, 50), 2);
  assert.equal(percentile(sorted, 99), 4);
  assert.equal(percentile(sorted, 0), 1);
  assert.equal(percentile(new Float64Array(0), 99), null);
});

test('failed, errored and timed-out requests and 4xx/5xx are counted as errors', () => {
  const bad = CLEAN.replace(
    'requests: 90508 total, 90572 started, 90508 done, 90508 succeeded, 0 failed, 0 errored, 0 timeout',
    'requests: 90508 total, 90572 started, 90508 done, 90400 succeeded, 108 failed, 8 errored, 3 timeout',
  ).replace('status codes: 90508 2xx, 0 3xx, 0 4xx, 0 5xx', 'status codes: 90400 2xx, 0 3xx, 0 4xx, 100 5xx');
  const { errors } = parseH2LoadOutput(bad);
  assert.equal(errors.non2xx3xx, 100);
  assert.equal(errors.timeout, 3);
  assert.equal(errors.stream, 5);
  assert.equal(totalErrors(errors), 108);
});

test('a run that did not negotiate h2 is not an HTTP/2 number', () => {
  assert.throws(() => parseH2LoadOutput(CLEAN.replace('Application protocol: h2', 'Application protocol: http/1.1')), /did not get HTTP\/2 \(application protocol: http\/1\.1\)/);
  assert.throws(() => parseH2LoadOutput(CLEAN.replace('Application protocol: h2\n', 'No protocol negotiated. Fallback behaviour may be activated\n')), /none negotiated/);
});

test('no report, or no successful request, is an error, not zeros', () => {
  assert.throws(() => parseH2LoadOutput('starting benchmark...\nclient could not connect to host\n'), /h2load printed no report/);
  const none = CLEAN.replace('90508 succeeded', '0 succeeded');
  assert.throws(() => parseH2LoadOutput(none), /no successful answer/);
});

test('units and arguments', () => {
  assert.equal(parseH2Time('43us'), 0.043);
  assert.equal(parseH2Time('10.93ms'), 10.93);
  assert.equal(parseH2Time('1.5s'), 1500);
  assert.throws(() => parseH2LoadLog('garbage\n'), /not an h2load log line/);
  assert.deepEqual(h2loadArgs({ url: 'https://127.0.0.1:1/x', connections: 16, streams: 4, seconds: 3, logFile: '/tmp/l' }), ['-t1', '-c16', '-m4', '-D', '3', '--log-file=/tmp/l', 'https://127.0.0.1:1/x']);
});
