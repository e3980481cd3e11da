import { lstat, mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError } from '../errors.ts';
import type { RunAs } from '../runner/index.ts';
import { ensureDirectory } from '../safe-fs/index.ts';

// An app's folders under STATE/apps. Root owns the skeleton, the app owns
// the leaves:
//
//   STATE/apps            root 0711
//     NAME                root:APPGROUP 0750 (only the app, and root, get in)
//       home              the app's, 0700: its HOME
//       cache             the app's, 0700: the build cache, used as the app
//       builds            root 0711
//         ID              root 0700 while berth unpacks and detects the upload,
//                         then the app's (given children first, the top last)
//
// Every folder berth creates, renames or removes by name is in a folder
// only root can change, so no name berth uses can be turned into a link by
// the app. Without app users (berth not root) everything is berth's own.

export interface AppPaths {
  readonly dir: string;
  readonly home: string;
  readonly cache: string;
  readonly builds: string;
}

export function appPaths(appsDir: string, app: string): AppPaths {
  const dir = join(appsDir, app);
  return { dir, home: join(dir, 'home'), cache: join(dir, 'cache'), builds: join(dir, 'builds') };
}

/** The app's user's home in the layout before the app's folder became root's (its HOME was the folder itself). */
export function legacyHome(appsDir: string, app: string): string {
  return join(appsDir, app);
}

function self(): RunAs {
  return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
}

/**
 * Makes the app's folders what the layout says, whatever is there: links
 * where folders belong are removed (never followed), owners and modes set
 * through descriptors. A folder of the old layout (the app's own, with
 * builds and cache in it) is migrated first. Idempotent; run before any of
 * the app's processes start and before every deploy.
 */
export async function prepareAppDirs(appsDir: string, app: string, user: RunAs | null): Promise<AppPaths> {
  const paths = appPaths(appsDir, app);
  const root = self();
  if (user !== null) await migrateLegacy(appsDir, app, root);
  await ensureDirectory(paths.dir, { uid: root.uid, gid: user?.gid ?? root.gid }, user === null ? 0o700 : 0o750);
  await ensureDirectory(paths.builds, root, 0o711);
  await ensureDirectory(paths.home, user ?? root, 0o700);
  await ensureDirectory(paths.cache, user ?? root, 0o700);
  return paths;
}

async function lstatOrNull(path: string) {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * The old layout: STATE/apps/NAME was the app's own folder (its HOME),
 * with builds/ and cache/ in it, which the app could replace with links.
 * Moved, by renames in folders only root can change, to the new layout:
 * NAME is renamed aside (.NAME.migrating, in STATE/apps), a root-owned NAME
 * is made, builds and cache are moved back into it, and what is left (the
 * app's old HOME) becomes NAME/home. Each step is checked before it is
 * done, so a crash at any point resumes at the next start. rename never
 * follows the link it moves: a link the app put in place of builds or cache
 * arrives as a link, which prepareAppDirs then removes.
 */
async function migrateLegacy(appsDir: string, app: string, root: RunAs): Promise<void> {
  const paths = appPaths(appsDir, app);
  const aside = join(appsDir, `.${app}.migrating`);
  const current = await lstatOrNull(paths.dir);
  if (current !== null && (current.isSymbolicLink() || !current.isDirectory())) {
    // Only root can make entries in STATE/apps: this was not made by berth.
    throw new BerthError('BERTH_E_STATE', `${paths.dir} is not a folder; berth will not use it`, { status: 500, hint: 'Move it away, then start berth again.' });
  }
  if (current !== null && current.uid !== root.uid) await rename(paths.dir, aside);
  const old = await lstatOrNull(aside);
  if (old === null) return;
  if (!old.isDirectory()) throw new BerthError('BERTH_E_STATE', `${aside} is not a folder; berth will not use it`, { status: 500, hint: 'Move it away, then start berth again.' });
  try {
    await mkdir(paths.dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  for (const name of ['builds', 'cache'] as const) {
    if ((await lstatOrNull(paths[name])) === null && (await lstatOrNull(join(aside, name))) !== null) await rename(join(aside, name), paths[name]);
  }
  if ((await lstatOrNull(paths.home)) !== null) {
    throw new BerthError('BERTH_E_STATE', `${aside} is left from moving ${app}'s folder to the new layout, but ${paths.home} exists already`, {
      status: 500,
      hint: `Look at both: merge what the app needs into ${paths.home}, remove ${aside}, then start berth again.`,
    });
  }
  await rename(aside, paths.home);
}

/** STATE/apps: every app's folder. */
export function appsDirIn(stateDir: string): string {
  return join(stateDir, 'apps');
}

/** STATE/logs/NAME: the app's log, builds' lines included; root's, outside the app's folders. */
export function appLogDir(stateDir: string, app: string): string {
  return join(stateDir, 'logs', app);
}
