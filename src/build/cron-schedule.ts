import { Cron } from 'croner';
import { BerthError } from '../errors.ts';

/**
 * A parsed cron schedule: when its slots fall, as UTC milliseconds. Pure
 * arithmetic over the expression and its time zone (croner does the
 * calendar work, DST included); nothing here reads the clock.
 *
 * Accepted: standard 5-field expressions ("0 3 * * *"), a 6-field form
 * whose first field is seconds ("0-59/2 * * * * *": every 2 seconds), and
 * the @-forms (@yearly, @annually, @monthly, @weekly, @daily, @midnight,
 * @hourly). Day-of-month and day-of-week combine with OR when both are
 * restricted, as in Vixie cron. Across DST changes, a fixed-time job
 * ("30 2 * * *") runs once on a day its time is skipped (right after the
 * jump) or repeated (at the first occurrence); an interval job (a star or a
 * step in the time fields) follows the real clock.
 */
export interface CronSchedule {
  readonly expression: string;
  /** An IANA time zone name; "UTC" unless the job gives one. */
  readonly timezone: string;
  /** The newest slot at or before `at`, or null when there is none. */
  latestAtOrBefore(at: number): number | null;
  /** The first slot strictly after `at`, or null when the schedule never fires again. */
  nextAfter(at: number): number | null;
}

/** A reference instant for "does this schedule ever fire" (no clock read at parse time). */
const EPOCH_2000 = Date.UTC(2000, 0, 1);

function refuse(expression: string, why: string, hint?: string): never {
  throw new BerthError('BERTH_E_CRON_SCHEDULE', `"${expression}" is not a usable cron schedule: ${why}`, {
    hint: hint ?? 'Use 5 fields (minute hour day-of-month month day-of-week, e.g. "0 3 * * *"), 6 with seconds first ("*/30 * * * * *"), or @hourly, @daily, @weekly, @monthly, @yearly.',
  });
}

/** True when `name` is a time zone this Node knows (IANA names, "UTC"). */
export function isTimeZone(name: string): boolean {
  if (name.trim() === '' || name !== name.trim()) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export function parseCronSchedule(expression: string, timezone = 'UTC'): CronSchedule {
  const text = expression.trim().replace(/\s+/g, ' ');
  if (text === '') refuse(expression, 'it is empty');
  if (/^@reboot$/i.test(text)) refuse(expression, '@reboot is not a schedule', 'A command that runs once at start belongs in the Procfile as a process type.');
  if (!text.startsWith('@')) {
    const fields = text.split(' ').length;
    if (fields !== 5 && fields !== 6) refuse(expression, `it has ${fields} field${fields === 1 ? '' : 's'}, not 5 (or 6 with seconds first)`);
  }
  if (!isTimeZone(timezone)) {
    throw new BerthError('BERTH_E_CRON_SCHEDULE', `"${timezone}" is not a time zone`, { hint: 'Use an IANA time zone name such as "Europe/Berlin" or "America/New_York"; the default is UTC.' });
  }
  let cron: Cron;
  try {
    cron = new Cron(text, { mode: '5-or-6-parts', timezone, paused: true });
  } catch (err) {
    refuse(expression, (err as Error).message.replace(/^CronPattern: /, ''));
  }
  if (cron.nextRun(new Date(EPOCH_2000)) === null) refuse(expression, 'it never fires (no such date)');
  return {
    expression: text,
    timezone,
    latestAtOrBefore(at: number): number | null {
      // previousRuns() excludes a run exactly at its reference, and slots are
      // whole seconds: one millisecond later includes a slot at `at` itself.
      const [previous] = cron.previousRuns(1, new Date(at + 1));
      return previous === undefined ? null : previous.getTime();
    },
    nextAfter(at: number): number | null {
      return cron.nextRun(new Date(at))?.getTime() ?? null;
    },
  };
}
