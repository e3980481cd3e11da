// HTTP-date (RFC 9110 §5.6.7). We always send IMF-fixdate; we accept the two
// obsolete forms too because the RFC says recipients must. Date.parse is not
// used: it accepts far more than HTTP allows and reads asctime as local time.

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const IMF_FIXDATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const RFC850 = /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-([A-Z][a-z]{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const ASCTIME = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/** IMF-fixdate for a millisecond timestamp, e.g. 'Sun, 06 Nov 1994 08:49:37 GMT'. */
export function formatHttpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/**
 * Seconds since the epoch, or null when the value is not an HTTP-date (a
 * recipient must then ignore the header it came in). `nowYear` resolves
 * rfc850's two-digit years and is injectable for tests.
 */
export function parseHttpDate(value: string, nowYear: number = new Date().getUTCFullYear()): number | null {
  let m = IMF_FIXDATE.exec(value);
  if (m !== null) return toSeconds(Number(m[3]), m[2]!, Number(m[1]), m[4]!, m[5]!, m[6]!);
  m = RFC850.exec(value);
  if (m !== null) {
    // RFC 9110: a two-digit year that looks more than 50 years in the future
    // means the most recent past year with those digits.
    const yy = Number(m[3]);
    let year = Math.floor(nowYear / 100) * 100 + yy;
    if (year > nowYear + 50) year -= 100;
    return toSeconds(year, m[2]!, Number(m[1]), m[4]!, m[5]!, m[6]!);
  }
  m = ASCTIME.exec(value);
  if (m !== null) return toSeconds(Number(m[6]), m[1]!, Number(m[2]!.trim()), m[3]!, m[4]!, m[5]!);
  return null;
}

function toSeconds(year: number, monthName: string, day: number, hh: string, mm: string, ss: string): number | null {
  const month = MONTHS.indexOf(monthName);
  const hour = Number(hh);
  const minute = Number(mm);
  const second = Number(ss);
  if (month === -1 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  const ms = Date.UTC(year, month, day, hour, minute, second);
  // Date.UTC rolls Feb 30 over into March; such a date is not a date.
  if (new Date(ms).getUTCDate() !== day) return null;
  return ms / 1000;
}
