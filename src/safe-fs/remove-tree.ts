import { execFile } from 'node:child_process';
import { basename, isAbsolute } from 'node:path';
import { promisify } from 'node:util';
import { BerthError } from '../errors.ts';
import { trustedEntry } from './safe-path.ts';

const run = promisify(execFile);

/**
 * Removes `path` and everything under it, even when another user owns
 * the tree and changes it meanwhile (an app's build folder, its data
 * folder). The one way berth removes a tree it does not fully control.
 *
 * Node's recursive rm walks by path: it checks that an entry is a folder,
 * then lists it by name, so an owner who swaps a subfolder for a link in
 * between has root delete wherever the link points. GNU rm walks with
 * descriptors (openat with O_NOFOLLOW, the device and inode checked), so a
 * swapped entry is removed as the link it now is; --one-file-system stops
 * at a mount. The path's own folders must be root's (checked:
 * trustedEntry), so the name given to rm leads where berth meant.
 */
export async function removeTree(path: string): Promise<void> {
  if (!isAbsolute(path) || basename(path) === '' || basename(path) === '..' || basename(path) === '.') throw new RangeError(`removeTree needs an absolute path to an entry, got ${JSON.stringify(path)}`);
  const entry = await trustedEntry(path);
  if (entry === null) return; // its folder is gone, so is it
  try {
    await run('rm', ['-rf', '--one-file-system', '--', entry], { encoding: 'utf8' });
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    throw new BerthError('BERTH_E_STATE', `cannot remove ${entry}: ${detail.split('\n')[0]}`, { status: 500, hint: 'Check the daemon log; remove the folder by hand once its cause is fixed.', cause: err });
  }
}
