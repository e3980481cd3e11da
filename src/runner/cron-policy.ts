import type { CronSchedule } from '../build/index.ts';

/**
 * Which cron slot is due, as a pure decision over plain data (the time is
 * passed in). The scheduler asks whenever it wakes; the store's claim
 * (`claimCronSlot`, a unique row per app, job and slot) is what makes a slot
 * run at most once, whatever the scheduler asks and however often.
 *
 * The rules:
 * - Only the newest slot at or before now is ever considered: a scheduler
 *   that was down (a daemon restart, a deploy's switch, a suspended
 *   machine) never backfills a series of missed slots.
 * - That slot runs late only within the catch-up window: at most a minute,
 *   and at most half the slot's interval (the gap to the slot after it).
 *   A minute, because a job meant for 03:00 that starts at 03:00:40 is still
 *   the job its author meant, while one starting at 09:00 after a long
 *   outage is a surprise (a purge during business hours). Half the interval,
 *   because past that the next slot is nearer than this one: for a job every
 *   2 s, a run 1.5 s late would land on top of the next slot's run; letting
 *   the next slot fire on time serves better.
 * - Never a slot from before the job existed: a job with no run yet only
 *   fires slots from `since` on (when its release began serving here, or the
 *   daemon started). A job that ran before may catch up a slot from before
 *   `since` (a restart or a deploy happened to fall on it).
 * - No overlap: while the job's previous run is still going, its due slot is
 *   skipped (the scheduler logs it and remembers it as passed, so the slot
 *   does not fire later when the run ends; it is not claimed).
 */

/** The longest a slot may start late. */
export const CRON_CATCH_UP_MAX_MS = 60_000;

export interface CronJobTiming {
  readonly schedule: CronSchedule;
  /** The newest slot already taken care of: claimed (by any daemon, any release) or deliberately passed over; null when none. */
  readonly lastSlot: number | null;
  /** When this job began to be scheduled here: its release started serving, or the daemon started. */
  readonly since: number;
  /** A run of this job is still going. */
  readonly running: boolean;
}

export type CronDecision =
  /** Claim `slot`, then run it. */
  | { readonly action: 'run'; readonly slot: number; readonly next: number | null }
  /** Pass `slot` over and remember it as done: too late to run it, or the previous run is still going. */
  | { readonly action: 'skip'; readonly slot: number; readonly reason: 'missed' | 'overlap'; readonly next: number | null }
  /** Nothing is due; ask again at `next` (null: the schedule never fires again). */
  | { readonly action: 'wait'; readonly next: number | null };

/** How late a slot may still start: the smaller of a minute and half the gap to the slot after it. */
export function catchUpWindow(schedule: CronSchedule, slot: number): number {
  const following = schedule.nextAfter(slot);
  if (following === null) return CRON_CATCH_UP_MAX_MS;
  return Math.min(CRON_CATCH_UP_MAX_MS, Math.floor((following - slot) / 2));
}

/** What to do about a job at `now`. */
export function decideCronSlot(job: CronJobTiming, now: number): CronDecision {
  const next = job.schedule.nextAfter(now);
  const slot = job.schedule.latestAtOrBefore(now);
  if (slot === null) return { action: 'wait', next };
  if (job.lastSlot !== null && slot <= job.lastSlot) return { action: 'wait', next };
  if (job.lastSlot === null && slot < job.since) return { action: 'wait', next };
  if (now - slot > catchUpWindow(job.schedule, slot)) return { action: 'skip', slot, reason: 'missed', next };
  if (job.running) return { action: 'skip', slot, reason: 'overlap', next };
  return { action: 'run', slot, next };
}

/** When the job fires next after `now`, for display; null when never. */
export function nextCronSlot(schedule: CronSchedule, now: number): number | null {
  return schedule.nextAfter(now);
}

/** A slot as the store keeps it: a whole-second ISO-8601 UTC time. */
export function cronSlotIso(slot: number): string {
  return new Date(Math.floor(slot / 1000) * 1000).toISOString();
}
