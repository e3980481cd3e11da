import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWrkOutput, parseWrkSize, parseWrkTime, totalErrors, wrkArgs } from './wrk.ts';

const CLEAN = `Running 10s test @ http://127.0.0.1:8080/1kib.txt
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   635.91us    0.89ms  12.92ms   93.69%
    Req/Sec    56.20k     8.07k   62.00k    86.54%
  Latency Distribution
     50%  250.00us
     75%  491.00us
     90%    1.27ms
     99%    4.57ms
  562040 requests in 10.00s, 82.56MB read
Requests/sec:  56175.24
Transfer/sec:      8.25MB
`;

const WITH_ERRORS = `Running 3s test @ http://127.0.0.1:8081/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.20s   300.00ms   1.99s    70.00%
    Req/Sec   100.00     20.00   150.00     60.00%
  Latency Distribution
     50%    1.10s 
     75%    1.50s 
     90%    1.80s 
     99%    1.99s 
  300 requests in 3.01s, 45.00KB read
  Socket errors: connect 0, read 12, write 0, timeout 40
  Non-2xx or 3xx responses: 7
Requests/sec:     99.67
Transfer/sec:     14.95KB
`;

test('wrk times and sizes', () => {
  assert.equal(parseWrkTime('250.00us'), 0.25);
  assert.equal(parseWrkTime('4.57ms'), 4.57);
  assert.equal(parseWrkTime('1.5s'), 1500);
  assert.equal(parseWrkTime('2m'), 120_000);
  assert.equal(parseWrkSize('45.00KB'), 45 * 1024);
  assert.throws(() => parseWrkTime('fast'), /not a wrk time/);
});

test('a clean report', () => {
  const result = parseWrkOutput(CLEAN);
  assert.equal(result.requestsPerSec, 56175.24);
  assert.equal(result.requests, 562040);
  assert.equal(result.seconds, 10);
  assert.equal(result.latencyMs.p50, 0.25);
  assert.equal(result.latencyMs.p99, 4.57);
  assert.equal(result.latencyMs.max, 12.92);
  assert.equal(totalErrors(result.errors), 0);
});

test('socket errors and non-2xx responses are counted', () => {
  const result = parseWrkOutput(WITH_ERRORS);
  assert.deepEqual(result.errors, { connect: 0, read: 12, write: 0, timeout: 40, non2xx3xx: 7 });
  assert.equal(result.latencyMs.p90, 1800);
  assert.equal(result.latencyMs.p99, 1990, 'wrk pads "1.99s" with a trailing space');
  assert.equal(totalErrors(result.errors), 59);
});

test('no report is an error, not zeros', () => {
  assert.throws(() => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused\n'), /wrk printed no report/);
});

test('wrk\'s argv: the load, percentiles, then each header as one -H argument before the URL', () => {
  const load = { url: 'http://127.0.0.1:8080/', threads: 1, connections: 64, seconds: 5 };
  assert.deepEqual(wrkArgs(load), ['-t1', '-c64', '-d5s', '--latency', 'http://127.0.0.1:8080/']);
  assert.deepEqual(wrkArgs({ ...load, headers: { Host: 'bench-node.localhost' } }), ['-t1', '-c64', '-d5s', '--latency', '-H', 'Host: bench-node.localhost', 'http://127.0.0.1:8080/']);
});
