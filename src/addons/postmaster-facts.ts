import { readdir, readFile, readlink, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { parsePostmasterPid, type PidFileFacts, type ProcessFacts } from './postmaster-pid.ts';

// What /proc says about a data folder's postmaster.pid, for judgePidFile
// (postmaster-pid.ts). Read only: nothing here signals or removes anything.

async function orNull<T>(work: Promise<T>): Promise<T | null> {
  try {
    return await work;
  } catch {
    return null;
  }
}

/** One process: gone, a zombie, or alive with its program, command line and working directory. */
export async function processFacts(pid: number): Promise<ProcessFacts> {
  const stat = await orNull(readFile(`/proc/${pid}/stat`, 'utf8'));
  if (stat === null) return { kind: 'gone' };
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  if (state === 'Z' || state === 'X') return { kind: 'zombie' };
  const [exe, cmdline, cwd] = await Promise.all([orNull(readlink(`/proc/${pid}/exe`)), orNull(readFile(`/proc/${pid}/cmdline`, 'utf8')), orNull(readlink(`/proc/${pid}/cwd`))]);
  // Exiting between the reads: as good as gone only once /proc says so; until then it is alive.
  return { kind: 'alive', exe, cmdline: (cmdline ?? '').split('\0').filter((arg, i, all) => arg !== '' || i < all.length - 1), cwd };
}

/** Every process whose working directory is one of `dirs`. */
async function processesIn(dirs: readonly string[]): Promise<number[]> {
  const wanted = new Set(dirs.map((dir) => dir.replace(/\/+$/, '')));
  const found: number[] = [];
  const entries = (await orNull(readdir('/proc'))) ?? [];
  await Promise.all(
    entries
      .filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid)
      .map(async (entry) => {
        const cwd = await orNull(readlink(`/proc/${entry}/cwd`));
        if (cwd !== null && wanted.has(cwd)) found.push(Number(entry));
      }),
  );
  return found.sort((a, b) => a - b);
}

/** How many processes have System V segment `shmId` (with `shmKey`) attached; null when it is gone. */
async function shmAttachments(shmKey: number, shmId: number): Promise<number | null> {
  const table = await orNull(readFile('/proc/sysvipc/shm', 'utf8'));
  if (table === null) return null;
  for (const line of table.split('\n').slice(1)) {
    const [key, id, , , , , nattch] = line.trim().split(/\s+/);
    if (Number(id) === shmId && Number(key) === shmKey) return Number(nattch);
  }
  return null;
}

/** Everything judgePidFile needs about `dataDir` right now. */
export async function readPidFileFacts(dataDir: string): Promise<PidFileFacts> {
  const realDataDir = (await orNull(realpath(dataDir))) ?? dataDir;
  const text = await orNull(readFile(join(dataDir, 'postmaster.pid'), 'utf8'));
  const parsed = text === null ? null : parsePostmasterPid(text);
  const file = text === null ? 'missing' : parsed === null ? 'damaged' : parsed;
  const [named, holders, shmAttached] = await Promise.all([
    parsed === null ? Promise.resolve<ProcessFacts>({ kind: 'gone' }) : processFacts(parsed.pid),
    processesIn([dataDir, realDataDir]),
    parsed === null || parsed.shmKey === null || parsed.shmId === null ? Promise.resolve(null) : shmAttachments(parsed.shmKey, parsed.shmId),
  ]);
  return { dataDir, realDataDir, file, named, holders, shmAttached };
}
