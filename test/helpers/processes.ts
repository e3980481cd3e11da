import { readdirSync, readFileSync } from 'node:fs';

/** Pids of every process whose ancestry includes `root` (not `root` itself). */
export function descendants(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name may contain spaces and parentheses; fields follow the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parentOf.set(Number(entry), Number(fields[1]));
    } catch {
      // The process ended while we looked.
    }
  }
  const result: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [pid, ppid] of parentOf) {
      if (ppid === parent) {
        result.push(pid);
        queue.push(pid);
      }
    }
  }
  return result;
}

/** Resident memory of a process in bytes, or 0 when it is gone. */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * The host's pid of a process that knows itself (inside its sandbox's pid
 * namespace) as `nsPid`, found by its innermost NSpid and its command line;
 * a process without a namespace of its own is its own answer. null when no
 * process matches.
 */
export function hostPidOf(nsPid: number, command: RegExp): number | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const nspid = /^NSpid:\s+(.+)$/m.exec(status)?.[1]?.trim().split(/\s+/).map(Number) ?? [];
      if (nspid.at(-1) !== nsPid) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (command.test(cmdline)) return Number(entry);
    } catch {
      // ended while we looked
    }
  }
  return null;
}

/**
 * The host pid of instance `name` (BERTH_INSTANCE) among the descendants
 * of `root`: the process that runs the app (inside a sandbox, the one
 * whose innermost pid is `nsPid`; outside one, the one with that pid).
 */
export function instanceHostPid(root: number, name: string, nsPid: number): number | null {
  for (const pid of descendants(root)) {
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      if (!environ.includes(`BERTH_INSTANCE=${name}`)) continue;
      const nspid = /^NSpid:\s+(.+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]?.trim().split(/\s+/).map(Number) ?? [];
      if (nspid.at(-1) === nsPid) return pid;
    } catch {
      // ended while we looked
    }
  }
  return null;
}
