import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BerthError } from '../errors.ts';
import { ServiceProcess, type ServiceSpec } from './service-process.ts';

// What the local PostgreSQL and Redis servers berth runs have in common.

/** A server berth manages cannot be reached, started or used. */
export function serverError(message: string, hint?: string, cause?: unknown): BerthError {
  return new BerthError('BERTH_E_ADDON_SERVER', message, { status: 503, hint, cause });
}

/**
 * The server's Unix user (`who`: "postgres", "redis") must pass through
 * every folder above `dir` (a 0700 mkdtemp or home folder would stop it):
 * refused here with the folder to fix, rather than by the server later
 * with a bare "permission denied".
 */
export async function requireTraversable(dir: string, who: string): Promise<void> {
  for (let path = dirname(dir); ; path = dirname(path)) {
    const mode = (await stat(path)).mode;
    if ((mode & 0o001) === 0) {
      throw serverError(
        `the ${who} user cannot reach ${dir}: ${path} is mode ${(mode & 0o777).toString(8).padStart(4, '0')} (others may not enter it)`,
        `Put --state somewhere every user can pass through (the default /var/lib/berth is), or run: chmod o+x ${path}`,
      );
    }
    if (dirname(path) === path) return;
  }
}

/** Keeps the last lines a server said, for error messages. */
export class RecentLines {
  readonly #lines: string[] = [];
  readonly #max: number;

  constructor(max = 12) {
    this.#max = max;
  }

  push(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > this.#max) this.#lines.shift();
  }

  clear(): void {
    this.#lines.length = 0;
  }

  /** "; its last log lines: a | b", or '' when it said nothing. */
  said(): string {
    return this.#lines.length > 0 ? `; its last log lines: ${this.#lines.join(' | ')}` : '';
  }
}

/**
 * The lifecycle a local PostgreSQL or Redis shares: one start at a time
 * (later callers share it; a failed one stops what it launched and may be
 * tried again), one supervised process, its last log lines, and a close
 * that is idempotent and safe after a failed start.
 */
export class LocalServer<T> {
  readonly recent = new RecentLines();
  readonly #log: (line: string) => void;
  #service: ServiceProcess | null = null;
  #starting: Promise<T> | null = null;

  constructor(log: (line: string) => void) {
    this.#log = log;
  }

  get pid(): number | undefined {
    return this.#service?.pid;
  }

  /** Runs `work` unless a start is under way or done; resolves with what it gave. */
  start(work: () => Promise<T>): Promise<T> {
    this.#starting ??= work().catch(async (err: unknown) => {
      this.#starting = null;
      await this.#stopService();
      throw err;
    });
    return this.#starting;
  }

  /** Starts the server process under supervision (called by `work`). */
  launch(spec: Omit<ServiceSpec, 'log'>): void {
    this.recent.clear();
    this.#service = new ServiceProcess({
      ...spec,
      log: (line) => {
        this.recent.push(line);
        this.#log(line);
      },
    });
    this.#service.start();
  }

  async close(): Promise<void> {
    try {
      await this.#starting;
    } catch {
      // A failed start has cleaned up after itself.
    }
    this.#starting = null;
    await this.#stopService();
  }

  async #stopService(): Promise<void> {
    const service = this.#service;
    this.#service = null;
    await service?.stop();
  }
}
