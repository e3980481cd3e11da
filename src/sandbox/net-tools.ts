// The programs the networks are made with (iproute2, util-linux, procps,
// nftables), found once, and a thin way to run them: argv arrays, no shell,
// a deadline, the last error lines in the error. A command runs in the
// host's namespace, or in an app's when `netns` names its file.

import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { BerthError } from '../errors.ts';

export type NetToolName = 'ip' | 'nft' | 'nsenter' | 'unshare' | 'umount' | 'sysctl' | 'slirp4netns';

/** The Debian package of each program. */
export const NET_TOOL_PACKAGES: Readonly<Record<NetToolName, string>> = {
  ip: 'iproute2',
  nft: 'nftables',
  nsenter: 'util-linux',
  unshare: 'util-linux',
  umount: 'mount',
  sysctl: 'procps',
  slirp4netns: 'slirp4netns',
};

/** Where root's programs live on every distribution, whatever PATH the daemon was given. */
const SYSTEM_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

async function findProgram(name: string, dirs: readonly string[]): Promise<string | null> {
  for (const dir of dirs) {
    const path = join(dir, name);
    try {
      await access(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return null;
}

/** The full path of each program (PATH's folders, then the system's); BERTH_E_SANDBOX_TOOL naming the missing ones and their packages. */
export async function findNetTools(path = process.env.PATH ?? '', systemDirs: readonly string[] = SYSTEM_DIRS): Promise<Record<NetToolName, string>> {
  const dirs = [...path.split(delimiter).filter((d) => d.startsWith('/')), ...systemDirs];
  const names = Object.keys(NET_TOOL_PACKAGES) as NetToolName[];
  const found = await Promise.all(names.map((name) => findProgram(name, dirs)));
  const missing = names.filter((_, i) => found[i] === null);
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((name) => NET_TOOL_PACKAGES[name]))];
    throw new BerthError('BERTH_E_SANDBOX_TOOL', `the sandbox's networking needs ${missing.join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not installed (Debian: ${packages.join(', ')})`, {
      hint: 'Install what contains apps: apt-get install bubblewrap slirp4netns nftables iproute2',
      status: 500,
    });
  }
  return Object.fromEntries(names.map((name, i) => [name, found[i]!])) as Record<NetToolName, string>;
}

export interface RunOptions {
  /** Written to the program's stdin (nft -f -, ip -batch -). */
  readonly input?: string;
  /** Run inside this app namespace (its file), not the host's. */
  readonly netns?: string;
}

/** Output kept per stream. */
const MAX_OUTPUT = 1 << 20;
const TIMEOUT_MS = 30_000;

export class NetTools {
  readonly paths: Readonly<Record<NetToolName, string>>;
  readonly #hostNetns: string | null;

  /**
   * `hostNetns`: the namespace berth treats as the host's (a file to enter),
   * or null for the daemon's own. Tests give a namespace of their own, so a
   * whole "host" with its rules can be made and thrown away.
   */
  constructor(paths: Readonly<Record<NetToolName, string>>, hostNetns: string | null) {
    this.paths = paths;
    this.#hostNetns = hostNetns;
  }

  /** argv to run `tool args…` in the host's namespace, or in `netns`. */
  argv(tool: NetToolName, args: readonly string[], netns?: string): string[] {
    const inside = netns ?? this.#hostNetns;
    const command = [this.paths[tool], ...args];
    return inside === null ? command : [this.paths.nsenter, `--net=${inside}`, '--', ...command];
  }

  /** Runs the program to its end; its stdout. BERTH_E_SANDBOX_NETWORK when it fails. */
  async run(tool: NetToolName, args: readonly string[], options: RunOptions = {}): Promise<string> {
    const result = await this.status(tool, args, options);
    if (result.code === 0) return result.stdout;
    throw new BerthError('BERTH_E_SANDBOX_NETWORK', `${this.#describe(tool, args)} ${result.why}${result.lastWords === '' ? '' : `: ${result.lastWords}`}`, { status: 500 });
  }

  /** Runs the program to its end, whatever its exit: its code (null when killed), output and last error lines. BERTH_E_SANDBOX_NETWORK only when it cannot be started. */
  status(tool: NetToolName, args: readonly string[], options: RunOptions = {}): Promise<{ code: number | null; stdout: string; why: string; lastWords: string }> {
    const [file, ...rest] = this.argv(tool, args, options.netns);
    return new Promise((resolve, reject) => {
      const child = spawn(file!, rest, { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' }, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout = (stdout + chunk.toString('utf8')).slice(-MAX_OUTPUT)));
      child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-MAX_OUTPUT)));
      const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
      child.stdin.on('error', () => {}); // a program that exits without reading
      child.stdin.end(options.input ?? '');
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(new BerthError('BERTH_E_SANDBOX_NETWORK', `${this.#describe(tool, args)} could not be started: ${err.message}`, { status: 500, cause: err }));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const why = signal !== null ? `was killed (${signal})` : `exited with ${String(code)}`;
        resolve({ code: signal !== null ? null : code, stdout, why, lastWords: stderr.trim().split('\n').slice(-4).join(' | ') });
      });
    });
  }

  #describe(tool: NetToolName, args: readonly string[]): string {
    return `${tool} ${args.filter((a) => !a.includes('\n')).slice(0, 6).join(' ')}`;
  }
}
