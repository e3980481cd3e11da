// The edge process's files under the state folder, all root's alone:
// STATE/run (0700) holds the control socket and edge.json (0600),
// STATE/logs (0700) edge.log (0600). None is opened through a link: a link
// found at one of these names is removed, never followed.
import { closeSync, constants, fstatSync, fchmodSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError } from '../errors.ts';

export interface EdgePaths {
  readonly runDir: string;
  /** The control socket of the edge in charge. */
  readonly socket: string;
  /** The pid and start time of the edge in charge, for a full stop without a daemon. */
  readonly record: string;
  readonly logDir: string;
  readonly log: string;
}

export function edgePaths(stateDir: string): EdgePaths {
  const runDir = join(stateDir, 'run');
  const logDir = join(stateDir, 'logs');
  return { runDir, socket: join(runDir, 'edge.sock'), record: join(runDir, 'edge.json'), logDir, log: join(logDir, 'edge.log') };
}

/** A new edge's own socket until it takes charge (`claim` renames it to edge.sock). */
export function candidateSocket(paths: EdgePaths, nonce: string): string {
  return join(paths.runDir, `edge-${nonce}.sock`);
}

/** Makes `path` a folder of ours, 0700, unless something else is there. */
export function ensurePrivateFolder(path: string): void {
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = lstatSync(path);
  const uid = process.geteuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) {
    throw new BerthError('BERTH_E_STATE', `${path} is not a folder of berth's`, { hint: 'Remove it (berth makes it again) and check who can write to the state folder.', status: 500 });
  }
  if ((st.mode & 0o077) !== 0) {
    // Ours, too open: close it (the folder is ours, so nothing else follows it).
    const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    try {
      fchmodSync(fd, 0o700);
    } finally {
      closeSync(fd);
    }
  }
}

/** Opens a log file to append to (0600, ours), replacing a link or anything else found at its name. */
export function openAppendPrivate(path: string): number {
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o600);
    } catch (err) {
      // ELOOP: a link; ENXIO: a FIFO without a reader. Neither is ours to write into.
      const code = (err as NodeJS.ErrnoException).code;
      if (attempt === 0 && (code === 'ELOOP' || code === 'ENXIO' || code === 'EISDIR')) {
        unlinkSync(path);
        continue;
      }
      throw err;
    }
    const st = fstatSync(fd);
    const uid = process.geteuid?.();
    if (!st.isFile() || (uid !== undefined && st.uid !== uid) || st.nlink !== 1) {
      closeSync(fd);
      if (attempt === 0) {
        unlinkSync(path);
        continue;
      }
      throw new BerthError('BERTH_E_STATE', `${path} is not a file of berth's`, { hint: 'Check who can write to the state folder.', status: 500 });
    }
    if ((st.mode & 0o777) !== 0o600) fchmodSync(fd, 0o600);
    return fd;
  }
}

/** Writes a small file whole: a new 0600 file renamed over the name (a rename replaces a link, never follows it). */
export function writePrivateFile(path: string, text: string): void {
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    unlinkSync(temporary);
  } catch {
    // none left over
  }
  const fd = openSync(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}

/** Removes a name if it is there (a link is removed, never what it points at). */
export function removeName(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

export interface EdgeRecord {
  readonly pid: number;
  readonly startTime: number;
}

/** edge.json as written by the edge in charge, or null when absent or not one. */
export function readEdgeRecord(path: string): EdgeRecord | null {
  let text: string;
  try {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      text = readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
  try {
    const value = JSON.parse(text) as { pid?: unknown; startTime?: unknown };
    if (Number.isSafeInteger(value.pid) && (value.pid as number) > 1 && Number.isSafeInteger(value.startTime)) return { pid: value.pid as number, startTime: value.startTime as number };
  } catch {
    // not one of ours
  }
  return null;
}

/** /proc/PID/stat field 22 (start time in clock ticks after boot); null for a process gone or a zombie. */
export function processStartTime(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command (field 2) may hold spaces and parentheses: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return null;
  const start = Number(fields[19]);
  return Number.isSafeInteger(start) ? start : null;
}

/** The process named by pid and start time is still that process and alive. */
export function isRunning(record: EdgeRecord): boolean {
  return processStartTime(record.pid) === record.startTime;
}
