import { plainLauncher, type LaunchedProcess, type Launcher, type RunAs } from './launcher.ts';
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
  /** Kill everything the command started after this long; null: no limit. */
  readonly timeoutMs: number | null;
  /** Run as this Unix user (berth runs as root); null or absent: as berth. */
  readonly user?: RunAs | null;
  /** How it is started (plainly, or in the app's sandbox); plain when absent. */
  readonly launcher?: Launcher;
  /** What it is, for its sandbox: "build", "release", "cron.nightly", "run.2". */
  readonly label?: string;
}

/** After the command exits, how long its output pipes get to drain before the run counts as over. */
const DRAIN_MS = 1_000;

/**
 * Starts one command (argv, no shell) in its own process group (or its
 * sandbox), streaming its output line by line: cron runs, and through
 * `runOnce` build steps and release commands. The caller can SIGTERM it (a
 * stopping daemon) and learns the signal that ended it; a timeout kills
 * everything it started. When the command exits, anything it left behind is
 * killed too, so nothing outlives the run.
 */
export function startCommand(argv: readonly string[], options: CommandOptions): CommandRun {
  const launch = options.launcher ?? plainLauncher;
  let started: LaunchedProcess | null = null;
  // Signals asked for before the process exists are sent the moment it does.
  let pending: NodeJS.Signals | null = null;
  const signal = (sig: NodeJS.Signals) => {
    if (started !== null) started.signal(sig);
    else if (pending !== 'SIGKILL') pending = sig;
  };
  const lines = new LineSplitter(options.onLine);
  let timedOut = false;
  const timer =
    options.timeoutMs === null
      ? null
      : setTimeout(() => {
          timedOut = true;
          signal('SIGKILL');
        }, options.timeoutMs);
  const done = (async (): Promise<CommandOutcome> => {
    let process: LaunchedProcess;
    try {
      process = await launch({ argv, cwd: options.cwd, env: options.env, user: options.user ?? null, label: options.label ?? 'run' });
    } catch (err) {
      if (timer !== null) clearTimeout(timer);
      return { exitCode: null, signal: null, timedOut: false, startError: (err as Error).message };
    }
    started = process;
    if (pending !== null) process.signal(pending);
    process.stdout.setEncoding('utf8').on('data', (chunk: string) => lines.push(chunk));
    process.stderr.setEncoding('utf8').on('data', (chunk: string) => lines.push(chunk));
    const info = await process.exited;
    await process.release().catch(() => {});
    // Output still in the pipes (a grandchild that left the group may hold them open): bounded.
    await Promise.race([
      Promise.all([ended(process.stdout), ended(process.stderr)]),
      new Promise((resolve) => setTimeout(resolve, DRAIN_MS)),
    ]);
    if (timer !== null) clearTimeout(timer);
    lines.end();
    const startError = process.startError();
    if (startError !== null) return { exitCode: null, signal: null, timedOut: false, startError };
    return { exitCode: timedOut ? null : info.code, signal: info.signal, timedOut, startError: null };
  })();
  return {
    get pid() {
      return started?.pid;
    },
    done,
    terminate: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
  };
}

function ended(stream: NodeJS.ReadableStream & { readableEnded?: boolean; destroyed?: boolean }): Promise<void> {
  if (stream.readableEnded || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
  });
}
