// The cgroup driver: berth's control groups, one per sandbox, with memory,
// CPU and process limits, on cgroup v1 or v2.
//
// Where they live: below the group berth itself runs in (per hierarchy on
// v1), under the driver's root name: `<own>/<rootName>/<name>`, e.g.
// /sys/fs/cgroup/memory/<berth's memory group>/berth/3f2a9c/shop/web.1-…
// So whatever contains berth (a container, a systemd service with
// Delegate=yes) contains its apps too, and two daemons with different root
// names never meet. Every directory berth makes is root's and 0711: an
// app can read its own group's files by path (runtimes size their heaps
// from memory.limit_in_bytes / memory.max) but cannot list the groups, and
// cannot write anything there (no limit raised, no process moved out).

import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError } from '../errors.ts';
import { nodeCgroupFs, type CgroupFs } from './cgroup-fs.ts';
import {
  CGROUP_MOUNT_ROOT,
  limitsProblem,
  MAX_DEPTH,
  nameSegments,
  parentCpuWeight,
  parseControllerList,
  parseMountinfo,
  parseProcCgroup,
  parseProcs,
  planV1,
  planV2,
  V2_REQUIRED,
  type Controller,
} from './cgroup-files.ts';
import { v1Flavor, v2Flavor, type FileWrite, type Flavor, type GroupDirs } from './cgroup-flavor.ts';
import type { CgroupDriver, CgroupHandle, ResourceLimits, ResourceUsage } from './types.ts';

export interface CgroupOptions {
  /** Where berth's groups go below its own group: one or more segments ("berth/3f2a9c"; the daemon uses berth/<state id>). */
  readonly rootName: string;
  /** Where the cgroup file systems are mounted; a test points it at a fake tree. Default /sys/fs/cgroup. */
  readonly mountRoot?: string;
  /** The text of /proc/self/mountinfo and /proc/self/cgroup, for tests; read from /proc by default. */
  readonly proc?: { readonly mountinfo: string; readonly cgroup: string };
  /** The file operations; a test's fake kernel. Default node:fs. */
  readonly fs?: CgroupFs;
}

export type CgroupDetection = { readonly driver: CgroupDriver; readonly reason: null } | { readonly driver: null; readonly reason: string };

/** Mode of every directory berth makes: root's, traversable, not listable, not writable by anyone else. */
const DIR_MODE = 0o711;
/** Rounds of killAll (each: kill, then wait for the group to empty), and the wait per round. */
const KILL_ROUNDS = 20;
const KILL_WAIT_MS = 250;
/** How long remove() retries a group the kernel still calls busy (its last processes finishing their exit). */
const REMOVE_WAIT_MS = 1_000;
/** create() starts over when a concurrent remove() pruned a parent it was making its way through. */
const CREATE_ATTEMPTS = 5;
const POLL_MS = 10;

const HINT = 'berth makes its control groups as root below the group it runs in; see "Control groups" in docs/ARCHITECTURE.md';

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

function cgroupError(message: string, cause?: unknown): BerthError {
  const detail = cause === undefined ? '' : `: ${errno(cause) ?? (cause as Error).message}`;
  return new BerthError('BERTH_E_CGROUP', `${message}${detail}`, { status: 500, hint: HINT, cause });
}

/**
 * Finds the cgroup hierarchies berth can contain processes with: v2 when
 * berth's unified group offers memory, cpu and pids; else v1 with memory,
 * cpu, cpuacct and pids hierarchies (and freezer when mounted) — a hybrid
 * system, whose cgroup2 mount holds no controllers, uses v1. Otherwise no
 * driver, and a reason to print.
 */
export async function detectCgroups(options: CgroupOptions): Promise<CgroupDetection> {
  const rootSegments = nameSegments(options.rootName);
  if (rootSegments === null) throw new BerthError('BERTH_E_CGROUP', `not a cgroup root name: ${JSON.stringify(options.rootName)}`, { status: 500 });
  const fs = options.fs ?? nodeCgroupFs;
  const mountRoot = options.mountRoot ?? CGROUP_MOUNT_ROOT;
  const mounts = parseMountinfo(options.proc?.mountinfo ?? (await readFile('/proc/self/mountinfo', 'utf8')));
  const groups = parseProcCgroup(options.proc?.cgroup ?? (await readFile('/proc/self/cgroup', 'utf8')));
  const reasons: string[] = [];

  const v2 = planV2(mounts, groups, mountRoot);
  if (v2.ok) {
    const problem = await v2Problem(fs, v2.value.ownDir, v2.value.ownPath);
    if (problem === null) return { driver: new CgroupTree(fs, v2Flavor(fs, v2.value.ownDir), rootSegments), reason: null };
    reasons.push(problem);
  } else {
    reasons.push(v2.reason);
  }

  const v1 = planV1(mounts, groups, mountRoot);
  if (v1.ok) {
    const unwritable: string[] = [];
    for (const h of v1.value) if (!(await fs.writable(h.ownDir))) unwritable.push(h.ownDir);
    if (unwritable.length === 0) return { driver: new CgroupTree(fs, v1Flavor(fs, v1.value), rootSegments), reason: null };
    reasons.push(`cgroup v1: berth cannot write to ${unwritable.join(', ')} (not root, or mounted read-only)`);
  } else {
    reasons.push(v1.reason);
  }
  return { driver: null, reason: reasons.join('; ') };
}

async function v2Problem(fs: CgroupFs, ownDir: string, ownPath: string): Promise<string | null> {
  let controllers: string[];
  try {
    controllers = parseControllerList(await fs.read(`${ownDir}/cgroup.controllers`));
  } catch (err) {
    return `cgroup v2: cannot read ${ownDir}/cgroup.controllers (${errno(err) ?? String(err)})`;
  }
  const missing = V2_REQUIRED.filter((c) => !controllers.includes(c));
  if (missing.length > 0) return `cgroup v2: berth's group ${ownPath} has no ${missing.join(', ')} controller (with systemd, give berth's service Delegate=yes)`;
  if (!(await fs.writable(ownDir))) return `cgroup v2: berth cannot write to ${ownDir} (not root, or mounted read-only)`;
  return null;
}

class CgroupTree implements CgroupDriver {
  readonly version: 1 | 2;
  readonly #fs: CgroupFs;
  readonly #flavor: Flavor;
  readonly #root: readonly string[];

  constructor(fs: CgroupFs, flavor: Flavor, rootSegments: readonly string[]) {
    this.version = flavor.version;
    this.#fs = fs;
    this.#flavor = flavor;
    this.#root = rootSegments;
  }

  #dirs(segments: readonly string[]): Map<Controller, string> {
    const dirs = new Map<Controller, string>();
    for (const h of this.#flavor.hierarchies) {
      for (const c of h.controllers) dirs.set(c, [h.ownDir, ...this.#root, ...segments].join('/'));
    }
    return dirs;
  }

  #handle(name: string, segments: readonly string[]): Group {
    return new Group(this.#fs, this.#flavor, name, this.#dirs(segments), this.#ancestors(segments));
  }

  /** The directories remove() may prune once a group is gone: its parents up to berth's own group, deepest first. */
  #ancestors(segments: readonly string[]): string[] {
    const path = [...this.#root, ...segments];
    const dirs: string[] = [];
    for (let depth = path.length - 1; depth >= 1; depth--) {
      for (const h of this.#flavor.hierarchies) dirs.push([h.ownDir, ...path.slice(0, depth)].join('/'));
    }
    return dirs;
  }

  async create(name: string, limits: ResourceLimits): Promise<CgroupHandle> {
    const segments = nameSegments(name);
    if (segments === null) throw cgroupError(`not a cgroup name: ${JSON.stringify(name)}`);
    const problem = limitsProblem(limits);
    if (problem !== null) throw cgroupError(`cannot limit ${name}: ${problem}`);
    const group = this.#handle(name, segments);
    if (await this.#makeDirs(name, segments)) {
      // Left by a crash: whatever still runs there is killed, and the group is made anew, so
      // its counters (OOM kills, CPU time, peak) are this sandbox's alone.
      const left = await group.killAll();
      if (left.length > 0) throw cgroupError(`the group ${name} left by an earlier run still holds processes ${left.join(', ')}`);
      await group.remove();
      if (await this.#makeDirs(name, segments)) throw cgroupError(`the group ${name} was made again by someone else while berth replaced it`);
    }
    try {
      // In order within a directory (memsw before and after memory's limit), the directories at once.
      const byDir = new Map<string, FileWrite[]>();
      for (const write of await this.#flavor.limitWrites(group.dirs, limits)) {
        const dir = write.path.slice(0, write.path.lastIndexOf('/'));
        byDir.set(dir, [...(byDir.get(dir) ?? []), write]);
      }
      await settleAll(
        [...byDir.values()].map(async (writes) => {
          for (const write of writes) {
            try {
              await this.#fs.write(write.path, write.value);
            } catch (err) {
              if (!write.optional) throw cgroupError(`cannot write ${write.value} to ${write.path}`, err);
            }
          }
        }),
      );
    } catch (err) {
      // Nothing half-made is left: the group goes again (it holds no process yet).
      await group.remove().catch(() => {});
      throw err;
    }
    return group;
  }

  /** Makes the group's directories in every hierarchy; true when the group was there already. */
  async #makeDirs(name: string, segments: readonly string[]): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const made: string[] = [];
      let existed = false;
      try {
        for (const h of this.#flavor.hierarchies) {
          const path = [...this.#root, ...segments];
          let dir = h.ownDir;
          await this.#flavor.beforeChildren(dir, true);
          for (const [i, segment] of path.entries()) {
            dir = `${dir}/${segment}`;
            const leaf = i === path.length - 1;
            const outcome = await this.#fs.mkdir(dir);
            if (leaf && outcome === 'made') made.push(dir);
            if (leaf && outcome === 'existed') existed = true;
            await this.#fs.chmod(dir, DIR_MODE);
            if (!leaf) await this.#flavor.beforeChildren(dir, false);
            // A group above sandboxes weighs as the machine's cores, not as one process (parentCpuWeight).
            if (!leaf && outcome === 'made' && h.controllers.includes('cpu')) {
              const weight = parentCpuWeight(this.#flavor.version, availableParallelism());
              // Only a weight: a kernel that refuses it still enforces every limit.
              await this.#fs.write(`${dir}/${weight.file}`, weight.value).catch(() => {});
            }
          }
        }
        return existed;
      } catch (err) {
        for (const dir of made.reverse()) await this.#fs.rmdir(dir).catch(() => {});
        await prune(this.#fs, this.#ancestors(segments));
        // A remove() of a neighbour pruned a parent between two steps: start over.
        if (errno(err) === 'ENOENT' && attempt < CREATE_ATTEMPTS) continue;
        throw err instanceof BerthError ? err : cgroupError(`cannot make the group ${name}`, err);
      }
    }
  }

  async open(name: string): Promise<CgroupHandle | null> {
    const segments = nameSegments(name);
    if (segments === null) throw cgroupError(`not a cgroup name: ${JSON.stringify(name)}`);
    const group = this.#handle(name, segments);
    for (const dir of new Set(group.dirs.values())) if (await this.#fs.exists(dir)) return group;
    return null;
  }

  async list(prefix: string): Promise<string[]> {
    const start = prefix === '' ? [] : nameSegments(prefix);
    if (start === null) throw cgroupError(`not a cgroup name: ${JSON.stringify(prefix)}`);
    const found = new Set<string>();
    const walk = async (dir: string, segments: string[]): Promise<void> => {
      if (segments.length >= MAX_DEPTH) return;
      for (const child of await this.#fs.subdirs(dir)) {
        const name = [...segments, child];
        found.add(name.join('/'));
        await walk(`${dir}/${child}`, name);
      }
    };
    try {
      // Every hierarchy: a crash between two mkdirs leaves a group in some of them only.
      for (const h of this.#flavor.hierarchies) await walk([h.ownDir, ...this.#root, ...start].join('/'), start);
    } catch (err) {
      throw cgroupError(`cannot list the groups under ${prefix === '' ? this.#root.join('/') : prefix}`, err);
    }
    const depth = (name: string) => name.split('/').length;
    return [...found].sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : a > b ? 1 : 0));
  }
}

class Group implements CgroupHandle {
  readonly name: string;
  readonly dirs: GroupDirs;
  readonly #fs: CgroupFs;
  readonly #flavor: Flavor;
  readonly #ancestors: readonly string[];

  constructor(fs: CgroupFs, flavor: Flavor, name: string, dirs: GroupDirs, ancestors: readonly string[]) {
    this.name = name;
    this.dirs = dirs;
    this.#fs = fs;
    this.#flavor = flavor;
    this.#ancestors = ancestors;
  }

  /** Each directory once (v1's cpu and cpuacct may share one; v2 has one for all). */
  get #directories(): string[] {
    return [...new Set(this.dirs.values())];
  }

  async add(pid: number): Promise<void> {
    if (!Number.isSafeInteger(pid) || pid <= 0) throw cgroupError(`cannot move ${pid} into ${this.name}: not a pid`);
    // Every hierarchy at once: the first move waits for an RCU grace period (v1), the others ride on it.
    await settleAll(
      this.#directories.map(async (dir) => {
        try {
          await this.#fs.write(`${dir}/cgroup.procs`, String(pid));
        } catch (err) {
          throw cgroupError(errno(err) === 'ESRCH' ? `cannot move process ${pid} into ${this.name}: it is gone` : `cannot move process ${pid} into ${dir}`, err);
        }
      }),
    );
  }

  async usage(): Promise<ResourceUsage> {
    try {
      return await this.#flavor.usage(this.dirs);
    } catch (err) {
      throw cgroupError(`cannot read the usage of ${this.name}`, err);
    }
  }

  async pids(): Promise<number[]> {
    const pids = new Set<number>();
    for (const dir of this.#directories) {
      try {
        for (const pid of parseProcs(await this.#fs.read(`${dir}/cgroup.procs`))) pids.add(pid);
      } catch (err) {
        if (errno(err) !== 'ENOENT') throw cgroupError(`cannot list the processes of ${this.name}`, err);
      }
    }
    return [...pids].sort((a, b) => a - b);
  }

  async killAll(): Promise<number[]> {
    for (let round = 0; round < KILL_ROUNDS; round++) {
      const pids = await this.pids();
      if (pids.length === 0) return [];
      try {
        if (!(await this.#flavor.killAtOnce(this.dirs))) {
          // Frozen, nothing forks or exits between the list and the kill (so no pid is reused under us).
          const frozen = await this.#flavor.freeze(this.dirs);
          try {
            for (const pid of frozen ? await this.pids() : pids) {
              try {
                process.kill(pid, 'SIGKILL');
              } catch (err) {
                if (errno(err) !== 'ESRCH') throw err;
              }
            }
          } finally {
            if (frozen) await this.#flavor.thaw(this.dirs);
          }
        }
      } catch (err) {
        throw cgroupError(`cannot kill the processes of ${this.name}`, err);
      }
      for (const deadline = Date.now() + KILL_WAIT_MS; Date.now() < deadline && (await this.pids()).length > 0; ) await sleep(POLL_MS);
    }
    return this.pids();
  }

  async remove(): Promise<void> {
    for (const dir of this.#directories) {
      for (const deadline = Date.now() + REMOVE_WAIT_MS; ; ) {
        try {
          await this.#fs.rmdir(dir);
          break;
        } catch (err) {
          if (errno(err) === 'ENOENT') break;
          if (errno(err) !== 'EBUSY' || Date.now() >= deadline) {
            const pids = await this.pids().catch(() => []);
            const children = await this.#fs.subdirs(dir).catch(() => []);
            const holds = pids.length > 0 ? `processes ${pids.join(', ')}` : children.length > 0 ? `groups ${children.join(', ')}` : 'something';
            throw cgroupError(errno(err) === 'EBUSY' ? `cannot remove the group ${this.name}: it still holds ${holds}` : `cannot remove ${dir}`, err);
          }
          await sleep(POLL_MS);
        }
      }
    }
    await prune(this.#fs, this.#ancestors);
  }
}

/** Runs the steps at once and waits for every one of them (nothing still under way when a failure is cleaned up); rethrows the first failure. */
async function settleAll(steps: readonly Promise<void>[]): Promise<void> {
  const failed = (await Promise.allSettled(steps)).find((result) => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

/** Removes the parents a group leaves empty (an app's group once its last instance is gone), deepest first; one still holding groups stays (EBUSY). */
async function prune(fs: CgroupFs, ancestors: readonly string[]): Promise<void> {
  for (const dir of ancestors) {
    try {
      await fs.rmdir(dir);
    } catch {
      // busy (another group below it), gone, or being made: left as it is
    }
  }
}
