import { lstat, realpath } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { BerthError } from '../errors.ts';

// Root may change a path by name only when nobody else can change what the
// name leads to: every folder on the way is root's (or berth's own user's)
// and writable by nobody else, except a sticky folder (/tmp), where others
// may write but not rename or remove an entry they do not own.

const STICKY = 0o1000;

function trusted(uid: number): boolean {
  return uid === 0 || uid === (process.getuid?.() ?? 0);
}

/**
 * The real path of folder `dir` (no link left in it) after checking that
 * no one but root and berth can change any folder on it: the path it
 * returns leads to the same place for as long as berth does not change it.
 * Null when `dir` does not exist. Throws BERTH_E_STATE naming the folder in
 * the way.
 */
export async function trustedFolder(dir: string): Promise<string | null> {
  let real: string;
  try {
    real = await realpath(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const parts = real.split(sep).filter((part) => part !== '');
  let path: string = sep;
  let facts = await lstat(path);
  for (let i = 0; ; i++) {
    if (!facts.isDirectory()) throw untrusted(path, 'is not a folder');
    const next = i < parts.length ? join(path, parts[i]!) : null;
    const nextFacts = next === null ? null : await lstat(next);
    if (!trusted(facts.uid)) throw untrusted(path, `belongs to uid ${facts.uid}`);
    const othersWrite = (facts.mode & 0o022) !== 0;
    // A sticky folder is safe for an entry that is root's or berth's: nobody else may rename it.
    if (othersWrite && !((facts.mode & STICKY) !== 0 && nextFacts !== null && trusted(nextFacts.uid))) {
      throw untrusted(path, 'may be written by other users');
    }
    if (next === null) return real;
    path = next;
    facts = nextFacts!;
  }
}

function untrusted(path: string, why: string): BerthError {
  return new BerthError('BERTH_E_STATE', `berth will not change files under ${path}: it ${why}, so another user could redirect what berth does there as root`, {
    status: 500,
    hint: `Make ${path} root's and writable by root alone (chown root ${path}; chmod go-w ${path}), or put --state elsewhere.`,
  });
}

/** `path`'s folder, checked with trustedFolder, joined again with its last name; null when the folder is missing. */
export async function trustedEntry(path: string): Promise<string | null> {
  const folder = await trustedFolder(dirname(path));
  return folder === null ? null : join(folder, path.slice(dirname(path).length + 1));
}
