// The v2 driver against a fake /sys/fs/cgroup (fake-cgroup2.ts): this
// machine's cgroup2 mount is hybrid and holds no controllers, so v2 is
// proven here and by the pure functions (cgroup-files.test.ts); v1 runs
// for real in cgroups.test.ts.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectCgroups, NO_LIMITS, type CgroupDriver } from '../../src/sandbox/index.ts';
import { isBerthError } from '../../src/errors.ts';
import { parentCpuWeight } from '../../src/sandbox/cgroup-files.ts';
import { FakeCgroup2, V2_MOUNTINFO, type FakeFeatures } from './fake-cgroup2.ts';

const SERVICE = '/system.slice/berth.service';

interface Scene {
  readonly fake: FakeCgroup2;
  readonly driver: CgroupDriver;
  /** The directory of berth's service group in the fake tree. */
  readonly own: string;
}

async function scene(t: TestContext, options: { features?: Partial<FakeFeatures>; procs?: number[]; cgroup?: string; controllers?: string } = {}): Promise<Scene> {
  const root = await mkdtemp(join(tmpdir(), 'berth-fake-cgroup2-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const fake = new FakeCgroup2(root, options.features);
  await fake.layOut(SERVICE, options.procs ?? [process.pid], options.controllers);
  const detection = await detectCgroups({ rootName: 'berth/3f2a9c', mountRoot: root, fs: fake, proc: { mountinfo: V2_MOUNTINFO, cgroup: `0::${options.cgroup ?? SERVICE}\n` } });
  assert.equal(detection.reason, null);
  assert.ok(detection.driver !== null);
  return { fake, driver: detection.driver, own: `${root}${SERVICE}` };
}

/** A real child (sleep) to put into fake groups: the fake's cgroup.procs lists only pids that run. */
function sleeper(t: TestContext): ChildProcess {
  const child = spawn('sleep', ['300'], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  return child;
}

async function exited(child: ChildProcess): Promise<string | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.signalCode;
  return new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
}

const read = (path: string) => readFile(path, 'utf8');

test('v2: a group gets its limits in memory.max, memory.swap.max, cpu.max and pids.max, after berth moved itself into its leaf', async (t) => {
  const other = sleeper(t);
  const { fake, driver, own } = await scene(t, { procs: [process.pid, other.pid!] });
  assert.equal(driver.version, 2);
  const group = await driver.create('shop/web.1-3f2a', { memoryBytes: 64 * 1024 * 1024, cpu: 0.2, processes: 20 });
  assert.equal(group.name, 'shop/web.1-3f2a');

  // berth's service group held berth (and what it started): moved into the leaf before the controllers were passed down.
  assert.deepEqual(await fake.procsOf(SERVICE), []);
  assert.deepEqual(await fake.procsOf(`${SERVICE}/berth-daemon`), [process.pid, other.pid!].sort((a, b) => a - b));
  for (const dir of [own, `${own}/berth`, `${own}/berth/3f2a9c`, `${own}/berth/3f2a9c/shop`]) {
    assert.equal(await read(`${dir}/cgroup.subtree_control`), 'memory cpu pids', dir);
  }
  const leaf = `${own}/berth/3f2a9c/shop/web.1-3f2a`;
  assert.equal(await read(`${leaf}/memory.max`), '67108864');
  assert.equal(await read(`${leaf}/memory.swap.max`), '0');
  assert.equal(await read(`${leaf}/cpu.max`), '20000 100000');
  assert.equal(await read(`${leaf}/pids.max`), '20');
  // The leaf passes nothing down: the sandbox's processes go in it.
  assert.equal(await read(`${leaf}/cgroup.subtree_control`), '');
  // Every directory berth made: traversable, not listable, not writable by anyone but root.
  for (const dir of [`${own}/berth`, `${own}/berth/3f2a9c`, `${own}/berth/3f2a9c/shop`, leaf]) assert.equal((await stat(dir)).mode & 0o777, 0o711, dir);

  // In order: the service group's controllers failed (EBUSY) until berth was in its leaf, then the path down (the groups above
  // sandboxes weighing as the machine's cores), then the limits.
  const WEIGHT = parentCpuWeight(2, availableParallelism()).value;
  assert.deepEqual(fake.writes.map(([path, value]) => `${path}=${value}`), [
    `system.slice/berth.service/berth-daemon/cgroup.procs=${Math.min(process.pid, other.pid!)}`,
    `system.slice/berth.service/berth-daemon/cgroup.procs=${Math.max(process.pid, other.pid!)}`,
    'system.slice/berth.service/cgroup.subtree_control=+memory +cpu +pids',
    'system.slice/berth.service/berth/cgroup.subtree_control=+memory +cpu +pids',
    `system.slice/berth.service/berth/cpu.weight=${WEIGHT}`,
    'system.slice/berth.service/berth/3f2a9c/cgroup.subtree_control=+memory +cpu +pids',
    `system.slice/berth.service/berth/3f2a9c/cpu.weight=${WEIGHT}`,
    'system.slice/berth.service/berth/3f2a9c/shop/cgroup.subtree_control=+memory +cpu +pids',
    `system.slice/berth.service/berth/3f2a9c/shop/cpu.weight=${WEIGHT}`,
    'system.slice/berth.service/berth/3f2a9c/shop/web.1-3f2a/memory.max=67108864',
    'system.slice/berth.service/berth/3f2a9c/shop/web.1-3f2a/memory.swap.max=0',
    'system.slice/berth.service/berth/3f2a9c/shop/web.1-3f2a/cpu.max=20000 100000',
    'system.slice/berth.service/berth/3f2a9c/shop/web.1-3f2a/pids.max=20',
  ]);

  // A second group: nothing to move, nothing to enable again.
  fake.writes.length = 0;
  await driver.create('shop/web.2-9c1d', NO_LIMITS);
  assert.deepEqual(fake.writes.map(([path, value]) => `${path}=${value}`), [
    'system.slice/berth.service/berth/3f2a9c/shop/web.2-9c1d/memory.max=max',
    'system.slice/berth.service/berth/3f2a9c/shop/web.2-9c1d/memory.swap.max=max',
    'system.slice/berth.service/berth/3f2a9c/shop/web.2-9c1d/cpu.max=max 100000',
    'system.slice/berth.service/berth/3f2a9c/shop/web.2-9c1d/pids.max=max',
  ]);
});

test('v2: berth already in its leaf (a restart) makes its groups beside it and moves nothing', async (t) => {
  const { fake, driver, own } = await scene(t, { procs: [], cgroup: `${SERVICE}/berth-daemon` });
  // The daemon leaf of the previous start, as the kernel would show it.
  await fake.mkdir(`${own}/berth-daemon`);
  await fake.write(`${own}/berth-daemon/cgroup.procs`, String(process.pid));
  fake.writes.length = 0;
  await driver.create('shop/web.1', NO_LIMITS);
  assert.ok(existsSync(`${own}/berth/3f2a9c/shop/web.1`));
  assert.ok(!existsSync(`${own}/berth-daemon/berth`));
  assert.ok(!fake.writes.some(([path]) => path.endsWith('cgroup.procs')));
});

test('v2: no memory.swap.max without swap accounting, no memory.peak before 5.19', async (t) => {
  const { fake, driver, own } = await scene(t, { features: { swap: false, peak: false } });
  const group = await driver.create('shop/web.1', { memoryBytes: 1 << 30, cpu: 2, processes: null });
  const leaf = `${own}/berth/3f2a9c/shop/web.1`;
  assert.equal(await read(`${leaf}/memory.max`), '1073741824');
  assert.equal(await read(`${leaf}/cpu.max`), '200000 100000');
  assert.ok(!fake.writes.some(([path]) => path.endsWith('memory.swap.max')));
  const usage = await group.usage();
  assert.equal(usage.memoryPeakBytes, null);
});

test('v2: usage from memory.current, memory.peak, cpu.stat, pids.current and memory.events', async (t) => {
  const { driver, own } = await scene(t);
  const group = await driver.create('shop/web.1', NO_LIMITS);
  const leaf = `${own}/berth/3f2a9c/shop/web.1`;
  await writeFile(`${leaf}/memory.current`, '5242880\n');
  await writeFile(`${leaf}/memory.peak`, '67108864\n');
  await writeFile(`${leaf}/cpu.stat`, 'usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n');
  await writeFile(`${leaf}/pids.current`, '3\n');
  await writeFile(`${leaf}/memory.events`, 'low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\noom_group_kill 0\n');
  assert.deepEqual(await group.usage(), { memoryBytes: 5242880, memoryPeakBytes: 67108864, cpuSeconds: 2.5, processes: 3, oomKills: 1 });
});

test('v2: add writes the pid to the group; killAll uses cgroup.kill; remove prunes the empty parents and nothing else', async (t) => {
  const { fake, driver, own } = await scene(t);
  const group = await driver.create('shop/web.1', NO_LIMITS);
  const neighbour = await driver.create('shop/web.2', NO_LIMITS);
  const a = sleeper(t);
  const b = sleeper(t);
  await group.add(a.pid!);
  await group.add(b.pid!);
  assert.deepEqual(await group.pids(), [a.pid!, b.pid!].sort((x, y) => x - y));
  assert.deepEqual(await neighbour.pids(), []);

  assert.deepEqual(await group.killAll(), []);
  assert.ok(fake.writes.some(([path, value]) => path.endsWith('shop/web.1/cgroup.kill') && value === '1'));
  assert.equal(await exited(a), 'SIGKILL');
  assert.equal(await exited(b), 'SIGKILL');

  await group.remove();
  assert.ok(!existsSync(`${own}/berth/3f2a9c/shop/web.1`));
  assert.ok(existsSync(`${own}/berth/3f2a9c/shop/web.2`), 'the neighbour and its parents stay');
  await group.remove(); // idempotent
  await neighbour.remove();
  assert.ok(!existsSync(`${own}/berth`), 'the empty parents went with the last group');
  assert.ok(existsSync(`${own}/berth-daemon`), "berth's own leaf stays");
  assert.deepEqual(await driver.list(''), []);
});

test('v2 without cgroup.kill (before 5.14): frozen, SIGKILLed, thawed', async (t) => {
  const { fake, driver } = await scene(t, { features: { kill: false } });
  const group = await driver.create('shop/web.1', NO_LIMITS);
  const child = sleeper(t);
  await group.add(child.pid!);
  assert.deepEqual(await group.killAll(), []);
  assert.equal(await exited(child), 'SIGKILL');
  const freezes = fake.writes.filter(([path]) => path.endsWith('cgroup.freeze')).map(([, value]) => value);
  assert.deepEqual(freezes, ['1', '0']);
});

test('v2: list and open find what a crash left; create kills what runs there and makes the group anew (its counters at 0)', async (t) => {
  const { driver, own } = await scene(t);
  await driver.create('shop/web.1', NO_LIMITS);
  await driver.create('shop/web.2', NO_LIMITS);
  await driver.create('blog/worker.1', NO_LIMITS);
  const stray = sleeper(t);
  await (await driver.open('shop/web.1'))!.add(stray.pid!);

  // A new daemon on the same state: its driver sees the groups.
  const again = await detectAgain(own);
  assert.deepEqual(await again.list(''), ['blog', 'shop', 'blog/worker.1', 'shop/web.1', 'shop/web.2']);
  assert.deepEqual(await again.list('shop'), ['shop/web.1', 'shop/web.2']);
  assert.equal(await again.open('shop/web.9'), null);
  const reopened = await again.open('shop/web.1');
  assert.deepEqual(await reopened?.pids(), [stray.pid!]);

  // The crashed run's sandbox was OOM-killed once: the new sandbox's count starts at 0.
  await writeFile(`${own}/berth/3f2a9c/shop/web.1/memory.events`, 'low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n');
  const reused = await again.create('shop/web.1', { memoryBytes: 1 << 20, cpu: null, processes: null });
  assert.equal(await exited(stray), 'SIGKILL', 'what ran in it was killed before reuse');
  assert.deepEqual(await reused.pids(), []);
  assert.equal((await reused.usage()).oomKills, 0);
  assert.equal(await read(`${own}/berth/3f2a9c/shop/web.1/memory.max`), '1048576');
});

/** A second driver over the same fake tree (the scene's first driver stays valid). */
async function detectAgain(own: string): Promise<CgroupDriver> {
  const root = own.slice(0, -SERVICE.length);
  const fake = new FakeCgroup2(root);
  const detection = await detectCgroups({ rootName: 'berth/3f2a9c', mountRoot: root, fs: fake, proc: { mountinfo: V2_MOUNTINFO, cgroup: `0::${SERVICE}/berth-daemon\n` } });
  assert.ok(detection.driver !== null);
  return detection.driver;
}

test('v2: a group below berth\'s that holds processes is an error, never emptied by berth', async (t) => {
  const { fake, driver, own } = await scene(t);
  await driver.create('shop/web.1', NO_LIMITS);
  // Someone put a process into the app's intermediate group (its child gone and its controllers off, so the kernel lets them).
  const intruder = sleeper(t);
  await fake.rmdir(`${own}/berth/3f2a9c/shop/web.1`);
  await writeFile(`${own}/berth/3f2a9c/shop/cgroup.subtree_control`, '');
  await fake.write(`${own}/berth/3f2a9c/shop/cgroup.procs`, String(intruder.pid!));
  await assert.rejects(driver.create('shop/web.2', NO_LIMITS), (err) => isBerthError(err) && err.code === 'BERTH_E_CGROUP' && /EBUSY/.test(err.message));
  assert.deepEqual(await fake.procsOf(`${SERVICE}/berth/3f2a9c/shop`), [intruder.pid!]);
  assert.ok(!existsSync(`${own}/berth/3f2a9c/shop/web.2`));
});

test('v2: a limit the kernel refuses leaves no group behind and names the file', async (t) => {
  const { fake, driver, own } = await scene(t);
  fake.refuse.set('system.slice/berth.service/berth/3f2a9c/shop/web.1/pids.max', 'EINVAL');
  await assert.rejects(driver.create('shop/web.1', { memoryBytes: null, cpu: null, processes: 100 }), (err) => {
    assert.ok(isBerthError(err));
    assert.equal(err.code, 'BERTH_E_CGROUP');
    assert.match(err.message, /cannot write 100 to .*shop\/web\.1\/pids\.max: EINVAL/);
    return true;
  });
  assert.ok(!existsSync(`${own}/berth`));
});

test('v2: bad names and limits are refused before anything is made', async (t) => {
  const { driver, own } = await scene(t);
  for (const name of ['', '../escape', 'shop/../../x', 'memory.max', 'shop/cgroup.procs']) {
    await assert.rejects(driver.create(name, NO_LIMITS), (err) => isBerthError(err) && err.code === 'BERTH_E_CGROUP', name);
  }
  await assert.rejects(driver.create('shop/web.1', { memoryBytes: -1, cpu: null, processes: null }), /memory must be/);
  await assert.rejects(driver.list('..'), (err) => isBerthError(err) && err.code === 'BERTH_E_CGROUP');
  assert.ok(!existsSync(`${own}/berth`));
});

test('v2 detection: a service without the controllers delegated is no driver, with a reason naming Delegate=yes', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-fake-cgroup2-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const fake = new FakeCgroup2(root);
  await fake.layOut(SERVICE, [process.pid], 'cpu io');
  const detection = await detectCgroups({ rootName: 'berth/x', mountRoot: root, fs: fake, proc: { mountinfo: V2_MOUNTINFO, cgroup: `0::${SERVICE}\n` } });
  assert.equal(detection.driver, null);
  assert.match(detection.reason ?? '', /cgroup v2: berth's group \/system\.slice\/berth\.service has no memory, pids controller \(with systemd, give berth's service Delegate=yes\)/);
  assert.match(detection.reason ?? '', /cgroup v1: no mounted hierarchy/);
  await assert.rejects(detectCgroups({ rootName: '../x', mountRoot: root, fs: fake, proc: { mountinfo: V2_MOUNTINFO, cgroup: '0::/\n' } }), /not a cgroup root name/);
});
