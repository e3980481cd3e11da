import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeRollout, type RolloutInstance } from '../../src/runner/index.ts';

const web = (n: number, state: RolloutInstance['state'], exits = 0, lastExit: string | null = null): RolloutInstance => ({ name: `web.${n}`, type: 'web', state, exits, lastExit });
const worker = (state: RolloutInstance['state'], exits = 0): RolloutInstance => ({ name: 'worker.1', type: 'worker', state, exits, lastExit: exits ? 'code 1' : null });

test('ready once every instance is ready', () => {
  assert.deepEqual(judgeRollout([web(1, 'ready'), web(2, 'ready'), worker('ready')], 0, 10, 1000), { kind: 'ready' });
});

test('waiting while any instance is still starting', () => {
  assert.deepEqual(judgeRollout([web(1, 'ready'), web(2, 'starting')], 0, 10, 1000), { kind: 'waiting' });
  assert.deepEqual(judgeRollout([web(1, 'ready'), worker('starting')], 0, 10, 1000), { kind: 'waiting' });
});

test('any exit during the rollout fails it at once, naming the instance and how it exited', () => {
  const verdict = judgeRollout([web(1, 'ready'), web(2, 'crashed', 1, 'code 3')], 0, 10, 1000);
  assert.deepEqual(verdict, { kind: 'failed', reason: 'web.2 exited (code 3) before the release was ready' });
  // Even if the supervisor has already restarted it and it looks ready again.
  assert.equal(judgeRollout([web(1, 'ready', 1, 'signal SIGKILL')], 0, 10, 1000).kind, 'failed');
  assert.equal(judgeRollout([web(1, 'ready'), worker('ready', 1)], 0, 10, 1000).kind, 'failed');
});

test('past the deadline, the instances not ready are named', () => {
  const verdict = judgeRollout([web(1, 'ready'), web(2, 'starting'), web(3, 'starting')], 0, 60_000, 60_000);
  assert.deepEqual(verdict, { kind: 'failed', reason: 'web.2, web.3 not ready after 60s' });
  assert.equal(judgeRollout([web(1, 'starting')], 0, 59_999, 60_000).kind, 'waiting');
});

test('a release without instances is ready at once', () => {
  assert.deepEqual(judgeRollout([], 0, 0, 1000), { kind: 'ready' });
});
