import { spawn, type ChildProcess } from 'node:child_process';
import type { GitServiceName } from './repo-name.ts';

/**
 * The environment every git process berth runs gets: PATH and nothing of
 * the daemon's own (no tokens, no operator settings), no system or global
 * git config (an operator's ~/.gitconfig must not change what a push does),
 * and a fixed locale.
 */
export function gitEnv(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    ...extra,
  };
}

export interface GitServiceMode {
  /** Smart HTTP: one request and one answer per process (`--stateless-rpc`). */
  readonly stateless: boolean;
  /** Only the ref advertisement (smart HTTP's `info/refs`). */
  readonly advertise: boolean;
}

/** What the transports (smart HTTP, SSH) start git with: GitService, or a stand-in in tests. */
export interface GitRunner {
  open(service: GitServiceName, app: string, actor: string, mode: GitServiceMode, env?: Readonly<Record<string, string>>): Promise<ChildProcess>;
}

/** `git receive-pack|upload-pack [--stateless-rpc] [--advertise-refs] DIR`, argv only, in the repository. */
export function spawnGitService(service: GitServiceName, dir: string, mode: GitServiceMode, env: Readonly<Record<string, string>> = {}): ChildProcess {
  const args: string[] = [service];
  if (mode.stateless) args.push('--stateless-rpc');
  if (mode.advertise) args.push('--advertise-refs');
  args.push(dir);
  return spawn('git', args, { cwd: dir, env: gitEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
}
