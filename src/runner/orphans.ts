import { readdirSync, readFileSync } from 'node:fs';

/** The environment variable that tags every instance with the supervisor that started it. */
export const SUPERVISOR_ENV = 'BERTH_SUPERVISOR';

/**
 * Kills the process groups of instances a previous run of the same
 * supervisor left behind (a daemon killed with SIGKILL cannot stop its
 * instances, and they would hold ports and memory for ever). An instance is
 * recognised by its environment carrying `BERTH_SUPERVISOR=<marker>` and by
 * having lost its parent (re-parented to init), so the live instances of a
 * running supervisor are never touched, nor the groups `spared` names
 * (instances the next daemon takes over). Returns the pids it killed.
 */
export function reapOrphans(marker: string, spared: ReadonlySet<number> = new Set()): number[] {
  const tag = Buffer.from(`${SUPERVISOR_ENV}=${marker}\0`);
  const killed: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return killed;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(fields[1]);
      const pgid = Number(fields[2]);
      // Only orphaned group leaders: an instance is its own group's leader.
      if (ppid !== 1 || pgid !== pid || spared.has(pid)) continue;
      const environ = readFileSync(`/proc/${pid}/environ`);
      if (environ.indexOf(tag) === -1 && !environ.subarray(0, tag.length).equals(tag)) continue;
      process.kill(-pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      // Gone, or not ours to read: either way not an orphan of ours.
    }
  }
  return killed;
}
