// The attack: a process of an app, running as an unprivileged user inside
// the control group berth made for its sandbox, tries to get out of its
// limits — raise them, move itself into another group (its parent, the
// hierarchy's root, a neighbour's), make a group of its own, remove or
// re-mode groups — and to learn about its neighbours by listing berth's
// groups. It finds its groups the way any process can, from
// /proc/self/cgroup and /proc/self/mountinfo. The boundary: every write
// is refused, its limits and its place stay as berth set them, and it
// reads nothing beyond what the kernel's file modes give everyone.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { groupDirs, realCgroups, startIn, within } from '../sandbox/real-cgroups.ts';

const NOBODY = 65534;
/** Another app's user (any uid not root's will do). */
const NEIGHBOUR_UID = 65533;
/** The files that hold a group's limits, v1 and v2 (those present are compared before and after). */
const LIMIT_FILES = ['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes', 'memory.oom_control', 'memory.swappiness', 'cpu.cfs_period_us', 'cpu.cfs_quota_us', 'pids.max', 'freezer.state', 'memory.max', 'memory.swap.max', 'cpu.max', 'cgroup.subtree_control', 'notify_on_release'];

// The attacker, in Python (Debian's, readable by any user). Prints one JSON object: attempt → "ok" or the errno's name.
const ATTACK = String.raw`
import errno, json, os, sys
given = json.loads(sys.argv[1])
results = {}
def attempt(label, action):
    try:
        action()
        results[label] = 'ok'
    except OSError as e:
        results[label] = errno.errorcode.get(e.errno, str(e.errno))
def write(path, value):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)
def read(path):
    with open(path) as f:
        f.read()

# Its own groups, found as any process finds them.
mounts = []
for line in open('/proc/self/mountinfo'):
    f = line.split()
    sep = f.index('-')
    mounts.append((f[4], f[sep + 1], f[sep + 3].split(','), f[3]))
own = {}
for line in open('/proc/self/cgroup'):
    hid, ctrls, path = line.rstrip('\n').split(':', 2)
    if path == '/':
        continue  # a hierarchy nobody put it in a group of (it is at the root already)
    for point, fstype, opts, root in mounts:
        if root == '/' and ((ctrls == '' and fstype == 'cgroup2') or (ctrls != '' and fstype == 'cgroup' and set(ctrls.split(',')) <= set(opts))):
            own[ctrls or 'unified'] = point + (path if path != '/' else '')
me = str(os.getpid())
for key, d in own.items():
    # Raise its own limits (v1 and v2 names; only those that exist count).
    for name, value in [('memory.limit_in_bytes', '-1'), ('memory.memsw.limit_in_bytes', '-1'), ('memory.oom_control', '1'),
                        ('cpu.cfs_quota_us', '-1'), ('cpu.cfs_period_us', '1000000'), ('pids.max', 'max'), ('freezer.state', 'THAWED'),
                        ('memory.max', 'max'), ('memory.swap.max', 'max'), ('cpu.max', 'max'), ('cgroup.subtree_control', '+memory'),
                        ('notify_on_release', '1'), ('cgroup.procs', me), ('tasks', me)]:
        if os.path.exists(os.path.join(d, name)):
            attempt('own %s %s' % (key, name), lambda: write(os.path.join(d, name), value))
    # Move out: into every group above its own, up to the hierarchy's root.
    up = os.path.dirname(d)
    while up.startswith('/sys/fs/cgroup/') or up == '/sys/fs/cgroup':
        if os.path.exists(os.path.join(up, 'cgroup.procs')):
            attempt('move %s %s' % (key, up), lambda: write(os.path.join(up, 'cgroup.procs'), me))
        up = os.path.dirname(up)
    attempt('mkdir in own %s' % key, lambda: os.mkdir(os.path.join(d, 'escape')))
    attempt('mkdir beside own %s' % key, lambda: os.mkdir(os.path.join(os.path.dirname(d), 'escape')))
    attempt('rmdir own %s' % key, lambda: os.rmdir(d))
    attempt('chmod own %s' % key, lambda: os.chmod(d, 0o777))
    attempt('list own %s' % key, lambda: os.listdir(d))
    attempt('list app %s' % key, lambda: os.listdir(os.path.dirname(d)))
    attempt('list root %s' % key, lambda: os.listdir(os.path.dirname(os.path.dirname(d))))
# Every file of its own groups and of a neighbour's, by the paths the test knows (the app would have to guess them).
for path in given['own_files']:
    attempt('write %s' % path, lambda: write(path, '1'))
for path in given['neighbour_files']:
    attempt('write %s' % path, lambda: write(path, me if path.endswith('/cgroup.procs') or path.endswith('/tasks') else '1'))
    attempt('read %s' % path, lambda: read(path))
for d in given['neighbour_dirs']:
    attempt('list %s' % d, lambda: os.listdir(d))
    attempt('rmdir %s' % d, lambda: os.rmdir(d))
results['own'] = own
print(json.dumps(results), flush=True)
os.read(0, 1)  # stays (in whatever group it is now) until the test has looked
`;

/** The limit files of these groups' directories and what they hold (memory.oom_control without its counters). */
async function limitsOf(dirs: readonly string[]): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  for (const dir of dirs) {
    for (const file of LIMIT_FILES) {
      const text = await readFile(`${dir}/${file}`, 'utf8').catch(() => null);
      if (text !== null) values[`${dir}/${file}`] = file === 'memory.oom_control' ? (/^oom_kill_disable \d+$/m.exec(text)?.[0] ?? text) : text;
    }
  }
  return values;
}

async function filesOf(dirs: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const dir of dirs) for (const e of await readdir(dir, { withFileTypes: true })) if (!e.isDirectory()) files.push(`${dir}/${e.name}`);
  return files;
}

test('a process in its sandbox\'s group cannot raise its limits, move out, make or remove groups, or list its neighbours', async (t) => {
  const cgroups = await realCgroups(t);
  const limits = { memoryBytes: 64 * 1024 * 1024, cpu: 0.2, processes: 20 };
  const group = await cgroups.driver.create('victim/web.1-3f2a', limits);
  const neighbour = await cgroups.driver.create('neighbour/web.1-9c1d', { memoryBytes: 1 << 30, cpu: 2, processes: 512 });
  const neighbourApp = await startIn(t, neighbour, ['sleep', '300'], { uid: NEIGHBOUR_UID, gid: NEIGHBOUR_UID });
  const ownDirs = groupDirs(cgroups, 'victim/web.1-3f2a');
  const neighbourDirs = groupDirs(cgroups, 'neighbour/web.1-9c1d');
  const before = await limitsOf([...ownDirs, ...neighbourDirs]);
  assert.ok(Object.keys(before).length >= 8);
  const given = { own_files: await filesOf(ownDirs), neighbour_files: await filesOf(neighbourDirs), neighbour_dirs: neighbourDirs };
  const attacker = await startIn(t, group, ['/usr/bin/python3', '-c', ATTACK, JSON.stringify(given)], { uid: NOBODY, gid: NOBODY });
  // An attacker that froze itself (a write that should have been refused) never reports.
  const results = JSON.parse(await within(attacker.firstLine, 60_000, 'the attacker\'s report')) as Record<string, unknown>;
  const own = results.own as Record<string, string>;
  delete results.own;

  // It found its groups: the ones berth made (memory, cpu, pids, … on v1; the one group on v2).
  assert.ok(ownDirs.every((dir) => Object.values(own).includes(dir)), `it found ${JSON.stringify(own)}`);
  const attempts = Object.entries(results);
  assert.ok(attempts.length > 40, `${attempts.length} attempts`);

  // Nothing it tried succeeded but reads the kernel gives everyone (mode o+r on a neighbour's file).
  const succeeded: string[] = [];
  for (const [label, outcome] of attempts) {
    if (outcome !== 'ok') continue;
    const read = /^read (.*)$/.exec(label);
    if (read !== null && ((await stat(read[1]!)).mode & 0o004) !== 0) continue;
    succeeded.push(label);
  }
  assert.deepEqual(succeeded, []);
  // Refused, not merely absent: the kernel said EACCES or EPERM (a read may also meet a file the kernel reads to nobody: EINVAL).
  for (const [label, outcome] of attempts) {
    if (outcome !== 'ok' && !label.startsWith('read ')) assert.ok(outcome === 'EACCES' || outcome === 'EPERM', `${label}: ${String(outcome)}`);
  }
  for (const label of Object.keys(results).filter((l) => l.startsWith('list '))) assert.equal(results[label], 'EACCES', label);

  // Its limits and its place are what berth set; the neighbour is untouched.
  assert.deepEqual(await limitsOf([...ownDirs, ...neighbourDirs]), before);
  assert.deepEqual(await group.pids(), [attacker.pid]);
  const place = await readFile(`/proc/${attacker.pid}/cgroup`, 'utf8');
  assert.ok(Object.values(own).every((dir) => ownDirs.includes(dir)), 'its groups are the ones berth made');
  assert.equal(place.split('\n').filter((line) => line.includes('/victim/web.1-3f2a')).length, ownDirs.length, place);
  assert.deepEqual(await neighbour.pids(), [neighbourApp.pid]);
  assert.equal((await group.usage()).processes, 1);
});
