// How often the kernel held a sandboxed instance back for its CPU quota
// (`--default-cpu 1`: one core): its cgroup's cpu.stat, read before and
// after a measured run. A p99 that grows with throttled periods is the
// limit doing its job, not the sandbox's overhead.
import { readFile } from 'node:fs/promises';

export interface CpuThrottle {
  readonly periods: number;
  readonly throttled: number;
  readonly throttledMs: number;
}

/** cpu.stat of cgroup v1 (throttled_time, ns) or v2 (throttled_usec). Pure. */
export function parseCpuStat(text: string): CpuThrottle | null {
  const field = (name: string) => {
    const match = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
    return match ? Number(match[1]) : null;
  };
  const periods = field('nr_periods');
  const throttled = field('nr_throttled');
  const ns = field('throttled_time');
  const us = field('throttled_usec');
  if (periods === null || throttled === null || (ns === null && us === null)) return null;
  return { periods, throttled, throttledMs: ns !== null ? ns / 1e6 : us! / 1e3 };
}

/** The directory of the process's cpu cgroup, from /proc/PID/cgroup: v1's cpu hierarchy, else v2's. Pure. */
export function cpuCgroupDir(procCgroup: string, mountRoot = '/sys/fs/cgroup'): string | null {
  let unified: string | null = null;
  for (const line of procCgroup.split('\n')) {
    const [, , controllers, path] = /^(\d+):([^:]*):(.*)$/.exec(line.trim()) ?? [];
    if (controllers === undefined || path === undefined) continue;
    if (controllers.split(',').includes('cpu')) return `${mountRoot}/${controllers}${path === '/' ? '' : path}`;
    if (controllers === '') unified = `${mountRoot}${path === '/' ? '' : path}`;
  }
  return unified;
}

/** The throttling counters of the cgroup `pid` is in; null when they cannot be read. */
export async function cpuThrottleOf(pid: number): Promise<CpuThrottle | null> {
  try {
    const dir = cpuCgroupDir(await readFile(`/proc/${pid}/cgroup`, 'utf8'));
    return dir === null ? null : parseCpuStat(await readFile(`${dir}/cpu.stat`, 'utf8'));
  } catch {
    return null;
  }
}

export function throttleBetween(before: CpuThrottle, after: CpuThrottle): CpuThrottle {
  return { periods: after.periods - before.periods, throttled: after.throttled - before.throttled, throttledMs: after.throttledMs - before.throttledMs };
}
