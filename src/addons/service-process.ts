import { spawn, type ChildProcess } from 'node:child_process';
import { decideRestart, LineSplitter, NO_CRASHES, systemClock, type Clock, type CrashHistory } from '../runner/index.ts';
import type { AddonUser } from './types.ts';

export interface ServiceSpec {
  /** How the service is named in the daemon's log: "postgres", "redis". */
  readonly name: string;
  readonly argv: readonly string[];
  /** Its whole environment (carry SUPERVISOR_ENV so a later daemon can reap it if this one dies). */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly user: AddonUser | null;
  /** The signal that asks it to stop quickly and cleanly: SIGINT for postgres (fast shutdown), SIGTERM for redis. */
  readonly stopSignal: NodeJS.Signals;
  readonly log: (line: string) => void;
  readonly clock?: Clock;
}

/**
 * One long-running server berth supervises for its add-ons (a local
 * PostgreSQL cluster, a Redis server): started in its own process group,
 * restarted with the instances' backoff when it dies, stopped with its own
 * clean-shutdown signal and then SIGKILL. Readiness (accepting connections)
 * is the provider's to check.
 */
export class ServiceProcess {
  readonly #spec: ServiceSpec;
  readonly #clock: Clock;
  #child: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  #history: CrashHistory = NO_CRASHES;
  #restartTimer: NodeJS.Timeout | null = null;
  #stopping = false;

  constructor(spec: ServiceSpec) {
    this.#spec = spec;
    this.#clock = spec.clock ?? systemClock;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== null;
  }

  /** Starts the service (once; later calls do nothing while it runs or waits to restart). */
  start(): void {
    if (this.#stopping || this.#child !== null || this.#restartTimer !== null) return;
    this.#spawn();
  }

  #spawn(): void {
    const spec = this.#spec;
    const [file, ...args] = spec.argv;
    const startedAt = this.#clock.now();
    const child = spawn(file!, args, {
      cwd: spec.cwd,
      env: spec.env,
      ...(spec.user ? { uid: spec.user.uid, gid: spec.user.gid } : {}),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    for (const stream of [child.stdout!, child.stderr!]) {
      const lines = new LineSplitter((line) => spec.log(`${spec.name}: ${line}`));
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => lines.push(chunk));
      stream.on('end', () => lines.end());
    }
    this.#exited = new Promise((resolve) => {
      child.on('error', (err) => spec.log(`${spec.name}: could not start: ${err.message}`));
      child.on('close', (code, signal) => {
        this.#child = null;
        resolve();
        if (this.#stopping) return;
        const decision = decideRestart(this.#history, startedAt, this.#clock.now());
        this.#history = decision.history;
        spec.log(`${spec.name} exited (${signal ?? `code ${code}`}); restarting in ${decision.delayMs} ms${decision.crashLoop ? ' (it keeps crashing)' : ''}`);
        this.#restartTimer = setTimeout(() => {
          this.#restartTimer = null;
          if (!this.#stopping) this.#spawn();
        }, decision.delayMs);
        this.#restartTimer.unref();
      });
    });
  }

  /** Stops for good: the clean-shutdown signal to the group, SIGKILL after `graceMs`. Idempotent. */
  async stop(graceMs = 8_000): Promise<void> {
    this.#stopping = true;
    if (this.#restartTimer !== null) clearTimeout(this.#restartTimer);
    this.#restartTimer = null;
    const child = this.#child;
    if (child === null || child.pid === undefined) return;
    const group = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // Gone already.
      }
    };
    group(this.#spec.stopSignal);
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([this.#exited.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs)))]);
    clearTimeout(timer);
    if (late) {
      group('SIGKILL');
      await this.#exited;
    }
  }
}
