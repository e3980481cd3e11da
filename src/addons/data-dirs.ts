import { constants } from 'node:fs';
import { lstat, mkdir, open, realpath, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError } from '../errors.ts';
import { requireTraversable } from '../platform/app-users.ts';
import { appName } from '../platform/names.ts';
import { removeTree } from '../safe-fs/index.ts';
import type { AddonUser } from './types.ts';

// An app's persistent data directory (STATE/data/APP): outside the release
// directories, so it survives deploys and rollbacks. The SQLite add-on keeps
// its database there and `berth storage` hands it to the app as
// BERTH_DATA_DIR. The app's user owns the directory and everything in it;
// berth (root) owns the data root, so an app can neither rename its own
// directory nor reach another app's.

/** The data root: any user may pass through (apps reach their own folder), nobody but berth may list or change it. */
const ROOT_MODE = 0o711;
/** An app's own folder: its user only. */
const DIR_MODE = 0o700;

/** Where the app's data directory is (whether or not it exists). */
export function dataDirOf(dataRoot: string, app: string): string {
  // The name becomes a path component: checked here too, so that no caller
  // can turn "..", "" or "a/b" into a folder outside the data root.
  return join(dataRoot, appName(app));
}

function refuse(message: string, hint: string): never {
  throw new BerthError('BERTH_E_STATE', message, { status: 500, hint });
}

/**
 * Creates (or checks and repairs) the app's data directory and returns its
 * path. Refuses a data root berth does not own, and an app entry that is a
 * symbolic link or not a directory: berth, as root, would otherwise hand the
 * app (or write into) whatever the link points at.
 */
export async function ensureDataDir(dataRoot: string, app: string, user: AddonUser | null): Promise<string> {
  const dir = dataDirOf(dataRoot, app);
  const self = process.getuid?.() ?? 0;

  await mkdir(dataRoot, { recursive: true, mode: ROOT_MODE });
  const root = await openDirectory(dataRoot, false);
  try {
    const facts = await root.stat();
    if (facts.uid !== self) {
      refuse(`the data folder ${dataRoot} belongs to uid ${facts.uid}, not to berth`, `An app that owns it could swap other apps' folders. Run: chown ${self} ${dataRoot}`);
    }
    // mkdir's mode is filtered by the umask, and an older root may be looser.
    if ((facts.mode & 0o7777) !== ROOT_MODE) await root.chmod(ROOT_MODE);
  } finally {
    await root.close();
  }
  // Before anything is made for the app: a folder its user cannot reach is useless.
  if (user !== null) await requireTraversable(dir);

  try {
    await mkdir(dir, { mode: DIR_MODE });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const entry = await lstat(dir);
  if (entry.isSymbolicLink() || !entry.isDirectory()) {
    refuse(`the data folder ${dir} is ${entry.isSymbolicLink() ? 'a symbolic link' : 'not a folder'}; berth will not use it`, `Move it away (it was not made by berth), then try again.`);
  }
  // A bind mount or a link higher up that berth did not make would move the
  // folder elsewhere; the data folder must be where it claims to be.
  const [realRoot, realDir] = await Promise.all([realpath(dataRoot), realpath(dir)]);
  if (realDir !== join(realRoot, app)) {
    refuse(`the data folder ${dir} leads to ${realDir}, outside ${realRoot}`, 'Move it away (it was not made by berth), then try again.');
  }

  // Owner and mode through a handle opened without following links, so the
  // entry checked above is the one changed.
  const handle = await openDirectory(dir, true);
  try {
    const facts = await handle.stat();
    const uid = user?.uid ?? self;
    const gid = user?.gid ?? facts.gid;
    if (facts.uid !== uid || facts.gid !== gid) await handle.chown(uid, gid);
    if ((facts.mode & 0o7777) !== DIR_MODE) await handle.chmod(DIR_MODE);
  } finally {
    await handle.close();
  }
  return dir;
}

async function openDirectory(path: string, noFollow: boolean): Promise<FileHandle> {
  try {
    return await open(path, constants.O_RDONLY | constants.O_DIRECTORY | (noFollow ? constants.O_NOFOLLOW : 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR' || code === 'ELOOP') refuse(`the data folder ${path} is not a folder`, 'Move it away (it was not made by berth), then try again.');
    throw err;
  }
}

/** Deletes the app's data directory and everything in it; one already gone is fine. */
export async function removeDataDir(dataRoot: string, app: string): Promise<void> {
  // The app owns the tree and may still change it (a process that outlived
  // its release): a walk by path could be sent through a swapped-in link,
  // removeTree's descriptor walk cannot.
  await removeTree(dataDirOf(dataRoot, app));
}
