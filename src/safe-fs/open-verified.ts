// Opening files in folders that someone else (an app) can change while we
// look. A path is only a name: between checking where it leads and opening
// it, any folder on the way can become a symlink. So a path is never
// trusted. We open first with O_PATH (the file itself is not opened: no
// driver's open() runs, a FIFO cannot block, nothing can be read), ask the
// kernel which file that descriptor is (/proc/self/fd/N names its canonical
// path), check that, and only then open the very same file for reading
// through the descriptor (opening /proc/self/fd/N does not look any name up
// again). What is checked is what is read.

import { constants, type Stats } from 'node:fs';
import { open, readlink, type FileHandle } from 'node:fs/promises';

// Linux's O_PATH, which fs.constants lacks; this value holds on every
// architecture Node runs on (x86, arm, arm64, ppc64, s390x, riscv).
const O_PATH = 0o10000000;
const { O_NOFOLLOW, O_RDONLY, O_NONBLOCK, O_NOCTTY } = constants;

/** What a path led to when it was looked at. */
export interface Found {
  /** The canonical path of the file found (as realpath says, but of the very file looked at). */
  readonly path: string;
  readonly stats: Stats;
}

/** Who may have a file read for them: only files of `owner`'s, or files anyone may read. */
export interface FileRule {
  /** A uid; absent or null: any file. */
  readonly owner?: number | null;
}

function procPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

/** Errors that mean "nothing (usable) is at this path", never a fault. */
export function isAbsence(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  // ENOTDIR is 'file.css/x'; ELOOP a symlink cycle.
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'ENAMETOOLONG';
}

/**
 * The owner rule: a file owned by `owner`, or readable by others (o+r). It
 * keeps a hard link to someone else's private file (berth.db, a key) from
 * being served even where fs.protected_hardlinks is off.
 */
export function ownerAllows(stats: Pick<Stats, 'uid' | 'mode'>, owner: number | null | undefined): boolean {
  return owner === undefined || owner === null || stats.uid === owner || (stats.mode & 0o004) !== 0;
}

async function describe(handle: FileHandle): Promise<Found> {
  const [path, stats] = await Promise.all([readlink(procPath(handle.fd)), handle.stat()]);
  return { path, stats };
}

/**
 * What `path` leads to now, following links: the canonical path of the file
 * found and its stats, both of that one file (no race between a realpath and
 * a stat). null when nothing is there (a loop of links too, unless
 * `loopIsAbsence` is false), or it was deleted as we looked. Other errors
 * (EACCES, EMFILE…) are thrown.
 */
export async function lookupPath(path: string, options: { readonly loopIsAbsence?: boolean } = {}): Promise<Found | null> {
  let handle: FileHandle;
  try {
    handle = await open(path, O_PATH);
  } catch (err) {
    // A loop of links is "nothing here" to the edge; a caller that reports it asks for the error.
    if (options.loopIsAbsence === false && (err as NodeJS.ErrnoException).code === 'ELOOP') throw err;
    if (isAbsence(err)) return null;
    throw err;
  }
  try {
    const found = await describe(handle);
    // A deleted file's /proc name ends in ' (deleted)': not a path to trust.
    return found.stats.nlink === 0 ? null : found;
  } finally {
    await handle.close();
  }
}

/**
 * Opens the regular file at `path` for reading, only if `path` (absolute and
 * canonical: a realpath) names exactly that file at the moment it is opened
 * — no link at the end or anywhere on the way — and it passes `rule`. null
 * otherwise, and when nothing is there: the caller answers as for a missing
 * file. Non-blocking and no controlling terminal, so that nothing but a
 * regular file could ever hold us up.
 */
export async function openVerified(path: string, rule: FileRule = {}): Promise<{ handle: FileHandle; stats: Stats } | null> {
  let located: FileHandle;
  try {
    located = await open(path, O_PATH | O_NOFOLLOW);
  } catch (err) {
    if (isAbsence(err)) return null;
    throw err;
  }
  try {
    const found = await describe(located);
    const stats = found.stats;
    if (found.path !== path || !stats.isFile() || stats.nlink === 0 || !ownerAllows(stats, rule.owner)) return null;
    const handle = await open(procPath(located.fd), O_RDONLY | O_NONBLOCK | O_NOCTTY);
    return { handle, stats };
  } finally {
    await located.close();
  }
}
