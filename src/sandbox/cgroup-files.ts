// The pure half of the cgroup driver: what the kernel's files say (mounts,
// a process's groups, usage counters) and what berth writes into them
// (limits), as plain data. The driver (cgroups.ts) only reads and writes.

import type { ResourceLimits, ResourceUsage } from './types.ts';

// ---------------------------------------------------------------------------
// /proc/self/mountinfo and /proc/self/cgroup

export interface MountEntry {
  /** "MAJOR:MINOR" of the file system: two mounts of one v1 hierarchy share it. */
  readonly device: string;
  /** The path inside the file system that is mounted (a cgroup, for a container's view). */
  readonly root: string;
  readonly mountPoint: string;
  readonly fsType: string;
  /** The super block's options: for `cgroup`, the controllers of its hierarchy. */
  readonly superOptions: readonly string[];
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeMountPath(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** The lines of /proc/PID/mountinfo (proc(5)); malformed lines are skipped. */
export function parseMountinfo(text: string): MountEntry[] {
  const mounts: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const separator = fields.indexOf('-', 6);
    if (separator < 0 || fields.length < separator + 4) continue;
    const [, , device, root, mountPoint] = fields;
    const fsType = fields[separator + 1];
    const superOptions = fields[separator + 3];
    if (device === undefined || root === undefined || mountPoint === undefined || fsType === undefined || superOptions === undefined) continue;
    mounts.push({ device, root: unescapeMountPath(root), mountPoint: unescapeMountPath(mountPoint), fsType, superOptions: superOptions.split(',') });
  }
  return mounts;
}

export interface ProcCgroupEntry {
  /** 0 for the unified (v2) hierarchy. */
  readonly hierarchyId: number;
  /** v1: the hierarchy's controllers (and `name=…`); v2: none. */
  readonly controllers: readonly string[];
  /** The group's path from the hierarchy's root (as the reader's cgroup namespace sees it). */
  readonly path: string;
}

/** The lines of /proc/PID/cgroup: `ID:CONTROLLERS:PATH` (a path may hold colons). */
export function parseProcCgroup(text: string): ProcCgroupEntry[] {
  const entries: ProcCgroupEntry[] = [];
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first <= 0 || second < 0) continue;
    const hierarchyId = Number(line.slice(0, first));
    const path = line.slice(second + 1);
    if (!Number.isInteger(hierarchyId) || !path.startsWith('/')) continue;
    const list = line.slice(first + 1, second);
    entries.push({ hierarchyId, controllers: list === '' ? [] : list.split(','), path });
  }
  return entries;
}

// ---------------------------------------------------------------------------
// Where berth's own group is, per hierarchy

/** Where the cgroup file systems are mounted on every system berth knows. */
export const CGROUP_MOUNT_ROOT = '/sys/fs/cgroup';

/** The v2 leaf berth moves its own processes into when its group must delegate controllers (see cgroups.ts). */
export const DAEMON_LEAF = 'berth-daemon';

/** The v1 controllers berth needs; `freezer` is used when present (a kill that no fork can outrun). */
export const V1_REQUIRED = ['memory', 'cpu', 'cpuacct', 'pids'] as const;
export const V1_OPTIONAL = ['freezer'] as const;
export type V1Controller = (typeof V1_REQUIRED)[number] | (typeof V1_OPTIONAL)[number];

/** The v2 controllers berth needs in its group's cgroup.controllers. */
export const V2_REQUIRED = ['memory', 'cpu', 'pids'] as const;

export interface V1Hierarchy {
  /** The controllers berth uses from this hierarchy (`cpu` and `cpuacct` share one when mounted together). */
  readonly controllers: readonly V1Controller[];
  /** The directory of the group berth runs in, in this hierarchy. */
  readonly ownDir: string;
  /** That group's path from the hierarchy's root (for messages). */
  readonly ownPath: string;
}

export type Plan<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** `path` itself or below `root` (both absolute cgroup paths). */
function isUnder(path: string, root: string): boolean {
  return root === '/' || path === root || path.startsWith(`${root}/`);
}

/** The directory of cgroup `path` in a mount of its hierarchy. */
function dirInMount(mount: MountEntry, path: string): string {
  const rest = mount.root === '/' ? path : path.slice(mount.root.length);
  return rest === '/' || rest === '' ? mount.mountPoint : `${mount.mountPoint}${rest}`;
}

/** A mount under /sys/fs/cgroup, moved under `mountRoot` (a test's fake tree; the same path on a real system). */
function rebase(mount: MountEntry, mountRoot: string): MountEntry {
  if (mountRoot === CGROUP_MOUNT_ROOT) return mount;
  if (mount.mountPoint === CGROUP_MOUNT_ROOT) return { ...mount, mountPoint: mountRoot };
  if (mount.mountPoint.startsWith(`${CGROUP_MOUNT_ROOT}/`)) return { ...mount, mountPoint: mountRoot + mount.mountPoint.slice(CGROUP_MOUNT_ROOT.length) };
  return mount;
}

/** Mounts under /sys/fs/cgroup first (where systemd and every distribution put them), then the rest in order. */
function preferred(mounts: readonly MountEntry[], mountRoot: string): MountEntry[] {
  const under = (m: MountEntry) => m.mountPoint === mountRoot || m.mountPoint.startsWith(`${mountRoot}/`);
  return [...mounts.filter(under), ...mounts.filter((m) => !under(m))];
}

/**
 * The v1 hierarchies berth can use, from the mounts and the groups this
 * process is in: one entry per hierarchy (a `cpu,cpuacct` mount serves
 * both), each naming the directory of berth's own group in it.
 */
export function planV1(mounts: readonly MountEntry[], groups: readonly ProcCgroupEntry[], mountRoot = CGROUP_MOUNT_ROOT): Plan<V1Hierarchy[]> {
  const v1 = preferred(
    mounts.filter((m) => m.fsType === 'cgroup').map((m) => rebase(m, mountRoot)),
    mountRoot,
  );
  const byDevice = new Map<string, { controllers: V1Controller[]; ownDir: string; ownPath: string }>();
  const missing: string[] = [];
  for (const controller of [...V1_REQUIRED, ...V1_OPTIONAL] as V1Controller[]) {
    const group = groups.find((g) => g.hierarchyId !== 0 && g.controllers.includes(controller));
    const mount = group === undefined ? undefined : v1.find((m) => m.superOptions.includes(controller) && isUnder(group.path, m.root));
    if (group === undefined || mount === undefined) {
      if ((V1_REQUIRED as readonly string[]).includes(controller)) missing.push(controller);
      continue;
    }
    const known = byDevice.get(mount.device);
    if (known !== undefined) known.controllers.push(controller);
    else byDevice.set(mount.device, { controllers: [controller], ownDir: dirInMount(mount, group.path), ownPath: group.path });
  }
  if (missing.length > 0) return { ok: false, reason: `cgroup v1: no mounted hierarchy holding berth's group for ${missing.join(', ')}` };
  return { ok: true, value: [...byDevice.values()] };
}

export interface V2Group {
  /** The directory berth's groups go below: its own group, or the one above its daemon leaf. */
  readonly ownDir: string;
  readonly ownPath: string;
}

/** The unified hierarchy's mount and berth's group in it (its controllers are checked by the driver). */
export function planV2(mounts: readonly MountEntry[], groups: readonly ProcCgroupEntry[], mountRoot = CGROUP_MOUNT_ROOT): Plan<V2Group> {
  const group = groups.find((g) => g.hierarchyId === 0 && g.controllers.length === 0);
  if (group === undefined) return { ok: false, reason: 'cgroup v2: this process is in no unified group' };
  const candidates = mounts.filter((m) => m.fsType === 'cgroup2').map((m) => rebase(m, mountRoot));
  // A pure v2 system mounts it at /sys/fs/cgroup, a hybrid one at /sys/fs/cgroup/unified.
  const ordered = [...candidates.filter((m) => m.mountPoint === mountRoot), ...preferred(candidates.filter((m) => m.mountPoint !== mountRoot), mountRoot)];
  const mount = ordered.find((m) => isUnder(group.path, m.root));
  if (mount === undefined) return { ok: false, reason: 'cgroup v2: no cgroup2 mount holds berth\'s group' };
  // Berth already moved itself into its leaf (an earlier start, or another daemon in the same group): its groups go beside it.
  const segments = group.path.split('/').filter((s) => s !== '');
  const path = segments.at(-1) === DAEMON_LEAF ? `/${segments.slice(0, -1).join('/')}` : group.path;
  return { ok: true, value: { ownDir: dirInMount(mount, path), ownPath: path } };
}

/** The controllers named in a v2 `cgroup.controllers` or `cgroup.subtree_control` file. */
export function parseControllerList(text: string): string[] {
  return text.split(/\s+/).filter((s) => s !== '');
}

/** What to write to `cgroup.subtree_control` so the v2 controllers berth needs reach the children; null when they already do. */
export function subtreeControlWrite(enabled: readonly string[]): string | null {
  const missing = V2_REQUIRED.filter((c) => !enabled.includes(c));
  return missing.length === 0 ? null : missing.map((c) => `+${c}`).join(' ');
}

// ---------------------------------------------------------------------------
// Names

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/**
 * A control file's name, or one a kernel may give a control file (`cgroup.*`, `tasks`, `CONTROLLER.word`
 * as `memory.max` or `hugetlb.2MB.max`; none holds a hyphen): a group by that name would clash with
 * its parent's files. An app called `memory` or an instance `cpu.1-3f2a` is fine.
 */
const CONTROL_FILE = /^(cgroup\.|(tasks|notify_on_release|release_agent|cgroup)$|(memory|cpu|cpuacct|cpuset|pids|freezer|io|blkio|devices|hugetlb|net_cls|net_prio|perf_event|rdma|misc|dmem)\.[^-]*$)/;
/** Deeper names than this are a caller's mistake (berth uses app/instance). */
export const MAX_DEPTH = 8;

/** The segments of a group name ("shop/web.1-3f2a"), or null when it is not one berth makes. */
export function nameSegments(name: string): string[] | null {
  const segments = name.split('/');
  if (segments.length === 0 || segments.length > MAX_DEPTH) return null;
  // Segments are plain names: never empty, `.` or `..` (no leading dot), never a control file's name, never berth's daemon leaf.
  return segments.every((s) => SEGMENT.test(s) && !CONTROL_FILE.test(s) && s !== DAEMON_LEAF) ? segments : null;
}

// ---------------------------------------------------------------------------
// Limits → files

export type Controller = V1Controller;

export interface LimitWrite {
  /** The controller whose hierarchy holds the file (v1); v2 has one directory for all. */
  readonly controller: Controller;
  readonly file: string;
  readonly value: string;
  /** A write the kernel may refuse without harm (berth goes on without it). */
  readonly optional: boolean;
}

/** The CFS period berth uses (the kernel's default): the quota is cpu × this. */
export const CPU_PERIOD_US = 100_000;
/** The smallest quota the kernel takes (1 ms). */
const MIN_CPU_QUOTA_US = 1_000;
/** More cores than any machine berth runs on; beyond it a value is a mistake. */
const MAX_CPU = 4096;

/** Why `limits` cannot be applied, or null when they can. */
export function limitsProblem(limits: ResourceLimits): string | null {
  const { memoryBytes, cpu, processes } = limits;
  if (memoryBytes !== null && !(Number.isSafeInteger(memoryBytes) && memoryBytes > 0)) return `memory must be a whole number of bytes above 0, not ${memoryBytes}`;
  if (cpu !== null && !(Number.isFinite(cpu) && cpu > 0 && cpu <= MAX_CPU)) return `cpu must be a share of a core above 0 and at most ${MAX_CPU}, not ${cpu}`;
  if (processes !== null && !(Number.isSafeInteger(processes) && processes > 0)) return `processes must be a whole number above 0, not ${processes}`;
  return null;
}

/** The CFS quota for a share of one core, in microseconds per period. */
export function cpuQuotaUs(cpu: number): number {
  return Math.max(MIN_CPU_QUOTA_US, Math.round(cpu * CPU_PERIOD_US));
}

/**
 * The v1 writes, in order. The memory+swap limit must never be below the
 * memory limit, so it is lifted first, then both are set to the same value
 * (swap cannot extend the limit), whatever a reused group held before.
 */
export function v1LimitWrites(limits: ResourceLimits, has: { readonly memsw: boolean }): LimitWrite[] {
  const write = (controller: Controller, file: string, value: string, optional = false): LimitWrite => ({ controller, file, value, optional });
  const memory = limits.memoryBytes === null ? '-1' : String(limits.memoryBytes);
  return [
    ...(has.memsw ? [write('memory', 'memory.memsw.limit_in_bytes', '-1')] : []),
    write('memory', 'memory.limit_in_bytes', memory),
    ...(has.memsw && limits.memoryBytes !== null ? [write('memory', 'memory.memsw.limit_in_bytes', memory)] : []),
    // The OOM killer stays on (a group with it off would hang at its limit instead).
    write('memory', 'memory.oom_control', '0'),
    write('memory', 'memory.swappiness', '0', true),
    write('cpu', 'cpu.cfs_period_us', String(CPU_PERIOD_US)),
    write('cpu', 'cpu.cfs_quota_us', limits.cpu === null ? '-1' : String(cpuQuotaUs(limits.cpu))),
    write('pids', 'pids.max', limits.processes === null ? 'max' : String(limits.processes)),
  ];
}

/**
 * The CPU weight of the groups between berth's own and a sandbox's (berth's
 * root for sandboxes, each app's): the scheduler weighs a group as one
 * process of the default weight, so without this every app together would
 * count as one busy process against everything outside berth's group, and
 * a neighbour would wait behind all of them whenever one app spends its
 * quota. As many processes as the machine has cores: the apps together
 * can claim the machine when it is full; each one's quota still caps it.
 */
export function parentCpuWeight(version: 1 | 2, cores: number): { readonly file: string; readonly value: string } {
  const n = Math.max(1, Math.floor(cores));
  return version === 1 ? { file: 'cpu.shares', value: String(Math.min(262_144, 1024 * n)) } : { file: 'cpu.weight', value: String(Math.min(10_000, 100 * n)) };
}

/** The v2 writes, in order; swap is held at 0 under a memory limit (`memory.swap.max` exists with swap accounting). */
export function v2LimitWrites(limits: ResourceLimits, has: { readonly swapMax: boolean }): LimitWrite[] {
  const write = (controller: Controller, file: string, value: string): LimitWrite => ({ controller, file, value, optional: false });
  return [
    write('memory', 'memory.max', limits.memoryBytes === null ? 'max' : String(limits.memoryBytes)),
    ...(has.swapMax ? [write('memory', 'memory.swap.max', limits.memoryBytes === null ? 'max' : '0')] : []),
    write('cpu', 'cpu.max', `${limits.cpu === null ? 'max' : cpuQuotaUs(limits.cpu)} ${CPU_PERIOD_US}`),
    write('pids', 'pids.max', limits.processes === null ? 'max' : String(limits.processes)),
  ];
}

// ---------------------------------------------------------------------------
// Usage files → ResourceUsage

/** A file holding one whole number ("123\n"); NaN when it holds something else. */
export function parseCount(text: string): number {
  const trimmed = text.trim();
  return /^\d+$/.test(trimmed) ? Number(trimmed) : NaN;
}

/** A flat keyed file ("key value" lines: memory.oom_control, memory.events, cpu.stat). */
export function parseKeyed(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value, extra] = line.trim().split(/\s+/);
    if (key === undefined || key === '' || value === undefined || extra !== undefined || !/^\d+$/.test(value)) continue;
    values.set(key, Number(value));
  }
  return values;
}

/** The pids of a `cgroup.procs` file, ascending and without repeats. */
export function parseProcs(text: string): number[] {
  const pids = new Set<number>();
  for (const line of text.split('\n')) {
    const pid = parseCount(line);
    if (Number.isSafeInteger(pid) && pid > 0) pids.add(pid);
  }
  return [...pids].sort((a, b) => a - b);
}

function counted(file: string, value: number): number {
  if (!Number.isFinite(value)) throw new Error(`${file} holds no number`);
  return value;
}

export interface V1UsageFiles {
  readonly usageInBytes: string;
  readonly maxUsageInBytes: string;
  /** cpuacct.usage: nanoseconds. */
  readonly cpuacctUsage: string;
  readonly pidsCurrent: string;
  readonly oomControl: string;
}

export function v1Usage(files: V1UsageFiles): ResourceUsage {
  // cpuacct.usage can pass 2^53 ns (104 days of CPU): BigInt keeps the whole seconds exact.
  const ns = files.cpuacctUsage.trim();
  if (!/^\d+$/.test(ns)) throw new Error('cpuacct.usage holds no number');
  const nanoseconds = BigInt(ns);
  return {
    memoryBytes: counted('memory.usage_in_bytes', parseCount(files.usageInBytes)),
    memoryPeakBytes: counted('memory.max_usage_in_bytes', parseCount(files.maxUsageInBytes)),
    cpuSeconds: Number(nanoseconds / 1_000_000_000n) + Number(nanoseconds % 1_000_000_000n) / 1e9,
    processes: counted('pids.current', parseCount(files.pidsCurrent)),
    // `oom_kill` is there from Linux 4.13; before, the kernel does not count kills.
    oomKills: parseKeyed(files.oomControl).get('oom_kill') ?? 0,
  };
}

export interface V2UsageFiles {
  readonly memoryCurrent: string;
  /** memory.peak, from Linux 5.19; null where the kernel has none. */
  readonly memoryPeak: string | null;
  readonly cpuStat: string;
  readonly pidsCurrent: string;
  readonly memoryEvents: string;
}

export function v2Usage(files: V2UsageFiles): ResourceUsage {
  const usec = parseKeyed(files.cpuStat).get('usage_usec');
  return {
    memoryBytes: counted('memory.current', parseCount(files.memoryCurrent)),
    memoryPeakBytes: files.memoryPeak === null ? null : counted('memory.peak', parseCount(files.memoryPeak)),
    cpuSeconds: counted('cpu.stat usage_usec', usec ?? NaN) / 1e6,
    processes: counted('pids.current', parseCount(files.pidsCurrent)),
    oomKills: parseKeyed(files.memoryEvents).get('oom_kill') ?? 0,
  };
}
