// Byte ranges (RFC 9110 §14). One range is served as 206. Several ranges are
// answered with the whole file as 200, which the RFC allows (a server may
// ignore Range): it spares us multipart/byteranges and closes the door on
// many-small-ranges amplification. A Range we cannot parse is ignored too.

import { parseHttpDate } from './http-date.ts';

export type RangeDecision =
  | { kind: 'ignore' }
  | { kind: 'unsatisfiable' }
  | { kind: 'partial'; start: number; end: number /* inclusive */ };

const IGNORE: RangeDecision = Object.freeze({ kind: 'ignore' });
const UNSATISFIABLE: RangeDecision = Object.freeze({ kind: 'unsatisfiable' });

// Positions longer than this cannot be exact doubles; they are far beyond any
// file we can serve anyway, so they are clamped rather than rejected.
const MAX_DIGITS = 15;

/** Decides what a Range header means for a representation of `size` bytes. */
export function parseRange(header: string | undefined, size: number): RangeDecision {
  if (header === undefined) return IGNORE;
  // The range unit is case-insensitive (§14.1). Other units are ignored.
  if (header.length < 7 || header.slice(0, 6).toLowerCase() !== 'bytes=') return IGNORE;

  // range-set = 1#range-spec; list rules allow empty members (', ,').
  let spec: string | undefined;
  for (const member of header.slice(6).split(',')) {
    const trimmed = member.trim();
    if (trimmed === '') continue;
    if (spec !== undefined) return IGNORE; // several ranges: whole file
    spec = trimmed;
  }
  if (spec === undefined) return IGNORE;

  const dash = spec.indexOf('-');
  if (dash === -1) return IGNORE;
  const first = spec.slice(0, dash);
  const last = spec.slice(dash + 1);

  if (first === '') {
    // suffix-range: the last N bytes
    const n = parseDigits(last);
    if (n === null) return IGNORE;
    if (n === 0) return UNSATISFIABLE;
    // An empty representation has no bytes to name, and 'bytes 0--1/0' is not
    // a Content-Range: answer with the (empty) whole file.
    if (size === 0) return IGNORE;
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 };
  }

  const start = parseDigits(first);
  if (start === null) return IGNORE;
  let end: number;
  if (last === '') {
    end = size - 1;
  } else {
    const parsed = parseDigits(last);
    if (parsed === null || parsed < start) return IGNORE; // invalid, not unsatisfiable (§14.1.1)
    end = Math.min(parsed, size - 1);
  }
  if (start >= size) return UNSATISFIABLE;
  return { kind: 'partial', start, end };
}

function parseDigits(s: string): number | null {
  if (s.length === 0) return null;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return null;
  }
  return s.length > MAX_DIGITS ? Number.MAX_SAFE_INTEGER : Number(s);
}

/**
 * Whether If-Range lets the Range header apply (§13.1.5). An entity-tag must
 * match strongly (a weak tag never does); a date must equal Last-Modified
 * exactly. Anything else means "send the whole representation".
 */
export function ifRangeAllows(ifRange: string | undefined, etag: string, lastModifiedSec: number): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('W/')) return false;
  if (value.startsWith('"')) return value === etag;
  const date = parseHttpDate(value);
  return date !== null && date === lastModifiedSec;
}

/** Content-Range value for a 206. */
export function contentRange(start: number, end: number, size: number): string {
  return `bytes ${start}-${end}/${size}`;
}

/** Content-Range value for a 416. */
export function unsatisfiedRange(size: number): string {
  return `bytes */${size}`;
}
