import type { Stats } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { isAbsolute, join, sep } from 'node:path';
import { BerthError } from '../errors.ts';
import { lookupPath, openVerified } from './open-verified.ts';

// Reading a file from a folder someone else controls (an app's build), as
// root: whatever the owner does to the folder meanwhile, what is read is a
// regular file inside it, or nothing is read. The path is looked up first
// with an O_PATH descriptor (links inside the folder are fine; no device's
// open runs, a FIFO cannot block), whose canonical path must be inside the
// folder; that path is then opened through openVerified (the edge's
// primitive: O_PATH|O_NOFOLLOW, the descriptor's /proc name must be exactly
// it, and only then the same file is opened for reading) — a rename of a
// folder on the way between the two steps shows there.

/** What berth reads of an app's small files (berth.toml, Procfile, package.json, sources it scans) by default. */
export const CONFINED_READ_MAX_BYTES = 1024 * 1024;

export type ConfinedKind = 'file' | 'directory' | 'other';

const READ_CHUNK = 64 * 1024;


function refused(name: string, why: string): BerthError {
  return new BerthError('BERTH_E_APP_FILE', `${name} ${why}; berth did not read it`, {
    status: 422,
    hint: 'Files berth reads from the app (berth.toml, Procfile, package.json, lockfiles) must be regular files inside the app folder: make a link relative and inside the app, or copy the file.',
  });
}

/** `name` relative to `root`, with no way out written into it. */
function checkedName(name: string): string {
  if (name === '' || isAbsolute(name) || name.split(/[\\/]/).some((part) => part === '..')) throw new RangeError(`a confined read needs a relative name inside the folder, got ${JSON.stringify(name)}`);
  return name;
}

/** The file `name` leads to inside `root` (already real): its canonical path and stats; null when there is nothing; throws when it leads outside. */
async function locate(root: string, name: string): Promise<{ path: string; stats: Stats } | null> {
  let found;
  try {
    found = await lookupPath(join(root, checkedName(name)), { loopIsAbsence: false });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw refused(name, 'is a loop of links');
    throw err;
  }
  if (found === null) return null;
  if (found.path !== root && !found.path.startsWith(root + sep)) throw refused(name, 'is a link leading outside the app folder');
  return found;
}

async function realRoot(root: string): Promise<string> {
  try {
    return await realpath(root);
  } catch (err) {
    throw new BerthError('BERTH_E_APP_DIR', `app folder ${root} does not exist`, { cause: err });
  }
}

/**
 * The content of `name` inside `root`, null when there is no such file.
 * Throws BERTH_E_APP_FILE (never quoting the file) when it is a link
 * leading outside `root`, not a regular file, larger than `maxBytes`, or
 * was moved while it was being opened.
 */
export async function readConfined(root: string, name: string, maxBytes = CONFINED_READ_MAX_BYTES): Promise<Buffer | null> {
  const located = await locate(await realRoot(root), name);
  if (located === null) return null;
  if (!located.stats.isFile()) throw refused(name, 'is not a regular file');
  const opened = await openVerified(located.path);
  if (opened === null) throw refused(name, 'was moved or replaced while berth read it');
  const { handle, stats: facts } = opened;
  try {
    // A second name is a hard link, maybe to a file the app could never read itself.
    if (facts.nlink !== 1) throw refused(name, 'has other names (a hard link)');
    if (facts.size > maxBytes) throw refused(name, `is larger than ${maxBytes} bytes`);
    // The size can change after fstat: read to the end, and never more than allowed.
    const chunks: Buffer[] = [];
    let length = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK, maxBytes + 1 - length));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, length);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      length += bytesRead;
      if (length > maxBytes) throw refused(name, `is larger than ${maxBytes} bytes`);
    }
    return Buffer.concat(chunks, length);
  } finally {
    await handle.close();
  }
}

/** readConfined as UTF-8 text. */
export async function readConfinedText(root: string, name: string, maxBytes = CONFINED_READ_MAX_BYTES): Promise<string | null> {
  const bytes = await readConfined(root, name, maxBytes);
  return bytes === null ? null : bytes.toString('utf8');
}

/**
 * What `name` inside `root` is (after links inside `root`), null when
 * missing; throws BERTH_E_APP_FILE when it leads outside. Only the type is
 * learned: a file's content is read with readConfined.
 */
export async function kindConfined(root: string, name: string): Promise<ConfinedKind | null> {
  const found = await locate(await realRoot(root), name);
  if (found === null) return null;
  return found.stats.isFile() ? 'file' : found.stats.isDirectory() ? 'directory' : 'other';
}
