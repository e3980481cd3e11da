import { dirname, isAbsolute, normalize } from 'node:path';
import type { RunAs } from '../runner/launcher.ts';
import { BerthError } from '../errors.ts';

// A sandbox as plain data, and the command line that makes it. Pure: a
// spec is built from small parts that each add one thing (the system's
// read-only view, the release, a writable folder, /tmp), like containerd's
// SpecOpts, and turned into bubblewrap's arguments in one place.
//
// What a process inside sees: /usr read-only (and /bin, /lib… as on the
// host: links into /usr on a merged-/usr system), an allowlist of /etc
// read-only plus berth's own passwd, group, hosts and resolv.conf for it,
// a private /proc (its own processes only), a minimal /dev, a private /tmp
// and /dev/shm in memory, and the folders berth binds for it (the release
// read-only, its home and data folder writable). Nothing else of the host
// exists there: not berth's state, not other apps, not /root or /home.

export type SandboxMount =
  | { readonly kind: 'bind'; readonly source: string; readonly target: string; readonly writable: boolean }
  | { readonly kind: 'tmpfs'; readonly target: string; readonly sizeBytes: number; readonly mode: number }
  | { readonly kind: 'symlink'; readonly to: string; readonly target: string }
  | { readonly kind: 'proc'; readonly target: string }
  | { readonly kind: 'dev'; readonly target: string };

export interface SandboxSpec {
  readonly hostname: string;
  /** Who the program runs as, once the sandbox is made (root makes it, then drops to this). */
  readonly user: RunAs;
  readonly cwd: string;
  readonly argv: readonly string[];
  readonly mounts: readonly SandboxMount[];
  /** The app's network namespace (entered with nsenter); null: a private namespace with only loopback. */
  readonly netnsPath: string | null;
  /** An image's root filesystem as the sandbox's `/` (read-only); absent: an empty root the mounts fill from the host. */
  readonly root?: ImageRoot | undefined;
  /**
   * Loader variables of the program's own (LD_PRELOAD and the like) that the
   * root stages must not see (rootStageEnv): set again for the program by
   * ENV_PROGRAM, once setpriv has dropped to the app's user. Host roots only.
   */
  readonly restoreEnv?: Readonly<Record<string, string>> | undefined;
}

/** What sets the loader variables back for the program, as the app's user (host sandboxes show the host's /usr). */
export const ENV_PROGRAM = '/usr/bin/env';

/**
 * A base image's unpacked root (src/oci/rootfs.ts) as a sandbox's `/`: its
 * mount points already real folders and files in it (imageRootMountPoints),
 * and setpriv brought in from the host, since the image need not have one.
 */
export interface ImageRoot {
  readonly source: string;
  /** The command that runs the host's setpriv inside this root (its own loader and libraries: rootTools). */
  readonly setpriv: readonly string[];
}

/** Absolute paths of the programs that make a sandbox. */
export interface SandboxTools {
  readonly nsenter: string;
  readonly bwrap: string;
  /** As seen inside the sandbox too (it lies under /usr). */
  readonly setpriv: string;
}

/** The descriptors the launcher gives bwrap. */
export interface SandboxFds {
  /** bwrap writes the sandbox's pids (JSON) here. */
  readonly info: number;
  /** bwrap waits here before the program starts (the launcher puts it in its cgroup first). */
  readonly block: number;
  /** The seccomp program (classic BPF), or null for none. */
  readonly seccomp: number | null;
}

/** What of the host's root a sandbox mirrors: which top-level names are links (merged /usr) and which /etc entries exist. */
export interface HostLayout {
  /** Top-level names (bin, lib, lib64, sbin, …) and where they point when they are links into /usr; folders are bound as they are. */
  readonly topLevel: ReadonlyArray<{ readonly name: string; readonly linkTo: string | null }>;
  /** /etc entries (of ETC_ALLOWED) present on this host. */
  readonly etc: readonly string[];
  /** A copy of those entries (etc-mirror.ts) bound at /etc in one mount; null: each entry is bound from the host. */
  readonly etcMirror: string | null;
}

/**
 * What of /etc a sandbox may read: what programs need to run (the dynamic
 * linker's cache, TLS roots, time zones, name service switch, MIME types,
 * language runtimes' own settings), never a secret (shadow, ssh, sudoers,
 * berth's or anyone's credentials). berth writes passwd, group, hosts,
 * hostname and resolv.conf for each app itself.
 */
export const ETC_ALLOWED: readonly string[] = Object.freeze([
  'alternatives',
  'ca-certificates',
  'ca-certificates.conf',
  'debian_version',
  'fonts',
  'gai.conf',
  'host.conf',
  'ImageMagick-6',
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  'localtime',
  'magic',
  'magic.mime',
  'mime.types',
  'networks',
  'nsswitch.conf',
  'os-release',
  'protocols',
  'python3',
  'python3.11',
  'python3.12',
  'python3.13',
  'rpc',
  'services',
  'ssl',
  'timezone',
]);

/** Top-level folders of the host a sandbox mirrors from /usr (as links or read-only binds). */
export const TOP_LEVEL_SYSTEM: readonly string[] = Object.freeze(['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']);

const MIB = 1024 * 1024;

/** The default size of a sandbox's /tmp (in memory, charged to its memory limit). */
export const DEFAULT_TMP_BYTES = 512 * MIB;

/** The system: /usr, the top-level links, /etc's allowlist, /proc, /dev, /tmp, /dev/shm, /var/tmp. */
export function systemMounts(host: HostLayout, tmpBytes = DEFAULT_TMP_BYTES): SandboxMount[] {
  const mounts: SandboxMount[] = [{ kind: 'bind', source: '/usr', target: '/usr', writable: false }];
  for (const entry of host.topLevel) {
    if (entry.linkTo !== null) mounts.push({ kind: 'symlink', to: entry.linkTo, target: `/${entry.name}` });
    else mounts.push({ kind: 'bind', source: `/${entry.name}`, target: `/${entry.name}`, writable: false });
  }
  if (host.etcMirror !== null) mounts.push({ kind: 'bind', source: host.etcMirror, target: '/etc', writable: false });
  else for (const name of host.etc) mounts.push({ kind: 'bind', source: `/etc/${name}`, target: `/etc/${name}`, writable: false });
  mounts.push(
    { kind: 'proc', target: '/proc' },
    { kind: 'dev', target: '/dev' },
    { kind: 'tmpfs', target: '/dev/shm', sizeBytes: Math.min(tmpBytes, 64 * MIB), mode: 0o1777 },
    { kind: 'tmpfs', target: '/tmp', sizeBytes: tmpBytes, mode: 0o1777 },
    { kind: 'symlink', to: '../tmp', target: '/var/tmp' },
  );
  return mounts;
}

/** berth's own files for the sandbox's /etc (passwd, group, hosts, hostname, resolv.conf), read-only. */
export function etcFileMounts(dir: string): SandboxMount[] {
  return ETC_GENERATED.map((name) => ({ kind: 'bind', source: `${dir}/${name}`, target: `/etc/${name}`, writable: false }) as const);
}

export const ETC_GENERATED: readonly string[] = Object.freeze(['passwd', 'group', 'hosts', 'hostname', 'resolv.conf']);

/** A folder bound at the same path inside (virtualenvs and the like keep absolute paths that must still resolve). */
export function bindSame(path: string, writable: boolean): SandboxMount {
  return { kind: 'bind', source: path, target: path, writable };
}

function depth(path: string): number {
  return path === '/' ? 0 : path.split('/').length - 1;
}

function isUnder(path: string, folder: string): boolean {
  return folder === '/' ? path !== '/' : path.startsWith(`${folder}/`);
}

/** The mounts in the order bwrap must make them: a folder before what is mounted inside it (a later mount hides an earlier one below it). */
export function orderMounts(mounts: readonly SandboxMount[]): SandboxMount[] {
  return mounts
    .map((mount, index) => ({ mount, index }))
    .sort((a, b) => depth(a.mount.target) - depth(b.mount.target) || a.index - b.index)
    .map((entry) => entry.mount);
}

/**
 * Checks a spec: absolute normalized paths, no mount over the sandbox's
 * system folders by a writable bind, nothing mounted twice. Throws a
 * RangeError (a bug in berth, never user input) naming what is wrong.
 */
export function checkSpec(spec: SandboxSpec): void {
  const seen = new Set<string>();
  for (const mount of spec.mounts) {
    const target = mount.target;
    if (!isAbsolute(target) || normalize(target) !== target || target.endsWith('/') && target !== '/') throw new RangeError(`sandbox mount target ${JSON.stringify(target)} is not an absolute, normal path`);
    if (target === '/') throw new RangeError('nothing is mounted over the sandbox root');
    if (seen.has(target)) throw new RangeError(`${target} is mounted twice in the sandbox`);
    seen.add(target);
    if (mount.kind === 'bind' && (!isAbsolute(mount.source) || normalize(mount.source) !== mount.source)) throw new RangeError(`sandbox mount source ${JSON.stringify(mount.source)} is not an absolute, normal path`);
    if (mount.kind === 'bind' && mount.writable && ['/usr', '/etc', '/proc', '/dev', '/bin', '/sbin', '/lib', '/lib64'].some((system) => target === system || isUnder(target, system))) {
      throw new RangeError(`a writable bind over the system (${target}) is refused`);
    }
  }
  if (spec.root !== undefined && (!isAbsolute(spec.root.source) || normalize(spec.root.source) !== spec.root.source || spec.root.source === '/' || spec.root.setpriv.length === 0)) throw new RangeError(`the image root ${JSON.stringify(spec.root.source)} is not an absolute, normal path of its own, or has no setpriv`);
  if (!isAbsolute(spec.cwd)) throw new RangeError(`the sandbox's working folder ${JSON.stringify(spec.cwd)} is not absolute`);
  if (spec.argv.length === 0) throw new RangeError('a sandbox needs a program to run');
  if (!Number.isInteger(spec.user.uid) || spec.user.uid <= 0 || !Number.isInteger(spec.user.gid) || spec.user.gid <= 0) throw new RangeError('a sandbox never runs its program as root');
}

/**
 * The command that makes the sandbox and runs the program in it:
 * `[nsenter --net=PATH] bwrap … setpriv … -- argv`. Folders that must exist
 * for a mount (the ancestors of a bind that are not themselves inside a
 * bind of the host) are made first, mode 0755 (bwrap would make them 0700,
 * which the app's user could not pass through).
 */
export function launchArgv(spec: SandboxSpec, tools: SandboxTools, fds: SandboxFds): string[] {
  checkSpec(spec);
  const ordered = orderMounts(spec.mounts);
  const args: string[] = [];
  if (spec.netnsPath !== null) args.push(tools.nsenter, `--net=${spec.netnsPath}`, '--');
  args.push(tools.bwrap);
  args.push('--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try');
  if (spec.netnsPath === null) args.push('--unshare-net');
  args.push('--new-session', '--hostname', spec.hostname);
  // An image's root: every mount point is already in it (and it is read-only), so no folder is made.
  if (spec.root !== undefined) args.push('--ro-bind', spec.root.source, '/');
  const made = new Set<string>(['/']);
  const mountedBinds: string[] = [];
  const ensureParents = (target: string) => {
    if (spec.root !== undefined) return;
    const parents: string[] = [];
    for (let parent = dirname(target); parent !== '/'; parent = dirname(parent)) parents.unshift(parent);
    for (const parent of parents) {
      if (made.has(parent) || mountedBinds.some((bound) => parent === bound || isUnder(parent, bound))) continue;
      args.push('--perms', '0755', '--dir', parent);
      made.add(parent);
    }
  };
  for (const mount of ordered) {
    ensureParents(mount.target);
    switch (mount.kind) {
      case 'bind':
        args.push(mount.writable ? '--bind' : '--ro-bind', mount.source, mount.target);
        mountedBinds.push(mount.target);
        break;
      case 'tmpfs':
        args.push('--perms', mount.mode.toString(8).padStart(4, '0'), '--size', String(mount.sizeBytes), '--tmpfs', mount.target);
        break;
      case 'symlink':
        args.push('--symlink', mount.to, mount.target);
        break;
      case 'proc':
        args.push('--proc', mount.target);
        break;
      case 'dev':
        args.push('--dev', mount.target);
        break;
    }
    made.add(mount.target);
  }
  // Root makes the sandbox; the program never has root's powers: setpriv
  // below drops to the app's user, and these capabilities are all it keeps
  // until then (setuid, setgid, dropping the bounding set, and reading
  // through folders that are the app's alone, for bwrap's --chdir into
  // the release). setpriv's change of uid clears them all.
  args.push('--cap-drop', 'ALL', '--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID', '--cap-add', 'CAP_SETPCAP', '--cap-add', 'CAP_DAC_READ_SEARCH');
  if (fds.seccomp !== null) args.push('--seccomp', String(fds.seccomp));
  args.push('--info-fd', String(fds.info), '--block-fd', String(fds.block));
  args.push('--chdir', spec.cwd, '--');
  args.push(
    ...(spec.root?.setpriv ?? [tools.setpriv]),
    `--reuid=${spec.user.uid}`,
    `--regid=${spec.user.gid}`,
    '--clear-groups',
    '--inh-caps=-all',
    '--bounding-set=-all',
    '--no-new-privs',
    '--',
    ...programArgv(spec),
  );
  return args;
}

/** The program's argv after setpriv: through ENV_PROGRAM when loader variables must be set again. */
function programArgv(spec: SandboxSpec): readonly string[] {
  const restore = Object.entries(spec.restoreEnv ?? {});
  if (restore.length === 0) return spec.argv;
  if (spec.root !== undefined) throw new BerthError('BERTH_E_SANDBOX', 'loader variables are not set again inside an image root', { status: 500 });
  // env takes the first word with "=" as one more variable, not as the program.
  if ((spec.argv[0] ?? '').includes('=')) throw new BerthError('BERTH_E_SANDBOX', `the program ${JSON.stringify(spec.argv[0])} has "=" in its name, so it cannot run with loader variables (${restore.map(([name]) => name).join(', ')})`, { status: 422, hint: 'Rename the program, or unset those config vars.' });
  return [ENV_PROGRAM, ...restore.map(([name, value]) => `${name}=${value}`), ...spec.argv];
}

// ---- a sandbox over an image's root (a build inside its base image) ------

/**
 * Variables the C library and its loader act on that would change what a
 * root program loads, reads or writes: every LD_* and the rest of glibc's
 * list of variables it ignores in setuid programs (unsecvars.h), plus
 * GLIBC_TUNABLES (not TMPDIR: none of those three makes a temporary file,
 * and every sandbox sets it). nsenter, bwrap and setpriv run as root (not setuid, so
 * glibc obeys them), with the program's environment, which holds the app's
 * config vars: an app could otherwise preload its own library into them.
 */
export const LOADER_VARIABLES: readonly string[] = Object.freeze([
  'GCONV_PATH', 'GETCONF_DIR', 'GLIBC_TUNABLES', 'HOSTALIASES', 'LOCALDOMAIN', 'LOCPATH', 'MALLOC_TRACE', 'NIS_PATH', 'NLSPATH', 'RESOLV_HOST_CONF', 'RES_OPTIONS', 'TZDIR',
]);

/** Whether the root stages of a launch must not see `name` (LOADER_VARIABLES, any LD_*). Pure. */
export function isLoaderVariable(name: string): boolean {
  return name.startsWith('LD_') || LOADER_VARIABLES.includes(name);
}

/**
 * The environment nsenter, bwrap and setpriv start with: without the
 * loader's variables, which would act on them while they are root (a
 * sandbox over the host's files sets them again for the program:
 * SandboxSpec.restoreEnv; a build in an image root goes without them, and
 * the image's ld.so.preload is covered by an empty file: imageRootMounts). Pure.
 */
export function withoutLoaderVariables(env: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !isLoaderVariable(name)));
}

/** The loader variables of `env`, for restoreEnv. Pure. */
export function loaderVariables(env: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([name]) => isLoaderVariable(name)));
}

/** The file the loader preloads from, in the image: covered by an empty one of berth's. */
const LOADER_PRELOAD = '/etc/ld.so.preload';

/** Inside an image root: where berth's setpriv and its libraries are shown, and the app's build cache. */
export const ROOT_TOOLS_DIR = '/.berth/tools';
export const ROOT_CACHE_DIR = '/.berth/cache';

/** The folders and files the mounts of imageRootMounts land on, for the unpacker to make real in the root. */
export function imageRootMountPoints(appDir: string): { dirs: string[]; files: string[] } {
  return { dirs: ['/proc', '/dev', '/tmp', '/etc', appDir, ROOT_TOOLS_DIR, ROOT_CACHE_DIR], files: [...ETC_GENERATED.map((name) => `/etc/${name}`), LOADER_PRELOAD] };
}

export interface ImageRootFolders {
  /** Where the build is inside (the image's app folder, /app), and where it is on the host. */
  readonly appDir: string;
  readonly build: string;
  /** The app's build cache on the host (writable, at ROOT_CACHE_DIR), or null. */
  readonly cache: string | null;
  /** berth's setpriv and its libraries (rootTools), shown read-only at ROOT_TOOLS_DIR; its `empty` file covers the image's ld.so.preload. */
  readonly tools: string;
  /** berth's /etc files for the app (passwd, group, hosts, hostname, resolv.conf). */
  readonly etcDir: string;
}

/**
 * What a build inside an image root sees besides the image: a private
 * /proc, a minimal /dev, /tmp and /dev/shm in memory, berth's /etc files
 * over the image's (the app's user, the app network's resolver), the build
 * folder writable at the image's app folder (so a virtualenv's scripts say
 * /app/…, as they will in the image), the build cache, and setpriv.
 */
export function imageRootMounts(folders: ImageRootFolders, tmpBytes = DEFAULT_TMP_BYTES): SandboxMount[] {
  const mounts: SandboxMount[] = [
    { kind: 'proc', target: '/proc' },
    { kind: 'dev', target: '/dev' },
    { kind: 'tmpfs', target: '/dev/shm', sizeBytes: Math.min(tmpBytes, 64 * MIB), mode: 0o1777 },
    { kind: 'tmpfs', target: '/tmp', sizeBytes: tmpBytes, mode: 0o1777 },
    ...etcFileMounts(folders.etcDir),
    { kind: 'bind', source: `${folders.tools}/empty`, target: LOADER_PRELOAD, writable: false },
    { kind: 'bind', source: folders.build, target: folders.appDir, writable: true },
    { kind: 'bind', source: folders.tools, target: ROOT_TOOLS_DIR, writable: false },
  ];
  if (folders.cache !== null) mounts.push({ kind: 'bind', source: folders.cache, target: ROOT_CACHE_DIR, writable: true });
  return mounts;
}
