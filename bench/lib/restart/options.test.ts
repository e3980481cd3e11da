import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRestartOptions } from './options.ts';
import { routeTable } from './edge-costs.ts';

test('bench:restart options: the defaults', () => {
  assert.deepEqual(parseRestartOptions([]), {
    rounds: 3,
    load: { clients: 4, keepAliveClients: 2, intervalMs: 20 },
    sandbox: 'required',
    handovers: 20,
    parts: ['daemon', 'handover', 'costs'],
    build: true,
  });
});

test('bench:restart options: given values, half the clients (rounded up) on keep-alive', () => {
  const options = parseRestartOptions(['--rounds', '5', '--clients', '5', '--interval-ms', '10', '--sandbox', 'off', '--handovers', '30', '--only', 'handover,costs', '--no-build']);
  assert.deepEqual(options, { rounds: 5, load: { clients: 5, keepAliveClients: 3, intervalMs: 10 }, sandbox: 'off', handovers: 30, parts: ['handover', 'costs'], build: false });
  assert.equal(parseRestartOptions(['--help']), 'help');
});

test('bench:restart options: every count is bounded; bad values are refused with a message', () => {
  for (const argv of [
    ['--rounds', '0'],
    ['--rounds', '11'],
    ['--clients', '17'],
    ['--clients', '2.5'],
    ['--interval-ms', '1'],
    ['--handovers', '51'],
    ['--handovers', '-1'],
    ['--sandbox', 'maybe'],
    ['--only', 'daemon,everything'],
    ['--frobnicate'],
  ]) {
    const answer = parseRestartOptions(argv);
    assert.equal(typeof answer, 'string', argv.join(' '));
    assert.notEqual(answer, 'help');
  }
});

test('the pushed route table has one route per app, each with two upstreams', () => {
  const table = routeTable(3) as { routes: Array<{ host: string; upstreams: string[] }> };
  assert.equal(table.routes.length, 3);
  assert.deepEqual(table.routes.map((r) => r.host), ['app-0.example.com', 'app-1.example.com', 'app-2.example.com']);
  assert.ok(table.routes.every((r) => r.upstreams.length === 2));
  assert.equal(new Set(table.routes.flatMap((r) => r.upstreams)).size, 6);
});
