import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildQueue, detectApp, discoverBuildEnvironment, discoverSandbox, runBuild, DEFAULT_BUILD_LIMITS, type BuildLimits } from '../../src/build/index.ts';
import { BerthError } from '../../src/errors.ts';
import { runOnce } from '../../src/runner/index.ts';

const PATH = process.env.PATH;

async function tempDir(t: { after(fn: () => unknown): void }, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Builds `source` (copied into a fresh build folder, as a deploy does) and returns the log. */
async function build(source: string, root: string, cacheDir: string, limits: BuildLimits = DEFAULT_BUILD_LIMITS): Promise<{ dir: string; log: string[] }> {
  const dir = join(root, `build-${readdirSync(root).length}`);
  await cp(source, dir, { recursive: true });
  const plan = await detectApp(dir, await discoverBuildEnvironment(PATH));
  assert.equal(plan.kind, 'processes');
  const log: string[] = [];
  if (plan.kind === 'processes') {
    await runBuild(plan, { dir, cacheDir, env: { PATH: PATH ?? '', HOME: root }, user: null, limits, log: (line) => log.push(line), exec: runOnce }, await discoverSandbox(PATH));
  }
  return { dir, log };
}

/** A Node app whose one dependency is a local package: a real npm ci that needs no network. */
async function nodeAppWithDependency(root: string, version: string): Promise<string> {
  const app = join(root, 'source');
  await rm(app, { recursive: true, force: true });
  await mkdir(join(app, 'vendor', 'greeting'), { recursive: true });
  await writeFile(join(app, 'vendor', 'greeting', 'package.json'), JSON.stringify({ name: 'greeting', version, main: 'index.js' }));
  await writeFile(join(app, 'vendor', 'greeting', 'index.js'), `module.exports = 'hello ${version}';`);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', scripts: { start: 'node server.js' }, dependencies: { greeting: 'file:vendor/greeting' } }));
  await writeFile(join(app, 'server.js'), '');
  execFileSync('npm', ['install', '--package-lock-only', '--no-audit', '--no-fund'], { cwd: app, stdio: 'ignore', env: { ...process.env, npm_config_cache: join(root, 'npm-cache') } });
  return app;
}

test('an unchanged lockfile restores node_modules from the build cache instead of installing; a changed one installs and replaces the entry', { timeout: 120_000 }, async (t) => {
  const root = await tempDir(t, 'berth-builder-');
  const cacheDir = join(root, 'cache');
  const source = await nodeAppWithDependency(root, '1.0.0');

  const first = await build(source, root, cacheDir);
  assert.ok(first.log.includes('running npm ci --no-audit --no-fund'), first.log.join('\n'));
  assert.equal(await readFile(join(first.dir, 'node_modules', 'greeting', 'index.js'), 'utf8'), "module.exports = 'hello 1.0.0';");
  const entries = readdirSync(cacheDir).filter((name) => name.startsWith('node_modules-'));
  assert.equal(entries.length, 1, 'one cache entry');

  const second = await build(source, root, cacheDir);
  assert.ok(!second.log.some((line) => line.startsWith('running npm')), `npm did not run again:\n${second.log.join('\n')}`);
  assert.match(second.log.join('\n'), /inputs unchanged, node_modules restored from the build cache/);
  assert.ok(existsSync(join(second.dir, 'node_modules', 'greeting', 'index.js')), 'the restored tree is complete');
  await writeFile(join(second.dir, 'node_modules', 'greeting', 'index.js'), 'tampered');
  const third = await build(source, root, cacheDir);
  assert.equal(await readFile(join(third.dir, 'node_modules', 'greeting', 'index.js'), 'utf8'), "module.exports = 'hello 1.0.0';", 'a release writing into its node_modules does not reach the cache');

  const changed = await nodeAppWithDependency(root, '2.0.0');
  const fourth = await build(changed, root, cacheDir);
  assert.ok(fourth.log.includes('running npm ci --no-audit --no-fund'), 'a new lockfile installs');
  assert.equal(await readFile(join(fourth.dir, 'node_modules', 'greeting', 'index.js'), 'utf8'), "module.exports = 'hello 2.0.0';");
  const after = readdirSync(cacheDir).filter((name) => name.startsWith('node_modules-'));
  assert.equal(after.length, 1, 'the old entry is gone');
  assert.notDeepEqual(after, entries);
});

test('a build step runs niced, and one that outruns its deadline is stopped with BERTH_E_BUILD_LIMIT', { timeout: 60_000 }, async (t) => {
  const root = await tempDir(t, 'berth-builder-');
  const source = join(root, 'source');
  await mkdir(source);
  await writeFile(join(source, 'Procfile'), 'web: true\nbuild: python3 -c "import os; print(\'niceness\', os.nice(0))"\n');
  const niced = await build(source, root, join(root, 'cache'));
  assert.ok(niced.log.includes('niceness 10'), niced.log.join('\n'));

  await writeFile(join(source, 'Procfile'), 'web: true\nbuild: sleep 30\n');
  const started = Date.now();
  await assert.rejects(build(source, root, join(root, 'cache'), { ...DEFAULT_BUILD_LIMITS, timeoutMs: 300 }), (err: BerthError) => {
    assert.equal(err.code, 'BERTH_E_BUILD_LIMIT');
    assert.match(err.message, /took longer than 0 s and was stopped during build: sleep 30/);
    assert.match(err.hint ?? '', /--build-timeout/);
    return true;
  });
  assert.ok(Date.now() - started < 20_000, 'stopped, not waited for');
});

test('a build process that exceeds the memory limit fails with BERTH_E_BUILD_LIMIT, naming the limit', { timeout: 60_000 }, async (t) => {
  const root = await tempDir(t, 'berth-builder-');
  const source = join(root, 'source');
  await mkdir(source);
  await writeFile(join(source, 'Procfile'), 'web: true\nbuild: python3 -c "bytearray(512 * 1024 * 1024)"\n');
  await assert.rejects(build(source, root, join(root, 'cache'), { ...DEFAULT_BUILD_LIMITS, memoryBytes: 128 * 1024 * 1024 }), (err: BerthError) => {
    assert.equal(err.code, 'BERTH_E_BUILD_LIMIT', err.message);
    assert.match(err.message, /ran out of memory \(the build limit is 128 MiB per process\)/);
    assert.match(err.hint ?? '', /--build-memory/);
    return true;
  });
  // Within the limit the same step succeeds.
  await writeFile(join(source, 'Procfile'), 'web: true\nbuild: python3 -c "bytearray(16 * 1024 * 1024)"\n');
  await build(source, root, join(root, 'cache'), { ...DEFAULT_BUILD_LIMITS, memoryBytes: 128 * 1024 * 1024 });
});

test('a failing build step is BERTH_E_INSTALL with its exit code', { timeout: 30_000 }, async (t) => {
  const root = await tempDir(t, 'berth-builder-');
  const source = join(root, 'source');
  await mkdir(source);
  await writeFile(join(source, 'Procfile'), 'web: true\nbuild: python3 -c "import sys; print(\'broken\'); sys.exit(3)"\n');
  await assert.rejects(build(source, root, join(root, 'cache')), (err: BerthError) => err.code === 'BERTH_E_INSTALL' && /exit code 3/.test(err.message));
});

test('the build queue runs one build at a time, first come first served, and tells a waiting build how many are ahead', async () => {
  const queue = new BuildQueue(1);
  const order: string[] = [];
  const waits: Array<[string, number]> = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const a = queue.run(async () => {
    order.push('a start');
    await gate;
    order.push('a end');
  });
  const b = queue.run(async () => void order.push('b'), (ahead) => waits.push(['b', ahead]));
  const c = queue.run(async () => {
    order.push('c');
    throw new Error('c failed');
  }, (ahead) => waits.push(['c', ahead]));
  const d = queue.run(async () => void order.push('d'), (ahead) => waits.push(['d', ahead]));
  assert.deepEqual(waits, [['b', 1], ['c', 2], ['d', 3]]);
  assert.equal(queue.waiting, 3);
  release();
  await Promise.all([a, b, c.catch(() => {}), d]);
  assert.deepEqual(order, ['a start', 'a end', 'b', 'c', 'd'], 'a failure hands the slot on');
  assert.equal(queue.running, 0);
  const two = new BuildQueue(2);
  let concurrent = 0;
  let peak = 0;
  await Promise.all(Array.from({ length: 5 }, () => two.run(async () => {
    peak = Math.max(peak, ++concurrent);
    await new Promise((resolve) => setTimeout(resolve, 5));
    concurrent--;
  })));
  assert.equal(peak, 2);
  assert.throws(() => new BuildQueue(0), RangeError);
});
