import assert from 'node:assert/strict';
import test from 'node:test';
import { RecordBacklog } from '../../src/edge-process/index.ts';
import { RECORDS_PER_EVENT } from '../../src/edge-process/protocol.ts';
import type { ExchangeRecord } from '../../src/edge/index.ts';

const record = (n: number): ExchangeRecord => ({ site: 'a', time: n, method: 'GET', target: '/', host: 'a', status: 200, bytes: 1, durationMs: 1, upstream: null, requestId: String(n), client: '127.0.0.1', protocol: 'HTTP/1.1', cache: null, referer: null, userAgent: null });

test('the backlog keeps the first records up to its bound, counts the rest, and hands them over in bounded batches once', () => {
  const backlog = new RecordBacklog(2_500);
  backlog.add(Array.from({ length: 2_000 }, (_, i) => record(i)), 3);
  backlog.add(Array.from({ length: 1_000 }, (_, i) => record(2_000 + i)), 0);
  assert.equal(backlog.size, 2_500);
  const batches = backlog.take(7);
  assert.deepEqual(batches.map((b) => b.records.length), [RECORDS_PER_EVENT, RECORDS_PER_EVENT, 500]);
  assert.equal(batches[0]!.dropped, 3 + 500);
  assert.equal(batches[2]!.records.at(-1)!.time, 2_499);
  assert.ok(batches.every((b) => b.connections === 7));
  assert.deepEqual(backlog.take(0), []);
});

test('drops alone are still reported', () => {
  const backlog = new RecordBacklog(0);
  backlog.add([record(1)], 0);
  assert.deepEqual(backlog.take(0).map((b) => [b.records.length, b.dropped]), [[0, 1]]);
});
