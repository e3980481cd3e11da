// berth's sandbox launcher with the real bwrap and real control groups (as
// root): the sandbox's cgroup is made while bwrap starts, not before it, yet
// every process of the sandbox is in it before the program runs; and when
// the cgroup cannot be made, bwrap is ended, the program never ran, and the
// cgroup's own error is what the caller sees.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthError } from '../../src/errors.ts';
import { bindSame, DEFAULT_INSTANCE_LIMITS, defaultSeccompProgram, launchSandboxed, readHostLayout, seccompArch, systemMounts, type CgroupDriver, type CgroupHandle } from '../../src/sandbox/index.ts';
import { realCgroups, running, within } from './real-cgroups.ts';

const NOBODY = { uid: 65534, gid: 65534 };
const TOOLS = { bwrap: '/usr/bin/bwrap', setpriv: '/usr/bin/setpriv', nsenter: '/usr/bin/nsenter' };

/** The pids of processes whose command line contains `marker` (the sandbox's hostname is in bwrap's). */
async function processesWith(marker: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').includes(marker)) found.push(Number(name));
  }
  return found;
}

/** Waits (bounded) until bwrap for the sandbox `hostname` runs; its pid. */
async function bwrapStarted(hostname: string): Promise<number> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 5))) {
    const [pid] = await processesWith(hostname);
    if (pid !== undefined) return pid;
  }
  throw new Error(`no bwrap for ${hostname} within 10 s: the launcher waits for the cgroup before it starts bwrap`);
}

/** The real driver, with a create() that first waits for `before` (and may then fail). */
function waitingDriver(real: CgroupDriver, before: () => Promise<unknown>, fail: Error | null = null): CgroupDriver {
  return {
    version: real.version,
    open: (name) => real.open(name),
    list: (prefix) => real.list(prefix),
    async create(name, limits): Promise<CgroupHandle> {
      await before();
      if (fail !== null) throw fail;
      return real.create(name, limits);
    },
  };
}

async function scene(t: TestContext) {
  assert.equal(process.geteuid?.(), 0, 'the launcher tests run as root');
  const cgroups = await realCgroups(t);
  const dir = await mkdtemp(join(tmpdir(), 'berth-launch-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await chmod(dir, 0o777);
  const arch = seccompArch();
  assert.ok(arch !== null, `berth has a seccomp filter for ${process.arch}`);
  const hostname = `launch-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  const sandbox = { app: 'launchtest', hostname, user: NOBODY, mounts: [...systemMounts(await readHostLayout()), bindSame(dir, true)], netnsPath: null, host: '127.0.0.1', limits: DEFAULT_INSTANCE_LIMITS };
  return { cgroups, dir, hostname, sandbox, seccomp: defaultSeccompProgram(arch) };
}

test('the cgroup is made while bwrap starts, and every process of the sandbox is in it before the program runs', async (t) => {
  const { cgroups, dir, hostname, sandbox, seccomp } = await scene(t);
  let groupName = '';
  const driver = waitingDriver(cgroups.driver, () => bwrapStarted(hostname));
  const tracking: CgroupDriver = { ...driver, version: driver.version, create: async (name, limits) => ((groupName = name), driver.create(name, limits)) };
  // The program's first act is to say it runs; then it stays until the test looked.
  const launched = await within(
    launchSandboxed({ argv: ['/bin/sh', '-c', `echo up > ${dir}/ran; echo up; exec sleep 30`], cwd: dir, env: { PATH: '/usr/bin:/bin' }, user: NOBODY, label: 'web.1' }, sandbox, { tools: TOOLS, cgroups: tracking, seccomp }),
    20_000,
    'the launch',
  );
  t.after(async () => {
    launched.signal('SIGKILL');
    await launched.exited;
    await launched.release();
  });
  let out = '';
  await within(new Promise<void>((resolve) => launched.stdout.on('data', (chunk: Buffer) => ((out += chunk.toString('utf8')), out.includes('up\n') && resolve()))), 10_000, 'the program\'s first line');
  const group = await cgroups.driver.open(groupName);
  assert.ok(group !== null, `the group ${groupName} exists`);
  const inGroup = new Set(await group.pids());
  // bwrap, the sandbox's init and the program (sleep, by now): all of the sandbox's processes, seen from the host.
  const tree = new Set<number>([launched.pid!]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const name of await readdir('/proc')) {
      if (!/^\d+$/.test(name) || tree.has(Number(name))) continue;
      const text = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
      const ppid = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]);
      if (tree.has(ppid)) {
        tree.add(Number(name));
        grew = true;
      }
    }
  }
  assert.ok(tree.size >= 3, `bwrap, its init and the program: ${[...tree].join(', ')}`);
  for (const pid of tree) assert.ok(inGroup.has(pid), `process ${pid} of the sandbox is in its group (${[...inGroup].join(', ')})`);
  assert.equal((await stat(join(dir, 'ran'))).uid, NOBODY.uid, 'the program ran as the app\'s user');
});

test('a cgroup that cannot be made ends bwrap before the program runs, and its error is the launch\'s', async (t) => {
  const { cgroups, dir, hostname, sandbox, seccomp } = await scene(t);
  let bwrapPid = 0;
  const refused = new BerthError('BERTH_E_CGROUP', 'cannot make the group: out of luck', { status: 500 });
  const driver = waitingDriver(cgroups.driver, async () => (bwrapPid = await bwrapStarted(hostname)), refused);
  await assert.rejects(
    within(launchSandboxed({ argv: ['/bin/sh', '-c', `echo up > ${dir}/ran`], cwd: dir, env: { PATH: '/usr/bin:/bin' }, user: NOBODY, label: 'web.1' }, sandbox, { tools: TOOLS, cgroups: driver, seccomp }), 20_000, 'the launch'),
    (err) => err === refused,
  );
  assert.ok(bwrapPid > 0);
  assert.equal(await running(bwrapPid), false, 'bwrap was ended');
  assert.deepEqual(await processesWith(hostname), [], 'nothing of the sandbox is left');
  await assert.rejects(stat(join(dir, 'ran')), { code: 'ENOENT' }, 'the program never ran');
  assert.deepEqual(await cgroups.driver.list(''), [], 'no group was left');
});
