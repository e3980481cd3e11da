import { spawn, type ChildProcess } from 'node:child_process';
import { LineSplitter } from './line-splitter.ts';

export type InstanceState = 'starting' | 'ready' | 'draining' | 'stopped' | 'crashed';

/** A Unix identity a process is started as. */
export interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

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
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * One running process of a process type: `web.1`, `worker.2`. It owns its
 * process group, so stopping it also stops whatever it forked (npm's child,
 * gunicorn's workers), and a process that ignores SIGTERM is killed after
 * the grace period.
 */
export class Instance {
  readonly spec: InstanceSpec;
  readonly name: string;
  state: InstanceState = 'starting';
  startedAt = 0;
  #child: ChildProcess | null = null;
  #exited: Promise<ExitInfo> | null = null;
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
    return this.#child?.pid;
  }

  /**
   * Starts the process. `onLine` receives each output line; `onExit` fires
   * once when the process group leader exits (for any reason).
   */
  start(now: number, onLine: (stream: 'out' | 'err', line: string) => void, onExit: (info: ExitInfo) => void): void {
    const [file, ...args] = this.spec.argv;
    this.startedAt = now;
    this.state = 'starting';
    const child = spawn(file!, args, {
      cwd: this.spec.cwd,
      env: this.spec.env,
      ...(this.spec.user ? { uid: this.spec.user.uid, gid: this.spec.user.gid } : {}),
      // Its own process group: Ctrl-C in berth's terminal reaches berth
      // alone, which then stops every instance in order.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    const out = new LineSplitter((line) => onLine('out', line));
    const err = new LineSplitter((line) => onLine('err', line));
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => out.push(chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => err.push(chunk));
    this.#exited = new Promise((resolve) => {
      let settled = false;
      const finish = (info: ExitInfo) => {
        if (settled) return;
        settled = true;
        out.end();
        err.end();
        // The leader is gone; anything it left in its group goes too, so a
        // crashed gunicorn master cannot leave workers holding the port.
        this.#signalGroup('SIGKILL');
        resolve(info);
        onExit(info);
      };
      child.once('error', (error) => {
        onLine('err', `cannot start ${file}: ${error.message}`);
        finish({ code: 127, signal: null });
      });
      child.once('exit', (code, signal) => finish({ code, signal }));
    });
  }

  #signalGroup(signal: NodeJS.Signals): boolean {
    const pid = this.#child?.pid;
    if (pid === undefined) return false;
    try {
      process.kill(-pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /** Sends a signal to the whole process group (used by tests and `restart`). */
  kill(signal: NodeJS.Signals): boolean {
    return this.#signalGroup(signal);
  }

  /**
   * SIGTERM, then SIGKILL for the whole group once `graceMs` has passed.
   * Idempotent: a second call waits for the same exit.
   */
  async stop(graceMs: number): Promise<ExitInfo | null> {
    this.#stopRequested = true;
    if (!this.#exited) return null;
    if (this.state !== 'stopped' && this.state !== 'crashed') {
      this.state = 'draining';
      this.#signalGroup('SIGTERM');
    }
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.#signalGroup('SIGKILL');
        resolve();
      }, graceMs);
    });
    const exited = this.#exited;
    await Promise.race([exited, killed]);
    clearTimeout(timer);
    return exited;
  }
}
