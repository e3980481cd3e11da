import { spawn } from 'node:child_process';
import { listProcesses, runsAs, type ProcessEntry } from './proc-table.ts';
import type { RunAs } from './instance.ts';

// Ends every process of a Unix user, wherever it went: a process that left
// its instance's group (setsid), double-forked to init, or dropped berth's
// environment tag is still its user's. The reliable way is kill(-1) from a
// process running as that user: the kernel signals every process the user
// may signal (its own, whatever their group or session) but the sender.

/** Tries per call; each is a kill(-1) as the user and a look at /proc. */
const ATTEMPTS = 10;
const PAUSE_MS = 100;

/** The processes of `uid` among `processes` (any of their uids: a set-uid program it started is still its). */
export function processesOf(processes: readonly ProcessEntry[], uid: number): ProcessEntry[] {
  return processes.filter((p) => runsAs(p, uid));
}

/** kill(-1, SIGKILL), run as the user: every process of that user but this one gets SIGKILL. */
function killAllAs(user: RunAs): Promise<void> {
  return new Promise((resolve) => {
    // The Node that runs berth (the apps run it too, so every app user can),
    // with an empty environment: no dependence on a kill(1) and its parsing.
    const child = spawn(process.execPath, ['-e', "process.kill(-1, 'SIGKILL')"], { uid: user.uid, gid: user.gid, env: {}, stdio: 'ignore' });
    child.once('error', () => resolve());
    // Exit 1 means "no process to signal" (all gone): fine either way.
    child.once('exit', () => resolve());
  });
}

/**
 * SIGKILLs every process of `user` until /proc shows none, a bounded number
 * of times; returns what is left (empty when all are gone). A zombie left
 * waiting for its parent is not counted: it runs nothing and holds nothing.
 */
export async function endProcessesOf(user: RunAs): Promise<ProcessEntry[]> {
  if (user.uid === 0) throw new Error('refusing to end the processes of uid 0');
  let left: ProcessEntry[] = [];
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    left = processesOf(await listProcesses(), user.uid).filter((p) => p.state !== 'Z');
    if (left.length === 0) return [];
    await killAllAs(user);
    await new Promise((resolve) => setTimeout(resolve, attempt === 0 ? 20 : PAUSE_MS));
  }
  left = processesOf(await listProcesses(), user.uid).filter((p) => p.state !== 'Z');
  return left;
}

/**
 * Like endProcessesOf, but sparing the processes `spared` names (asked
 * again each round: what an instance taken over starts meanwhile is its
 * own): each other process of the user is SIGKILLed by pid, as root. Used
 * when some of a user's processes are instances a previous daemon left
 * running and this one takes over; kill(-1) as the user would end them too.
 */
export async function endProcessesExcept(user: RunAs, spared: () => Promise<ReadonlySet<number>>): Promise<ProcessEntry[]> {
  if (user.uid === 0) throw new Error('refusing to end the processes of uid 0');
  let left: ProcessEntry[] = [];
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const keep = await spared();
    left = processesOf(await listProcesses(), user.uid).filter((p) => p.state !== 'Z' && !keep.has(p.pid));
    if (left.length === 0) return [];
    for (const p of left) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    await new Promise((resolve) => setTimeout(resolve, attempt === 0 ? 20 : PAUSE_MS));
  }
  const keep = await spared();
  return processesOf(await listProcesses(), user.uid).filter((p) => p.state !== 'Z' && !keep.has(p.pid));
}
