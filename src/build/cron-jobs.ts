import { z } from 'zod';
import { BerthError, isBerthError } from '../errors.ts';
import { parseDuration } from '../units.ts';
import { commandToArgv } from './command-line.ts';
import { parseCronSchedule } from './cron-schedule.ts';

// berth.toml's [cron] table: scheduled commands that run in the app's
// current release.
//
//   [cron.nightly]
//   schedule = "0 3 * * *"
//   command = "python manage.py purge"
//   timeout = "10m"              # optional; no limit by default
//   timezone = "Europe/Berlin"   # optional; UTC by default

export interface CronJobConfig {
  /** The job's key in [cron]; shaped like a process type. */
  readonly name: string;
  /** The expression as written, whitespace normalised. */
  readonly schedule: string;
  readonly timezone: string;
  readonly command: string;
  /** The run's process group is killed after this long; null: no limit. */
  readonly timeoutMs: number | null;
}

const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

export const cronTableSchema = z.record(
  z.string().regex(JOB_NAME, 'a job name: letters, digits, "_" and "-", starting with a letter or digit'),
  z.strictObject({
    schedule: z.string().min(1, 'a cron schedule such as "0 3 * * *"'),
    command: z.string().min(1, 'a command'),
    timeout: z.union([z.int().min(1), z.string().regex(/^\d+(\.\d+)?(ms|s|m)?$/, 'a duration such as "90s" or "10m"')]).optional(),
    timezone: z.string().min(1).optional(),
  }),
);

// A command is checked for shell syntax at build time with every variable
// set, so "$CMD" alone is not mistaken for an empty command.
const ANY_VALUE = new Proxy({}, { get: () => 'x' }) as Record<string, string>;

/** The jobs of a parsed [cron] table, sorted by name; a bad schedule or command fails naming its job. */
export function cronJobs(table: z.infer<typeof cronTableSchema> | undefined, source: string): CronJobConfig[] {
  return Object.entries(table ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, job]) => {
      const where = `${source}: cron.${name}`;
      let schedule: string;
      try {
        schedule = parseCronSchedule(job.schedule, job.timezone ?? 'UTC').expression;
      } catch (err) {
        if (!isBerthError(err)) throw err;
        throw new BerthError(err.code, `${where}: ${err.message}`, { hint: err.hint });
      }
      try {
        commandToArgv(job.command, ANY_VALUE);
      } catch (err) {
        if (!isBerthError(err)) throw err;
        throw new BerthError('BERTH_E_APP_CONFIG', `${where}.command: ${err.message}`, {
          hint: `berth runs cron commands without a shell; wrap shell syntax explicitly: command = "sh -c '...'"`,
        });
      }
      const timeoutMs = job.timeout === undefined ? null : typeof job.timeout === 'number' ? job.timeout * 1000 : parseDuration(job.timeout);
      if (timeoutMs !== null && timeoutMs < 1) throw new BerthError('BERTH_E_APP_CONFIG', `${where}.timeout: must be longer than zero`);
      return { name, schedule, timezone: job.timezone ?? 'UTC', command: job.command, timeoutMs };
    });
}
