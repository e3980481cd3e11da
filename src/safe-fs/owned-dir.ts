import { constants } from 'node:fs';
import { lstat, mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Owner } from './give-tree.ts';
import { removeTree } from './remove-tree.ts';
import { trustedFolder } from './safe-path.ts';

/**
 * Makes `path` a real folder with exactly this owner and mode, whatever is
 * there now: a link in its place is removed (never followed), anything
 * else that is not a folder is removed with removeTree, a missing folder is
 * made. Owner and mode are set through a descriptor opened with O_NOFOLLOW
 * and O_DIRECTORY, so they land on the folder checked, and on a folder
 * only (a folder cannot be a hard link to someone else's). The folder
 * holding `path` must be one nobody else can change (checked).
 */
export async function ensureDirectory(path: string, owner: Owner, mode: number): Promise<void> {
  await trustedFolder(join(path, '..'));
  for (let attempt = 0; ; attempt++) {
    let facts;
    try {
      facts = await lstat(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (facts?.isSymbolicLink()) await unlink(path);
    else if (facts !== undefined && !facts.isDirectory()) await removeTree(path);
    if (facts === undefined || !facts.isDirectory()) {
      try {
        await mkdir(path, { mode: 0o700 });
      } catch (err) {
        // Something appeared meanwhile: look again (only berth can add entries here, so once).
        if ((err as NodeJS.ErrnoException).code === 'EEXIST' && attempt === 0) continue;
        throw err;
      }
    }
    break;
  }
  const handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    const facts = await handle.stat();
    // The mode first: a folder on its way to another owner is never open to them with a mode meant for berth.
    if ((facts.mode & 0o7777) !== mode) await handle.chmod(mode);
    if (facts.uid !== owner.uid || facts.gid !== owner.gid) await handle.chown(owner.uid, owner.gid);
  } finally {
    await handle.close();
  }
}
