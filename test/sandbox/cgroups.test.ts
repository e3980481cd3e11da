// The driver on this machine's real cgroups, as root (v1 here: memory, cpu,
// cpuacct, pids and freezer hierarchies; the v2 path is proven on a fake
// tree in cgroups-v2.test.ts). Every group is removed when a test ends.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { detectCgroups, NO_LIMITS } from '../../src/sandbox/index.ts';
import { isBerthError } from '../../src/errors.ts';
import { parentCpuWeight, parseMountinfo, parseProcCgroup, planV2 } from '../../src/sandbox/cgroup-files.ts';
import { availableParallelism } from 'node:os';
import { groupDirs, realCgroups, running, startIn, type RealCgroups } from './real-cgroups.ts';

const PYTHON = '/usr/bin/python3';
const LIMITS = { memoryBytes: 64 * 1024 * 1024, cpu: 0.2, processes: 20 };

/** The file `file` of group `name`, in whichever hierarchy has it. */
async function controlFile(cgroups: RealCgroups, name: string, file: string): Promise<string> {
  for (const dir of groupDirs(cgroups, name)) if (existsSync(`${dir}/${file}`)) return readFile(`${dir}/${file}`, 'utf8');
  throw new Error(`no ${file} in ${name}`);
}

test('detection on this machine: v2 when berth\'s unified group has memory, cpu and pids, else v1 (here: hybrid, so v1)', async () => {
  const detection = await detectCgroups({ rootName: 'berth-test/detect' });
  assert.equal(detection.reason, null);
  const v2 = planV2(parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8')), parseProcCgroup(await readFile('/proc/self/cgroup', 'utf8')));
  const unified = v2.ok ? (await readFile(`${v2.value.ownDir}/cgroup.controllers`, 'utf8')).split(/\s+/) : [];
  const expected = ['memory', 'cpu', 'pids'].every((c) => unified.includes(c)) ? 2 : 1;
  assert.equal(detection.driver?.version, expected);
});

test('a group gets its limits in the kernel\'s files; its folders and files are root\'s, and nobody else may write them', async (t) => {
  const cgroups = await realCgroups(t);
  await cgroups.driver.create('shop/web.1-3f2a', LIMITS);
  const value = async (file: string) => (await controlFile(cgroups, 'shop/web.1-3f2a', file)).trim();
  if (cgroups.driver.version === 1) {
    assert.equal(await value('memory.limit_in_bytes'), '67108864');
    if (existsSync(`${groupDirs(cgroups, 'shop/web.1-3f2a')[0]}/memory.memsw.limit_in_bytes`)) assert.equal(await value('memory.memsw.limit_in_bytes'), '67108864');
    assert.match(await value('memory.oom_control'), /^oom_kill_disable 0$/m);
    assert.equal(await value('memory.swappiness'), '0');
    assert.equal(await value('cpu.cfs_period_us'), '100000');
    assert.equal(await value('cpu.cfs_quota_us'), '20000');
  } else {
    assert.equal(await value('memory.max'), '67108864');
    assert.equal(await value('cpu.max'), '20000 100000');
  }
  assert.equal(await value('pids.max'), '20');
  // The groups above the sandbox weigh as the machine's cores, not as one process.
  const weight = parentCpuWeight(cgroups.driver.version, availableParallelism());
  for (const name of ['', 'shop']) assert.equal((await controlFile(cgroups, name, weight.file)).trim(), weight.value, `${name || 'the root'}'s ${weight.file}`);

  for (const dir of [...groupDirs(cgroups, ''), ...groupDirs(cgroups, 'shop'), ...groupDirs(cgroups, 'shop/web.1-3f2a')]) {
    const st = await stat(dir);
    assert.equal(st.uid, 0, dir);
    assert.equal(st.mode & 0o777, 0o711, `${dir}: traversable, not listable, not writable but by root`);
    for (const name of await readdir(dir, { withFileTypes: true })) {
      if (name.isDirectory()) continue;
      const file = await stat(`${dir}/${name.name}`);
      assert.equal(file.uid, 0, `${dir}/${name.name}`);
      assert.equal(file.mode & 0o022, 0, `${dir}/${name.name} is writable by others`);
    }
  }
});

test('a memory hog over its limit is OOM-killed, and oomKills counts it', async (t) => {
  const cgroups = await realCgroups(t);
  const group = await cgroups.driver.create('hog/web.1', LIMITS);
  const hog = await startIn(t, group, [PYTHON, '-c', "a = [b'x' * (1 << 20) for _ in range(256)]\nprint('survived', flush=True)"]);
  const end = await hog.ended;
  assert.deepEqual(end, { code: null, signal: 'SIGKILL' });
  assert.equal(await hog.output, '');
  const usage = await group.usage();
  assert.equal(usage.oomKills, 1);
  assert.ok(usage.memoryPeakBytes !== null && usage.memoryPeakBytes <= LIMITS.memoryBytes, `peak ${usage.memoryPeakBytes}`);
  assert.ok(usage.memoryPeakBytes > LIMITS.memoryBytes / 2, 'it did reach its limit');

  // The same name made again (a daemon restart) is a new group: the next sandbox's count starts at 0.
  const next = await cgroups.driver.create('hog/web.1', LIMITS);
  assert.deepEqual({ oomKills: (await next.usage()).oomKills, peak: (await next.usage()).memoryPeakBytes }, { oomKills: 0, peak: 0 });
});

test('a fork loop stops at the process limit: fork fails with EAGAIN', async (t) => {
  const cgroups = await realCgroups(t);
  const group = await cgroups.driver.create('forks/web.1', LIMITS);
  const script = [
    'import errno, os, time',
    'n = 0',
    'try:',
    '    while n < 500:',
    '        if os.fork() == 0:',
    '            time.sleep(300)',
    '            os._exit(0)',
    '        n += 1',
    "    print(n, 'none', flush=True)",
    'except OSError as e:',
    '    print(n, errno.errorcode.get(e.errno, e.errno), flush=True)',
    'time.sleep(300)',
  ].join('\n');
  const forks = await startIn(t, group, [PYTHON, '-c', script]);
  const [children, error] = (await forks.firstLine).split(' ');
  assert.equal(error, 'EAGAIN');
  // The parent and its children fill the limit exactly.
  assert.equal(Number(children) + 1, LIMITS.processes);
  assert.equal((await group.usage()).processes, LIMITS.processes);
  assert.equal((await group.pids()).length, LIMITS.processes);
  assert.deepEqual(await group.killAll(), []);
  assert.equal((await forks.ended).signal, 'SIGKILL');
});

test('a CPU spin gets about its share: well below one core', async (t) => {
  const cgroups = await realCgroups(t);
  const group = await cgroups.driver.create('spin/web.1', LIMITS);
  const spin = await startIn(t, group, [PYTHON, '-c', 'while True: pass']);
  const before = (await group.usage()).cpuSeconds;
  const start = performance.now();
  // The measurement window itself: two seconds of wall time.
  await sleep(2_000);
  const used = (await group.usage()).cpuSeconds - before;
  const perSecond = used / ((performance.now() - start) / 1000);
  t.diagnostic(`CPU s/s: ${perSecond.toFixed(3)}`);
  assert.ok(perSecond > 0.02, `it ran: ${perSecond.toFixed(3)} CPU s/s`);
  assert.ok(perSecond < 0.4, `held near 0.2 of a core, far below 1: ${perSecond.toFixed(3)} CPU s/s`);
  assert.deepEqual(await group.killAll(), []);
  assert.equal((await spin.ended).signal, 'SIGKILL');
});

test('killAll ends a process tree, a double-forked process (re-parented, its own session) included', async (t) => {
  const cgroups = await realCgroups(t);
  const group = await cgroups.driver.create('tree/web.1', NO_LIMITS);
  const tree = await startIn(t, group, ['/bin/sh', '-c', 'sleep 300 & (setsid sleep 300 & echo $!); exec sleep 300']);
  const orphan = Number(await tree.firstLine);
  // sh (now sleep), its child sleep and the orphan.
  for (const deadline = Date.now() + 10_000; (await group.pids()).length !== 3 && Date.now() < deadline; ) await sleep(10);
  const pids = await group.pids();
  assert.equal(pids.length, 3);
  assert.ok(pids.includes(orphan) && pids.includes(tree.pid));
  assert.notEqual(await readFile(`/proc/${orphan}/stat`, 'utf8').then((s) => s.split(') ')[1]?.split(' ')[1]), String(tree.pid), 'the orphan left its parent');

  assert.deepEqual(await group.killAll(), []);
  assert.deepEqual(await group.pids(), []);
  for (const pid of pids) assert.equal(await running(pid), false, `${pid} still runs`);
  assert.equal((await tree.ended).signal, 'SIGKILL');
});

test('remove leaves nothing; list and open find what a crash left; create kills what runs in such a group and makes it anew', async (t) => {
  const cgroups = await realCgroups(t);
  const { driver } = cgroups;
  await driver.create('shop/web.1', NO_LIMITS);
  const left = await driver.create('shop/web.2', NO_LIMITS);
  await driver.create('blog/worker.1', NO_LIMITS);
  const stray = await startIn(t, left, ['sleep', '300']);

  // The daemon "crashed": a new driver on the same root finds every group.
  const again = (await detectCgroups({ rootName: cgroups.rootName })).driver;
  assert.ok(again !== null);
  assert.deepEqual(await again.list(''), ['blog', 'shop', 'blog/worker.1', 'shop/web.1', 'shop/web.2']);
  assert.deepEqual(await again.list('shop'), ['shop/web.1', 'shop/web.2']);
  assert.equal(await again.open('shop/web.3'), null);
  assert.deepEqual(await (await again.open('shop/web.2'))?.pids(), [stray.pid]);

  const reused = await again.create('shop/web.2', LIMITS);
  assert.equal((await stray.ended).signal, 'SIGKILL', 'what ran there was killed before the group was reused');
  assert.deepEqual(await reused.pids(), []);
  assert.equal((await controlFile(cgroups, 'shop/web.2', 'pids.max')).trim(), '20');

  for (const name of (await again.list('')).reverse()) await (await again.open(name))?.remove();
  assert.deepEqual(await again.list(''), []);
  for (const dir of groupDirs(cgroups, '')) assert.equal(existsSync(dir), false, `${dir} is left`);
  await reused.remove(); // gone already: fine
});

test('remove of a group that still holds a process is BERTH_E_CGROUP naming the pid, and the group stays', async (t) => {
  const cgroups = await realCgroups(t);
  const group = await cgroups.driver.create('busy/web.1', NO_LIMITS);
  const sleeper = await startIn(t, group, ['sleep', '300']);
  await assert.rejects(group.remove(), (err) => {
    assert.ok(isBerthError(err));
    assert.equal(err.code, 'BERTH_E_CGROUP');
    assert.match(err.message, new RegExp(`cannot remove the group busy/web\\.1: it still holds processes ${sleeper.pid}: EBUSY`));
    return true;
  });
  assert.deepEqual(await group.pids(), [sleeper.pid]);
  assert.deepEqual(await group.killAll(), []);
  await group.remove();
  assert.equal(await cgroups.driver.open('busy/web.1'), null);
});

test('add of a process that is gone is BERTH_E_CGROUP', async (t) => {
  const cgroups = await realCgroups(t);
  const group = await cgroups.driver.create('gone/web.1', NO_LIMITS);
  await assert.rejects(group.add(2 ** 22 + 1), (err) => isBerthError(err) && err.code === 'BERTH_E_CGROUP');
  await assert.rejects(group.add(0), (err) => isBerthError(err) && /not a pid/.test(err.message));
});
