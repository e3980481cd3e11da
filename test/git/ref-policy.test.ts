import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decidePush, parseRefUpdates } from '../../src/git/index.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const ZERO = '0'.repeat(40);

test('hook input is parsed strictly', () => {
  assert.deepEqual(parseRefUpdates(`${A} ${B} refs/heads/main\n`), [{ oldRev: A, newRev: B, ref: 'refs/heads/main' }]);
  assert.deepEqual(parseRefUpdates(''), []);
  assert.deepEqual(parseRefUpdates(`${'c'.repeat(64)} ${'d'.repeat(64)} refs/heads/main`), [{ oldRev: 'c'.repeat(64), newRev: 'd'.repeat(64), ref: 'refs/heads/main' }]);
  for (const bad of [`${A} ${B}`, `${A} ${B} main`, `${A} xyz refs/heads/main`, `${A} ${B} refs/heads/main extra`, `${A.toUpperCase()} ${B} refs/heads/main`]) assert.equal(parseRefUpdates(bad), null, bad);
});

test('a push moving the deploy branch deploys its new commit', () => {
  assert.deepEqual(decidePush([{ oldRev: ZERO, newRev: B, ref: 'refs/heads/main' }], 'main', null), { kind: 'deploy', rev: B });
  assert.deepEqual(decidePush([{ oldRev: A, newRev: B, ref: 'refs/heads/release/2024' }], 'release/2024', A), { kind: 'deploy', rev: B });
});

test('a push made against a deploy branch that has moved since (another push came first) is refused before it deploys', () => {
  const C = 'c'.repeat(40);
  const stale = decidePush([{ oldRev: A, newRev: B, ref: 'refs/heads/main' }], 'main', C);
  assert.equal(stale.kind, 'refuse');
  assert.match((stale as { message: string }).message, /moved since your git read it/);
  assert.equal(decidePush([{ oldRev: ZERO, newRev: B, ref: 'refs/heads/main' }], 'main', C).kind, 'refuse');
  assert.equal(decidePush([{ oldRev: A, newRev: B, ref: 'refs/heads/main' }], 'main', null).kind, 'refuse');
});

test('deployments with other refs do not happen: any other branch or tag refuses the whole push', () => {
  const other = decidePush([{ oldRev: ZERO, newRev: B, ref: 'refs/heads/feature' }], 'main', A);
  assert.equal(other.kind, 'refuse');
  assert.match((other as { message: string }).message, /only the branch "main".*feature.*git push berth HEAD:main/);
  const mixed = decidePush([{ oldRev: A, newRev: B, ref: 'refs/heads/main' }, { oldRev: ZERO, newRev: B, ref: 'refs/tags/v1' }], 'main', A);
  assert.equal(mixed.kind, 'refuse');
  assert.equal(decidePush([{ oldRev: A, newRev: B, ref: 'refs/heads/main' }], 'production', A).kind, 'refuse');
});

test('deleting the deploy branch is refused; a push changing nothing is accepted without a deploy', () => {
  const deleted = decidePush([{ oldRev: A, newRev: ZERO, ref: 'refs/heads/main' }], 'main', A);
  assert.equal(deleted.kind, 'refuse');
  assert.match((deleted as { message: string }).message, /cannot be deleted/);
  assert.deepEqual(decidePush([], 'main', null), { kind: 'accept' });
  assert.deepEqual(decidePush([{ oldRev: A, newRev: A, ref: 'refs/heads/main' }], 'main', A), { kind: 'accept' });
});
