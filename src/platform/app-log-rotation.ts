import { BerthError } from '../errors.ts';

// When an app's log file is rotated and which rotated files are deleted:
// pure decisions over plain data, the time passed in.
//
// Files: the current one is `app.log`; a rotated one is named after the time
// of its newest line, `app.log.2026-01-02T03-04-05.678Z`. Timestamped names
// rather than logrotate's `app.log.1 … app.log.N` because a rotation is then
// one atomic rename (no cascade of renames that a crash can leave half done,
// and a reader that listed the files never finds a name pointing at other
// lines than it listed), the names sort in time order, and a file's age is
// in its name (an mtime changes when an operator copies the folder back).

/** Every limit of the app logs, defined once here. */
export interface LogRotationLimits {
  /** The current file is rotated before an append would take it past this. */
  readonly maxFileBytes: number;
  /** The current file is also rotated once its first line is this old, so the lines of a quiet app age out too. */
  readonly maxFileAgeMs: number;
  /** Rotated files kept beyond the current one (at least 1); older ones are deleted. */
  readonly keepFiles: number;
  /** Rotated files whose newest line is older than this are deleted. */
  readonly maxAgeMs: number;
}

/** The rotation limits and the ones on memory, for one app's log. */
export interface AppLogLimits extends LogRotationLimits {
  /** Bytes of lines waiting for the disk beyond which new lines are dropped (and counted in a marker line). */
  readonly maxPendingBytes: number;
  /** Bytes written in one append at most. */
  readonly maxBatchBytes: number;
  /** Longer line texts are cut to this many characters. */
  readonly maxLineChars: number;
  /** How often a quiet log is checked for rotation and expired files. */
  readonly checkEveryMs: number;
}

const KIB = 1024;
const MIB = 1024 * KIB;
const HOUR = 60 * 60 * 1000;

export const DEFAULT_APP_LOG_LIMITS: AppLogLimits = {
  maxFileBytes: 10 * MIB,
  maxFileAgeMs: 24 * HOUR,
  keepFiles: 5,
  maxAgeMs: 7 * 24 * HOUR,
  maxPendingBytes: 1 * MIB,
  maxBatchBytes: 256 * KIB,
  maxLineChars: 16 * KIB,
  checkEveryMs: HOUR,
};

/** The limits with any given ones in place of the defaults, checked. */
export function appLogLimits(given: Partial<AppLogLimits> = {}): AppLogLimits {
  const limits = { ...DEFAULT_APP_LOG_LIMITS, ...given };
  const rules: Array<[keyof AppLogLimits, number]> = [
    ['maxFileBytes', 1024],
    ['maxFileAgeMs', 1],
    ['keepFiles', 1],
    ['maxAgeMs', 1],
    ['maxPendingBytes', 1024],
    ['maxBatchBytes', 1024],
    ['maxLineChars', 80],
    ['checkEveryMs', 1],
  ];
  for (const [key, min] of rules) {
    if (!Number.isSafeInteger(limits[key]) || limits[key] < min) {
      throw new BerthError('BERTH_E_USAGE', `app log limit ${key} must be a whole number of at least ${min}, not ${limits[key]}`);
    }
  }
  return limits;
}

export const CURRENT_LOG = 'app.log';

export interface RotatedFile {
  readonly name: string;
  /** The time of its newest line (from its name). */
  readonly closedAt: number;
}

export interface LogFilesState {
  /** Bytes in the current file. */
  readonly currentBytes: number;
  /** The time of the current file's first line; null while it is empty. */
  readonly currentSince: number | null;
  /** Bytes about to be appended (0 for a check without a write). */
  readonly incomingBytes: number;
  readonly rotated: readonly RotatedFile[];
  readonly now: number;
}

export interface RotationDecision {
  /** Rename the current file aside (and start an empty one) before appending. */
  readonly rotate: boolean;
  /** Rotated files to delete, oldest last. */
  readonly remove: readonly string[];
}

/**
 * Rotate when the current file holds something and either the append would
 * take it past `maxFileBytes` or its first line is `maxFileAgeMs` old. (An
 * append larger than the limit into an empty file is written whole: rotating
 * an empty file gains nothing.) Then keep the newest `keepFiles` rotated
 * files, counting the one this rotation makes, and of those only the ones
 * whose newest line is at most `maxAgeMs` old. A time ahead of `now` (the
 * clock was set back) counts as age 0: a file is never deleted early.
 */
export function decideRotation(state: LogFilesState, limits: LogRotationLimits): RotationDecision {
  const { currentBytes, currentSince, incomingBytes, now } = state;
  const rotate =
    currentBytes > 0 && (currentBytes + incomingBytes > limits.maxFileBytes || (currentSince !== null && now - currentSince >= limits.maxFileAgeMs));
  const newestFirst = [...state.rotated].sort((a, b) => b.closedAt - a.closedAt || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
  const keep = Math.max(0, limits.keepFiles - (rotate ? 1 : 0));
  const remove = newestFirst.filter((file, index) => index >= keep || now - file.closedAt > limits.maxAgeMs).map((file) => file.name);
  return { rotate, remove };
}

const STAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2})-(\d{2})-(\d{2})\.(\d{3})Z$/;

/** The time in a rotated file's name (`BASE.STAMP`, BASE `app.log` unless given); null for any other name (which berth never deletes). */
export function rotatedAt(name: string, base: string = CURRENT_LOG): number | null {
  if (!name.startsWith(`${base}.`)) return null;
  const m = STAMP.exec(name.slice(base.length + 1));
  if (m === null) return null;
  const at = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), Number(m[7]));
  // Date.UTC rolls 2026-02-31 over into March: such a name is not one berth wrote.
  return new Date(at).toISOString().replaceAll(':', '-') === name.slice(base.length + 1) ? at : null;
}

/**
 * The name for the current file once rotated, after the time of its newest
 * line; always later than every existing rotated file's, so names keep
 * sorting in the order the files were written even when the clock went
 * back or two rotations fall in one millisecond.
 */
export function rotatedName(newestLineAt: number, existing: readonly RotatedFile[], base: string = CURRENT_LOG): RotatedFile {
  let at = Math.max(0, Math.min(Math.trunc(newestLineAt), 253_402_300_799_999)); // 9999-12-31: four-digit years keep the names sortable
  for (const file of existing) if (file.closedAt >= at) at = file.closedAt + 1;
  return { name: `${base}.${new Date(at).toISOString().replaceAll(':', '-')}`, closedAt: at };
}
