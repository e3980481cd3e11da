// Parsers for the values of the fields that decide framing and routing:
// Content-Length, Transfer-Encoding, Connection, Host. Each is stricter
// than the RFC where the RFC's leniency has been used for smuggling.

import { HOST_CHAR, HTAB, IPV6_CHAR, SP, TCHAR } from './chars.ts';
import type { Http1ErrorCode } from './errors.ts';

export const CL_INVALID = -1;
export const CL_OVERFLOW = -2;

/**
 * Content-Length = 1*DIGIT. No sign, no inner whitespace, no list (even
 * "5, 5", which RFC 9112 §6.3 lets a recipient accept). At most 16 digits
 * and Number.MAX_SAFE_INTEGER, so the number is exact.
 */
export function parseContentLength(v: string): number {
  const len = v.length;
  if (len === 0) return CL_INVALID;
  let n = 0;
  for (let i = 0; i < len; i++) {
    const d = v.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return CL_INVALID;
    n = n * 10 + d;
  }
  // Checked after the loop so "99999999999999999999x" is still INVALID.
  if (len > 16 || n > Number.MAX_SAFE_INTEGER) return CL_OVERFLOW;
  return n;
}

/**
 * Transfer-Encoding for a message we can frame: exactly the single coding
 * "chunked" (case-insensitive). Returns null when it is that, else why not:
 * - HTTP_BAD_TE: not a comma list of bare tokens (empty elements,
 *   parameters, quotes, odd bytes) — we cannot even say what was meant;
 * - HTTP_TE_NOT_CHUNKED: chunked is not the final coding, or appears twice
 *   (RFC 9112 §6.3 rule 4 requires 400: the length cannot be determined);
 * - HTTP_TE_UNSUPPORTED: a well-formed list ending in chunked with other
 *   codings before it ("gzip, chunked"): RFC 9112 §6.1 suggests 501.
 */
export function checkTransferEncoding(v: string): Http1ErrorCode | null {
  if (v.length === 7 && isChunked(v, 0, 7)) return null;
  let chunkedCount = 0;
  let others = 0;
  let lastIsChunked = false;
  const len = v.length;
  let i = 0;
  for (;;) {
    while (i < len && isOws(v.charCodeAt(i))) i++;
    const s = i;
    while (i < len && TCHAR[v.charCodeAt(i)] === 1) i++;
    const e = i;
    while (i < len && isOws(v.charCodeAt(i))) i++;
    if (s === e) return 'HTTP_BAD_TE';
    if (i < len && v.charCodeAt(i) !== 0x2c) return 'HTTP_BAD_TE';
    lastIsChunked = e - s === 7 && isChunked(v, s, e);
    if (lastIsChunked) chunkedCount++;
    else others++;
    if (i === len) break;
    i++; // the comma
  }
  if (!lastIsChunked || chunkedCount !== 1) return 'HTTP_TE_NOT_CHUNKED';
  if (others > 0) return 'HTTP_TE_UNSUPPORTED';
  return null;
}

function isChunked(v: string, s: number, e: number): boolean {
  const w = 'chunked';
  for (let i = s; i < e; i++) if ((v.charCodeAt(i) | 0x20) !== w.charCodeAt(i - s)) return false;
  return true;
}

function isOws(c: number): boolean {
  return c === SP || c === HTAB;
}

/** Flags found in Connection fields; tokens lower-cased and collected for hop-by-hop stripping. */
export const CONN_CLOSE = 1;
export const CONN_KEEP_ALIVE = 2;
export const CONN_UPGRADE = 4;
export const CONN_INVALID = -1;

/**
 * Adds the tokens of one Connection field to `tokens` and returns the flags
 * it set (CONN_INVALID if an element is not a token). Empty list elements
 * are allowed, as RFC 9110 §5.6.1 requires of recipients.
 */
export function parseConnection(v: string, tokens: string[]): number {
  // Fast paths: the two values nearly every client sends.
  if (v === 'keep-alive') {
    tokens.push('keep-alive');
    return CONN_KEEP_ALIVE;
  }
  if (v === 'close') {
    tokens.push('close');
    return CONN_CLOSE;
  }
  let flags = 0;
  const len = v.length;
  let i = 0;
  while (i <= len) {
    while (i < len && isOws(v.charCodeAt(i))) i++;
    const s = i;
    while (i < len && TCHAR[v.charCodeAt(i)] === 1) i++;
    const e = i;
    while (i < len && isOws(v.charCodeAt(i))) i++;
    if (i < len && v.charCodeAt(i) !== 0x2c) return CONN_INVALID;
    if (e > s) {
      const token = v.slice(s, e).toLowerCase();
      tokens.push(token);
      if (token === 'close') flags |= CONN_CLOSE;
      else if (token === 'keep-alive') flags |= CONN_KEEP_ALIVE;
      else if (token === 'upgrade') flags |= CONN_UPGRADE;
    }
    i++; // the comma, or past the end
  }
  return flags;
}

/**
 * host [":" port] as used by Host and absolute-form authorities: a DNS-style
 * name or IPv4 address (letters, digits, '-', '.', '_'; at most 255 bytes),
 * or an IPv6 literal in brackets; port 0-65535 with 1 to 5 digits. No
 * userinfo, no empty port, no pct-encoding.
 */
export function isValidHost(v: string, s: number, e: number): boolean {
  if (s >= e) return false;
  let i = s;
  if (v.charCodeAt(i) === 0x5b) {
    i++;
    const hs = i;
    while (i < e && IPV6_CHAR[v.charCodeAt(i)] === 1) i++;
    if (i === e || v.charCodeAt(i) !== 0x5d || i - hs < 2) return false;
    i++;
  } else {
    while (i < e && HOST_CHAR[v.charCodeAt(i)] === 1) i++;
    if (i === s || i - s > 255) return false;
  }
  if (i === e) return true;
  if (v.charCodeAt(i) !== 0x3a) return false;
  i++;
  const ps = i;
  let port = 0;
  for (; i < e; i++) {
    const d = v.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return false;
    port = port * 10 + d;
  }
  return i - ps >= 1 && i - ps <= 5 && port <= 65535;
}
