import { BerthError } from '../errors.ts';
import type { BackupStatus, BackupTrigger } from '../platform/index.ts';
import { ADDON_KINDS, type AddonKind } from './types.ts';

// The backup service's decisions, as pure functions: which backups to
// prune, how a row is shown, which add-on a command means, what --keep may
// be. No I/O and no clock: times come in as arguments.

export type { BackupStatus, BackupTrigger };

/** What retention needs to know about one backup. */
export interface BackupFacts {
  readonly id: number;
  readonly app: string;
  readonly kind: string;
  readonly trigger: BackupTrigger;
  /** As shown (backupStatusForList): a dead "running" row is "interrupted". */
  readonly status: BackupStatus;
  /** ISO 8601. */
  readonly startedAt: string;
}

export interface RetentionPolicy {
  /** Good backups kept per app and kind, newest first. */
  readonly keep: number;
  /** Failed and interrupted rows kept per app and kind (default DEFAULT_KEEP_FAILED). */
  readonly keepFailed?: number;
}

export const DEFAULT_KEEP = 7;
export const DEFAULT_KEEP_FAILED = 10;
export const MAX_KEEP = 365;

/** Newest first; the id breaks ties (ids grow with time). */
function newestFirst(a: BackupFacts, b: BackupFacts): number {
  return Date.parse(b.startedAt) - Date.parse(a.startedAt) || b.id - a.id;
}

function isNewer(a: BackupFacts, b: BackupFacts): boolean {
  return newestFirst(a, b) < 0;
}

/**
 * The ids of the backups to delete (rows and files), per app and kind:
 * - good backups beyond the newest `keep` (final backups, made when an
 *   add-on was destroyed, are kept until deleted by hand and do not take a
 *   place among the `keep`);
 * - failed and interrupted rows beyond the newest `keepFailed`, except those
 *   newer than the newest good backup: they are the story of what has gone
 *   wrong since, and stay until a backup succeeds;
 * - never a running backup.
 * Sorted by id.
 */
export function backupsToPrune(backups: readonly BackupFacts[], policy: RetentionPolicy): number[] {
  const keepFailed = policy.keepFailed ?? DEFAULT_KEEP_FAILED;
  if (!Number.isInteger(policy.keep) || policy.keep < 1) throw new RangeError(`keep must be a positive integer, not ${policy.keep}`);
  if (!Number.isInteger(keepFailed) || keepFailed < 0) throw new RangeError(`keepFailed must be a non-negative integer, not ${keepFailed}`);

  const groups = new Map<string, BackupFacts[]>();
  for (const backup of backups) {
    const key = JSON.stringify([backup.app, backup.kind]);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [backup]);
    else group.push(backup);
  }

  const prune: number[] = [];
  for (const group of groups.values()) {
    const sorted = [...group].sort(newestFirst);
    const newestGood = sorted.find((b) => b.status === 'good');
    let good = 0;
    let failed = 0;
    for (const backup of sorted) {
      if (backup.status === 'running' || backup.trigger === 'final') continue;
      if (backup.status === 'good') {
        if (++good > policy.keep) prune.push(backup.id);
        continue;
      }
      // Failed or interrupted.
      if (newestGood === undefined || isNewer(backup, newestGood)) continue;
      if (++failed > keepFailed) prune.push(backup.id);
    }
  }
  return prune.sort((a, b) => a - b);
}

/**
 * The status to show for a stored row: a row stored as running whose
 * backup is not running in this daemon lost its process (the daemon was
 * killed or restarted mid-backup) and is shown as interrupted.
 */
export function backupStatusForList(row: { readonly id: number; readonly status: BackupStatus }, runningIds: ReadonlySet<number>): BackupStatus {
  return row.status === 'running' && !runningIds.has(row.id) ? 'interrupted' : row.status;
}

/** `--keep N` as given on the command line or in the API: 1 to 365 good backups. */
export function parseKeep(value: unknown): number {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
  const keep = /^\d{1,4}$/.test(text) ? Number(text) : NaN;
  if (!(keep >= 1 && keep <= MAX_KEEP)) {
    throw new BerthError('BERTH_E_USAGE', `--keep must be a whole number from 1 to ${MAX_KEEP}, not ${JSON.stringify(value)}`, {
      hint: `It is how many good backups of each add-on to keep, e.g. --keep ${DEFAULT_KEEP}.`,
    });
  }
  return keep;
}

/** An add-on kind as the user typed it (`--addon`, `addons create KIND`, or an API field). */
export function parseAddonKind(value: unknown): AddonKind {
  if (typeof value === 'string' && (ADDON_KINDS as readonly string[]).includes(value)) return value as AddonKind;
  throw new BerthError('BERTH_E_ADDON_KIND', `${JSON.stringify(value)} is not an add-on kind berth provides`, {
    hint: `The kinds are ${ADDON_KINDS.join(', ')}.`,
  });
}

/**
 * Which of the app's add-ons a backup or restore command means: the kind
 * the user named (which the app must have), or, when none was named, the
 * app's only add-on. Several add-ons and no kind is a usage error rather
 * than a guess.
 */
export function chooseBackupKind(app: string, has: readonly AddonKind[], requested: string | undefined): AddonKind {
  if (requested !== undefined) {
    const kind = parseAddonKind(requested);
    if (!has.includes(kind)) {
      throw new BerthError('BERTH_E_ADDON_NOT_FOUND', `the app ${app} has no ${kind} add-on`, {
        status: 404,
        hint: has.length === 0 ? `It has no add-ons; create one with: berth addons create ${kind} --app ${app}` : `It has: ${has.join(', ')}.`,
      });
    }
    return kind;
  }
  if (has.length === 1) return has[0]!;
  if (has.length === 0) {
    throw new BerthError('BERTH_E_ADDON_NOT_FOUND', `the app ${app} has no add-ons to back up`, {
      status: 404,
      hint: `Create one first, e.g.: berth addons create postgres --app ${app}`,
    });
  }
  const kinds = [...has].sort();
  throw new BerthError('BERTH_E_USAGE', `the app ${app} has ${kinds.length} add-ons (${kinds.join(', ')}), so --addon must name one`, {
    hint: `Add ${kinds.map((kind) => `--addon ${kind}`).join(' or ')}.`,
  });
}

