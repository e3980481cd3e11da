import { BerthError } from '../errors.ts';

// Which log lines `berth logs` asks for: pure parsing and matching, shared by
// the API route and the CLI (which checks its arguments before calling).

export interface LogLine {
  /** Milliseconds since the epoch. */
  readonly at: number;
  /** `web.1`, `worker.2`, `build`, `berth`. */
  readonly source: string;
  readonly text: string;
  /** An instance's stdout or stderr, when known (only as lines happen: not stored). */
  readonly stream?: 'out' | 'err';
}

export interface LogQuery {
  /** At most this many lines, the most recent ones. */
  readonly limit: number;
  /** A process type (`web` matches `web.1`, `web.2`) or one instance (`web.1`); null: every source. */
  readonly process: string | null;
  /** Only lines at or after this time (ms); null: no bound. */
  readonly since: number | null;
  /** Only lines whose text contains this string (plain, case-sensitive); null: every line. */
  readonly grep: string | null;
}

export const DEFAULT_LOG_LINES = 100;
export const MAX_LOG_LINES = 2_000;
export const MAX_GREP_LENGTH = 1_000;

/** The query that matches every line; the most recent `limit`. */
export function everyLine(limit: number = MAX_LOG_LINES): LogQuery {
  return { limit, process: null, since: null, grep: null };
}

/** Whether a line passes the query's filters (the limit aside). */
export function lineMatches(line: LogLine, query: Pick<LogQuery, 'process' | 'since' | 'grep'>): boolean {
  if (query.process !== null && line.source !== query.process && !line.source.startsWith(`${query.process}.`)) return false;
  if (query.since !== null && line.at < query.since) return false;
  // A plain substring, never a pattern from the user: no regex, so no ReDoS.
  if (query.grep !== null && !line.text.includes(query.grep)) return false;
  return true;
}

/** Two sets of lines (each oldest first) as one, oldest first, the most recent `limit` kept. */
export function mergeLogLines(a: readonly LogLine[], b: readonly LogLine[], limit: number): LogLine[] {
  return [...a, ...b].map((line, i) => ({ line, i })).sort((x, y) => x.line.at - y.line.at || x.i - y.i).slice(-limit).map(({ line }) => line);
}

const DURATION = /^(\d{1,9})(s|m|h|d)$/;
const UNIT_MS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
// A date, or a date and time with an optional zone (without one, the reader's local time).
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;
const SINCE_HINT = 'Use a duration back from now (30s, 10m, 2h, 7d) or a time (2026-01-02T15:04:05Z; without a zone, local time).';

/** Whether `text` is a duration back from now (`10m`) rather than a time. */
export function isDuration(text: string): boolean {
  return DURATION.test(text.trim());
}

/**
 * `10m`, `2h`, `7d`, `30s` (back from `now`), or an ISO 8601 date or time
 * (`2026-01-02`, `2026-01-02T15:04:05Z`, `2026-01-02T15:04+02:00`; a time
 * without a zone is local time) → milliseconds since the epoch.
 */
export function parseSince(text: string, now: number): number {
  const value = text.trim();
  const duration = DURATION.exec(value);
  if (duration !== null) return now - Number(duration[1]) * UNIT_MS[duration[2]!]!;
  if (TIMESTAMP.test(value)) {
    const at = Date.parse(value.replace(' ', 'T'));
    if (Number.isFinite(at)) return at;
  }
  throw new BerthError('BERTH_E_USAGE', `"${value.slice(0, 40)}" is not a time to show log lines since`, { hint: SINCE_HINT, status: 400 });
}

/** The `grep` filter: a non-empty plain string of bounded length. */
export function parseGrep(text: string): string {
  if (text === '' || text.length > MAX_GREP_LENGTH || text.includes('\n')) {
    throw new BerthError('BERTH_E_USAGE', `the text to look for must be 1 to ${MAX_GREP_LENGTH} characters on one line`, {
      hint: 'grep takes a plain string, matched case-sensitively within each line (no patterns).',
      status: 400,
    });
  }
  return text;
}

/** `?lines=100&process=web&since=10m&grep=text&follow=1` of `GET /apps/:app/logs`. */
export function logQueryFromParams(params: URLSearchParams, now: number): { query: LogQuery; follow: boolean } {
  const lines = params.get('lines');
  const since = params.get('since');
  const grep = params.get('grep');
  return {
    query: {
      limit: Math.min(Math.max(Number(lines ?? DEFAULT_LOG_LINES) || DEFAULT_LOG_LINES, 1), MAX_LOG_LINES),
      process: params.get('process'),
      since: since === null ? null : parseSince(since, now),
      grep: grep === null ? null : parseGrep(grep),
    },
    follow: params.get('follow') === '1',
  };
}
