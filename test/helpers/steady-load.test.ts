import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { classifyError, describeSummary, now, startSteadyLoad, summarize, summarizeByMode, type RequestRecord } from './steady-load.ts';

const rec = (start: number, end: number, outcome: RequestRecord['outcome'], extra: Partial<RequestRecord> = {}): RequestRecord => ({
  client: 0,
  mode: 'keep-alive',
  start,
  end,
  outcome,
  reused: false,
  ...extra,
});

describe('steady load: summaries', () => {
  test('classifyError maps connection errors to outcomes', () => {
    assert.equal(classifyError({ code: 'ECONNREFUSED' }), 'refused');
    assert.equal(classifyError({ code: 'ECONNRESET' }), 'reset');
    assert.equal(classifyError({ code: 'EPIPE' }), 'reset');
    assert.equal(classifyError({ message: 'socket hang up' }), 'reset');
    assert.equal(classifyError({ code: 'ETIMEDOUT' }), 'timeout');
    assert.equal(classifyError({ code: 'EHOSTUNREACH' }), 'other');
    assert.equal(classifyError({}), 'other');
  });

  test('summarize counts every outcome and the gap from the first failure to the last', () => {
    const s = summarize([rec(0, 1, 'ok'), rec(10, 12, 'refused'), rec(20, 25, 'reset', { reused: true }), rec(30, 40, 'timeout'), rec(50, 51, 'status', { status: 502 }), rec(60, 61, 'ok')]);
    assert.deepEqual(s, {
      total: 6,
      ok: 2,
      failed: 4,
      byOutcome: { status: 1, refused: 1, reset: 1, timeout: 1, other: 0 },
      firstFailure: 10,
      lastFailure: 51,
      gapMs: 41,
      failedOnReuse: 1,
    });
  });

  test('summarize with no failure has no gap', () => {
    const s = summarize([rec(0, 1, 'ok'), rec(5, 6, 'ok')]);
    assert.equal(s.failed, 0);
    assert.equal(s.firstFailure, null);
    assert.equal(s.gapMs, null);
    assert.equal(describeSummary(s), '0 failed of 2');
  });

  test('summarize keeps only requests that started inside [from, to)', () => {
    const records = [rec(0, 1, 'refused'), rec(10, 11, 'reset'), rec(20, 21, 'ok'), rec(30, 31, 'refused')];
    const s = summarize(records, 10, 30);
    assert.equal(s.total, 2);
    assert.equal(s.failed, 1);
    assert.equal(s.byOutcome.reset, 1);
    assert.equal(s.byOutcome.refused, 0);
    assert.equal(s.gapMs, 1);
  });

  test("by 'end', a request counts where it ended (in flight across the boundary)", () => {
    const records = [rec(90, 105, 'reset'), rec(95, 99, 'ok'), rec(100, 101, 'refused')];
    assert.equal(summarize(records, 0, 100).failed, 1);
    assert.equal(summarize(records, 0, 100, 'end').failed, 0);
    assert.equal(summarize(records, 0, 100, 'end').ok, 1);
    const after = summarize(records, 100, Infinity, 'end');
    assert.equal(after.failed, 2);
    assert.equal(after.firstFailure, 90);
  });

  test('a single failure has a gap of its own duration; the last failure may end after a later one started', () => {
    assert.equal(summarize([rec(5, 9, 'timeout')]).gapMs, 4);
    const s = summarize([rec(0, 100, 'timeout'), rec(10, 11, 'refused')]);
    assert.equal(s.firstFailure, 0);
    assert.equal(s.lastFailure, 100);
  });

  test('summarizeByMode splits keep-alive from new connections', () => {
    const by = summarizeByMode([rec(0, 1, 'reset'), rec(0, 1, 'refused', { mode: 'new-connection' }), rec(2, 3, 'ok', { mode: 'new-connection' })]);
    assert.equal(by['keep-alive'].failed, 1);
    assert.equal(by['keep-alive'].byOutcome.reset, 1);
    assert.equal(by['new-connection'].total, 2);
    assert.equal(by['new-connection'].byOutcome.refused, 1);
  });

  test('describeSummary names the kinds that occurred', () => {
    const s = summarize([rec(0, 500, 'refused'), rec(1000, 1500, 'refused'), rec(1200, 1230, 'reset'), rec(2000, 2001, 'ok')]);
    assert.equal(describeSummary(s), '3 failed of 4 (refused 2, reset 1) over 1.50 s');
  });
});

function listen(server: Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

describe('steady load: against a real server', () => {
  test('records every request; refused while the server is down, ok before and after', async (t) => {
    let status = 200;
    const handler = (_req: unknown, res: import('node:http').ServerResponse) => res.writeHead(status).end('hi');
    let server = createServer(handler);
    t.after(() => {
      server.closeAllConnections();
      server.close();
    });
    const port = await listen(server);
    const load = startSteadyLoad({ origin: `http://127.0.0.1:${port}`, clients: 4, keepAliveClients: 2, intervalMs: 20, durationMs: 20_000, timeoutMs: 2_000 });
    t.after(() => load.stop());
    const waitFor = async (what: string, condition: () => boolean) => {
      for (const deadline = Date.now() + 10_000; !condition(); ) {
        if (Date.now() > deadline) throw new Error(`steady load: no ${what} within 10 s`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    await waitFor('ok answers from both kinds of client', () => load.records.some((r) => r.outcome === 'ok' && r.mode === 'keep-alive') && load.records.some((r) => r.outcome === 'ok' && r.mode === 'new-connection'));
    const down = now();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await waitFor('refused requests', () => load.records.filter((r) => r.outcome === 'refused').length >= 4);
    status = 503;
    server = createServer(handler);
    const up = now(); // nothing started before this can have been served
    await listen(server, port);
    await waitFor('a wrong status', () => load.records.some((r) => r.outcome === 'status'));
    status = 200;
    const healed = now();
    await waitFor('ok answers again', () => load.records.some((r) => r.start > healed && r.outcome === 'ok'));
    load.stop();
    const records = await load.done;

    // A request in flight at `down` may be reset: it ends after it.
    const before = summarize(records, -Infinity, down, 'end');
    assert.equal(before.failed, 0, describeSummary(before));
    const during = summarize(records, down, up);
    assert.ok(during.byOutcome.refused >= 4, describeSummary(during));
    assert.equal(during.ok, 0, describeSummary(during));
    const wrong = records.filter((r) => r.outcome === 'status');
    assert.ok(wrong.every((r) => r.status === 503));
    const whole = summarize(records);
    assert.equal(whole.total, records.length);
    assert.ok(whole.firstFailure! >= down - 50 && whole.gapMs! > 0);
    assert.ok(records.every((r, i) => i === 0 || r.start >= records[i - 1]!.start), 'records are in start order');
  });

  test('stops at its request bound', async () => {
    const server = createServer((_req, res) => res.end('x'));
    const port = await listen(server);
    try {
      const load = startSteadyLoad({ origin: `http://127.0.0.1:${port}`, clients: 2, keepAliveClients: 1, intervalMs: 5, durationMs: 60_000, timeoutMs: 2_000, maxRequestsPerClient: 3 });
      const records = await load.done;
      assert.equal(records.length, 6);
      assert.equal(summarize(records).ok, 6);
      assert.equal(records.filter((r) => r.mode === 'keep-alive' && r.reused).length, 2, 'the keep-alive client reuses its connection');
    } finally {
      server.close();
    }
  });
});
