import { randomBytes } from 'node:crypto';
import { closeSync } from 'node:fs';
import { LineSplitter } from './line-splitter.ts';
import { createOutputFiles, InstanceOutput, removeOutputFiles, type OutputOffsets, type OutputPaths } from './instance-output.ts';
import { plainLauncher, type AdoptionHandle, type ExitInfo, type LaunchedProcess, type Launcher, type RunAs } from './launcher.ts';
import { readProcessNow, type ProcessIdentity } from './process-identity.ts';
import type { ResourceLimits } from '../sandbox/index.ts';

export type { ExitInfo, RunAs } from './launcher.ts';

/** What a later daemon needs to take a running instance over (see Formation.records()). */
export interface InstanceTakeover {
  readonly handle: AdoptionHandle;
  readonly identity: ProcessIdentity;
  readonly output: OutputPaths;
  readonly offsets: OutputOffsets;
  /** The limits it runs under (null: none), as its launcher set them. */
  readonly limits: ResourceLimits | null;
}

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
  /**
   * Where its output files go (root's folder): the output outlives the
   * daemon, so the instance can. Absent: pipes, and the instance ends
   * with the daemon.
   */
  readonly outputDir?: string;
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
  #output: InstanceOutput | null = null;
  #identity: ProcessIdentity | null = null;
  #detached = false;

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
    let files: ReturnType<typeof createOutputFiles> | null = null;
    try {
      if (this.spec.outputDir !== undefined) files = createOutputFiles(this.spec.outputDir, `${this.name}-${randomBytes(4).toString('hex')}`);
      started = await launch({ argv: this.spec.argv, cwd: this.spec.cwd, env: this.spec.env, user: this.spec.user ?? null, label: this.name, ...(files ? { output: files.fds } : {}) });
    } catch (err) {
      onLine('err', `cannot start ${this.spec.argv[0]}: ${(err as Error).message}`);
      if (files) await removeOutputFiles(files.paths);
      const info = { code: 127, signal: null };
      this.#exited = Promise.resolve(info);
      onExit(info);
      return;
    } finally {
      // The child has its copies (or never started): ours would only keep the files open.
      for (const fd of files?.fds ?? []) closeSync(fd);
    }
    this.#process = started;
    let output: InstanceOutput | null = null;
    if (files !== null) {
      output = await InstanceOutput.follow(files.paths, { out: 0, err: 0 }, onLine).catch((err: Error) => {
        onLine('err', `cannot read ${this.name}'s output: ${err.message}`);
        return null;
      });
      this.#output = output;
      if (started.pid !== undefined) this.#identity = await identityAfterStart(started.pid);
    }
    this.#supervise(started, output, files?.paths ?? null, onLine, onExit);
  }

  /**
   * Takes over an instance a previous daemon started: `process` is its
   * adopted process, `takeover` what that daemon recorded. It is ready as
   * it was (the caller checked its port).
   */
  adopt(now: number, process: LaunchedProcess, takeover: InstanceTakeover, onLine: (stream: 'out' | 'err', line: string) => void, onExit: (info: ExitInfo) => void): Promise<void> {
    this.#launching = (async () => {
      this.startedAt = now;
      this.state = 'starting';
      this.#process = process;
      this.#identity = takeover.identity;
      const output = await InstanceOutput.follow(takeover.output, takeover.offsets, onLine).catch((err: Error) => {
        onLine('err', `cannot read ${this.name}'s output: ${err.message}`);
        return null;
      });
      this.#output = output;
      this.#supervise(process, output, takeover.output, onLine, onExit);
    })();
    return this.#launching;
  }

  #supervise(started: LaunchedProcess, output: InstanceOutput | null, files: OutputPaths | null, onLine: (stream: 'out' | 'err', line: string) => void, onExit: (info: ExitInfo) => void): void {
    const out = new LineSplitter((line) => onLine('out', line));
    const err = new LineSplitter((line) => onLine('err', line));
    started.stdout.setEncoding('utf8').on('data', (chunk: string) => out.push(chunk));
    started.stderr.setEncoding('utf8').on('data', (chunk: string) => err.push(chunk));
    this.#exited = started.exited.then(async (info) => {
      // Let go (the daemon stops and leaves it running): nothing of its end is this daemon's business.
      if (this.#detached) return info;
      out.end();
      err.end();
      await output?.finish();
      if (files !== null) await removeOutputFiles(files);
      const why = started.startError();
      if (why !== null) onLine('err', `cannot start ${this.spec.argv[0]}: ${why}`);
      // Before onExit, so a restart never finds the old one's leftovers holding its port or its limits.
      await started.release().catch((error: Error) => onLine('err', `could not clean up after ${this.name}: ${error.message}`));
      onExit(info);
      return info;
    });
  }

  /** What a later daemon needs to take this instance over; null when it cannot be (no output files, not started, or ended). */
  takeover(): InstanceTakeover | null {
    const handle = this.#process?.adoption ?? null;
    if (handle === null || this.#identity === null || this.#output === null) return null;
    return { handle, identity: this.#identity, output: this.#output.paths, offsets: this.#output.offsets, limits: this.#process?.limits ?? null };
  }

  /**
   * Stops supervising without stopping: its output is read to here and the
   * files are left for the next daemon; its exit, if it comes before this
   * daemon is gone, is nobody's. Returns what the next daemon needs.
   */
  async detach(): Promise<InstanceTakeover | null> {
    await this.#launching;
    this.#detached = true;
    this.#process?.letGo();
    await this.#output?.detach();
    return this.takeover();
  }

  /** The identity of its process (pid, start time, group, uid), once known. */
  get identity(): ProcessIdentity | null {
    return this.#identity;
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

/** The identity of a process just started (null when it is gone already). */
async function identityAfterStart(pid: number): Promise<ProcessIdentity | null> {
  const now = await readProcessNow(pid);
  if (now === null || now.zombie) return null;
  return { pid: now.pid, startTime: now.startTime, pgid: now.pgid, uid: now.uid };
}
