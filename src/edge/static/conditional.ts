// Conditional requests (RFC 9110 §13). Pure: the caller passes the validators
// of the representation it is about to send, and gets back what to do.

import { parseHttpDate } from './http-date.ts';

/**
 * A strong ETag from size and modification time. The inode is left out on
 * purpose: it changes when a deploy copies identical files, and it differs
 * between replicas serving the same release.
 * The suffix names a content coding ('br', 'gzip') so each representation of
 * one file has its own tag, as a strong validator must.
 */
export function makeEtag(size: number, mtimeMs: number, suffix?: string): string {
  const base = size.toString(16) + '-' + Math.floor(mtimeMs).toString(16);
  return suffix === undefined ? `"${base}"` : `"${base}-${suffix}"`;
}

export type PreconditionHeaders = {
  'if-match'?: string | undefined;
  'if-none-match'?: string | undefined;
  'if-modified-since'?: string | undefined;
  'if-unmodified-since'?: string | undefined;
};

export type Validators = {
  /** Strong entity tag, quotes included. */
  etag: string;
  /** Last-Modified in whole seconds, as sent in the header. */
  lastModifiedSec: number;
};

export type PreconditionOutcome = 'proceed' | 'not-modified' | 'precondition-failed';

/**
 * Evaluates preconditions in the order of RFC 9110 §13.2.2. Dates are
 * consulted only when the matching ETag header is absent, and a date that
 * does not parse is ignored rather than treated as a failure.
 */
export function evaluatePreconditions(method: string, headers: PreconditionHeaders, v: Validators): PreconditionOutcome {
  const ifMatch = headers['if-match'];
  if (ifMatch !== undefined) {
    if (!etagListMatches(ifMatch, v.etag, true)) return 'precondition-failed';
  } else {
    const ius = headers['if-unmodified-since'];
    if (ius !== undefined) {
      const since = parseHttpDate(ius.trim());
      if (since !== null && v.lastModifiedSec > since) return 'precondition-failed';
    }
  }

  const isRead = method === 'GET' || method === 'HEAD';
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    if (etagListMatches(ifNoneMatch, v.etag, false)) return isRead ? 'not-modified' : 'precondition-failed';
  } else if (isRead) {
    const ims = headers['if-modified-since'];
    if (ims !== undefined) {
      const since = parseHttpDate(ims.trim());
      if (since !== null && v.lastModifiedSec <= since) return 'not-modified';
    }
  }
  return 'proceed';
}

/**
 * Whether a header value of the form `*` or `#entity-tag` matches our strong
 * `etag`. Strong comparison: both tags must be strong and identical. Weak
 * comparison: the opaque parts are identical, W/ is ignored. A malformed
 * member ends the scan: what has not matched so far does not match.
 */
export function etagListMatches(header: string, etag: string, strong: boolean): boolean {
  const len = header.length;
  let i = 0;
  // '*' is only valid alone; it matches any current representation.
  let start = 0;
  let end = len;
  while (start < end && isOws(header.charCodeAt(start))) start++;
  while (end > start && isOws(header.charCodeAt(end - 1))) end--;
  if (end - start === 1 && header.charCodeAt(start) === 0x2a) return true;

  while (i < len) {
    const c = header.charCodeAt(i);
    if (c === 0x2c || isOws(c)) {
      i++;
      continue;
    }
    let weak = false;
    if (c === 0x57 /* W */) {
      if (header.charCodeAt(i + 1) !== 0x2f /* / */) return false;
      weak = true;
      i += 2;
    }
    if (header.charCodeAt(i) !== 0x22) return false;
    const close = header.indexOf('"', i + 1);
    if (close === -1) return false;
    // Compare the opaque tag including its quotes against ours, in place.
    const matched = close - i + 1 === etag.length && header.startsWith(etag, i) && !(strong && weak);
    i = close + 1;
    // After a tag only OWS and a comma may follow.
    while (i < len && isOws(header.charCodeAt(i))) i++;
    if (i < len && header.charCodeAt(i) !== 0x2c) return false;
    if (matched) return true;
  }
  return false;
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}
