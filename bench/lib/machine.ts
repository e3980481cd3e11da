// What the numbers were measured on.
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import type { ChildProcesses } from './child-processes.ts';
import { listProcesses } from './proc-tree.ts';

/**
 * Processes other than this one that used CPU during a one-second look: on a
 * shared 2-core machine, anything busy here shows up in the numbers.
 */
async function busyProcesses(): Promise<string> {
  const before = new Map((await listProcesses()).map((stat) => [stat.pid, stat.cpuSeconds]));
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const busy = (await listProcesses())
    .filter((stat) => stat.pid !== process.pid && stat.cpuSeconds - (before.get(stat.pid) ?? stat.cpuSeconds) >= 0.05)
    .map((stat) => `${stat.name} (pid ${stat.pid}) ${Math.round((stat.cpuSeconds - before.get(stat.pid)!) * 100)} %`);
  return busy.length === 0 ? 'none' : busy.join(', ');
}

export async function machineInfo(children: ChildProcesses): Promise<Record<string, string | number>> {
  // `wrk -v` prints its version and its usage, and exits 1.
  const wrkOutput = await children.run({ name: 'wrk -v', command: 'wrk', args: ['-v'], timeoutMs: 5_000, okCodes: [0, 1] }).catch(() => '');
  const wrk = /wrk (\S+)/.exec(wrkOutput)?.[1] ?? 'unknown';
  return {
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    memory: `${(totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    kernel: `Linux ${release()}`,
    node: process.version,
    wrk,
    loadAverageAtStart: loadavg().map((n) => n.toFixed(2)).join(' '),
    otherProcessesBusy: await busyProcesses(),
  };
}
