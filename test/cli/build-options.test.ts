import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBuildOptions } from '../../src/cli/build-options.ts';
import { DEFAULT_BUILD_LIMITS } from '../../src/build/index.ts';

test('build options default to one build at a time, 2 GiB per process, 15 minutes', () => {
  assert.deepEqual(parseBuildOptions({}), { concurrency: 1, limits: DEFAULT_BUILD_LIMITS });
  assert.deepEqual(parseBuildOptions({ concurrency: '2', memory: '512m', timeout: '30m' }), { concurrency: 2, limits: { memoryBytes: 512 * 1024 * 1024, timeoutMs: 30 * 60_000, niceness: 10 } });
  assert.equal(parseBuildOptions({ memory: 'none' }).limits.memoryBytes, null);
});

test('bad build options are refused with the flag named', () => {
  for (const [options, pattern] of [
    [{ concurrency: '0' }, /--build-concurrency must be a whole number from 1 to 16/],
    [{ concurrency: '1.5' }, /--build-concurrency/],
    [{ concurrency: '99' }, /--build-concurrency/],
    [{ memory: '1m' }, /--build-memory 1m is too small/],
    [{ memory: 'lots' }, /./],
    [{ timeout: '10ms' }, /--build-timeout 10ms is too short/],
    [{ timeout: 'soon' }, /./],
  ] as const) {
    assert.throws(() => parseBuildOptions(options), (err: Error & { code?: string }) => err.code === 'BERTH_E_USAGE' && pattern.test(err.message), JSON.stringify(options));
  }
});
