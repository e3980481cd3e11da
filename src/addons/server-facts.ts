import { constants } from 'node:fs';
import { open, readFile, readlink, rm } from 'node:fs/promises';
import { writeFileAtomic } from '../platform/atomic-file.ts';
import { parseServerRecord, type RecordedProcess, type ServerRecord } from './server-adoption.ts';
import { parseStat } from '../runner/index.ts';

// The reads and writes behind server-adoption.ts's decision: berth's record
// of a server it started, and what /proc says about a process. Nothing here
// signals anything.

async function orNull<T>(work: Promise<T>): Promise<T | null> {
  try {
    return await work;
  } catch {
    return null;
  }
}

/** This boot's id: a start time counts from one boot. */
export async function bootId(): Promise<string> {
  return ((await orNull(readFile('/proc/sys/kernel/random/boot_id', 'utf8'))) ?? '').trim();
}

/** State, process group and start time (field 22) from /proc/PID/stat's text. Pure. */
export function parseProcStat(text: string): { state: string; pgid: number; startTime: string } | null {
  const parsed = parseStat(text);
  // The start time is kept as its decimal text: records compare it as written.
  return parsed === null || parsed.state === '' ? null : { state: parsed.state, pgid: parsed.pgid, startTime: String(parsed.startTime) };
}

/** One process as adoption needs it. */
export async function recordedProcess(pid: number): Promise<RecordedProcess> {
  const stat = await orNull(readFile(`/proc/${pid}/stat`, 'utf8'));
  const parsed = stat === null ? null : parseProcStat(stat);
  if (parsed === null) return { kind: 'gone' };
  if (parsed.state === 'Z' || parsed.state === 'X') return { kind: 'zombie' };
  const [status, exe, cwd] = await Promise.all([orNull(readFile(`/proc/${pid}/status`, 'utf8')), orNull(readlink(`/proc/${pid}/exe`)), orNull(readlink(`/proc/${pid}/cwd`))]);
  const uid = Number(/^Uid:\s+(\d+)/m.exec(status ?? '')?.[1] ?? NaN);
  if (!Number.isInteger(uid)) return { kind: 'gone' };
  return { kind: 'alive', startTime: parsed.startTime, uid, pgid: parsed.pgid, exe, cwd };
}

/** The start time of a live (non-zombie) process, or null when it is gone. */
export async function startTimeOf(pid: number): Promise<string | null> {
  const stat = await orNull(readFile(`/proc/${pid}/stat`, 'utf8'));
  const parsed = stat === null ? null : parseProcStat(stat);
  return parsed === null || parsed.state === 'Z' || parsed.state === 'X' ? null : parsed.startTime;
}

/** The record in `file` (never followed through a link), 'missing' or 'damaged'. */
export async function readServerRecord(file: string): Promise<ServerRecord | 'missing' | 'damaged'> {
  let text: string;
  try {
    const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'damaged';
  }
  return parseServerRecord(text);
}

/** Writes the record (root's, 0600, atomically: the folder is root's, so nothing else can place a file or link there). */
export function writeServerRecord(file: string, record: ServerRecord): void {
  writeFileAtomic(file, `${JSON.stringify(record)}\n`, 0o600);
}

export async function removeServerRecord(file: string): Promise<void> {
  await rm(file, { force: true });
}
