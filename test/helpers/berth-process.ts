import { readFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
export const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));

/** A real `berth` process started by a test, with its output captured. */
export class BerthProcess {
  readonly child: ChildProcess;
  output = '';
  #waiters: Array<{ pattern: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  /**
   * `wrapper` goes in front of node (e.g. `prlimit --nofile=1024 --`, which execs it: the pid stays berth's);
   * `entry` replaces the sources' main (an installed bin/berth.js).
   */
  constructor(args: readonly string[], options: { cwd?: string; env?: Record<string, string>; wrapper?: readonly string[]; entry?: string } = {}) {
    const wrapper = options.wrapper ?? [];
    const argv = [...wrapper, process.execPath, options.entry ?? MAIN, ...args];
    this.child = spawn(argv[0]!, argv.slice(1), {
      cwd: options.cwd ?? REPO,
      env: { ...process.env, NO_COLOR: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const onData = (chunk: Buffer) => {
      this.output += chunk.toString('utf8');
      this.#check();
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    this.exited = once(this.child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  }

  #check(): void {
    for (const waiter of [...this.#waiters]) {
      const match = this.output.match(waiter.pattern);
      if (match) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve(match);
      }
    }
  }

  /** Resolves when the output matches; rejects with the output so far after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const match = this.output.match(pattern);
    if (match) return Promise.resolve(match);
    return new Promise((resolve, reject) => {
      const waiter = { pattern, resolve: (m: RegExpMatchArray) => (clearTimeout(timer), resolve(m)) };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`timed out waiting for ${pattern}; output so far:\n${this.output}`));
      }, timeoutMs);
      this.#waiters.push(waiter);
      void this.exited.then(() => {
        if (this.#waiters.includes(waiter)) {
          clearTimeout(timer);
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          reject(new Error(`berth exited while waiting for ${pattern}; output:\n${this.output}`));
        }
      });
    });
  }

  /** The edge's base URL, from the line berth prints when it listens. */
  async url(): Promise<string> {
    const match = await this.waitFor(/(http:\/\/127\.0\.0\.1:\d+)/);
    return match[1]!;
  }

  /** Sends a signal and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGINT', timeoutMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      this.exited,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`berth did not exit after ${signal}:\n${this.output}`)), timeoutMs))),
    ]);
    clearTimeout(timer);
    return result;
  }

  /**
   * For t.after(): SIGINT (a full stop: `berth server` stops its apps too;
   * SIGTERM would leave them running), and SIGKILL if berth has not stopped in 30 s. A
   * daemon's stop may take its listeners' and its apps' grace periods (10 s
   * each); one SIGKILLed earlier would leave its apps' instances running.
   */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGINT');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Runs berth to completion (for commands that should fail fast). */
export async function runBerth(args: readonly string[], options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<{ code: number | null; output: string }> {
  const berth = new BerthProcess(args, options);
  const timer = setTimeout(() => berth.child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  const { code } = await berth.exited;
  clearTimeout(timer);
  return { code, output: berth.output };
}

/** True while a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (ended, waiting for a parent that may never reap it: a
  // daemon that exited, whose children init took) runs nothing.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Polls until the condition holds; fails with `what` after `timeoutMs`. */
export async function eventually<T>(what: string, probe: () => T | Promise<T>, timeoutMs = 20_000, intervalMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
