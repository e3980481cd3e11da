import type { ExchangeRecord } from '../edge/index.ts';
import { BerthError } from '../errors.ts';
import { AppLog, type LineCodec, type LogLine } from './app-log.ts';
import type { AppLogLimits } from './app-log-rotation.ts';

// An app's access log: one JSON object a line per request the edge answered
// for it (STATE/logs/NAME/access/access.log, rotated like the app's output),
// read back as that JSON or in Apache's and nginx's common and combined
// formats. The writer, rotation and readers are AppLog's; this file says what
// a line holds and how it is shown, as pure functions.

/** One request as an access log keeps it: the stored JSON object, keys in this order. */
export interface AccessEntry {
  /** ISO 8601 UTC, when the request head was complete. */
  readonly time: string;
  readonly method: string;
  /** Path and query as received. */
  readonly path: string;
  readonly host: string;
  readonly status: number;
  /** Bytes sent for the response, head included (nginx's $bytes_sent). */
  readonly bytes: number;
  readonly durationMs: number;
  /** The instance that answered (`web.1`); null when none did (a cache hit, a 404, a 502 with no instance). */
  readonly instance: string | null;
  /** The X-Request-Id the app was given. */
  readonly requestId: string;
  readonly client: string;
  readonly protocol: string;
  readonly cache: string | null;
  readonly referer: string | null;
  readonly userAgent: string | null;
}

export type AccessFormat = 'json' | 'common' | 'combined';
export const ACCESS_FORMATS: readonly AccessFormat[] = ['json', 'common', 'combined'];

/** The source of access lines no instance answered (`berth logs --process` never matches it). */
export const NO_INSTANCE = '-';
/** The source AppLog gives its "N lines dropped" markers. */
const MARKER_SOURCE = 'berth';

/**
 * The access log's limits: AppLog's, with files of 20 MiB, and room for the
 * records of a busy second (they arrive in one batch per engine, queued
 * before the writer gets a turn) and for lines that are never cut (fields are
 * bounded below, so a line stays far under maxLineChars).
 */
export const ACCESS_LOG_LIMITS: Partial<AppLogLimits> = {
  maxFileBytes: 20 * 1024 * 1024,
  maxPendingBytes: 16 * 1024 * 1024,
  maxBatchBytes: 1024 * 1024,
  maxLineChars: 64 * 1024,
};

export const ACCESS_LOG_FILE = 'access.log';

/** Longest kept value of each free-text field (characters; longer ones end in "…"). */
const MAX_PATH = 4000;
const MAX_HEADER = 2000;

/** A field as the edge read it (one byte a character) as text: UTF-8 when it is, bounded. */
function text(value: string, max: number): string {
  // The edge keeps header bytes as latin1 characters; a UTF-8 referer or path reads right once decoded.
  const decoded = /[\x80-\xff]/.test(value) ? Buffer.from(value, 'latin1').toString('utf8') : value;
  return decoded.length > max ? `${decoded.slice(0, max)}…` : decoded;
}

/** The edge's record of an exchange as an access log entry. */
export function accessEntry(record: ExchangeRecord): AccessEntry {
  return {
    time: new Date(record.time).toISOString(),
    method: text(record.method, 32),
    path: text(record.target, MAX_PATH),
    host: text(record.host, 255),
    status: record.status,
    bytes: record.bytes,
    durationMs: Math.round(record.durationMs * 1000) / 1000,
    // The edge's upstream id is the instance's name.
    instance: record.upstream,
    requestId: text(record.requestId, 128),
    client: record.client,
    protocol: record.protocol,
    cache: record.cache,
    referer: record.referer === null ? null : text(record.referer, MAX_HEADER),
    userAgent: record.userAgent === null ? null : text(record.userAgent, MAX_HEADER),
  };
}

/** An access log line in AppLog's terms: the source is the instance (so `--process web` works), the text the stored JSON. */
export function accessLogLine(record: ExchangeRecord): LogLine {
  const entry = accessEntry(record);
  return { at: record.time, source: entry.instance ?? NO_INSTANCE, text: JSON.stringify(entry) };
}

/** A stored line's entry; null for anything else (a marker, a torn line). */
export function parseAccessEntry(line: string): AccessEntry | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object') return null;
  const entry = value as Record<string, unknown>;
  const strings = ['time', 'method', 'path', 'host', 'requestId', 'client', 'protocol'] as const;
  const nullable = ['instance', 'cache', 'referer', 'userAgent'] as const;
  const numbers = ['status', 'bytes', 'durationMs'] as const;
  if (!strings.every((key) => typeof entry[key] === 'string')) return null;
  if (!nullable.every((key) => entry[key] === null || typeof entry[key] === 'string')) return null;
  if (!numbers.every((key) => typeof entry[key] === 'number')) return null;
  if (!Number.isFinite(Date.parse(entry.time as string))) return null;
  return value as AccessEntry;
}

/**
 * How the access log stores lines: an entry's JSON as it is; AppLog's
 * "N lines dropped" markers as `{"time": …, "note": …}`, so every line of the
 * file is a JSON object with a time.
 */
export const ACCESS_LINE_CODEC: LineCodec = {
  encode(line) {
    if (line.source === MARKER_SOURCE) return `${JSON.stringify({ time: new Date(line.at).toISOString(), note: line.text })}\n`;
    return `${line.text}\n`;
  },
  decode(stored) {
    let value: unknown;
    try {
      value = JSON.parse(stored);
    } catch {
      return null;
    }
    if (value === null || typeof value !== 'object') return null;
    const { time, note } = value as Record<string, unknown>;
    const at = typeof time === 'string' ? Date.parse(time) : NaN;
    if (!Number.isFinite(at)) return null;
    if (typeof note === 'string') return { at, source: MARKER_SOURCE, text: note };
    const entry = parseAccessEntry(stored);
    return entry === null ? null : { at, source: entry.instance ?? NO_INSTANCE, text: stored };
  },
};

/** An app's access log in `dir` (STATE/logs/NAME/access). */
export function createAccessLog(options: { dir: string; onError?: (err: Error) => void; now?: () => number; limits?: Partial<AppLogLimits> }): AppLog {
  return new AppLog({
    dir: options.dir,
    codec: ACCESS_LINE_CODEC,
    fileName: ACCESS_LOG_FILE,
    limits: { ...ACCESS_LOG_LIMITS, ...options.limits },
    ...(options.onError ? { onError: options.onError } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

/** `10/Oct/2000:13:55:36 +0000`: the common log format's time, in UTC. */
export function clfTime(at: number): string {
  const d = new Date(at);
  return `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

/**
 * A value inside the quotes of a common/combined line, escaped as nginx
 * does: `"` and `\` with a backslash, control characters and every byte
 * outside printable ASCII as `\xHH` (of its UTF-8 bytes), so a line is
 * always one line of ASCII whatever a client sent.
 */
export function escapeQuoted(value: string): string {
  let out = '';
  for (const char of value) {
    const code = char.codePointAt(0)!;
    if (char === '"' || char === '\\') out += `\\${char}`;
    else if (code >= 0x20 && code < 0x7f) out += char;
    else for (const byte of Buffer.from(char, 'utf8')) out += `\\x${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** A field outside quotes (client address): `-` when empty, and never a space or a control character. */
function bare(value: string | null): string {
  if (value === null || value === '') return '-';
  return escapeQuoted(value).replace(/ /g, '\\x20');
}

/** HTTP/2 as Apache and nginx write it in the request line. */
function protocolName(protocol: string): string {
  return protocol === 'HTTP/2' ? 'HTTP/2.0' : protocol;
}

/**
 * One entry as a line: `json` (the stored object), or Apache's and nginx's
 * common (`%h %l %u %t "%r" %>s %b`) and combined (common plus
 * `"%{Referer}i" "%{User-agent}i"`) formats. The user is always `-` (the
 * edge authenticates no one); bytes are the bytes sent, head included, `-`
 * for none; missing referer and user agent are `"-"`.
 */
export function formatAccessLine(entry: AccessEntry, format: AccessFormat): string {
  if (format === 'json') return JSON.stringify(entry);
  const request = `${entry.method} ${entry.path} ${protocolName(entry.protocol)}`;
  const common = `${bare(entry.client)} - - [${clfTime(Date.parse(entry.time))}] "${escapeQuoted(request)}" ${entry.status} ${entry.bytes > 0 ? entry.bytes : '-'}`;
  if (format === 'common') return common;
  const quoted = (value: string | null) => (value === null || value === '' ? '"-"' : `"${escapeQuoted(value)}"`);
  return `${common} ${quoted(entry.referer)} ${quoted(entry.userAgent)}`;
}

/** `format=` of `GET /apps/:app/logs?access=1`: json (the default), common or combined. */
export function parseAccessFormat(value: string | null | undefined): AccessFormat {
  if (value === null || value === undefined || value === '') return 'json';
  if ((ACCESS_FORMATS as readonly string[]).includes(value)) return value as AccessFormat;
  throw new BerthError('BERTH_E_USAGE', `"${value.slice(0, 20)}" is not an access log format`, { hint: 'Use json, common or combined.', status: 400 });
}

/**
 * How a line of the access log is shown in `format`; null for a line that
 * format has no place for (a "lines dropped" marker in common or combined,
 * which log parsers would choke on; JSON shows it as `{"time","note"}`).
 */
export function accessLineFormatter(format: AccessFormat): (line: LogLine) => string | null {
  return (line) => {
    if (line.source === MARKER_SOURCE) return format === 'json' ? JSON.stringify({ time: new Date(line.at).toISOString(), note: line.text }) : null;
    if (format === 'json') return line.text;
    const entry = parseAccessEntry(line.text);
    return entry === null ? null : formatAccessLine(entry, format);
  };
}
