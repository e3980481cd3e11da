// Open-file limits. Node cannot call setrlimit on itself, so servers that
// need more descriptors (10,000 idle connections) are started through
// `prlimit --nofile=N --`, which sets the limit and execs the server.
import { readFile } from 'node:fs/promises';
import type { ChildProcesses } from './child-processes.ts';

export interface FdLimits {
  readonly soft: number;
  readonly hard: number;
}

/** Reads the "Max open files" line of /proc/PID/limits ("unlimited" counts as a very large number). */
export function parseOpenFilesLimit(limits: string): FdLimits {
  const match = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)\s+files/m.exec(limits);
  if (!match) throw new Error('no "Max open files" line in /proc/self/limits');
  const value = (text: string) => (text === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(text));
  return { soft: value(match[1]!), hard: value(match[2]!) };
}

export async function ownFdLimits(): Promise<FdLimits> {
  return parseOpenFilesLimit(await readFile('/proc/self/limits', 'utf8'));
}

export interface ServerFdLimit {
  /** argv to put in front of every server command; empty when no raise was possible or needed. */
  readonly wrapper: readonly string[];
  /** The limit the servers run with. */
  readonly nofile: number;
  readonly note: string;
}

/**
 * Tries `prlimit --nofile=WANTED:WANTED`, then up to the hard limit; when
 * neither works, servers run with the limit the harness has.
 */
export async function serverFdLimit(children: ChildProcesses, wanted: number): Promise<ServerFdLimit> {
  const own = await ownFdLimits();
  if (own.soft >= wanted) return { wrapper: [], nofile: own.soft, note: `open-file limit ${own.soft} is enough` };
  const candidates = [wanted, ...(own.hard > own.soft && own.hard < wanted ? [own.hard] : [])];
  for (const nofile of candidates) {
    const wrapper = ['prlimit', `--nofile=${nofile}:${nofile}`, '--'];
    try {
      await children.run({ name: 'prlimit', command: 'true', args: [], wrapper, timeoutMs: 5_000 });
      return { wrapper, nofile, note: `servers started through prlimit --nofile=${nofile}` };
    } catch {
      // not permitted (no CAP_SYS_RESOURCE above the hard limit) or no prlimit
    }
  }
  return { wrapper: [], nofile: own.soft, note: `could not raise the open-file limit above ${own.soft} (hard limit ${own.hard}); servers run with ${own.soft}` };
}
