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

test('--build-env-file: KEY=VALUE lines; refused when others can read it, when a line is not KEY=VALUE, or when it sets what berth sets', async (t) => {
  const { mkdtemp, rm, writeFile, chmod } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { readBuildEnvFile } = await import('../../src/cli/build-options.ts');
  const dir = await mkdtemp(join(tmpdir(), 'berth-build-env-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'build.env');
  await writeFile(file, '# the company index\nPIP_INDEX_URL=https://pypi.example.test/simple\nexport NPM_CONFIG_REGISTRY="https://npm.example.test/"\n', { mode: 0o600 });
  assert.deepEqual(await readBuildEnvFile(file), { PIP_INDEX_URL: 'https://pypi.example.test/simple', NPM_CONFIG_REGISTRY: 'https://npm.example.test/' });
  const refused = async (pattern: RegExp) => assert.rejects(readBuildEnvFile(file), (err: Error & { code?: string }) => err.code === 'BERTH_E_USAGE' && pattern.test(err.message));
  await chmod(file, 0o644);
  await refused(/is readable by others \(mode 644\)/);
  await chmod(file, 0o600);
  await writeFile(file, 'JUST_A_NAME\n');
  await refused(/build\.env line 1 is not KEY=VALUE/);
  await writeFile(file, 'PATH=/evil\n');
  await refused(/berth sets PATH itself/);
  await assert.rejects(readBuildEnvFile(join(dir, 'missing')), /cannot be read: ENOENT/);
});
