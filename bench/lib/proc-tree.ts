// What the kernel says about a process tree: who is whose child, how much
// memory it holds (VmRSS) and how much CPU it has used. Parsing is pure;
// reading /proc is kept to the small async functions at the bottom.
import { readdir, readFile } from 'node:fs/promises';

/** USER_HZ: the unit of utime/stime in /proc/PID/stat; 100 on every Linux build that matters. */
const CLOCK_TICKS_PER_SECOND = 100;

export interface ProcStat {
  readonly pid: number;
  /** The command name as the kernel keeps it (15 characters at most). */
  readonly name: string;
  readonly ppid: number;
  /** R, S, D, Z (zombie: dead, waiting to be reaped), T, ... */
  readonly state: string;
  /** Clock ticks since boot at which the process started: with the pid, it names one process for good. */
  readonly startTime: number;
  /** CPU time used so far, user plus system, in seconds. */
  readonly cpuSeconds: number;
}

/** Parses /proc/PID/stat. The command name may hold spaces and parentheses, so fields are counted from its last ')'. */
export function parseStat(text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`not a /proc/PID/stat line: ${text.slice(0, 80)}`);
  const pid = Number(text.slice(0, open).trim());
  // After ')': state(3) ppid(4) ... utime(14) stime(15) ... starttime(22); index 0 here is field 3.
  const rest = text.slice(close + 2).trim().split(' ');
  const field = (n: number): number => Number(rest[n - 3]);
  return { pid, name: text.slice(open + 1, close), ppid: field(4), state: rest[0] ?? '?', startTime: field(22), cpuSeconds: (field(14) + field(15)) / CLOCK_TICKS_PER_SECOND };
}

/** The resident set size in KiB from /proc/PID/status, or null for a process without memory (a zombie). */
export function parseVmRssKiB(status: string): number | null {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return match ? Number(match[1]) : null;
}

/** The root and all its descendants, root first. */
export function treeOf(rootPid: number, all: readonly ProcStat[]): ProcStat[] {
  const children = new Map<number, ProcStat[]>();
  for (const stat of all) {
    const siblings = children.get(stat.ppid);
    if (siblings) siblings.push(stat);
    else children.set(stat.ppid, [stat]);
  }
  const root = all.find((stat) => stat.pid === rootPid);
  if (!root) return [];
  const tree: ProcStat[] = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!.pid) ?? []));
  return tree;
}

async function readStat(pid: number): Promise<ProcStat | null> {
  try {
    return parseStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null; // gone between readdir and read
  }
}

/** Every process visible in /proc. */
export async function listProcesses(): Promise<ProcStat[]> {
  const names = await readdir('/proc');
  const stats = await Promise.all(names.filter((name) => /^\d+$/.test(name)).map((name) => readStat(Number(name))));
  return stats.filter((stat): stat is ProcStat => stat !== null);
}

export async function processTree(rootPid: number): Promise<ProcStat[]> {
  return treeOf(rootPid, await listProcesses());
}

export interface TreeUsage {
  readonly processes: number;
  readonly rssKiB: number;
  readonly cpuSeconds: number;
}

/** Memory and CPU of a process and all its descendants (nginx's workers, a cluster's workers, berth's children). */
export async function treeUsage(rootPid: number): Promise<TreeUsage> {
  const tree = await processTree(rootPid);
  let rssKiB = 0;
  let cpuSeconds = 0;
  for (const stat of tree) {
    cpuSeconds += stat.cpuSeconds;
    try {
      rssKiB += parseVmRssKiB(await readFile(`/proc/${stat.pid}/status`, 'utf8')) ?? 0;
    } catch {
      // exited while we looked
    }
  }
  return { processes: tree.length, rssKiB, cpuSeconds };
}

/** True while the very process (pid and start time) still runs; a zombie has stopped running. */
export async function isSameProcessAlive(stat: Pick<ProcStat, 'pid' | 'startTime'>): Promise<boolean> {
  const now = await readStat(stat.pid);
  return now !== null && now.startTime === stat.startTime && now.state !== 'Z';
}

/** CPU seconds per process outside `rootPid`'s tree, keyed by pid and start time. */
export async function cpuOutsideTree(rootPid: number): Promise<Map<string, number>> {
  const all = await listProcesses();
  const inside = new Set(treeOf(rootPid, all).map((stat) => stat.pid));
  return new Map(all.filter((stat) => !inside.has(stat.pid)).map((stat) => [`${stat.pid}:${stat.startTime}`, stat.cpuSeconds]));
}

/** CPU seconds the processes in `after` used since `before` (those new since count from zero). */
export function cpuUsedBetween(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): number {
  let used = 0;
  for (const [key, seconds] of after) used += seconds - (before.get(key) ?? 0);
  return used;
}
