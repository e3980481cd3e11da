import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAppConfig } from '../../src/build/index.ts';
import { DEFAULT_INSTANCE_LIMITS, instanceLimits, outOfMemoryMessage } from '../../src/sandbox/limits-policy.ts';
import { formatBytes } from '../../src/units.ts';

const MIB = 1024 * 1024;

test('[resources] sets limits for every type and [resources.TYPE] for one; sizes in any binary spelling', () => {
  const config = parseAppConfig('[resources]\nmemory = "256m"\ncpu = 0.5\n[resources.worker]\nmemory = "1Gi"\nprocesses = 64\n');
  assert.deepEqual(config.resources, { all: { memoryBytes: 256 * MIB, cpu: 0.5 }, byType: { worker: { memoryBytes: 1024 * MIB, processes: 64 } } });
  assert.deepEqual(instanceLimits(DEFAULT_INSTANCE_LIMITS, config.resources, 'web'), { memoryBytes: 256 * MIB, cpu: 0.5, processes: 512 });
  assert.deepEqual(instanceLimits(DEFAULT_INSTANCE_LIMITS, config.resources, 'worker'), { memoryBytes: 1024 * MIB, cpu: 0.5, processes: 64 });
  assert.deepEqual(instanceLimits(DEFAULT_INSTANCE_LIMITS, config.resources, 'worker', { memoryBytes: 2048 * MIB }), { memoryBytes: 2048 * MIB, cpu: 0.5, processes: 64 }, 'berth scale worker=1:2g wins');
  assert.deepEqual(instanceLimits(DEFAULT_INSTANCE_LIMITS, parseAppConfig('').resources, 'web'), DEFAULT_INSTANCE_LIMITS, 'no [resources]: the server defaults');
  assert.deepEqual(instanceLimits({ memoryBytes: null, cpu: null, processes: null }, parseAppConfig('').resources, 'web'), { memoryBytes: null, cpu: null, processes: null });
});

test('[resources] refuses what it cannot honour, naming the key', () => {
  for (const [text, where] of [
    ['[resources]\nmemory = "lots"', /resources\.memory/],
    ['[resources]\nmemory = "1m"', /resources\.memory: at least 16m/],
    ['[resources]\ncpu = 0', /resources\.cpu/],
    ['[resources]\ncpu = 0.001', /at least 0\.01/],
    ['[resources]\nprocesses = 0', /resources\.processes/],
    ['[resources]\nprocesses = 1.5', /resources\.processes/],
    ['[resources]\nswap = "1g"', /resources: unknown key "swap"/],
    ['[resources.web]\nmemroy = "1g"', /resources\.web: unknown key "memroy"/],
    ['[resources]\n"bad name!" = { memory = "1g" }', /unknown key "bad name!"/],
    ['[resources]\nweb = 3', /unknown key "web"/],
  ] as const) {
    assert.throws(() => parseAppConfig(text), (err: Error & { code?: string }) => err.code === 'BERTH_E_APP_CONFIG' && where.test(err.message), text);
  }
});

test('an instance killed for memory is said in words', () => {
  assert.equal(outOfMemoryMessage('web.1', 512 * MIB, 512 * MIB), 'out of memory: web.1 used 512 MiB, its limit');
  assert.equal(outOfMemoryMessage('worker.2', null, 1024 * MIB), 'out of memory: worker.2 used 1.0 GiB, its limit');
  assert.equal(formatBytes(1536 * MIB), '1.5 GiB');
  assert.equal(formatBytes(512), '512 bytes');
});

test('[resources] disk is the whole app’s: any binary spelling, at least 16m, never per process type', () => {
  assert.equal(parseAppConfig('[resources]\ndisk = "2g"\n').resources.diskBytes, 2048 * MIB);
  assert.equal(parseAppConfig('[resources]\ndisk = "512Mi"\nmemory = "256m"\n').resources.diskBytes, 512 * MIB);
  assert.equal(parseAppConfig('').resources.diskBytes, undefined);
  for (const [text, where] of [
    ['[resources]\ndisk = "lots"', /resources\.disk: a size/],
    ['[resources]\ndisk = "1m"', /resources\.disk: at least 16m/],
    ['[resources.web]\ndisk = "1g"', /resources\.web\.disk: the disk is the whole app's/],
  ] as const) {
    assert.throws(() => parseAppConfig(text), (err: Error & { code?: string }) => err.code === 'BERTH_E_APP_CONFIG' && where.test(err.message), text);
  }
});
