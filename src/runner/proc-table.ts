import { readdir, readFile, readlink } from 'node:fs/promises';

// The machine's processes as /proc shows them: who runs as which uid, in
// which process group, holding which sockets. Parsing is pure; the reads are
// thin and forgive processes that vanish while they are read.

/** One process, as far as berth needs to know it. */
export interface ProcessEntry {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  /** The state letter of /proc/PID/stat: R, S, D, Z (zombie), T, … */
  readonly state: string;
  /** Real, effective, saved and filesystem uid (Uid: of /proc/PID/status). */
  readonly uids: readonly number[];
  /** Its command line (arguments joined by spaces), or `[comm]` for one without (a kernel thread, a zombie). */
  readonly command: string;
}

/**
 * pid, comm, state, ppid, pgid and start time (field 22, clock ticks since
 * boot) from the text of /proc/PID/stat (comm may hold spaces and
 * parentheses: everything after the last ')' is fields 3 on).
 */
export function parseStat(text: string): { pid: number; comm: string; state: string; ppid: number; pgid: number; startTime: number } | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  // fields[0] is field 3 (state): field N is fields[N - 3].
  const fields = text.slice(close + 2).split(' ');
  const ppid = Number(fields[1]);
  const pgid = Number(fields[2]);
  const startTime = Number(fields[19]);
  if (!Number.isSafeInteger(pid) || pid <= 0 || !Number.isInteger(ppid) || !Number.isInteger(pgid) || !Number.isSafeInteger(startTime) || fields[19] === '') return null;
  return { pid, comm: text.slice(open + 1, close), state: fields[0] ?? '', ppid, pgid, startTime };
}

/** The four uids of the `Uid:` line of /proc/PID/status. */
export function parseStatusUids(text: string): number[] | null {
  const line = text.split('\n').find((l) => l.startsWith('Uid:'));
  if (line === undefined) return null;
  const uids = line.slice(4).trim().split(/\s+/).map(Number);
  return uids.length === 4 && uids.every(Number.isInteger) ? uids : null;
}

/** The socket inode a /proc/PID/fd link names (`socket:[12345]`), or null. */
export function socketInode(link: string): number | null {
  const match = /^socket:\[(\d+)\]$/.exec(link);
  return match ? Number(match[1]) : null;
}

async function readProcess(pid: number): Promise<ProcessEntry | null> {
  try {
    const [stat, status, cmdline] = await Promise.all([
      readFile(`/proc/${pid}/stat`, 'utf8'),
      readFile(`/proc/${pid}/status`, 'utf8'),
      readFile(`/proc/${pid}/cmdline`),
    ]);
    const parsed = parseStat(stat);
    const uids = parseStatusUids(status);
    if (parsed === null || uids === null) return null;
    const args = cmdline.toString('utf8').split('\0').filter((a) => a !== '');
    return { pid, ppid: parsed.ppid, pgid: parsed.pgid, state: parsed.state, uids, command: args.length > 0 ? args.join(' ') : `[${parsed.comm}]` };
  } catch {
    return null; // gone while being read
  }
}

/** Every process of the machine (this pid namespace), read from /proc. */
export async function listProcesses(): Promise<ProcessEntry[]> {
  const entries = await readdir('/proc');
  const pids = entries.filter((e) => /^\d+$/.test(e)).map(Number);
  const read = await Promise.all(pids.map(readProcess));
  return read.filter((p): p is ProcessEntry => p !== null);
}

/** The socket inodes a process holds open (empty when it is gone or cannot be read). */
export async function socketInodesOf(pid: number): Promise<number[]> {
  let fds: string[];
  try {
    fds = await readdir(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  const links = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
  return links.map(socketInode).filter((inode): inode is number => inode !== null);
}

/** Whether this process runs as `uid` (any of its uids: a set-uid helper still counts). */
export function runsAs(process: ProcessEntry, uid: number): boolean {
  return process.uids.includes(uid);
}
