import { constants, readFileSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BerthError } from '../errors.ts';
import { reapOrphans } from '../runner/index.ts';
import { decideAdoption, type AdoptionFacts } from './server-adoption.ts';
import { bootId, readServerRecord, recordedProcess } from './server-facts.ts';
import { endIdentified, ServiceProcess, type ServiceSpec } from './service-process.ts';

// What the local PostgreSQL and Redis servers berth runs have in common.

/** A server berth manages cannot be reached, started or used. */
/** The port a local server listens on at the service address (its folder's `port` file), or null: no service address, or none chosen yet. */
export function directPortIn(dir: string, serviceAddress: string | null): number | null {
  if (serviceAddress === null) return null;
  try {
    const port = Number(readFileSync(join(dir, 'port'), 'utf8').trim());
    return Number.isInteger(port) && port > 0 && port < 65536 ? port : null;
  } catch {
    return null;
  }
}

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

/** Keeps the last lines a process said, for error messages. */
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

/** A small file in a folder a server's user may write: read without following a link; null when missing or unreadable. */
export async function readOwnFile(file: string): Promise<string | null> {
  try {
    const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      return await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return null;
  }
}

/** The last `count` lines of a file berth or a server wrote (never followed through a link); [] when there is none. */
export async function lastLines(file: string, count = 12): Promise<string[]> {
  try {
    const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const size = (await handle.stat()).size;
      const length = Math.min(size, 8192);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      const lines = buffer.toString('utf8').split('\n').map((line) => line.trimEnd()).filter((line) => line !== '');
      // The first line may be cut; drop it when the file was longer.
      return (size > length ? lines.slice(1) : lines).slice(-count);
    } finally {
      await handle.close();
    }
  } catch {
    return [];
  }
}

/** "; its last log lines: a | b" from these files, or '' when they say nothing. */
export async function lastWords(files: readonly string[]): Promise<string> {
  const lines = (await Promise.all(files.map((file) => lastLines(file)))).flat().slice(-12);
  return lines.length > 0 ? `; its last log lines: ${lines.join(' | ')}` : '';
}

/** What start() checks before adopting a running server (server-adoption.ts). */
export interface AdoptionCheck {
  /** The program's real path. */
  readonly exe: string;
  /** The folder it works in, real path. */
  readonly cwd: string;
  /** PostgreSQL: the pid in postmaster.pid; null for a kind without one. */
  readonly pidFile: () => Promise<number | 'missing' | 'damaged' | null>;
  /** Whether it answers berth's admin password (bounded). */
  readonly probe: () => Promise<'yes' | 'no' | 'wrong-password'>;
  /** The tag (SUPERVISOR_ENV value) of servers of this kind: an orphan carrying it and not adopted is ours and is reaped. */
  readonly marker: string;
}

/**
 * The lifecycle a local PostgreSQL or Redis shares: one start at a time
 * (later callers share it; a failed one stops what it launched and may be
 * tried again), one supervised process (started, or adopted from a
 * previous daemon), and a close that stops it or lets it run on, is
 * idempotent and is safe after a failed start.
 */
export class LocalServer<T> {
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

  /**
   * Before a launch (called by `work`): adopts the server a previous daemon
   * left running when it is verified as ours and fit (true); ends one that
   * is ours but unfit, reaps orphans carrying the tag, and leaves anything
   * else alone (false: launch one).
   */
  async adoptRunning(spec: Omit<ServiceSpec, 'log'>, check: AdoptionCheck): Promise<boolean> {
    const record = await readServerRecord(spec.recordFile);
    const facts: AdoptionFacts = {
      record,
      bootId: await bootId(),
      process: typeof record === 'object' ? await recordedProcess(record.pid) : { kind: 'gone' },
      expected: { uid: spec.user?.uid ?? process.getuid?.() ?? 0, exe: check.exe, cwd: check.cwd, settings: spec.settings },
      pidFile: await check.pidFile(),
      answers: 'not-asked',
    };
    let decision = decideAdoption(facts);
    if (decision.action === 'probe') decision = decideAdoption({ ...facts, answers: await check.probe() });
    if (decision.action === 'adopt' && typeof record === 'object') {
      this.#service = new ServiceProcess({ ...spec, log: this.#log });
      this.#service.adopt(record.pid, record.startTime);
      this.#log(`${spec.name}: adopted the server a previous daemon left running (pid ${record.pid})`);
      return true;
    }
    if (decision.action === 'end' && typeof record === 'object') {
      this.#log(`${spec.name}: ending the server a previous daemon left running (pid ${record.pid}): ${decision.reason}`);
      await endIdentified(record.pid, record.startTime, spec.stopSignal, 8_000);
    } else if (decision.action === 'start' && record !== 'missing') {
      this.#log(`${spec.name}: starting a new server: ${decision.reason}`);
    }
    const reaped = reapOrphans(check.marker);
    if (reaped.length > 0) this.#log(`${spec.name}: stopped ${reaped.length} unidentified server process group(s) of ours left by a previous daemon (pid ${reaped.join(', ')})`);
    return false;
  }

  /** Starts the server process under supervision (called by `work`). */
  launch(spec: Omit<ServiceSpec, 'log'>): void {
    this.#service = new ServiceProcess({ ...spec, log: this.#log });
    this.#service.start();
  }

  /** Stops the server, or with `leaveRunning` lets it run on for the next daemon to adopt. */
  async close(options: { readonly leaveRunning?: boolean } = {}): Promise<void> {
    try {
      await this.#starting;
    } catch {
      // A failed start has cleaned up after itself.
    }
    this.#starting = null;
    if (options.leaveRunning === true) {
      this.#service?.detach();
      this.#service = null;
      return;
    }
    await this.#stopService();
  }

  async #stopService(): Promise<void> {
    const service = this.#service;
    this.#service = null;
    await service?.stop();
  }
}
