// Folders for berth's own temporary files. A fixed name in a shared folder
// (/tmp/berth-edge-PID) can be created first by anyone on the machine: as a
// file (every write fails), or as a folder or link of theirs (our files go
// where they can see or redirect them). So a temporary folder is made
// exclusively, with a name nobody can guess, readable by us alone.

import { lstat, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError } from '../errors.ts';

/** A new folder under `parent`, ours alone (0700), with an unpredictable name after `prefix`; made exclusively. */
export function makePrivateDir(parent: string, prefix: string): Promise<string> {
  // mkdtemp(3): a random suffix, mkdir with mode 0700, retried on EEXIST, so
  // nothing anyone made beforehand is ever reused.
  return mkdtemp(join(parent, prefix));
}

/**
 * Makes `path` an empty folder of ours, mode 0700, whatever was there: what
 * a killed process left behind goes. Its parent must be ours too (nobody
 * else able to create entries in it), and nothing else may be using `path`.
 */
export async function resetPrivateDir(path: string): Promise<void> {
  // rm never follows links: a link is removed, never what it points at.
  await rm(path, { recursive: true, force: true });
  // Not recursive: fails rather than reuse anything that appeared meanwhile.
  await mkdir(path, { mode: 0o700 });
  const st = await lstat(path);
  const uid = process.geteuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0) {
    throw new BerthError('BERTH_E_STATE', `${path} is not a private folder of berth's`, {
      hint: 'Something else changed it while berth made it; check who can write to its parent folder.',
      status: 500,
    });
  }
}
