import { readFile } from 'node:fs/promises';
import { parseStat, parseStatusUids } from './proc-table.ts';

// A process berth did not start (or started before it restarted) is known
// by more than its pid: pids are reused, so a record names the process by
// its pid *and* the moment it started (field 22 of /proc/PID/stat, in clock
// ticks since boot: two processes never share both), its process group and
// its uid. Parsing and comparing are pure; the read is thin.

/** What identifies a process across a daemon restart. */
export interface ProcessIdentity {
  readonly pid: number;
  /** Clock ticks since boot when it started (/proc/PID/stat field 22). */
  readonly startTime: number;
  readonly pgid: number;
  /** Its real uid. */
  readonly uid: number;
}

/** A process as it is now: its identity and whether it is a zombie (ended, not yet reaped). */
export interface ProcessNow extends ProcessIdentity {
  readonly zombie: boolean;
}

/** The identity facts in the text of /proc/PID/stat (proc-table's parse, narrowed). */
export function parseIdentityStat(text: string): { pid: number; state: string; pgid: number; startTime: number } | null {
  const parsed = parseStat(text);
  return parsed === null ? null : { pid: parsed.pid, state: parsed.state, pgid: parsed.pgid, startTime: parsed.startTime };
}

/** The process `pid` as it is now, or null when there is none (or it cannot be read). */
export async function readProcessNow(pid: number): Promise<ProcessNow | null> {
  if (!Number.isSafeInteger(pid) || pid <= 1) return null;
  try {
    const [stat, status] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readFile(`/proc/${pid}/status`, 'utf8')]);
    const parsed = parseIdentityStat(stat);
    const uids = parseStatusUids(status);
    if (parsed === null || uids === null || parsed.pid !== pid) return null;
    return { pid, startTime: parsed.startTime, pgid: parsed.pgid, uid: uids[0]!, zombie: parsed.state === 'Z' || parsed.state === 'X' };
  } catch {
    return null;
  }
}

/** Reads the identity of a process that runs now (null: none, or a zombie). */
export async function identityOf(pid: number): Promise<ProcessIdentity | null> {
  const now = await readProcessNow(pid);
  if (now === null || now.zombie) return null;
  return { pid: now.pid, startTime: now.startTime, pgid: now.pgid, uid: now.uid };
}

/** Why `now` is not the process `recorded` names (null: it is, and it still runs). */
export function identityMismatch(recorded: ProcessIdentity, now: ProcessNow | null): string | null {
  if (now === null) return `process ${recorded.pid} is gone`;
  if (now.zombie) return `process ${recorded.pid} has ended`;
  if (now.startTime !== recorded.startTime) return `pid ${recorded.pid} now belongs to another process (it started at another time)`;
  if (now.pgid !== recorded.pgid) return `process ${recorded.pid} left its process group (${recorded.pgid} → ${now.pgid})`;
  if (now.uid !== recorded.uid) return `process ${recorded.pid} runs as uid ${now.uid}, not ${recorded.uid}`;
  return null;
}

/**
 * Resolves once the process is gone (or a zombie, or its pid names another
 * process), looking every `intervalMs`; `nudge()` looks at once (its output
 * ended, say). For processes berth cannot wait for: it is not their parent.
 */
export function watchExit(identity: ProcessIdentity, intervalMs = 250): { readonly ended: Promise<void>; nudge(): void; cancel(): void } {
  let timer: NodeJS.Timeout | null = null;
  let done = false;
  let looking = false;
  let resolveEnded!: () => void;
  const ended = new Promise<void>((resolve) => (resolveEnded = resolve));
  const look = async () => {
    if (done || looking) return;
    looking = true;
    const now = await readProcessNow(identity.pid);
    looking = false;
    if (done) return;
    if (now === null || now.zombie || now.startTime !== identity.startTime) {
      done = true;
      if (timer) clearInterval(timer);
      resolveEnded();
    }
  };
  timer = setInterval(() => void look(), intervalMs);
  timer.unref();
  void look();
  return {
    ended,
    nudge: () => void look(),
    cancel: () => {
      done = true;
      if (timer) clearInterval(timer);
    },
  };
}
