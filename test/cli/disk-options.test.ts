import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDiskOptions } from '../../src/cli/disk-options.ts';

test('berth server --default-disk and --disk-check-interval: 10g and 10s unless said; none lifts the limit', () => {
  assert.deepEqual(parseDiskOptions({}), { defaultBytes: 10 * 1024 ** 3, checkIntervalMs: 10_000 });
  assert.deepEqual(parseDiskOptions({ defaultDisk: '20g', checkInterval: '5m' }), { defaultBytes: 20 * 1024 ** 3, checkIntervalMs: 300_000 });
  assert.deepEqual(parseDiskOptions({ defaultDisk: 'none', checkInterval: '300ms' }), { defaultBytes: null, checkIntervalMs: 300 });
});

test('berth server refuses a disk default that holds nothing and a check interval it cannot keep', () => {
  for (const options of [{ defaultDisk: '1m' }, { defaultDisk: 'lots' }, { checkInterval: '10ms' }, { checkInterval: 'often' }]) {
    assert.throws(() => parseDiskOptions(options), (err: Error & { code?: string }) => err.code === 'BERTH_E_USAGE', JSON.stringify(options));
  }
});
