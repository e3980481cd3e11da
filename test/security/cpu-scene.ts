// A cpu control group for a test file's scene: this test process moves
// into a new group beside the processes of the group it was in, with the
// weight of a hundred processes, so every daemon it starts (and their
// sandboxes, whose groups go below the daemon's own) runs there. Other
// test files running on the machine then compete with the scene as a
// hundred processes would, rather than as one per process of theirs (see
// sandbox-cpu.test.ts). Undone by the function it returns: the process
// moves back and the group goes, once the file's daemons are purged
// (register it with after() after importing helpers/daemon.ts, whose
// after() purges them).

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { DAEMON_LEAF, parseMountinfo, parseProcCgroup, planV1, planV2 } from '../../src/sandbox/cgroup-files.ts';
import { detectCgroups } from '../../src/sandbox/index.ts';

/** v1's cpu.shares of a process is 1024, v2's cpu.weight 100: a hundred times that (v2's most). */
const V1_SHARES = 102_400;
const V2_WEIGHT = 10_000;

/** Moves this process into a new weighted cpu group named `name-…`; returns what moves it back and removes the group. */
export async function isolateCpu(name: string): Promise<() => void> {
  const mounts = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
  const groups = parseProcCgroup(readFileSync('/proc/self/cgroup', 'utf8'));
  const self = String(process.pid);
  // The version berth's daemons will use here.
  const { driver, reason } = await detectCgroups({ rootName: 'berth' });
  if (driver === null) throw new Error(`no control groups to isolate the scene in: ${reason}`);
  const suffix = `${name}-${randomBytes(3).toString('hex')}`;
  let home: string;
  let group: string;
  if (driver.version === 1) {
    // The cpu hierarchy alone; memory and pids stay where they are.
    const plan = planV1(mounts, groups);
    if (!plan.ok) throw new Error(plan.reason);
    home = plan.value.find((h) => (h.controllers as readonly string[]).includes('cpu'))!.ownDir;
    group = `${home}/${suffix}`;
    mkdirSync(group);
    writeFileSync(`${group}/cpu.shares`, String(V1_SHARES));
  } else {
    // Beside the group it is in (berth's daemon leaf, when a daemon put it there), below a parent that passes cpu to its children.
    const plan = planV2(mounts, groups);
    if (!plan.ok) throw new Error(plan.reason);
    const own = plan.value.ownDir;
    const inLeaf = groups.some((g) => g.hierarchyId === 0 && g.path.split('/').at(-1) === DAEMON_LEAF);
    home = inLeaf ? `${own}/${DAEMON_LEAF}` : own;
    const parent = dirname(home);
    if (!readFileSync(`${parent}/cgroup.subtree_control`, 'utf8').split(/\s+/).includes('cpu')) throw new Error(`cgroup v2: ${parent} does not pass the cpu controller to its children: the scene cannot have a group of its own`);
    group = `${parent}/${suffix}`;
    mkdirSync(group);
    writeFileSync(`${group}/cpu.weight`, String(V2_WEIGHT));
  }
  writeFileSync(`${group}/cgroup.procs`, self);
  return () => {
    writeFileSync(`${home}/cgroup.procs`, self);
    // A daemon on v2 moved itself (and this process) into a leaf of the group; its sandboxes' groups are purged already.
    for (const dir of [`${group}/${DAEMON_LEAF}`, `${group}/berth`, group]) {
      if (existsSync(dir)) rmdirSync(dir);
    }
  };
}
