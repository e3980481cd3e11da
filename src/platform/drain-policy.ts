import { isIP } from 'node:net';
import { BerthError } from '../errors.ts';
import { FACILITIES } from './syslog.ts';

// What a log drain URL means, how it is shown, and the drains' limits: pure
// decisions over plain data. A drain URL may hold a secret (an HTTPS
// endpoint's token, in its user info, path or query), so like a config value
// it is never logged and never repeated in an error, and listings show it
// through redactDrainUrl().

export type DrainKind = 'syslog' | 'syslog+tls' | 'https';

export interface DrainTarget {
  readonly kind: DrainKind;
  /** Without IPv6 brackets: what net.connect takes. */
  readonly host: string;
  readonly port: number;
  /** The syslog facility (user unless the URL says ?facility=local0). */
  readonly facility: number;
  /** For https: the URL to POST to. */
  readonly url: URL;
}

/** Every limit of a drain, defined once. */
export interface DrainLimits {
  /** Bytes of lines waiting to be sent beyond which new ones are dropped (and counted). */
  readonly maxQueueBytes: number;
  /** An HTTPS request carries at most this many lines and bytes. */
  readonly batchLines: number;
  readonly batchBytes: number;
  /** An HTTPS batch waits this long for more lines after its first. */
  readonly batchDelayMs: number;
  /** Attempts per HTTPS batch (then it is dropped and counted). */
  readonly attempts: number;
  /** Connecting (TCP and TLS handshake) and each HTTPS request give up after this. */
  readonly timeoutMs: number;
  /** The first retry waits this long, doubling up to maxRetryMs. */
  readonly firstRetryMs: number;
  readonly maxRetryMs: number;
  /** Closing the daemon gives queued lines this long to go out. */
  readonly closeMs: number;
}

export const DEFAULT_DRAIN_LIMITS: DrainLimits = {
  maxQueueBytes: 4 * 1024 * 1024,
  batchLines: 1000,
  batchBytes: 512 * 1024,
  batchDelayMs: 1000,
  attempts: 5,
  timeoutMs: 10_000,
  firstRetryMs: 1000,
  maxRetryMs: 60_000,
  closeMs: 3000,
};

/** Drains one app may have. */
export const MAX_DRAINS_PER_APP = 5;
const MAX_URL_LENGTH = 2048;
const DEFAULT_PORTS: Readonly<Record<DrainKind, number>> = { syslog: 514, 'syslog+tls': 6514, https: 443 };
const HINT = 'Use syslog+tls://HOST:PORT, syslog://HOST:PORT (plain TCP) or https://HOST/PATH (lines POSTed as JSON); a syslog URL may end in ?facility=local0.';

function refuse(message: string): never {
  throw new BerthError('BERTH_E_DRAIN_URL', message, { hint: HINT, status: 400 });
}

/** A drain URL, checked; the messages of its refusals never repeat it. */
export function parseDrainUrl(text: unknown): DrainTarget {
  if (typeof text !== 'string' || text === '') refuse('a drain needs a "url"');
  if (text.length > MAX_URL_LENGTH) refuse(`a drain URL must be at most ${MAX_URL_LENGTH} characters`);
  if (/[\s\u0000-\u001f\u007f]/.test(text)) refuse('a drain URL cannot contain spaces or control characters');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    refuse('the drain URL is not a URL');
  }
  const kind = url.protocol.slice(0, -1);
  if (kind !== 'syslog' && kind !== 'syslog+tls' && kind !== 'https') refuse(`berth cannot send logs to a ${kind}: URL`);
  if (url.hostname === '') refuse('the drain URL has no host');
  if (url.hash !== '') refuse('a drain URL cannot have a #fragment');
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? DEFAULT_PORTS[kind] : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) refuse('the drain URL has no valid port');
  let facility = FACILITIES.user!;
  if (kind !== 'https') {
    if (url.username !== '' || url.password !== '') refuse('a syslog drain URL cannot hold a user or password');
    if (url.pathname !== '' && url.pathname !== '/') refuse('a syslog drain URL has no path');
    for (const [key, value] of url.searchParams) {
      if (key !== 'facility' || FACILITIES[value] === undefined) refuse(`a syslog drain URL takes only ?facility=${Object.keys(FACILITIES).join('|')}`);
      facility = FACILITIES[value]!;
    }
  }
  return { kind, host, port, facility, url };
}

/** A path segment this long, or a value, may be a secret. */
const SECRET_SEGMENT = 16;

/**
 * A drain URL as listings show it: user and password as `***`, every query
 * value as `***`, and path segments of 16 characters or more (tokens in the
 * path, as many log services use) as their first 4 characters and `…`.
 * The scheme, host and port stay, so the drain can be recognized.
 */
export function redactDrainUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return '***';
  }
  const user = url.username !== '' || url.password !== '' ? '***@' : '';
  const hostPort = url.port === '' ? url.hostname : `${url.hostname}:${url.port}`;
  const path = url.pathname
    .split('/')
    .map((segment) => (segment.length >= SECRET_SEGMENT ? `${segment.slice(0, 4)}…` : segment))
    .join('/');
  const query = [...url.searchParams.keys()].map((key) => `${key.length >= SECRET_SEGMENT ? `${key.slice(0, 4)}…` : key}=***`).join('&');
  return `${url.protocol}//${user}${hostPort}${path === '/' && url.protocol !== 'https:' ? '' : path}${query === '' ? '' : `?${query}`}`;
}

/** How long to wait before retry number `failures` (1, 2, …): firstRetryMs doubling, at most maxRetryMs. */
export function drainRetryDelay(failures: number, limits: Pick<DrainLimits, 'firstRetryMs' | 'maxRetryMs'> = DEFAULT_DRAIN_LIMITS): number {
  const n = Math.max(1, Math.min(failures, 30));
  return Math.min(limits.maxRetryMs, limits.firstRetryMs * 2 ** (n - 1));
}

/** Whether an HTTPS drain answer is worth trying again: timeouts, rate limits and server errors; not other refusals. */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** The TLS server name for a host: none for an IP address (SNI carries names only). */
export function serverName(host: string): string | undefined {
  return isIP(host) === 0 ? host : undefined;
}

// ---- what every drain is ----------------------------------------------------

/** One line for a drain: from the app's output log or its access log. */
export interface DrainLine {
  readonly app: string;
  readonly kind: 'output' | 'access';
  readonly at: number;
  /** web.1, build, berth (output); the instance or "-" (access). */
  readonly source: string;
  /** The output line; for access, the stored JSON entry. */
  readonly text: string;
  readonly stream?: 'out' | 'err' | undefined;
}

/**
 * idle: nothing to send (syslog: and no connection); connecting; connected
 * (syslog) or sending (https); retrying: the last attempt failed (the next
 * one waits, or comes with the next line); closed.
 */
export type DrainState = 'idle' | 'connecting' | 'connected' | 'sending' | 'retrying' | 'closed';

export interface DrainStatus {
  readonly state: DrainState;
  /** Lines the receiver took (syslog: written to the connection; https: in a batch answered 2xx). */
  readonly sent: number;
  /** Lines lost: the queue was full, a batch was given up, a connection died with lines in it. */
  readonly dropped: number;
  /** The last failure (never the URL), and when. */
  readonly lastError: string | null;
  readonly lastErrorAt: string | null;
}

/** A drain: `send` never blocks or throws; `close` gives queued lines until the deadline, then lets go. */
export interface Drain {
  send(line: DrainLine): void;
  status(): DrainStatus;
  close(graceMs: number): Promise<void>;
}
