import { spawn } from 'node:child_process';
import type { RunAs } from './instance.ts';
import { LineSplitter } from './line-splitter.ts';

/** How a command ended. */
export interface CommandOutcome {
  /** The exit code; null when it died by a signal, timed out or never started. */
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  /** Why the command could not start (e.g. "spawn purge ENOENT"); null when it started. */
  readonly startError: string | null;
}

/** A running command: its own process group, which ends with it. */
export interface CommandRun {
  readonly pid: number | undefined;
  readonly done: Promise<CommandOutcome>;
  /** SIGTERM to the process group (the daemon is stopping). */
  terminate(): void;
  /** SIGKILL to the process group. */
  kill(): void;
}

export interface CommandOptions {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly onLine: (line: string) => void;
  /** Kill the process group after this long; null: no limit. */
  readonly timeoutMs: number | null;
  /** Run as this Unix user (berth runs as root); null or absent: as berth. */
  readonly user?: RunAs | null;
}

/** After the command exits, how long its output pipes get to drain before the run counts as over. */
const DRAIN_MS = 1_000;

/**
 * Starts one command (argv, no shell) in its own process group, streaming
 * its output line by line: cron runs, and through `runOnce` build steps and
 * release commands. The caller can SIGTERM it (a stopping daemon) and learns
 * the signal that ended it; a timeout kills the whole group. When the
 * command exits, anything it left in its group is killed too, so nothing
 * outlives the run.
 */
export function startCommand(argv: readonly string[], options: CommandOptions): CommandRun {
  const [file, ...args] = argv;
  const child = spawn(file!, args, {
    cwd: options.cwd,
    env: options.env,
    ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {}),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const signalGroup = (signal: NodeJS.Signals) => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // The group is gone.
    }
  };
  const lines = new LineSplitter(options.onLine);
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => lines.push(chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => lines.push(chunk));
  let timedOut = false;
  const timer =
    options.timeoutMs === null
      ? null
      : setTimeout(() => {
          timedOut = true;
          signalGroup('SIGKILL');
        }, options.timeoutMs);
  const done = new Promise<CommandOutcome>((resolve) => {
    let settled = false;
    const settle = (outcome: CommandOutcome) => {
      if (settled) return;
      settled = true;
      if (timer !== null) clearTimeout(timer);
      lines.end();
      resolve(outcome);
    };
    child.once('error', (error) => settle({ exitCode: null, signal: null, timedOut: false, startError: error.message }));
    child.once('exit', (code, signal) => {
      signalGroup('SIGKILL');
      const outcome: CommandOutcome = { exitCode: timedOut ? null : code, signal, timedOut, startError: null };
      // 'close' follows once the pipes are drained; a grandchild that left
      // the group may hold them open, so the wait is bounded.
      const drained = setTimeout(() => settle(outcome), DRAIN_MS);
      child.once('close', () => {
        clearTimeout(drained);
        settle(outcome);
      });
    });
  });
  return { pid: child.pid, done, terminate: () => signalGroup('SIGTERM'), kill: () => signalGroup('SIGKILL') };
}
