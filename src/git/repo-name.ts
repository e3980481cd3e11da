import { BerthError } from '../errors.ts';
import { appName } from '../platform/names.ts';

/** The two git services berth serves: pushing (receive-pack) and fetching or cloning (upload-pack). */
export type GitServiceName = 'receive-pack' | 'upload-pack';

const SERVICES: readonly GitServiceName[] = ['receive-pack', 'upload-pack'];

function badRepository(shown: string): BerthError {
  return new BerthError('BERTH_E_GIT_REPO', `${JSON.stringify(shown.length > 80 ? `${shown.slice(0, 80)}…` : shown)} is not a berth repository`, {
    status: 400,
    hint: 'Repositories are named after apps: NAME.git, e.g. `git remote add berth ssh://git@HOST:PORT/shop.git` or http://HOST:PORT/git/shop.git.',
  });
}

/**
 * The app a repository path names: "shop.git", "/shop.git", "shop",
 * "/shop/" (a trailing slash, as some clients send) and nothing else; the
 * rest must be a valid app name. Anything with other path segments, "..",
 * or characters outside an app name is refused (BERTH_E_GIT_REPO, 400).
 */
export function repositoryApp(path: string): string {
  let name = path;
  if (name.startsWith('/')) name = name.slice(1);
  if (name.endsWith('/')) name = name.slice(0, -1);
  if (name.endsWith('.git')) name = name.slice(0, -4);
  try {
    return appName(name);
  } catch {
    throw badRepository(path);
  }
}

/** "git-receive-pack" / "git-upload-pack" (the names git puts on the wire) as a service. */
export function serviceOf(name: string | null): GitServiceName | null {
  for (const service of SERVICES) if (name === `git-${service}`) return service;
  return null;
}

/**
 * The command an SSH client asked to run, when it is git's: `git-receive-pack
 * 'shop.git'` (git quotes the path in single quotes; `ssh://host/shop.git`
 * adds a leading slash), also `git receive-pack`, double quotes or no quotes.
 * Returns null for anything else (a shell command, scp, another service);
 * throws BERTH_E_GIT_REPO when the command is git's but the path is not an
 * app repository.
 */
export function parseSshCommand(command: string): { readonly service: GitServiceName; readonly app: string } | null {
  const match = /^git[- ](receive-pack|upload-pack) +(.+)$/.exec(command.trim());
  if (match === null) return null;
  const service = match[1] as GitServiceName;
  let path = match[2]!;
  const quote = path[0];
  if (quote === "'" || quote === '"') {
    if (path.length < 2 || path[path.length - 1] !== quote) throw badRepository(path);
    path = path.slice(1, -1);
  }
  // A quote left inside means an escaped quote (git writes ' as '\''): never part of an app name.
  if (/['"\\\s]/.test(path)) throw badRepository(path);
  if (path.startsWith('~/')) path = path.slice(2);
  return { service, app: repositoryApp(path) };
}
