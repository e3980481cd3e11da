import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteLru } from '../../../src/edge/static/lru.ts';

test('evicts least recently used entries until the new one fits', () => {
  const lru = new ByteLru<string, string>(10);
  lru.set('a', 'A', 4);
  lru.set('b', 'B', 4);
  assert.equal(lru.bytes, 8);
  lru.set('c', 'C', 4);
  assert.deepEqual(lru.keys(), ['b', 'c']);
  assert.equal(lru.bytes, 8);
  assert.equal(lru.get('a'), undefined);
});

test('get refreshes recency, peek does not', () => {
  const lru = new ByteLru<string, number>(3);
  lru.set('a', 1, 1);
  lru.set('b', 2, 1);
  lru.set('c', 3, 1);
  assert.equal(lru.get('a'), 1);
  assert.equal(lru.peek('b'), 2);
  lru.set('d', 4, 1);
  assert.deepEqual(lru.keys(), ['c', 'a', 'd']);
});

test('replacing a key updates its size and recency', () => {
  const lru = new ByteLru<string, string>(10);
  lru.set('a', 'A', 6);
  lru.set('b', 'B', 2);
  lru.set('a', 'A2', 3);
  assert.equal(lru.bytes, 5);
  assert.deepEqual(lru.keys(), ['b', 'a']);
  assert.equal(lru.get('a'), 'A2');
});

test('an entry larger than the budget is refused and drops the old value', () => {
  const lru = new ByteLru<string, string>(10);
  lru.set('a', 'old', 2);
  lru.set('keep', 'k', 2);
  assert.equal(lru.set('a', 'huge', 11), false);
  assert.equal(lru.get('a'), undefined);
  assert.equal(lru.get('keep'), 'k');
  assert.equal(lru.bytes, 2);
});

test('an entry of exactly the budget evicts everything else', () => {
  const lru = new ByteLru<string, string>(10);
  lru.set('a', 'A', 3);
  lru.set('b', 'B', 3);
  assert.equal(lru.set('c', 'C', 10), true);
  assert.deepEqual(lru.keys(), ['c']);
  assert.equal(lru.bytes, 10);
});

test('a zero budget stores only zero-byte entries', () => {
  const lru = new ByteLru<string, string>(0);
  assert.equal(lru.set('a', 'A', 1), false);
  assert.equal(lru.size, 0);
  assert.equal(lru.set('b', 'B', 0), true);
  assert.equal(lru.size, 1);
});

test('delete and clear keep the byte count right', () => {
  const lru = new ByteLru<string, string>(100);
  lru.set('a', 'A', 10);
  lru.set('b', 'B', 20);
  assert.equal(lru.delete('a'), true);
  assert.equal(lru.delete('a'), false);
  assert.equal(lru.bytes, 20);
  lru.clear();
  assert.equal(lru.bytes, 0);
  assert.equal(lru.size, 0);
  assert.equal(lru.has('b'), false);
});

test('invalid sizes are refused', () => {
  assert.throws(() => new ByteLru(-1), RangeError);
  assert.throws(() => new ByteLru(Number.NaN), RangeError);
  assert.throws(() => new ByteLru(Infinity), RangeError);
  const lru = new ByteLru<string, string>(10);
  assert.throws(() => lru.set('a', 'A', -1), RangeError);
  assert.throws(() => lru.set('a', 'A', Number.NaN), RangeError);
});

test('the byte count never exceeds the budget under churn', () => {
  const lru = new ByteLru<number, number>(1000);
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 5000; i++) {
    const key = Math.floor(random() * 200);
    if (random() < 0.2) lru.delete(key);
    else if (random() < 0.5) lru.get(key);
    else lru.set(key, i, Math.floor(random() * 300));
    assert.ok(lru.bytes <= 1000);
  }
  let sum = 0;
  for (const key of lru.keys()) sum += lru.peek(key) === undefined ? 0 : 1;
  assert.equal(sum, lru.size);
});
