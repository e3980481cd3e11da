import type { Readable, Writable } from 'node:stream';
import { BerthError } from '../errors.ts';
import { LineSplitter, ptyCommand, type ExitInfo, type LaunchedProcess, type Launcher, type RunAs, type TerminalSize } from '../runner/index.ts';
import type { Store } from './store.ts';

// One-off runs (`berth run`, `ssh berth@HOST run APP -- CMD`): a fresh
// process in the app's current release, started like its release command
// and cron runs (the same environment, user, sandbox and limits), named
// run.N (DYNO), audited. Attached, the caller holds its standard streams
// and a dropped caller ends it; detached, its output goes to the app's log
// under run.N. Every run of an app ends when the app is destroyed, and
// every run when the daemon stops.

/** What the caller asks to run, and how. */
export interface RunRequest {
  /** The command: argv, never a shell string. */
  readonly argv: readonly string[];
  /** `--size`: this run's memory limit, over the app's (null: the app's). */
  readonly memoryBytes: number | null;
  /** With a terminal: the command gets a pseudo-terminal of this size and TERM. */
  readonly terminal: { readonly size: TerminalSize | null; readonly type: string | null } | null;
  /** Returns at once; the output goes to the app's log. */
  readonly detach: boolean;
  /** Who asks: the audit actor (a token's name, "ssh:KEY"). */
  readonly actor: string;
}

/** What the release's processes get, for a run (Platform makes it). */
export interface RunContext {
  /** "v3". */
  readonly release: string;
  readonly cwd: string;
  readonly user: RunAs | null;
  readonly launcher: Launcher;
  /** The environment, for the run's name (DYNO). */
  env(name: string): Record<string, string>;
}

/** How a run ended. */
export interface RunOutcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** It was killed for going over its memory limit (a sandbox can tell). */
  readonly outOfMemory: boolean;
}

/** A run that started. */
export interface OneOffRun {
  /** "run.3". */
  readonly name: string;
  /** Its standard input, output and error (attached runs; null when detached). */
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** Resolves once it has ended and nothing of it is left. */
  readonly done: Promise<RunOutcome>;
  /** A signal to every process of the run. */
  signal(signal: NodeJS.Signals): void;
  /** The caller went away: SIGHUP (a terminal hung up), then SIGKILL after the grace period. */
  abandon(): void;
}

/** A run as `berth ps` and the API list it. */
export interface RunView {
  readonly name: string;
  readonly command: readonly string[];
  readonly actor: string;
  readonly release: string;
  readonly detached: boolean;
  readonly startedAt: string;
  readonly pid: number | undefined;
  readonly process: LaunchedProcess;
}

export interface OneOffRunsOptions {
  readonly store: Store;
  /** A line in the app's log under `source` (run.N). */
  readonly appLog: (app: string, source: string, line: string) => void;
  /** How long a stopped or abandoned run gets after SIGTERM/SIGHUP before SIGKILL. */
  readonly graceMs: number;
}

/** Runs of one app at once; more are refused (a loop of `berth run --detach` must not fill the machine). */
export const MAX_RUNS_PER_APP = 16;
/** After the command exits, how long its output gets to drain. */
const DRAIN_MS = 2_000;

interface Running extends RunView {
  readonly done: Promise<RunOutcome>;
  stop(signal: NodeJS.Signals): void;
}

export class OneOffRuns {
  readonly #options: OneOffRunsOptions;
  /** The last run number given per app (from the audit at first use, so numbers go on across restarts). */
  readonly #numbers = new Map<string, number>();
  readonly #running = new Map<string, Map<string, Running>>();

  constructor(options: OneOffRunsOptions) {
    this.#options = options;
  }

  #nextName(app: string): string {
    let last = this.#numbers.get(app);
    if (last === undefined) {
      const row = this.#options.store.lastAudit('run', app);
      const match = /^run\.(\d+)$/.exec(String(row?.detail.dyno ?? ''));
      last = match === null ? 0 : Number(match[1]);
    }
    this.#numbers.set(app, last + 1);
    return `run.${last + 1}`;
  }

  async start(app: string, context: RunContext, request: RunRequest): Promise<OneOffRun> {
    const runs = this.#running.get(app) ?? new Map<string, Running>();
    if (runs.size >= MAX_RUNS_PER_APP) {
      throw new BerthError('BERTH_E_RUN_LIMIT', `${app} already has ${runs.size} one-off runs going, the most it may have at once`, { status: 429, hint: `Wait for one to end, or stop one: berth ps --app ${app} lists them.` });
    }
    const name = this.#nextName(app);
    const detail = { dyno: name, argv: [...request.argv], release: context.release, detach: request.detach, terminal: request.terminal !== null, memoryBytes: request.memoryBytes };
    let argv = [...request.argv];
    let env = context.env(name);
    if (request.terminal !== null) {
      if (request.terminal.type !== null) env.TERM = request.terminal.type;
      ({ argv, env } = ptyCommand(argv, env, request.terminal.size));
    }
    let process: LaunchedProcess;
    try {
      process = await context.launcher({ argv, cwd: context.cwd, env, user: context.user, label: name, stdin: !request.detach });
    } catch (err) {
      this.#options.store.audit({ actor: request.actor, action: 'run', target: app, result: 'error', detail: { ...detail, error: err instanceof BerthError ? err.code : 'error' } });
      throw err;
    }
    this.#options.store.audit({ actor: request.actor, action: 'run', target: app, result: 'ok', detail });
    const log = (line: string) => this.#options.appLog(app, name, line);
    // The command's name only: its arguments may hold what the user did not mean for the log.
    log(`starting ${request.argv[0]} in ${context.release}${request.detach ? ', detached' : ''} (by ${request.actor})`);
    if (request.detach) {
      const lines = new LineSplitter(log);
      process.stdout.setEncoding('utf8').on('data', (chunk: string) => lines.push(chunk));
      process.stderr.setEncoding('utf8').on('data', (chunk: string) => lines.push(chunk));
      void Promise.all([ended(process.stdout), ended(process.stderr)]).then(() => lines.end());
    }
    let killTimer: NodeJS.Timeout | null = null;
    const stop = (signal: NodeJS.Signals) => {
      process.signal(signal);
      killTimer ??= setTimeout(() => process.signal('SIGKILL'), this.#options.graceMs);
      killTimer.unref();
    };
    const done = (async (): Promise<RunOutcome> => {
      const info: ExitInfo = await process.exited;
      if (killTimer !== null) clearTimeout(killTimer);
      await process.release().catch(() => {});
      await Promise.race([Promise.all([ended(process.stdout), ended(process.stderr)]), new Promise((resolve) => setTimeout(resolve, DRAIN_MS).unref())]);
      runs.delete(name);
      if (runs.size === 0 && this.#running.get(app) === runs) this.#running.delete(app);
      const startError = process.startError();
      const outcome: RunOutcome = { code: startError === null ? info.code : 127, signal: info.signal, outOfMemory: info.outOfMemory !== undefined };
      this.#options.store.audit({ actor: request.actor, action: 'run.exit', target: app, result: 'ok', detail: { dyno: name, exitCode: outcome.code, signal: outcome.signal, outOfMemory: outcome.outOfMemory } });
      log(startError !== null ? `could not start ${request.argv[0]}: ${startError}` : `${describeOutcome(outcome)}`);
      return outcome;
    })();
    const running: Running = {
      name,
      command: request.argv,
      actor: request.actor,
      release: context.release,
      detached: request.detach,
      startedAt: new Date().toISOString(),
      pid: process.pid,
      process,
      done,
      stop,
    };
    runs.set(name, running);
    this.#running.set(app, runs);
    return {
      name,
      stdin: request.detach ? null : (process.stdin ?? null),
      stdout: request.detach ? null : process.stdout,
      stderr: request.detach ? null : process.stderr,
      done,
      signal: (signal) => process.signal(signal),
      abandon: () => stop('SIGHUP'),
    };
  }

  /** The app's runs going now, oldest first. */
  list(app: string): RunView[] {
    return [...(this.#running.get(app)?.values() ?? [])].map(({ done: _done, stop: _stop, ...view }) => view);
  }

  /** SIGTERM to one run, SIGKILL after the grace period; resolves once it has ended. */
  async stop(app: string, name: string, actor: string): Promise<RunOutcome> {
    const run = this.#running.get(app)?.get(name);
    if (run === undefined) throw new BerthError('BERTH_E_RUN_NOT_FOUND', `${app} has no run ${name} going`, { status: 404, hint: `berth ps --app ${app} lists its runs.` });
    this.#options.store.audit({ actor, action: 'run.stop', target: app, result: 'ok', detail: { dyno: name } });
    run.stop('SIGTERM');
    return run.done;
  }

  /** Ends every run of the app (it is being destroyed). */
  async endApp(app: string): Promise<void> {
    const runs = [...(this.#running.get(app)?.values() ?? [])];
    for (const run of runs) run.stop('SIGTERM');
    await Promise.all(runs.map((run) => run.done));
  }

  /** Ends every run (the daemon stops). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#running.keys()].map((app) => this.endApp(app)));
  }
}

/** "exited with code 0", "ended by SIGINT", "out of memory (ended by SIGKILL)". */
export function describeOutcome(outcome: RunOutcome): string {
  const how = outcome.signal !== null ? `ended by ${outcome.signal}` : `exited with code ${outcome.code}`;
  return outcome.outOfMemory ? `out of memory: its limit was reached (${how})` : how;
}

function ended(stream: Readable): Promise<void> {
  if (stream.readableEnded || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
  });
}
