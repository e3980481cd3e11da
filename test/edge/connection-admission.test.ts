import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { clientKey } from '../../src/edge/client-key.ts';
import {
  connectionBudget,
  DESCRIPTORS_PER_CONNECTION,
  judgeConnection,
  MAX_RESERVE,
  MIN_RESERVE,
  parseOpenFileLimit,
  SharedConnectionCounts,
  type ConnectionCaps,
} from '../../src/edge/connection-admission.ts';
import type { AdmitJob } from './connection-admission-worker.ts';

test('a connection is admitted only below both caps; a full edge is said before a full client', () => {
  const caps: ConnectionCaps = { maxConnections: 10, maxConnectionsPerClient: 3 };
  for (let total = 0; total <= 12; total++) {
    for (let client = 0; client <= Math.min(total, 5); client++) {
      const expected = total >= 10 ? 'edge-full' : client >= 3 ? 'client-full' : 'admit';
      assert.equal(judgeConnection({ total, client }, caps), expected, `total ${total}, client ${client}`);
    }
  }
  // Caps of one: the first connection only.
  assert.equal(judgeConnection({ total: 0, client: 0 }, { maxConnections: 1, maxConnectionsPerClient: 1 }), 'admit');
  assert.equal(judgeConnection({ total: 1, client: 0 }, { maxConnections: 1, maxConnectionsPerClient: 1 }), 'edge-full');
  assert.equal(judgeConnection({ total: 1, client: 1 }, { maxConnections: 5, maxConnectionsPerClient: 1 }), 'client-full');
});

test('the global cap keeps a reserve of descriptors for the rest of the daemon, and two for each connection', () => {
  const cases: Array<[number, number, number]> = [
    // open-file limit, reserve, connections
    [1024, 256, 384],
    [4096, 512, 1792],
    [20_000, 2500, 8750],
    [65_536, 4096, 30_720],
    [524_288, 4096, 260_096],
    [1_048_576, 4096, 522_240],
    [Infinity, 4096, 522_240],
    [300, 256, 22],
    [256, 256, 1],
    [0, 256, 1],
  ];
  for (const [limit, reserve, maxConnections] of cases) {
    assert.deepEqual(connectionBudget(limit), { reserve, maxConnections }, `open-file limit ${limit}`);
  }
  for (let limit = 64; limit <= 2_000_000; limit = Math.ceil(limit * 1.37)) {
    const budget = connectionBudget(limit);
    assert.ok(budget.reserve >= MIN_RESERVE && budget.reserve <= MAX_RESERVE);
    if (limit > 2 * MIN_RESERVE) assert.ok(budget.maxConnections * DESCRIPTORS_PER_CONNECTION + budget.reserve <= limit, `${limit}: ${JSON.stringify(budget)}`);
    assert.ok(budget.maxConnections >= 1);
  }
});

test('the open-file limit is read from /proc/PID/limits', () => {
  const text = [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max cpu time              unlimited            unlimited            seconds   ',
    'Max open files            1024                 524288               files     ',
    'Max locked memory         8388608              8388608              bytes     ',
  ].join('\n');
  assert.equal(parseOpenFileLimit(text), 1024);
  assert.equal(parseOpenFileLimit(text.replace('1024                 524288', 'unlimited            unlimited')), 1_048_576);
  assert.equal(parseOpenFileLimit('Max processes 10 10 processes\n'), null);
  assert.equal(parseOpenFileLimit(''), null);
});

test('clients are counted by address, IPv6 by /64, IPv4-mapped addresses as IPv4', () => {
  assert.equal(clientKey('203.0.113.7'), '203.0.113.7');
  assert.equal(clientKey('::ffff:203.0.113.7'), '203.0.113.7');
  assert.equal(clientKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:db8:1:2::99'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:DB8:1:2::1'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:0db8:0001:0002::1'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(clientKey('::1'), '0:0:0:0::/64');
  assert.notEqual(clientKey('2001:db8:1:3::1'), clientKey('2001:db8:1:2::1'));
  assert.equal(clientKey('2001:db8::'), '2001:db8:0:0::/64');
  assert.equal(clientKey('2001:db8::1:2:3:4:5'), '2001:db8:0:1::/64', 'the gap is as wide as the groups after it leave');
  assert.equal(clientKey('1:2:3:4:5:6:7:8'), '1:2:3:4::/64');
  // Not an address: keyed as it is, never merged with another.
  for (const odd of ['1:2:3', '1:2:3:4:5:6:7:8:9', '1::2::3', 'fe80::1%eth0', 'g::1', '12345::1']) assert.equal(clientKey(odd), odd, odd);
});

test('shared counts: each client up to its cap, the edge up to its own, and a release makes room again', () => {
  const counts = new SharedConnectionCounts(SharedConnectionCounts.create(64), { maxConnections: 5, maxConnectionsPerClient: 2 });
  const admit = (address: string) => counts.admit(clientKey(address));
  const release = (address: string) => counts.release(clientKey(address));
  assert.equal(admit('198.51.100.1'), 'admit');
  assert.equal(admit('198.51.100.1'), 'admit');
  assert.equal(admit('198.51.100.1'), 'client-full');
  assert.equal(admit('2001:db8:1:2::1'), 'admit');
  assert.equal(admit('2001:db8:1:2::ffff'), 'admit');
  assert.equal(admit('2001:db8:1:2::3'), 'client-full', 'the same /64');
  assert.equal(admit('198.51.100.2'), 'admit');
  assert.equal(counts.total, 5);
  assert.equal(admit('198.51.100.3'), 'edge-full');
  release('198.51.100.1');
  assert.equal(counts.total, 4);
  assert.equal(admit('198.51.100.3'), 'admit');
  assert.equal(admit('198.51.100.1'), 'edge-full');
  release('198.51.100.3');
  release('198.51.100.2');
  assert.equal(admit('198.51.100.1'), 'admit');
  assert.equal(counts.total, 4);
  assert.equal(admit('198.51.100.1'), 'client-full', 'below the edge cap, at the client cap');
});

async function hammer(caps: ConnectionCaps, prefix: (i: number) => string | null, churn: boolean, threads = 4, calls = 5_000): Promise<{ held: number; total: number }> {
  const buffers = SharedConnectionCounts.create(1024);
  const start = new SharedArrayBuffer(4);
  const workers = Array.from({ length: threads }, (_, i) => new Worker(new URL('./connection-admission-worker.ts', import.meta.url), { workerData: { buffers, caps, start, calls, prefix: prefix(i), churn } satisfies AdmitJob }));
  const results = workers.map((worker) => new Promise<number>((resolve, reject) => worker.once('message', resolve).once('error', reject)));
  await Promise.all(workers.map((worker) => new Promise((resolve) => worker.once('online', resolve))));
  Atomics.store(new Int32Array(start), 0, 1);
  Atomics.notify(new Int32Array(start), 0);
  try {
    const held = (await Promise.all(results)).reduce((a, b) => a + b, 0);
    return { held, total: new SharedConnectionCounts(buffers, caps).total };
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

test('threads admitting one client at once get exactly its cap', async () => {
  assert.deepEqual(await hammer({ maxConnections: 1_000_000, maxConnectionsPerClient: 300 }, () => null, false), { held: 300, total: 300 });
});

test('threads admitting many clients at once never take the edge past its cap, releases included', async () => {
  assert.deepEqual(await hammer({ maxConnections: 700, maxConnectionsPerClient: 1_000 }, (i) => `10.0.${i}`, false), { held: 700, total: 700 });
  const churned = await hammer({ maxConnections: 700, maxConnectionsPerClient: 1_000 }, (i) => `10.1.${i}`, true);
  assert.equal(churned.held, churned.total);
  assert.ok(churned.total <= 700);
});
