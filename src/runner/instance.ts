import { LineSplitter } from './line-splitter.ts';
import { plainLauncher, type ExitInfo, type LaunchedProcess, type Launcher, type RunAs } from './launcher.ts';

export type { ExitInfo, RunAs } from './launcher.ts';

export type InstanceState = 'starting' | 'ready' | 'draining' | 'stopped' | 'crashed';

export interface InstanceSpec {
  readonly type: string;
  readonly index: number;
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  /** The Unix user and group to run as (berth running as root); null runs as berth's own user. */
  readonly user?: RunAs | null;
  /** Set for instances that serve HTTP (the `web` type). */
  readonly port: number | null;
  /** How its process is started (plainly, or in a sandbox); plain when absent. */
  readonly launcher?: Launcher;
}

/**
 * One running process of a process type: `web.1`, `worker.2`. It owns its
 * process group (or its sandbox), so stopping it also stops whatever it
 * forked (npm's child, gunicorn's workers), and a process that ignores
 * SIGTERM is killed after the grace period.
 */
export class Instance {
  readonly spec: InstanceSpec;
  readonly name: string;
  state: InstanceState = 'starting';
  startedAt = 0;
  #process: LaunchedProcess | null = null;
  #exited: Promise<ExitInfo> | null = null;
  #launching: Promise<void> | null = null;
  #stopRequested = false;

  constructor(spec: InstanceSpec) {
    this.spec = spec;
    this.name = `${spec.type}.${spec.index}`;
  }

  /** True once `stop()` was called: an exit after that is not a crash. */
  get stopRequested(): boolean {
    return this.#stopRequested;
  }

  get pid(): number | undefined {
    return this.#process?.pid;
  }

  /** The started process (its usage, limits and address), once `start` resolved. */
  get process(): LaunchedProcess | null {
    return this.#process;
  }

  /**
   * Starts the process. `onLine` receives each output line; `onExit` fires
   * once when it has ended (for any reason), after whatever it left behind
   * was killed. Resolves once it was started (or failed to start).
   */
  start(now: number, onLine: (stream: 'out' | 'err', line: string) => void, onExit: (info: ExitInfo) => void): Promise<void> {
    this.#launching = this.#start(now, onLine, onExit);
    return this.#launching;
  }

  async #start(now: number, onLine: (stream: 'out' | 'err', line: string) => void, onExit: (info: ExitInfo) => void): Promise<void> {
    this.startedAt = now;
    this.state = 'starting';
    const launch = this.spec.launcher ?? plainLauncher;
    let started: LaunchedProcess;
    try {
      started = await launch({ argv: this.spec.argv, cwd: this.spec.cwd, env: this.spec.env, user: this.spec.user ?? null, label: this.name });
    } catch (err) {
      onLine('err', `cannot start ${this.spec.argv[0]}: ${(err as Error).message}`);
      const info = { code: 127, signal: null };
      this.#exited = Promise.resolve(info);
      onExit(info);
      return;
    }
    this.#process = started;
    const out = new LineSplitter((line) => onLine('out', line));
    const err = new LineSplitter((line) => onLine('err', line));
    started.stdout.setEncoding('utf8').on('data', (chunk: string) => out.push(chunk));
    started.stderr.setEncoding('utf8').on('data', (chunk: string) => err.push(chunk));
    this.#exited = started.exited.then(async (info) => {
      out.end();
      err.end();
      const why = started.startError();
      if (why !== null) onLine('err', `cannot start ${this.spec.argv[0]}: ${why}`);
      // Before onExit, so a restart never finds the old one's leftovers holding its port or its limits.
      await started.release().catch((error: Error) => onLine('err', `could not clean up after ${this.name}: ${error.message}`));
      onExit(info);
      return info;
    });
  }

  /** Sends a signal to everything the instance started (used by tests, `restart` and port checks). */
  kill(signal: NodeJS.Signals): boolean {
    if (this.#process?.pid === undefined) return false;
    this.#process.signal(signal);
    return true;
  }

  /**
   * SIGTERM, then SIGKILL for everything it started once `graceMs` has
   * passed. Idempotent: a second call waits for the same exit.
   */
  async stop(graceMs: number): Promise<ExitInfo | null> {
    this.#stopRequested = true;
    // A start under way finishes first: stopping must never race a process into life.
    await this.#launching;
    if (!this.#exited) return null;
    if (this.state !== 'stopped' && this.state !== 'crashed') {
      this.state = 'draining';
      this.kill('SIGTERM');
    }
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.kill('SIGKILL');
        resolve();
      }, graceMs);
    });
    const exited = this.#exited;
    await Promise.race([exited, killed]);
    clearTimeout(timer);
    return exited;
  }
}
