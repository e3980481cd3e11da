import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { decideRestart, NO_CRASHES, systemClock, type Clock, type CrashHistory } from '../runner/index.ts';
import { bootId, removeServerRecord, startTimeOf, writeServerRecord } from './server-facts.ts';
import type { AddonUser } from './types.ts';

/** How often an adopted server (not berth's child: no exit event) is looked for in /proc. */
const WATCH_INTERVAL_MS = 1_000;
const GONE_POLL_MS = 50;

export interface ServiceSpec {
  /** How the service is named in the daemon's log: "postgres", "redis". */
  readonly name: string;
  readonly argv: readonly string[];
  /** Its whole environment (carry SUPERVISOR_ENV so a later daemon can reap it if its record is lost). */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly user: AddonUser | null;
  /** The signal that asks it to stop quickly and cleanly: SIGINT for postgres (fast shutdown), SIGTERM for redis. */
  readonly stopSignal: NodeJS.Signals;
  readonly log: (line: string) => void;
  /**
   * Where its own stdout and stderr go: a file of berth's (rewritten at each
   * start), never a pipe, which would break (EPIPE, SIGPIPE) once the daemon
   * that read it is gone while the server runs on.
   */
  readonly outputFile: string;
  /** berth's record of the running server (server-adoption.ts), for the next daemon. */
  readonly recordFile: string;
  /** The digest of its settings the record carries. */
  readonly settings: string;
  /** Said after "started (pid N)" in the daemon's log: where the server's own log is. */
  readonly logHint?: string;
  readonly clock?: Clock;
}

/** Sends `signal` to the process group `pid` leads; false when it is gone. */
function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Ends a server berth identified (pid and start time) but did not spawn, or
 * no longer holds as its child: its clean-shutdown signal to its group,
 * SIGKILL after `graceMs`, and back once /proc says it is gone.
 */
export async function endIdentified(pid: number, startTime: string, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  const alive = async () => (await startTimeOf(pid)) === startTime;
  if (!(await alive())) return;
  signalGroup(pid, signal);
  const deadline = Date.now() + graceMs;
  while (await alive()) {
    if (Date.now() >= deadline) {
      signalGroup(pid, 'SIGKILL');
      // SIGKILL cannot be ignored; bounded all the same.
      const killDeadline = Date.now() + 10_000;
      while ((await alive()) && Date.now() < killDeadline) await new Promise((resolve) => setTimeout(resolve, GONE_POLL_MS));
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, GONE_POLL_MS));
  }
}

/**
 * One long-running server berth supervises for its add-ons (a local
 * PostgreSQL cluster, a Redis server): started in its own process group
 * with its output in a file, or adopted from a previous daemon; restarted
 * with the instances' backoff when it dies (a child's exit event, an
 * adopted one's disappearance from /proc); stopped with its own
 * clean-shutdown signal and then SIGKILL, or let go to run on (detach).
 * Readiness (accepting connections) is the provider's to check.
 */
export class ServiceProcess {
  readonly #spec: ServiceSpec;
  readonly #clock: Clock;
  #child: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  /** The server berth adopted (not its child), while it runs. */
  #adopted: { readonly pid: number; readonly startTime: string } | null = null;
  #watch: NodeJS.Timeout | null = null;
  #history: CrashHistory = NO_CRASHES;
  #restartTimer: NodeJS.Timeout | null = null;
  #stopping = false;

  constructor(spec: ServiceSpec) {
    this.#spec = spec;
    this.#clock = spec.clock ?? systemClock;
  }

  get pid(): number | undefined {
    return this.#child?.pid ?? this.#adopted?.pid;
  }

  get running(): boolean {
    return this.#child !== null || this.#adopted !== null;
  }

  /** Starts the service (once; later calls do nothing while it runs or waits to restart). */
  start(): void {
    if (this.#stopping || this.running || this.#restartTimer !== null) return;
    this.#spawn();
  }

  /** Takes over a running server a previous daemon started (identified by the caller), and watches it. */
  adopt(pid: number, startTime: string): void {
    if (this.#stopping || this.running) return;
    this.#adopted = { pid, startTime };
    const adoptedAt = this.#clock.now();
    this.#watch = setInterval(() => {
      void startTimeOf(pid).then((now) => {
        if (now === startTime || this.#adopted?.pid !== pid) return;
        this.#adopted = null;
        if (this.#watch !== null) clearInterval(this.#watch);
        this.#watch = null;
        if (!this.#stopping) this.#restartLater(adoptedAt, `${this.#spec.name} (pid ${pid}, adopted) is gone`);
      });
    }, WATCH_INTERVAL_MS);
    this.#watch.unref();
  }

  #spawn(): void {
    const spec = this.#spec;
    const [file, ...args] = spec.argv;
    const startedAt = this.#clock.now();
    let output: number;
    try {
      output = openSync(spec.outputFile, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o640);
    } catch (err) {
      spec.log(`${spec.name}: could not start: cannot open ${spec.outputFile}: ${(err as Error).message}`);
      this.#restartLater(startedAt, `${spec.name} could not start`);
      return;
    }
    let child: ChildProcess;
    try {
      child = spawn(file!, args, {
        cwd: spec.cwd,
        env: spec.env,
        ...(spec.user ? { uid: spec.user.uid, gid: spec.user.gid } : {}),
        detached: true,
        stdio: ['ignore', output, output],
      });
    } finally {
      // The child has its own copy.
      closeSync(output);
    }
    this.#child = child;
    const pid = child.pid;
    if (pid !== undefined) {
      spec.log(`${spec.name}: started (pid ${pid})${spec.logHint ? `; ${spec.logHint}` : ''}`);
      void this.#record(pid);
    }
    this.#exited = new Promise((resolve) => {
      child.on('error', (err) => spec.log(`${spec.name}: could not start: ${err.message}`));
      child.on('close', (code, signal) => {
        if (this.#child === child) this.#child = null;
        resolve();
        if (this.#stopping) return;
        this.#restartLater(startedAt, `${spec.name} exited (${signal ?? `code ${code}`})`);
      });
    });
  }

  /** Writes berth's record of the child it just started, for the next daemon. */
  async #record(pid: number): Promise<void> {
    const spec = this.#spec;
    const startTime = await startTimeOf(pid);
    if (startTime === null || this.#child?.pid !== pid) return;
    try {
      writeServerRecord(spec.recordFile, { pid, startTime, bootId: await bootId(), uid: spec.user?.uid ?? process.getuid?.() ?? 0, settings: spec.settings });
    } catch (err) {
      spec.log(`${spec.name}: cannot write ${spec.recordFile} (a restarted daemon will start it anew): ${(err as Error).message}`);
    }
  }

  #restartLater(startedAt: number, what: string): void {
    const decision = decideRestart(this.#history, startedAt, this.#clock.now());
    this.#history = decision.history;
    this.#spec.log(`${what}; restarting in ${decision.delayMs} ms${decision.crashLoop ? ' (it keeps crashing)' : ''}`);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      if (!this.#stopping) this.#spawn();
    }, decision.delayMs);
    this.#restartTimer.unref();
  }

  #quiet(): void {
    this.#stopping = true;
    if (this.#restartTimer !== null) clearTimeout(this.#restartTimer);
    this.#restartTimer = null;
    if (this.#watch !== null) clearInterval(this.#watch);
    this.#watch = null;
  }

  /**
   * Lets the server run on without this daemon: no more watching or
   * restarting, nothing holds the daemon's event loop, and the record stays
   * for the next daemon to adopt it. Idempotent.
   */
  detach(): void {
    this.#quiet();
    this.#child?.unref();
  }

  /** Stops for good: the clean-shutdown signal to the group, SIGKILL after `graceMs`. Idempotent. */
  async stop(graceMs = 8_000): Promise<void> {
    this.#quiet();
    const adopted = this.#adopted;
    if (adopted !== null) {
      await endIdentified(adopted.pid, adopted.startTime, this.#spec.stopSignal, graceMs);
      this.#adopted = null;
      await removeServerRecord(this.#spec.recordFile);
      return;
    }
    const child = this.#child;
    if (child === null || child.pid === undefined) return;
    signalGroup(child.pid, this.#spec.stopSignal);
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([this.#exited.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs)))]);
    clearTimeout(timer);
    if (late) {
      signalGroup(child.pid, 'SIGKILL');
      await this.#exited;
    }
    await removeServerRecord(this.#spec.recordFile);
  }
}
