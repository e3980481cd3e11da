import { constants as osConstants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { parse } from 'shell-quote';
import { exitStatusOf, RUN_SIGNALS } from '../api/run-frames.ts';
import { BerthError } from '../errors.ts';
import type { OneOffRun, RunRequest } from '../platform/one-off-runs.ts';
import { appName } from '../platform/names.ts';
import { parseSize } from '../units.ts';

// `ssh [-t] berth@HOST run APP [--size SIZE] [--] COMMAND [ARGS...]`: a
// one-off run over the SSH server (besides git). ssh sends the command as
// one string (the client joins its words with spaces), so its words are
// split here the way a shell splits them — quotes and backslashes — and
// nothing else: no variable, command or glob expansion, and operators
// (`;`, `|`, `&&`, `>`) are refused, since no shell runs the command.

/** What may start a run: the platform. */
export interface RunStarter {
  startRun(app: string, request: RunRequest): Promise<OneOffRun>;
}

/** A parsed `run` exec request. */
export interface SshRunCommand {
  readonly app: string;
  readonly argv: readonly string[];
  readonly memoryBytes: number | null;
}

const USAGE = 'run APP [--size SIZE] -- COMMAND [ARGS...]';

/** Whether an exec request is a `run` (the rest of it may still be refused by parseRunCommand). */
export function isRunCommand(command: string): boolean {
  return /^\s*run(\s|$)/.test(command);
}

/** `run shop -- python manage.py shell` → app, argv. Pure; throws BERTH_E_USAGE with the reason. */
export function parseRunCommand(command: string): SshRunCommand {
  const words: string[] = [];
  // A variable stays as written: no shell runs this, and the run's own environment is not this parser's to expand.
  for (const token of parse(command, (name) => `$${name}`)) {
    if (typeof token === 'string') words.push(token);
    else if ('op' in token && token.op === 'glob') words.push(token.pattern);
    else {
      const what = 'op' in token ? String(token.op) : 'a comment';
      throw new BerthError('BERTH_E_USAGE', `the command uses "${what}", which needs a shell; berth runs it without one`, { hint: `Run a shell for it: ssh -t berth@HOST run APP -- sh -c '...' (quote it once more for your local shell)` });
    }
  }
  if (words[0] !== 'run') throw new BerthError('BERTH_E_USAGE', `not a run: ${USAGE}`);
  if (words[1] === undefined) throw new BerthError('BERTH_E_USAGE', `a run names its app: ${USAGE}`);
  const app = appName(words[1]);
  let at = 2;
  let memoryBytes: number | null = null;
  while (words[at]?.startsWith('--') && words[at] !== '--') {
    const option = words[at]!;
    if (option === '--size' && words[at + 1] !== undefined) {
      memoryBytes = parseSize(words[at + 1]!);
      at += 2;
    } else if (option.startsWith('--size=')) {
      memoryBytes = parseSize(option.slice('--size='.length));
      at += 1;
    } else {
      throw new BerthError('BERTH_E_USAGE', `unknown option ${JSON.stringify(option.slice(0, 40))}: ${USAGE}`);
    }
  }
  if (words[at] === '--') at++;
  const argv = words.slice(at);
  if (argv.length === 0 || argv[0] === '') throw new BerthError('BERTH_E_USAGE', `a run needs a command: ${USAGE}`);
  if (memoryBytes !== null && memoryBytes < 16 * 1024 * 1024) throw new BerthError('BERTH_E_USAGE', "a run's memory limit (--size) is at least 16m");
  return { app, argv, memoryBytes };
}

/** What the SSH session gives a run: its channel's streams and how it ends. */
export interface RunChannel {
  /** The client's input (the channel). */
  readonly input: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** The exit status, then the channel closes. */
  exit(status: number): void;
  /** Fires when the client goes away. */
  onClose(listener: () => void): void;
}

/**
 * Joins a started run to an SSH channel: the channel's data and EOF to its
 * stdin, its stdout and stderr back (each paced), the exit status last; a
 * channel that closes first ends the run (abandon).
 */
export async function serveRun(run: OneOffRun, channel: RunChannel): Promise<void> {
  let finished = false;
  channel.onClose(() => {
    if (!finished) run.abandon();
  });
  channel.input.on('data', (chunk: Buffer) => {
    if (run.stdin !== null && !run.stdin.destroyed && !run.stdin.writableEnded && !run.stdin.write(chunk)) {
      channel.input.pause();
      run.stdin.once('drain', () => channel.input.resume());
    }
  });
  channel.input.once('end', () => run.stdin?.end());
  const relay = (from: Readable | null, to: Writable) => {
    from?.on('data', (chunk: Buffer) => {
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
  };
  relay(run.stdout, channel.stdout);
  relay(run.stderr, channel.stderr);
  const outcome = await run.done;
  finished = true;
  await Promise.race([Promise.all([ended(run.stdout), ended(run.stderr)]), new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
  channel.exit(exitStatusOf(outcome, (name) => (osConstants.signals as Record<string, number>)[name]));
}

/** An SSH `signal` request's name ("INT", or "SIGINT" as some clients say) → the signal a run may get, or null. */
export function runSignal(name: string): NodeJS.Signals | null {
  const bare = name.startsWith('SIG') ? name.slice(3) : name;
  return (RUN_SIGNALS as readonly string[]).includes(bare) ? (`SIG${bare}` as NodeJS.Signals) : null;
}

function ended(stream: Readable | null): Promise<void> {
  if (stream === null || stream.readableEnded || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
  });
}
