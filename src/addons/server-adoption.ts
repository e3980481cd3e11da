// Whether a local PostgreSQL or Redis server found running at daemon start
// is the one a previous daemon left running on purpose (a control-plane
// stop) or after a crash, and may be adopted as it is: a pure decision over
// what berth's own record and /proc say.
//
// A pid alone proves nothing (pids are reused, and a pid file can be old),
// so a server is adopted only when everything agrees: berth's record of the
// server it started (root's file, which no app and no server user can
// write) names a live process of this boot with the same start time, the
// server's user, its own process group, the expected program working in
// the expected folder, for PostgreSQL the pid in postmaster.pid, and the
// same settings berth would start it with now; and it then answers berth's
// admin password. A process that fails the identity check is never
// signalled: it is someone else's. One that is ours but unfit (other
// settings, no answer) is ended and started fresh.

/** berth's record of a server it started (STATE/addons/KIND/server.json). */
export interface ServerRecord {
  readonly pid: number;
  /** Field 22 of /proc/PID/stat: clock ticks after boot (a string: it can pass 2^53 in theory). */
  readonly startTime: string;
  /** /proc/sys/kernel/random/boot_id when it was started: start times count from one boot. */
  readonly bootId: string;
  readonly uid: number;
  /** A digest of its command line and the files berth writes for it: a change means a restart. */
  readonly settings: string;
}

/** The record's process, as /proc shows it now. */
export type RecordedProcess =
  | { readonly kind: 'gone' }
  | { readonly kind: 'zombie' }
  | {
      readonly kind: 'alive';
      readonly startTime: string;
      /** Real uid. */
      readonly uid: number;
      readonly pgid: number;
      /** /proc/PID/exe, null when unreadable. */
      readonly exe: string | null;
      /** /proc/PID/cwd, null when unreadable. */
      readonly cwd: string | null;
    };

export interface AdoptionFacts {
  readonly record: 'missing' | 'damaged' | ServerRecord;
  readonly bootId: string;
  readonly process: RecordedProcess;
  /** What a server berth starts now would be. */
  readonly expected: {
    readonly uid: number;
    /** The program's real path (links resolved). */
    readonly exe: string;
    /** Its working folder's real path (the data folder). */
    readonly cwd: string;
    readonly settings: string;
  };
  /** PostgreSQL: the pid on postmaster.pid's first line ('missing'/'damaged' otherwise); null: the kind has none. */
  readonly pidFile: number | 'missing' | 'damaged' | null;
  /** Asked only once the identity holds: does it answer berth's admin password? */
  readonly answers: 'not-asked' | 'yes' | 'no' | 'wrong-password';
}

export type AdoptionDecision =
  /** Nothing of ours runs (or what the record names is someone else's, left alone): start a server. */
  | { readonly action: 'start'; readonly reason: string }
  /** Ours, by every check: ask whether it answers before deciding. */
  | { readonly action: 'probe'; readonly pid: number }
  /** Ours and fit: keep it running, watch it. */
  | { readonly action: 'adopt'; readonly pid: number }
  /** Ours but unfit: end it (its group, clean signal, then SIGKILL), then start a server. */
  | { readonly action: 'end'; readonly pid: number; readonly reason: string };

function stripDeleted(path: string): string {
  // A binary replaced by a package upgrade while it runs.
  return path.replace(/ \(deleted\)$/, '');
}

export function decideAdoption(facts: AdoptionFacts): AdoptionDecision {
  const { record, process: proc, expected } = facts;
  if (record === 'missing') return { action: 'start', reason: 'no server was left running' };
  if (record === 'damaged') return { action: 'start', reason: 'the record of the previous server is damaged' };
  const pid = record.pid;
  if (record.bootId !== facts.bootId) return { action: 'start', reason: `the previous server (pid ${pid}) ran before the last reboot` };
  if (proc.kind === 'gone') return { action: 'start', reason: `the previous server (pid ${pid}) has exited` };
  if (proc.kind === 'zombie') return { action: 'start', reason: `the previous server (pid ${pid}) has exited (not yet reaped)` };
  const notOurs = (what: string): AdoptionDecision => ({ action: 'start', reason: `pid ${pid} is not the previous server (${what}); it is left alone` });
  if (proc.startTime !== record.startTime) return notOurs('another start time: the pid was reused');
  if (proc.uid !== record.uid || proc.uid !== expected.uid) return notOurs(`it runs as uid ${proc.uid}, not ${expected.uid}`);
  if (proc.pgid !== pid) return notOurs('it does not lead its own process group');
  if (proc.exe === null || stripDeleted(proc.exe) !== expected.exe) return notOurs(`its program is ${proc.exe ?? 'unknown'}, not ${expected.exe}`);
  if (proc.cwd === null || proc.cwd !== expected.cwd) return notOurs(`it works in ${proc.cwd ?? 'an unknown folder'}, not ${expected.cwd}`);
  if (facts.pidFile !== null && facts.pidFile !== pid) {
    return notOurs(facts.pidFile === 'missing' || facts.pidFile === 'damaged' ? `its data folder's postmaster.pid is ${facts.pidFile}` : `its data folder's postmaster.pid names pid ${facts.pidFile}`);
  }
  // Ours from here on: what is wrong with it is ended, never left beside a new one.
  if (record.settings !== expected.settings) return { action: 'end', pid, reason: 'its settings differ from what berth starts it with now' };
  switch (facts.answers) {
    case 'not-asked':
      return { action: 'probe', pid };
    case 'yes':
      return { action: 'adopt', pid };
    case 'no':
      return { action: 'end', pid, reason: 'it does not answer' };
    case 'wrong-password':
      return { action: 'end', pid, reason: "it refuses berth's admin password" };
  }
}

/** The record's text, or 'damaged'. Pure. */
export function parseServerRecord(text: string): ServerRecord | 'damaged' {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'damaged';
  }
  if (typeof value !== 'object' || value === null) return 'damaged';
  const r = value as Record<string, unknown>;
  const positive = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n > 0;
  if (!positive(r.pid) || typeof r.uid !== 'number' || !Number.isInteger(r.uid) || r.uid < 0) return 'damaged';
  if (typeof r.startTime !== 'string' || !/^\d+$/.test(r.startTime)) return 'damaged';
  if (typeof r.bootId !== 'string' || r.bootId === '' || typeof r.settings !== 'string') return 'damaged';
  return { pid: r.pid, startTime: r.startTime, bootId: r.bootId, uid: r.uid, settings: r.settings };
}
