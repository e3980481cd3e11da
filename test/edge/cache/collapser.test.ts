import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Collapser, type CollapseTicket, type CollapserTimers } from '../../../src/edge/cache/index.ts';

/** Timers driven by hand: advance(ms) runs what falls due. */
class FakeTimers implements CollapserTimers {
  now = 0;
  pending = new Set<{ at: number; fn: () => void }>();
  delays: number[] = [];

  setTimeout = (fn: () => void, ms: number): unknown => {
    const t = { at: this.now + ms, fn };
    this.pending.add(t);
    this.delays.push(ms);
    return t;
  };

  clearTimeout = (handle: unknown): void => {
    this.pending.delete(handle as { at: number; fn: () => void });
  };

  advance(ms: number): void {
    this.now += ms;
    for (const t of [...this.pending].sort((a, b) => a.at - b.at)) {
      if (t.at > this.now) break;
      this.pending.delete(t);
      t.fn();
    }
  }
}

function setup(maxKeys = 100) {
  const timers = new FakeTimers();
  const collapser = new Collapser<string>({ lockTimeoutMs: 5000, maxKeys, timers });
  return { timers, collapser };
}

function leader(t: CollapseTicket<string>) {
  assert.equal(t.leader, true);
  return t as Extract<CollapseTicket<string>, { leader: true }>;
}

function follower(t: CollapseTicket<string>): Promise<string | null> {
  assert.equal(t.leader, false);
  return (t as Extract<CollapseTicket<string>, { leader: false }>).wait;
}

test('the first caller leads; the others get its value', async () => {
  const { timers, collapser } = setup();
  const l = leader(collapser.join('k'));
  assert.equal(l.tracked, true);
  const f1 = follower(collapser.join('k'));
  const f2 = follower(collapser.join('k'));
  assert.equal(collapser.size, 1);
  l.settle('response');
  assert.deepEqual(await Promise.all([f1, f2]), ['response', 'response']);
  assert.equal(collapser.size, 0);
  assert.equal(timers.pending.size, 0); // the lock timer is cleared
});

test('settling with null tells followers to go upstream themselves', async () => {
  const { collapser } = setup();
  const l = leader(collapser.join('k'));
  const f = follower(collapser.join('k'));
  l.settle(null);
  assert.equal(await f, null);
});

test('after settling, the next caller leads again', async () => {
  const { collapser } = setup();
  leader(collapser.join('k')).settle('one');
  const l2 = leader(collapser.join('k'));
  const f = follower(collapser.join('k'));
  l2.settle('two');
  assert.equal(await f, 'two');
});

test('keys are independent', async () => {
  const { collapser } = setup();
  const a = leader(collapser.join('a'));
  const b = leader(collapser.join('b'));
  const fa = follower(collapser.join('a'));
  const fb = follower(collapser.join('b'));
  b.settle('B');
  assert.equal(await fb, 'B');
  assert.equal(collapser.size, 1);
  a.settle('A');
  assert.equal(await fa, 'A');
});

test('a leader that never settles releases its followers with null after lockTimeoutMs', async () => {
  const { timers, collapser } = setup();
  leader(collapser.join('k'));
  assert.deepEqual(timers.delays, [5000]);
  let result: string | null | undefined;
  void follower(collapser.join('k')).then((v) => { result = v; });
  timers.advance(4999);
  await Promise.resolve();
  assert.equal(result, undefined);
  const late = follower(collapser.join('k')); // joins the same flight, shares its deadline
  timers.advance(1);
  assert.equal(await late, null);
  assert.equal(result, null);
  assert.equal(collapser.size, 0);
});

test('a leader settling after its timeout does not disturb the next flight', async () => {
  const { timers, collapser } = setup();
  const old = leader(collapser.join('k'));
  timers.advance(5000);
  const next = leader(collapser.join('k')); // the key is free again
  assert.equal(next.tracked, true);
  let result: string | null | undefined;
  void follower(collapser.join('k')).then((v) => { result = v; });
  old.settle('old'); // harmless
  old.settle('again');
  await Promise.resolve();
  assert.equal(result, undefined);
  assert.equal(collapser.size, 1);
  next.settle('new');
  await Promise.resolve();
  assert.equal(result, 'new');
  assert.equal(timers.pending.size, 0);
});

test('settling twice keeps the first value', async () => {
  const { collapser } = setup();
  const l = leader(collapser.join('k'));
  const f = follower(collapser.join('k'));
  l.settle('first');
  l.settle('second');
  assert.equal(await f, 'first');
});

test('beyond maxKeys callers lead untracked: nobody waits on them', async () => {
  const { timers, collapser } = setup(2);
  const a = leader(collapser.join('a'));
  leader(collapser.join('b'));
  const c1 = leader(collapser.join('c'));
  const c2 = leader(collapser.join('c'));
  assert.deepEqual([c1.tracked, c2.tracked], [false, false]);
  assert.equal(collapser.size, 2);
  assert.equal(timers.pending.size, 2); // no timer for untracked leaders
  c1.settle('ignored');
  // Keys already in flight still collapse.
  const fa = follower(collapser.join('a'));
  a.settle('A');
  assert.equal(await fa, 'A');
  // With room again, the next caller for c is tracked.
  assert.equal(leader(collapser.join('c')).tracked, true);
});

test('maxKeys 0 turns collapsing off', () => {
  const { collapser } = setup(0);
  assert.equal(leader(collapser.join('k')).tracked, false);
  assert.equal(leader(collapser.join('k')).tracked, false);
  assert.equal(collapser.size, 0);
});

test('with the default timers, followers are released after a real timeout', async () => {
  const collapser = new Collapser<string>({ lockTimeoutMs: 20, maxKeys: 10 });
  leader(collapser.join('k'));
  assert.equal(await follower(collapser.join('k')), null);
  assert.equal(collapser.size, 0);
});

test('options are checked', () => {
  assert.throws(() => new Collapser({ lockTimeoutMs: -1, maxKeys: 1 }), RangeError);
  assert.throws(() => new Collapser({ lockTimeoutMs: 1, maxKeys: 1.5 }), RangeError);
  assert.throws(() => new Collapser({ lockTimeoutMs: Number.POSITIVE_INFINITY, maxKeys: 1 }), RangeError);
});
