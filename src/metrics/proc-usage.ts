import { readdir, readFile } from 'node:fs/promises';

// What the kernel says about instances' process groups: resident memory and
// CPU time. Every instance runs in its own process group (its pid is the
// group id), so whatever it forks — npm's child, gunicorn's workers — is
// counted with it, unless a child left the group on purpose (setsid).
// Parsing is pure; reading /proc is the one async function at the bottom,
// called at scrape time only.

/** USER_HZ: the unit of the times in /proc/PID/stat; fixed at 100 by the kernel's ABI on every architecture berth runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

export interface ProcStat {
  readonly pid: number;
  /** The process group id. */
  readonly pgrp: number;
  /** CPU used by the process and by its children that it has waited for (utime + stime + cutime + cstime), in seconds. */
  readonly cpuSeconds: number;
}

/** Parses /proc/PID/stat. The command name may hold spaces and parentheses, so fields are counted from its last ')'. */
export function parseStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  // After ')': state(3) ppid(4) pgrp(5) ... utime(14) stime(15) cutime(16) cstime(17); index 0 here is field 3.
  const rest = text.slice(close + 2).trim().split(' ');
  const field = (n: number): number => Number(rest[n - 3]);
  const ticks = field(14) + field(15) + field(16) + field(17);
  if (!Number.isInteger(pid) || !Number.isFinite(ticks)) return null;
  return { pid, pgrp: field(5), cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND };
}

/** The resident set size in bytes from /proc/PID/status; 0 for a process without memory (a zombie). */
export function parseRssBytes(status: string): number {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

export interface GroupUsage {
  readonly processes: number;
  readonly rssBytes: number;
  /**
   * CPU seconds of the live members, each with its reaped children's:
   * a child that exits and is waited for moves into its parent's share, so
   * the sum only grows while the group leader lives.
   */
  readonly cpuSeconds: number;
}

/** Sums the members of each wanted group; `rssOf` gives a member's resident bytes. */
export function sumGroups(stats: readonly ProcStat[], groups: ReadonlySet<number>, rssOf: (pid: number) => number): Map<number, GroupUsage> {
  const usage = new Map<number, { processes: number; rssBytes: number; cpuSeconds: number }>();
  for (const stat of stats) {
    if (!groups.has(stat.pgrp)) continue;
    let group = usage.get(stat.pgrp);
    if (group === undefined) usage.set(stat.pgrp, (group = { processes: 0, rssBytes: 0, cpuSeconds: 0 }));
    group.processes++;
    group.rssBytes += rssOf(stat.pid);
    group.cpuSeconds += stat.cpuSeconds;
  }
  return usage;
}

async function readOrNull(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null; // gone between readdir and read, or hidden (hidepid)
  }
}

/** Memory and CPU per process group, for the groups asked about (one pass over /proc). Groups not found are absent. */
export async function readGroupUsage(groups: ReadonlySet<number>): Promise<Map<number, GroupUsage>> {
  if (groups.size === 0) return new Map();
  let names: string[];
  try {
    names = await readdir('/proc');
  } catch {
    return new Map(); // not Linux, or no /proc
  }
  const stats = (await Promise.all(names.filter((name) => /^\d+$/.test(name)).map((name) => readOrNull(`/proc/${name}/stat`))))
    .map((text) => (text === null ? null : parseStat(text)))
    .filter((stat): stat is ProcStat => stat !== null && groups.has(stat.pgrp));
  const rss = new Map<number, number>();
  await Promise.all(
    stats.map(async (stat) => {
      const status = await readOrNull(`/proc/${stat.pid}/status`);
      rss.set(stat.pid, status === null ? 0 : parseRssBytes(status));
    }),
  );
  return sumGroups(stats, groups, (pid) => rss.get(pid) ?? 0);
}
