import { dirname, isAbsolute, normalize } from 'node:path';
import { bindSame, etcFileMounts, systemMounts, type HostLayout, type SandboxMount } from './spec.ts';

// Which of the host's folders an app's sandbox shows, and how. Pure.

export interface AppFolders {
  /** The release's build folder: read-only for instances, the release command and cron; writable while it is built. */
  readonly build: string;
  readonly buildWritable: boolean;
  /** The app's HOME (writable). */
  readonly home: string;
  /** The build cache (writable; builds only), or null. */
  readonly cache: string | null;
  /** The app's data folder (BERTH_DATA_DIR, writable) when it has one. */
  readonly data: string | null;
  /** Language runtimes outside /usr the release runs on (read-only): the Node berth runs on, a Python from pyenv… */
  readonly runtimes: readonly string[];
  /** berth's /etc files for the app (passwd, group, hosts, hostname, resolv.conf). */
  readonly etcDir: string;
  /** Single files shown read-only at their own paths (the local PostgreSQL's CA root, PGSSLROOTCERT). */
  readonly files?: readonly string[];
}

/** Everything the sandbox of one of the app's processes shows: the system, then the app's own folders. */
export function appMounts(host: HostLayout, folders: AppFolders, tmpBytes?: number): SandboxMount[] {
  const mounts: SandboxMount[] = [...systemMounts(host, tmpBytes), ...etcFileMounts(folders.etcDir)];
  for (const runtime of folders.runtimes) mounts.push(bindSame(runtime, false));
  mounts.push(bindSame(folders.build, folders.buildWritable), bindSame(folders.home, true));
  if (folders.cache !== null) mounts.push(bindSame(folders.cache, true));
  if (folders.data !== null) mounts.push(bindSame(folders.data, true));
  for (const file of folders.files ?? []) mounts.push(bindSame(file, false));
  return mounts;
}

function isUnder(path: string, folder: string): boolean {
  return path === folder || path.startsWith(folder === '/' ? '/' : `${folder}/`);
}

/**
 * The folders a release's runtimes live in, to show read-only: for each
 * absolute program or PATH entry berth chose (never one the app's config
 * names), the prefix it belongs to (`…/bin/node` → `…`). Those under /usr
 * are already there. A prefix that is `/`, holds the state folder or lies
 * inside it is never shown: it would show berth's secrets or other apps.
 */
export function runtimeRoots(programs: readonly string[], stateDir: string): string[] {
  const roots = new Set<string>();
  for (const program of programs) {
    if (!isAbsolute(program)) continue;
    const path = normalize(program);
    if (isUnder(path, '/usr')) continue;
    const dir = path.endsWith('/bin') ? path : dirname(path);
    const root = dir.endsWith('/bin') ? dirname(dir) : dir;
    if (root === '/' || isUnder(stateDir, root) || isUnder(root, stateDir)) continue;
    if (['/etc', '/root', '/home', '/proc', '/sys', '/dev', '/run', '/var', '/tmp'].includes(root)) continue;
    roots.add(root);
  }
  // A root inside another is shown by the outer one.
  return [...roots].filter((root) => ![...roots].some((other) => other !== root && isUnder(root, other))).sort();
}
