import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { SharedLimiterTable, bucketCapacity, takeToken, type BucketState, type RateLimit } from '../../src/edge/rate-limit.ts';
import type { HammerJob } from './rate-limit-worker.ts';

const full = (limit: RateLimit, at = 0): BucketState => ({ tokens: bucketCapacity(limit), updatedAt: at });

/** Takes `n` tokens at one instant; returns how many were allowed and the last state. */
function drain(state: BucketState, now: number, limit: RateLimit, n: number): { allowed: number; state: BucketState } {
  let allowed = 0;
  for (let i = 0; i < n; i++) {
    const result = takeToken(state, now, limit);
    if (result.allowed) allowed++;
    state = result.state;
  }
  return { allowed, state };
}

// --- the pure bucket ---

test('capacity is the burst, or one second of rate (at least 1) when the burst is 0 or absent', () => {
  assert.equal(bucketCapacity({ ratePerSecond: 10, burst: 20 }), 20);
  assert.equal(bucketCapacity({ ratePerSecond: 10, burst: 1 }), 1);
  assert.equal(bucketCapacity({ ratePerSecond: 10, burst: 0 }), 10);
  assert.equal(bucketCapacity({ ratePerSecond: 10 }), 10);
  assert.equal(bucketCapacity({ ratePerSecond: 0.5 }), 1);
});

test('a full bucket lets exactly burst requests through at one instant, then refuses', () => {
  const limit = { ratePerSecond: 10, burst: 20 };
  const { allowed, state } = drain(full(limit), 1000, limit, 25);
  assert.equal(allowed, 20);
  assert.equal(state.tokens, 0);
  const refused = takeToken(state, 1000, limit);
  assert.equal(refused.allowed, false);
  assert.equal(refused.retryAfterMs, 100);
});

test('an allowed request reports no wait and takes exactly one token', () => {
  const result = takeToken({ tokens: 3, updatedAt: 0 }, 0, { ratePerSecond: 1, burst: 5 });
  assert.deepEqual(result, { allowed: true, state: { tokens: 2, updatedAt: 0 }, retryAfterMs: 0 });
});

test('refill is continuous: fractions of a token add up', () => {
  const limit = { ratePerSecond: 10, burst: 5 };
  let state: BucketState = { tokens: 0, updatedAt: 0 };
  // 30 ms + 70 ms = one token, though neither step alone is.
  let result = takeToken(state, 30, limit);
  assert.equal(result.allowed, false);
  assert.equal(result.retryAfterMs, 70);
  state = result.state;
  result = takeToken(state, 100, limit);
  assert.equal(result.allowed, true);
  assert.ok(Math.abs(result.state.tokens) < 1e-9);
});

test('float sums of refill fractions that are whole tokens count as whole', () => {
  const limit = { ratePerSecond: 10, burst: 1 };
  let state: BucketState = { tokens: 0, updatedAt: 0 };
  // Ten 10 ms steps: 0.1 added ten times is 0.9999999999999999 in floats.
  for (let t = 10; t < 100; t += 10) state = takeToken(state, t, limit).state;
  assert.equal(takeToken(state, 100, limit).allowed, true);
});

test('retryAfterMs rounds up to whole ms and waiting that long is enough', () => {
  const limit = { ratePerSecond: 3, burst: 1 };
  const refused = takeToken({ tokens: 0, updatedAt: 0 }, 0, limit);
  assert.equal(refused.retryAfterMs, 334);
  assert.equal(takeToken(refused.state, 333, limit).allowed, false);
  assert.equal(takeToken(refused.state, 334, limit).allowed, true);
});

test('slow rates: half a request per second waits two seconds', () => {
  const limit = { ratePerSecond: 0.5 };
  const { state } = drain(full(limit), 0, limit, 1);
  const refused = takeToken(state, 0, limit);
  assert.equal(refused.retryAfterMs, 2000);
  assert.equal(takeToken(refused.state, 1999, limit).allowed, false);
  assert.equal(takeToken(refused.state, 2000, limit).allowed, true);
});

test('refill stops at capacity, whatever the gap', () => {
  const limit = { ratePerSecond: 10, burst: 20 };
  for (const gap of [2_000, 3_600_000, 1e15, Number.MAX_SAFE_INTEGER]) {
    const { allowed } = drain({ tokens: 0, updatedAt: 0 }, gap, limit, 30);
    assert.equal(allowed, 20, `gap ${gap}`);
  }
});

test('a clock going backwards a little adds nothing and pauses refill until it catches up', () => {
  const limit = { ratePerSecond: 10, burst: 5 };
  const state = { tokens: 0.5, updatedAt: 10_000 };
  const back = takeToken(state, 9_500, limit);
  assert.equal(back.allowed, false);
  assert.deepEqual(back.state, { tokens: 0.5, updatedAt: 10_000 });
  assert.equal(back.retryAfterMs, 50);
  // The 500 ms "before" the stored time are not counted again.
  assert.equal(takeToken(back.state, 10_049, limit).allowed, false);
  assert.equal(takeToken(back.state, 10_050, limit).allowed, true);
});

test('a clock set back a long way adds nothing, and refill restarts from the new time', () => {
  const limit = { ratePerSecond: 10, burst: 5 };
  const back = takeToken({ tokens: 0.5, updatedAt: 3_600_000 }, 1_000, limit);
  assert.equal(back.allowed, false);
  assert.deepEqual(back.state, { tokens: 0.5, updatedAt: 1_000 });
  // Not locked out for an hour: 50 ms after the new time there is a token again.
  assert.equal(takeToken(back.state, 1_049, limit).allowed, false);
  assert.equal(takeToken(back.state, 1_050, limit).allowed, true);
});

test('a bucket saved under a larger burst is capped by the new one', () => {
  const { allowed } = drain({ tokens: 50, updatedAt: 0 }, 0, { ratePerSecond: 1, burst: 3 }, 10);
  assert.equal(allowed, 3);
});

test('meaningless limits are refused', () => {
  const state = { tokens: 1, updatedAt: 0 };
  for (const limit of [{ ratePerSecond: 0 }, { ratePerSecond: -1 }, { ratePerSecond: NaN }, { ratePerSecond: Infinity }, { ratePerSecond: 1, burst: -1 }, { ratePerSecond: 1, burst: NaN }]) {
    assert.throws(() => takeToken(state, 0, limit), RangeError, JSON.stringify(limit));
  }
});

test('property: over any schedule, allowed requests never exceed capacity + rate × elapsed', () => {
  fc.assert(
    fc.property(
      fc.record({ ratePerSecond: fc.double({ min: 0.01, max: 1000, noNaN: true }), burst: fc.integer({ min: 0, max: 100 }) }),
      fc.array(fc.integer({ min: -50, max: 500 }), { minLength: 1, maxLength: 200 }),
      (limit, steps) => {
        let state = full(limit);
        let now = 0;
        let latest = 0;
        let allowed = 0;
        for (const step of steps) {
          now += step;
          latest = Math.max(latest, now);
          const result = takeToken(state, now, limit);
          if (result.allowed) allowed++;
          else assert.ok(result.retryAfterMs >= 1);
          state = result.state;
          assert.ok(state.tokens >= 0 && state.tokens <= bucketCapacity(limit));
        }
        assert.ok(allowed <= bucketCapacity(limit) + (limit.ratePerSecond * latest) / 1000 + 1e-6);
      },
    ),
  );
});

test('property: after a refusal, retrying after retryAfterMs is allowed', () => {
  fc.assert(
    fc.property(
      fc.double({ min: 0.01, max: 1000, noNaN: true }),
      fc.double({ min: 0, max: 0.999, noNaN: true }),
      fc.integer({ min: 0, max: 1e9 }),
      (ratePerSecond, tokens, at) => {
        const limit = { ratePerSecond, burst: 1 };
        const refused = takeToken({ tokens, updatedAt: at }, at, limit);
        assert.equal(refused.allowed, false);
        assert.equal(takeToken(refused.state, at + refused.retryAfterMs, limit).allowed, true);
      },
    ),
  );
});

// --- the shared table ---

const LIMIT = { ratePerSecond: 1, burst: 3 };

function admitted(table: SharedLimiterTable, site: string, client: string, now: number, n: number, limit: RateLimit = LIMIT): number {
  let allowed = 0;
  for (let i = 0; i < n; i++) if (table.admit(site, client, now, limit).allowed) allowed++;
  return allowed;
}

test('a table refuses a buffer it did not make, and odd sizes', () => {
  assert.throws(() => new SharedLimiterTable(new SharedArrayBuffer(1024)), TypeError);
  for (const slots of [0, -1, 1.5, 2 ** 30]) assert.throws(() => SharedLimiterTable.create(slots), RangeError);
});

test('each (site, client) has its own bucket', () => {
  const table = new SharedLimiterTable(SharedLimiterTable.create());
  assert.equal(admitted(table, 'a', '192.0.2.1', 0, 5), 3);
  assert.equal(admitted(table, 'a', '192.0.2.2', 0, 5), 3);
  assert.equal(admitted(table, 'b', '192.0.2.1', 0, 5), 3);
  // The separator between site and client is part of the key: 'ab'+'c' is not 'a'+'bc'.
  assert.equal(admitted(table, 'ab', 'c', 0, 5), 3);
  assert.equal(admitted(table, 'a', 'bc', 0, 5), 3);
});

test('tables over one buffer share buckets; another buffer has its own', () => {
  const buffer = SharedLimiterTable.create();
  const one = new SharedLimiterTable(buffer);
  const two = new SharedLimiterTable(buffer);
  assert.equal(admitted(one, 'a', '192.0.2.1', 0, 2), 2);
  assert.equal(admitted(two, 'a', '192.0.2.1', 0, 5), 1);
  assert.equal(admitted(new SharedLimiterTable(SharedLimiterTable.create()), 'a', '192.0.2.1', 0, 5), 3);
});

test('a refusal carries Retry-After in whole seconds, at least 1', () => {
  const table = new SharedLimiterTable(SharedLimiterTable.create());
  admitted(table, 'a', 'c', 0, 3);
  assert.deepEqual(table.admit('a', 'c', 0, LIMIT), { allowed: false, retryAfterSeconds: 1 });
  const fast = { ratePerSecond: 100, burst: 1 };
  admitted(table, 'fast', 'c', 0, 1, fast);
  assert.deepEqual(table.admit('fast', 'c', 0, fast), { allowed: false, retryAfterSeconds: 1 });
  const slow = { ratePerSecond: 0.1, burst: 1 };
  admitted(table, 'slow', 'c', 0, 1, slow);
  assert.deepEqual(table.admit('slow', 'c', 2_500, slow), { allowed: false, retryAfterSeconds: 8 });
});

test('buckets refill with time in the table too', () => {
  const table = new SharedLimiterTable(SharedLimiterTable.create());
  assert.equal(admitted(table, 'a', 'c', 1_000, 5), 3);
  assert.equal(admitted(table, 'a', 'c', 1_999, 1), 0);
  assert.equal(admitted(table, 'a', 'c', 2_000, 2), 1);
  assert.equal(admitted(table, 'a', 'c', 60_000, 5), 3);
});

test('enter counts requests in flight up to the limit; leave gives them back', () => {
  const table = new SharedLimiterTable(SharedLimiterTable.create());
  assert.equal(table.enter('a', 'c', 2), true);
  assert.equal(table.enter('a', 'c', 2), true);
  assert.equal(table.enter('a', 'c', 2), false);
  assert.equal(table.enter('a', 'other', 2), true, 'another client is counted apart');
  table.leave('a', 'c');
  assert.equal(table.enter('a', 'c', 2), true);
  assert.equal(table.enter('a', 'c', 2), false);
});

test('leave never takes the count below zero, and a leave without enter is harmless', () => {
  const table = new SharedLimiterTable(SharedLimiterTable.create());
  table.leave('a', 'never-seen');
  assert.equal(table.enter('a', 'never-seen', 1), true);
  assert.equal(table.enter('a', 'never-seen', 1), false);
  table.leave('a', 'c');
  table.enter('a', 'c', 1);
  table.leave('a', 'c');
  table.leave('a', 'c');
  table.leave('a', 'c');
  assert.equal(table.enter('a', 'c', 1), true);
  assert.equal(table.enter('a', 'c', 1), false, 'the extra leaves did not make room for a second');
});

test('enter and admit on one key share a slot without disturbing each other', () => {
  const table = new SharedLimiterTable(SharedLimiterTable.create());
  assert.equal(table.enter('a', 'c', 1), true);
  assert.equal(admitted(table, 'a', 'c', 0, 5), 3, 'a slot made by enter starts with a full bucket');
  assert.equal(table.enter('a', 'c', 1), false);
});

// With 8 slots every key probes the whole table, so these do not depend on the seed.
const clients = (n: number) => Array.from({ length: n }, (_, i) => `203.0.113.${i}`);

test('a full table evicts a full, idle bucket first: nobody loses anything', () => {
  const table = new SharedLimiterTable(SharedLimiterTable.create(8));
  const [drained, ...rest] = clients(8);
  // One client drained at t=0 (full again at t=3000), seven that used one token at t=0..6 (full at t=1000..1006).
  assert.equal(admitted(table, 's', drained!, 0, 3), 3);
  rest.forEach((client, i) => assert.equal(admitted(table, 's', client, i, 1), 1));
  // At t=2000 a newcomer evicts one of the seven, whose buckets are full again.
  assert.equal(admitted(table, 's', 'newcomer', 2_000, 5), 3);
  assert.equal(admitted(table, 's', drained!, 2_000, 5), 2, 'the drained client was kept (2 tokens refilled, not 3)');
  // The evicted client (the longest full) comes back to a full bucket, as it would have had anyway.
  assert.equal(admitted(table, 's', rest[0]!, 2_000, 5), 3);
});

test('under saturation, busy slots are kept over idle ones', () => {
  const table = new SharedLimiterTable(SharedLimiterTable.create(8));
  const all = clients(8);
  for (const client of all) assert.equal(table.enter('s', client, 1), true);
  table.leave('s', all[5]!);
  // The only idle slot goes to the newcomer; everyone else still has their request counted.
  assert.equal(table.enter('s', 'newcomer', 1), true);
  for (const [i, client] of all.entries()) assert.equal(table.enter('s', client, 1), i === 5, client);
});

test('when every slot is busy and draining, the table still admits by evicting, never failing open for the newcomer', () => {
  const table = new SharedLimiterTable(SharedLimiterTable.create(8));
  for (const client of clients(8)) {
    assert.equal(table.enter('s', client, 5), true);
    admitted(table, 's', client, 0, 3);
  }
  // The newcomer is tracked like anyone: its burst, then refusals.
  assert.equal(admitted(table, 's', 'newcomer', 0, 10), 3);
});

test('a one-slot table still works, one key at a time', () => {
  const table = new SharedLimiterTable(SharedLimiterTable.create(1));
  assert.equal(admitted(table, 's', 'a', 0, 5), 3);
  assert.equal(admitted(table, 's', 'b', 0, 5), 3);
});

test('many clients in a roomy table stay independent (probing)', () => {
  const table = new SharedLimiterTable(SharedLimiterTable.create(1024));
  const many = Array.from({ length: 600 }, (_, i) => `2001:db8::${i.toString(16)}`);
  for (const client of many) assert.equal(admitted(table, 's', client, 0, 2), 2);
  let third = 0;
  for (const client of many) third += admitted(table, 's', client, 0, 1);
  // Some may have been evicted by probe windows that filled up, but nearly all are remembered.
  assert.ok(third > 550, `${third} of 600 still had a token`);
});

// --- threads ---

// Races can only let too many through while the bucket (or the count) still has
// room, so the limit is half the calls: half of all calls contend for it.
async function hammer(mode: HammerJob['mode'], threads: number, calls: number, limit: number): Promise<number> {
  const buffer = SharedLimiterTable.create();
  const start = new SharedArrayBuffer(4);
  const workers = Array.from({ length: threads }, () => new Worker(new URL('./rate-limit-worker.ts', import.meta.url), { workerData: { buffer, start, mode, calls, limit, now: 5_000 } satisfies HammerJob }));
  const results = workers.map(
    (worker) =>
      new Promise<number>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      }),
  );
  await Promise.all(workers.map((worker) => new Promise((resolve) => worker.once('online', resolve))));
  const go = new Int32Array(start);
  Atomics.store(go, 0, 1);
  Atomics.notify(go, 0);
  try {
    return (await Promise.all(results)).reduce((a, b) => a + b, 0);
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

test('threads hammering one key through one buffer get exactly burst requests through', async () => {
  assert.equal(await hammer('admit', 4, 20_000, 40_000), 40_000);
});

test('threads entering one key at once get exactly maxInFlight through', async () => {
  assert.equal(await hammer('enter', 4, 20_000, 40_000), 40_000);
});
