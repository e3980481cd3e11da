// What to do about a local cluster's postmaster.pid before starting a
// postmaster on its data folder, as a pure decision over what /proc says.
//
// Two postmasters (or a postmaster and the backends of a dead one) writing
// one data folder corrupt it, and postmaster.pid is PostgreSQL's own guard
// against that. So berth never removes it while anything of that folder may
// be alive: the postmaster it names (by its pid, the data folder on its
// second line, and the process's cwd, exe and command line), any process
// whose working directory is the folder (every postgres process chdirs
// there), or the shared memory segment it names, while attached. Those are
// waited for, with a bound; if they outlast it the start is refused.
//
// When nothing of the folder is alive, PostgreSQL decides about a stale file
// itself (it starts when the named pid is dead) and berth leaves the file
// alone. berth removes it only where PostgreSQL would wrongly refuse: the
// pid now belongs to another live process (reused after a reboot), or the
// file is damaged (a crash while it was written).

/** postmaster.pid, as PostgreSQL writes it (miscadmin.h LOCK_FILE_LINE_*). */
export interface PostmasterPidFile {
  /** Line 1. */
  readonly pid: number;
  /** Line 2: the data folder. */
  readonly dataDir: string;
  /** Line 7: the System V shared memory segment's key and id, when it has one. */
  readonly shmKey: number | null;
  readonly shmId: number | null;
}

/** The file's contents, or null when it is not what PostgreSQL writes (empty, truncated, garbage). */
export function parsePostmasterPid(text: string): PostmasterPidFile | null {
  const lines = text.split('\n');
  const pidText = (lines[0] ?? '').trim();
  // A standalone backend writes its pid negated; either way it is a process of this folder.
  if (!/^-?[1-9]\d{0,9}$/.test(pidText)) return null;
  const pid = Math.abs(Number(pidText));
  const dataDir = lines[1] ?? '';
  if (!dataDir.startsWith('/')) return null;
  const shm = /^\s*(\d+)\s+(\d+)\s*$/.exec(lines[6] ?? '');
  return { pid, dataDir, shmKey: shm ? Number(shm[1]) : null, shmId: shm ? Number(shm[2]) : null };
}

/** What /proc says about one process. */
export type ProcessFacts =
  | { readonly kind: 'gone' }
  /** Dead but not yet reaped by its parent: it holds nothing, but its pid is still taken. */
  | { readonly kind: 'zombie' }
  /** Alive; null where /proc would not say. */
  | { readonly kind: 'alive'; readonly exe: string | null; readonly cmdline: readonly string[]; readonly cwd: string | null };

export interface PidFileFacts {
  /** The data folder, as berth names it and as the kernel resolves it (they differ through links). */
  readonly dataDir: string;
  readonly realDataDir: string;
  readonly file: 'missing' | 'damaged' | PostmasterPidFile;
  /** The process the file names (gone when there is no file). */
  readonly named: ProcessFacts;
  /** Every live process whose working directory is the data folder. */
  readonly holders: readonly number[];
  /** How many processes have the file's shared memory segment attached; null when it is gone or unnamed. */
  readonly shmAttached: number | null;
}

export type PidFileDecision =
  /** Nothing of the folder is alive: start, and let PostgreSQL judge any file. */
  | { readonly action: 'start' }
  /** Nothing of the folder is alive but the file would stop PostgreSQL for good: remove it, then start. */
  | { readonly action: 'remove'; readonly reason: string }
  /** Something of the folder may be alive: wait, and refuse once the bound has passed. */
  | { readonly action: 'wait'; readonly reason: string; readonly pids: readonly number[] };

const POSTGRES_PROGRAM = /(^|\/)(postgres|postmaster)$/;

function isPostgres(facts: ProcessFacts & { kind: 'alive' }): boolean {
  const argv0 = facts.cmdline[0] ?? '';
  // A postmaster keeps its argv; a backend retitles itself "postgres: …".
  return (facts.exe !== null && POSTGRES_PROGRAM.test(facts.exe.replace(/ \(deleted\)$/, ''))) || POSTGRES_PROGRAM.test(argv0) || argv0.startsWith('postgres:');
}

/** Which of these paths name the data folder. */
function sameFolder(path: string | null, facts: PidFileFacts): boolean {
  if (path === null) return false;
  const clean = path.replace(/\/+$/, '');
  return clean === facts.dataDir.replace(/\/+$/, '') || clean === facts.realDataDir.replace(/\/+$/, '');
}

export function judgePidFile(facts: PidFileFacts): PidFileDecision {
  const { file, named, holders } = facts;
  const pid = typeof file === 'object' ? file.pid : null;
  if (pid !== null && named.kind === 'alive') {
    const others = holders.filter((p) => p !== pid);
    if (named.cwd === null) return { action: 'wait', reason: `pid ${pid}, named by postmaster.pid, is alive and /proc will not say where it works`, pids: [pid, ...others] };
    if (sameFolder(named.cwd, facts)) {
      // Identified by the pid, the folder on the file's second line, its working directory and its program.
      const postmaster = typeof file === 'object' && sameFolder(file.dataDir, facts) && isPostgres(named);
      const what = postmaster ? `the postmaster of this data folder (pid ${pid})` : `pid ${pid} (${named.cmdline[0] ?? named.exe ?? 'unknown program'}), named by postmaster.pid and working in this data folder,`;
      return { action: 'wait', reason: `${what} is still running`, pids: [pid, ...others] };
    }
  }
  if (pid !== null && named.kind === 'zombie') {
    return { action: 'wait', reason: `the previous postmaster (pid ${pid}) has exited but its parent has not reaped it yet`, pids: [pid, ...holders] };
  }
  if (holders.length > 0) {
    return { action: 'wait', reason: `${holders.length === 1 ? 'a process' : `${holders.length} processes`} of the previous server still work${holders.length === 1 ? 's' : ''} in this data folder (pid ${holders.join(', ')})`, pids: holders };
  }
  if (facts.shmAttached !== null && facts.shmAttached > 0) {
    const key = typeof file === 'object' ? file.shmKey : null;
    return { action: 'wait', reason: `the previous server's shared memory (key ${key}) is still attached by ${facts.shmAttached} process${facts.shmAttached === 1 ? '' : 'es'}`, pids: [] };
  }
  if (file === 'damaged') return { action: 'remove', reason: 'it is damaged (a crash while PostgreSQL wrote it) and nothing of the data folder runs' };
  if (pid !== null && named.kind === 'alive') {
    return { action: 'remove', reason: `its pid ${pid} now belongs to ${named.cmdline[0] ?? named.exe ?? 'another process'}, which works elsewhere, and nothing of the data folder runs` };
  }
  return { action: 'start' };
}
