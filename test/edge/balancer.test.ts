import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pickUpstream, type Candidate } from '../../src/edge/index.ts';

const up = (active: number): Candidate => ({ active, up: true });
const down = (active = 0): Candidate => ({ active, up: false });

test('no candidates, or none usable, gives -1', () => {
  assert.equal(pickUpstream([], 0, null), -1);
  assert.equal(pickUpstream([down(), down()], 0, null), -1);
  assert.equal(pickUpstream([up(0), up(0)], 0, new Set([0, 1])), -1);
});

test('the least busy upstream wins', () => {
  assert.equal(pickUpstream([up(3), up(1), up(2)], 0, null), 1);
});

test('ties rotate with the cursor, so idle upstreams share the load', () => {
  const candidates = [up(0), up(0), up(0)];
  assert.deepEqual([0, 1, 2, 3, 4].map((cursor) => pickUpstream(candidates, cursor, null)), [0, 1, 2, 0, 1]);
});

test('down and already-tried upstreams are skipped', () => {
  assert.equal(pickUpstream([up(0), down(), up(5)], 1, null), 0);
  assert.equal(pickUpstream([up(4), down(), up(5)], 1, null), 0);
  assert.equal(pickUpstream([down(), down(), up(5)], 0, null), 2);
  assert.equal(pickUpstream([up(0), up(0), up(5)], 0, new Set([0, 1])), 2);
});

test('a busier upstream is chosen when the idle one is down', () => {
  assert.equal(pickUpstream([down(0), up(9)], 0, null), 1);
});

test('over many requests with equal load, every upstream is picked equally', () => {
  const candidates = [up(0), up(0), up(0), up(0)];
  const counts = [0, 0, 0, 0];
  for (let cursor = 0; cursor < 400; cursor++) counts[pickUpstream(candidates, cursor % 4, null)]!++;
  assert.deepEqual(counts, [100, 100, 100, 100]);
});
