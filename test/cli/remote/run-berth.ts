import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { isBerthError } from '../../../src/errors.ts';
import { registerRemoteCommands, type RemoteOptions } from '../../../src/cli/remote/index.ts';

export interface BerthRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/**
 * Runs `berth ARGS...` with only the remote commands, on a fresh commander
 * program with captured output, and handles failures the way
 * src/cli/index.ts does: BerthError → `berth: MESSAGE [CODE]`, `hint: …`,
 * status 1; a usage error from commander → status 2. `onOut` sees each
 * piece of output as it is written, for tests of streaming.
 */
export async function berth(argv: readonly string[], options: RemoteOptions = {}, onOut?: (text: string) => void): Promise<BerthRun> {
  let out = '';
  let err = '';
  const cli = new Command('berth')
    .exitOverride()
    .configureOutput({ writeOut: (text) => (out += text), writeErr: (text) => (err += text) });
  const io = {
    out: (text: string) => {
      out += text;
      onOut?.(text);
    },
    err: (text: string) => void (err += text),
  };
  registerRemoteCommands(cli, io, options);
  try {
    await cli.parseAsync(argv as string[], { from: 'user' });
    return { code: 0, out, err };
  } catch (error) {
    if (error instanceof CommanderError) return { code: error.exitCode === 0 ? 0 : 2, out, err };
    if (isBerthError(error)) {
      err += `berth: ${error.message} [${error.code}]\n`;
      if (error.hint) err += `hint: ${error.hint}\n`;
      return { code: 1, out, err };
    }
    throw error;
  }
}

/** A temporary folder removed after the test. */
export async function tempDir(t: { after(fn: () => unknown): void }, prefix = 'berth-remote-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** An environment with its own config folder and, given a server, credentials in BERTH_SERVER / BERTH_TOKEN. */
export async function testEnv(t: { after(fn: () => unknown): void }, server?: { url: string; token: string }): Promise<Record<string, string>> {
  const home = await tempDir(t, 'berth-home-');
  const env: Record<string, string> = { HOME: home, XDG_CONFIG_HOME: join(home, 'config') };
  if (server !== undefined) {
    env.BERTH_SERVER = server.url;
    env.BERTH_TOKEN = server.token;
  }
  return env;
}
