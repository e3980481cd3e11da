// Every process the harness starts goes through here, so that every one of
// them is stopped: on success, on failure, on Ctrl-C, and as a last resort
// when the harness process exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { isSameProcessAlive, processTree, type ProcStat } from './proc-tree.ts';

const OUTPUT_KEPT = 64 * 1024;

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SpawnRequest {
  /** Short label for messages ("nginx", "wrk", "upstream"). */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** argv put in front of the command, e.g. `prlimit --nofile=N --` (it execs, so the pid stays the server's). */
  readonly wrapper?: readonly string[];
}

/** A started process with its output kept (the last 64 KiB) for error messages and parsing. */
export class Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly exited: Promise<Exit>;
  #exit: Exit | null = null;
  #output = '';
  /** Descendants seen so far (nginx workers, cluster workers), by pid. */
  readonly #descendants = new Map<number, ProcStat>();

  constructor(request: SpawnRequest) {
    this.name = request.name;
    const argv = [...(request.wrapper ?? []), request.command, ...request.args];
    this.process = spawn(argv[0]!, argv.slice(1), {
      cwd: request.cwd,
      env: request.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      this.#output += chunk.toString('utf8');
      if (this.#output.length > OUTPUT_KEPT * 2) this.#output = this.#output.slice(-OUTPUT_KEPT);
    };
    this.process.stdout!.on('data', keep);
    this.process.stderr!.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.process.once('error', (err) => {
        this.#output += `\n(spawn failed: ${err.message})`;
        this.#exit ??= { code: null, signal: null };
        resolve(this.#exit);
      });
      this.process.once('close', (code, signal) => {
        this.#exit ??= { code, signal };
        resolve(this.#exit);
      });
    });
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  get exit(): Exit | null {
    return this.#exit;
  }

  /** Records the current descendants, so they can be stopped even if this process dies first. */
  async noteDescendants(): Promise<readonly ProcStat[]> {
    if (this.pid !== undefined && !this.#exit) for (const stat of (await processTree(this.pid)).slice(1)) this.#descendants.set(stat.pid, stat);
    return [...this.#descendants.values()];
  }

  noted(): readonly ProcStat[] {
    return [...this.#descendants.values()];
  }

  output(): string {
    return this.#output.slice(-OUTPUT_KEPT);
  }

  /** "nginx exited with code 1: <last lines of output>" */
  describeExit(): string {
    const how = this.#exit?.signal ? `signal ${this.#exit.signal}` : `code ${this.#exit?.code}`;
    const tail = this.output().trim().split('\n').slice(-8).join('\n');
    return `${this.name} exited with ${how}${tail ? `:\n${tail}` : ''}`;
  }
}

function timeout(ms: number): Promise<'timeout'> {
  return new Promise((resolve) => setTimeout(resolve, ms, 'timeout').unref());
}

/** The children started so far; `stopAll()` and the exit hook leave nothing running. */
export class ChildProcesses {
  /** Children not yet fully stopped: running, or with descendants that may still run. */
  readonly #all = new Set<Child>();

  start(request: SpawnRequest): Child {
    const child = new Child(request);
    this.#all.add(child);
    return child;
  }

  /**
   * SIGTERM (or `signal`), wait up to `graceMs`, then SIGKILL. Descendants (nginx workers,
   * cluster workers) noted before or at the signal that outlive their parent
   * are killed too, by pid checked against the start time, never by name.
   * Safe to call again and after the process died by itself.
   */
  async stop(child: Child, graceMs = 5_000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (child.pid === undefined) return;
    const descendants = await child.noteDescendants();
    if (!child.exit) {
      child.process.kill(signal);
      if ((await Promise.race([child.exited, timeout(graceMs)])) === 'timeout') {
        child.process.kill('SIGKILL');
        await Promise.race([child.exited, timeout(graceMs)]);
      }
    }
    const leftovers: ProcStat[] = [];
    for (const stat of descendants) if (await isSameProcessAlive(stat)) leftovers.push(stat);
    for (const stat of leftovers) {
      try {
        process.kill(stat.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    // SIGKILL is delivered asynchronously: wait (bounded) until they are really gone.
    for (let i = 0; i < 40 && leftovers.length > 0; i++) {
      const alive = await Promise.all(leftovers.map((stat) => isSameProcessAlive(stat)));
      if (!alive.includes(true)) break;
      await timeout(50);
    }
    if (child.exit) this.#all.delete(child);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#all].map((child) => this.stop(child)));
  }

  /**
   * For `process.on('exit')`, after a failure skipped the orderly stop:
   * synchronous, so only SIGKILL, to the children and the descendants noted
   * so far (killing an nginx master alone would leave its workers serving).
   */
  killAllNow(): void {
    for (const child of this.#all) {
      const pids = [...(child.exit ? [] : [child.pid]), ...child.noted().map((stat) => stat.pid)];
      for (const pid of pids) {
        try {
          if (pid !== undefined) process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }

  /** Runs a command to completion with a hard time limit; rejects on an exit code not in `okCodes` (default: 0). */
  async run(request: SpawnRequest & { readonly timeoutMs: number; readonly okCodes?: readonly number[] }): Promise<string> {
    const child = this.start(request);
    const outcome = await Promise.race([child.exited, timeout(request.timeoutMs)]);
    if (outcome === 'timeout') {
      await this.stop(child, 1_000);
      throw new Error(`${request.name} did not finish within ${request.timeoutMs / 1000} s`);
    }
    if (outcome.code === null || !(request.okCodes ?? [0]).includes(outcome.code)) throw new Error(child.describeExit());
    return child.output();
  }
}
