// What differs between cgroup v1 and v2 behind the driver: which
// directories a group has, what a parent needs before it gets children,
// which files hold the limits and the usage, and how a group is frozen or
// killed at once. cgroups.ts does the rest the same way for both.

import { setTimeout as sleep } from 'node:timers/promises';
import type { CgroupFs } from './cgroup-fs.ts';
import {
  DAEMON_LEAF,
  parseControllerList,
  parseProcs,
  subtreeControlWrite,
  v1LimitWrites,
  v1Usage,
  v2LimitWrites,
  v2Usage,
  type Controller,
  type V1Hierarchy,
} from './cgroup-files.ts';
import type { ResourceLimits, ResourceUsage } from './types.ts';

/** One hierarchy berth makes groups in: v1 has one per mounted controller set, v2 exactly one. */
export interface Hierarchy {
  readonly controllers: readonly Controller[];
  /** The directory of the group berth runs in (never changed by berth but for v2's delegation). */
  readonly ownDir: string;
}

/** A group's directory per controller. */
export type GroupDirs = ReadonlyMap<Controller, string>;

export interface FileWrite {
  readonly path: string;
  readonly value: string;
  readonly optional: boolean;
}

export interface Flavor {
  readonly version: 1 | 2;
  readonly hierarchies: readonly Hierarchy[];
  /** Before a group is made in `dir` (berth's own group when `own`): v2 passes the controllers down. */
  beforeChildren(dir: string, own: boolean): Promise<void>;
  limitWrites(dirs: GroupDirs, limits: ResourceLimits): Promise<FileWrite[]>;
  usage(dirs: GroupDirs): Promise<ResourceUsage>;
  /** Kills every process of the group in one step when the kernel can (v2's cgroup.kill); false when it cannot. */
  killAtOnce(dirs: GroupDirs): Promise<boolean>;
  /** Freezes the group so nothing in it forks or exits while it is being killed; false when there is no freezer. */
  freeze(dirs: GroupDirs): Promise<boolean>;
  thaw(dirs: GroupDirs): Promise<void>;
}

/** How long a freeze may take to settle before the kill goes on anyway (a task stuck in the kernel never freezes). */
const FREEZE_WAIT_MS = 1_000;
const POLL_MS = 10;

function dirOf(dirs: GroupDirs, controller: Controller): string {
  const dir = dirs.get(controller);
  if (dir === undefined) throw new Error(`no ${controller} hierarchy`);
  return dir;
}

async function readOptional(fs: CgroupFs, path: string): Promise<string | null> {
  try {
    return await fs.read(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; ; ) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(POLL_MS);
  }
}

export function v1Flavor(fs: CgroupFs, hierarchies: readonly V1Hierarchy[]): Flavor {
  const hasFreezer = hierarchies.some((h) => h.controllers.includes('freezer'));
  return {
    version: 1,
    hierarchies,
    beforeChildren: async () => {},
    async limitWrites(dirs, limits) {
      const memory = dirOf(dirs, 'memory');
      // Without swap accounting (swapaccount=0) there is no memsw file, and no swap to hold back.
      const memsw = await fs.exists(`${memory}/memory.memsw.limit_in_bytes`);
      return v1LimitWrites(limits, { memsw }).map((w) => ({ path: `${dirOf(dirs, w.controller)}/${w.file}`, value: w.value, optional: w.optional }));
    },
    async usage(dirs) {
      const memory = dirOf(dirs, 'memory');
      const [usageInBytes, maxUsageInBytes, cpuacctUsage, pidsCurrent, oomControl] = await Promise.all([
        fs.read(`${memory}/memory.usage_in_bytes`),
        fs.read(`${memory}/memory.max_usage_in_bytes`),
        fs.read(`${dirOf(dirs, 'cpuacct')}/cpuacct.usage`),
        fs.read(`${dirOf(dirs, 'pids')}/pids.current`),
        fs.read(`${memory}/memory.oom_control`),
      ]);
      return v1Usage({ usageInBytes, maxUsageInBytes, cpuacctUsage, pidsCurrent, oomControl });
    },
    killAtOnce: async () => false,
    async freeze(dirs) {
      if (!hasFreezer) return false;
      const state = `${dirOf(dirs, 'freezer')}/freezer.state`;
      await fs.write(state, 'FROZEN');
      // FREEZING until every task stopped; a frozen task takes SIGKILL at the thaw.
      await waitFor(async () => (await fs.read(state)).trim() === 'FROZEN', FREEZE_WAIT_MS);
      return true;
    },
    async thaw(dirs) {
      if (hasFreezer) await fs.write(`${dirOf(dirs, 'freezer')}/freezer.state`, 'THAWED');
    },
  };
}

/** How many times the processes of berth's own v2 group are moved into its leaf (each pass takes what forked meanwhile). */
const MOVE_PASSES = 10;

/**
 * v2's no-internal-processes rule: a group that holds processes cannot
 * pass controllers to children (cgroup.subtree_control says EBUSY), the
 * root alone excepted. berth's own group holds berth, so the first time it
 * needs to, berth moves every process of its group (itself and what it
 * started; with systemd's Delegate=yes nothing else is there) into the
 * leaf `<own>/berth-daemon`, then enables the controllers. Only on v2,
 * only on EBUSY, only in berth's own group: a group below it that holds
 * processes is an error, never emptied.
 */
async function moveIntoDaemonLeaf(fs: CgroupFs, ownDir: string): Promise<void> {
  const leaf = `${ownDir}/${DAEMON_LEAF}`;
  await fs.mkdir(leaf);
  for (let pass = 0; pass < MOVE_PASSES; pass++) {
    const pids = parseProcs(await fs.read(`${ownDir}/cgroup.procs`));
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        await fs.write(`${leaf}/cgroup.procs`, String(pid));
      } catch (err) {
        // Exited meanwhile.
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
    }
  }
}

export function v2Flavor(fs: CgroupFs, ownDir: string): Flavor {
  const dir = (dirs: GroupDirs) => dirOf(dirs, 'memory');
  return {
    version: 2,
    hierarchies: [{ controllers: ['memory', 'cpu', 'pids'], ownDir }],
    async beforeChildren(parent, own) {
      const write = subtreeControlWrite(parseControllerList(await fs.read(`${parent}/cgroup.subtree_control`)));
      if (write === null) return;
      try {
        await fs.write(`${parent}/cgroup.subtree_control`, write);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EBUSY' || !own) throw err;
        await moveIntoDaemonLeaf(fs, parent);
        await fs.write(`${parent}/cgroup.subtree_control`, write);
      }
    },
    async limitWrites(dirs, limits) {
      // memory.swap.max exists where the kernel accounts swap.
      const swapMax = await fs.exists(`${dir(dirs)}/memory.swap.max`);
      return v2LimitWrites(limits, { swapMax }).map((w) => ({ path: `${dir(dirs)}/${w.file}`, value: w.value, optional: w.optional }));
    },
    async usage(dirs) {
      const d = dir(dirs);
      const [memoryCurrent, memoryPeak, cpuStat, pidsCurrent, memoryEvents] = await Promise.all([
        fs.read(`${d}/memory.current`),
        readOptional(fs, `${d}/memory.peak`),
        fs.read(`${d}/cpu.stat`),
        fs.read(`${d}/pids.current`),
        fs.read(`${d}/memory.events`),
      ]);
      return v2Usage({ memoryCurrent, memoryPeak, cpuStat, pidsCurrent, memoryEvents });
    },
    async killAtOnce(dirs) {
      // Linux 5.14+: the kernel kills every process of the group, forks in flight included.
      if (!(await fs.exists(`${dir(dirs)}/cgroup.kill`))) return false;
      await fs.write(`${dir(dirs)}/cgroup.kill`, '1');
      return true;
    },
    async freeze(dirs) {
      // Linux 5.2+; a frozen v2 task still dies of SIGKILL.
      if (!(await fs.exists(`${dir(dirs)}/cgroup.freeze`))) return false;
      await fs.write(`${dir(dirs)}/cgroup.freeze`, '1');
      await waitFor(async () => /^frozen 1$/m.test(await fs.read(`${dir(dirs)}/cgroup.events`)), FREEZE_WAIT_MS);
      return true;
    },
    async thaw(dirs) {
      if (await fs.exists(`${dir(dirs)}/cgroup.freeze`)) await fs.write(`${dir(dirs)}/cgroup.freeze`, '0');
    },
  };
}
