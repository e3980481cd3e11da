import { execFile } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout and stderr together, for messages. */
  readonly output: string;
}

/** Runs a program (argv, never a shell) to its end; a non-zero exit is a result, not an error. */
export function run(file: string, args: readonly string[], options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; input?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { cwd: options.cwd, env: options.env ?? process.env, timeout: options.timeoutMs ?? 240_000, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null;
      resolve({ code, stdout, stderr, output: `${stdout}${stderr}` });
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}

/**
 * A git client environment of its own: HOME in the test's folder (no user
 * config), an identity, no prompts; `token` (HTTP) travels in an environment
 * variable that the askpass script prints, never in argv or a URL.
 */
export async function gitClient(home: string, options: { token?: string; sshKey?: string; sshPort?: number } = {}): Promise<Record<string, string>> {
  await mkdir(home, { recursive: true });
  const askpass = join(home, 'askpass.sh');
  await writeFile(askpass, '#!/bin/sh\ncase "$1" in\n  Username*) echo berth ;;\n  *) printf "%s\\n" "$BERTH_TEST_TOKEN" ;;\nesac\n');
  await chmod(askpass, 0o700);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    LANG: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: askpass,
    GIT_AUTHOR_NAME: 'Test',
    GIT_AUTHOR_EMAIL: 'test@example.com',
    GIT_COMMITTER_NAME: 'Test',
    GIT_COMMITTER_EMAIL: 'test@example.com',
    BERTH_TEST_TOKEN: options.token ?? '',
  };
  if (options.sshKey !== undefined) {
    env.GIT_SSH_COMMAND = sshCommand(options.sshKey, options.sshPort ?? 22).join(' ');
  }
  return env;
}

/** The ssh client's argv for a test server: this key only, no known_hosts, no prompts. */
export function sshCommand(key: string, port: number): string[] {
  return ['ssh', '-i', key, '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', '-p', String(port)];
}

/** A new key pair made by ssh-keygen: KEY and KEY.pub. */
export async function sshKeygen(path: string, comment: string, type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519', bits?: number): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  const result = await run('ssh-keygen', ['-q', '-t', type, ...(bits === undefined ? [] : ['-b', String(bits)]), '-N', '', '-C', comment, '-f', path]);
  if (result.code !== 0) throw new Error(`ssh-keygen failed: ${result.output}`);
  return path;
}

/** A git repository on branch main with these files committed. */
export async function makeRepo(dir: string, env: Record<string, string>, files: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  await git(dir, env, ['init', '-q', '-b', 'main']);
  await commitFiles(dir, env, files, 'first');
}

/** Writes (or replaces) files and commits everything. */
export async function commitFiles(dir: string, env: Record<string, string>, files: Record<string, string>, message: string): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), content);
  }
  await git(dir, env, ['add', '-A']);
  await git(dir, env, ['commit', '-q', '-m', message]);
}

/** A git command that must succeed. */
export async function git(dir: string, env: Record<string, string>, args: readonly string[]): Promise<string> {
  const result = await run('git', args, { cwd: dir, env });
  if (result.code !== 0) throw new Error(`git ${args.join(' ')} failed: ${result.output}`);
  return result.stdout;
}
