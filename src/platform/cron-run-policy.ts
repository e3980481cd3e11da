// How much cron history the store keeps (cron_runs): a job that fires every
// second adds 86,400 rows a day, so finished runs are pruned. Pure: the
// store asks for the cutoff and deletes below it in the transaction that
// records a run's end.
//
// What must stay:
// - the newest run of each job: the scheduler's "newest slot claimed" is
//   what stops an older slot from running again (a clock set back, a
//   restart), so at least the newest `keep` runs are never pruned;
// - runs still going: the next start marks them interrupted;
// - anything recent, whatever the count, so a burst of runs stays readable
//   for a while.

export interface CronRunRetention {
  /** Finished runs kept per job whatever their age (at least 1). */
  readonly keep: number;
  /** Runs whose slot is this recent are kept whatever their number. */
  readonly recentMs: number;
}

export const DEFAULT_CRON_RUN_RETENTION: CronRunRetention = { keep: 100, recentMs: 60 * 60_000 };

/**
 * The slot below which a job's finished runs may be deleted, or null when
 * none may: the older of its `keep`-th newest slot and the start of the
 * recent window. `keepthNewest` is the job's keep-th newest slot (null when
 * it has fewer runs); slots are the store's whole-second ISO-8601 UTC
 * strings, which sort as text.
 */
export function cronRunsPruneBefore(keepthNewest: string | null, now: number, retention: CronRunRetention = DEFAULT_CRON_RUN_RETENTION): string | null {
  if (!Number.isInteger(retention.keep) || retention.keep < 1) throw new RangeError(`keep must be a whole number of at least 1, got ${retention.keep}`);
  if (!(retention.recentMs >= 0)) throw new RangeError(`recentMs must not be negative, got ${retention.recentMs}`);
  if (keepthNewest === null) return null;
  const recentFrom = new Date(Math.floor((now - retention.recentMs) / 1000) * 1000).toISOString();
  return keepthNewest < recentFrom ? keepthNewest : recentFrom;
}
