// One field line ("name: value" CRLF), shared by request heads, response
// heads and chunked trailers so all three are exactly as strict.
//
// Heads are scanned as latin1 strings, not Buffers: one latin1 decode of the
// head is a single call into C++, after which charCodeAt, indexOf and slice
// stay in optimized JS. Every Buffer.indexOf / toString would cross into C++
// (~100 ns each, measured), which costs more than the scan itself. latin1 maps
// byte n to char code n, so string offsets are byte offsets.

import { COLON, CR, FIELD_CHAR, HTAB, LF, SP, TCHAR } from './chars.ts';
import type { Http1ErrorCode } from './errors.ts';

// Ids for the fields that decide framing and connection handling, so the
// head parsers can act on them in the same pass with an integer switch.
export const F_OTHER = 0;
export const F_HOST = 1;
export const F_CONTENT_LENGTH = 2;
export const F_TRANSFER_ENCODING = 3;
export const F_CONNECTION = 4;
export const F_UPGRADE = 5;
export const F_EXPECT = 6;

interface KnownName {
  readonly name: string;
  readonly id: number;
}

// Names seen in nearly every request or response. Matching them returns a
// shared lower-case string instead of allocating a new one.
const KNOWN: readonly KnownName[] = [
  ['host', F_HOST],
  ['content-length', F_CONTENT_LENGTH],
  ['transfer-encoding', F_TRANSFER_ENCODING],
  ['connection', F_CONNECTION],
  ['upgrade', F_UPGRADE],
  ['expect', F_EXPECT],
  ...[
    'accept', 'accept-encoding', 'accept-language', 'accept-ranges', 'age', 'authorization', 'cache-control',
    'content-encoding', 'content-type', 'cookie', 'date', 'dnt', 'etag', 'expires', 'if-modified-since',
    'if-none-match', 'keep-alive', 'last-modified', 'location', 'origin', 'pragma', 'priority', 'range',
    'referer', 'sec-ch-ua', 'sec-ch-ua-mobile', 'sec-ch-ua-platform', 'sec-fetch-dest', 'sec-fetch-mode',
    'sec-fetch-site', 'sec-fetch-user', 'server', 'set-cookie', 'te', 'upgrade-insecure-requests', 'user-agent',
    'vary', 'x-forwarded-for', 'x-forwarded-proto', 'x-real-ip', 'x-requested-with',
  ].map((n): [string, number] => [n, F_OTHER]),
].map(([name, id]) => ({ name: name as string, id: id as number }));

const KNOWN_BY_LENGTH: (KnownName[] | undefined)[] = [];
for (const k of KNOWN) (KNOWN_BY_LENGTH[k.name.length] ??= []).push(k);

// Case-insensitive match of s[p, p+len) against the known names. `| 0x20`
// lower-cases ASCII letters; it maps no other tchar onto a letter, digit or
// '-' (the only bytes in known names), so it cannot create false matches.
function findKnown(s: string, p: number, len: number): KnownName | undefined {
  const bucket = KNOWN_BY_LENGTH[len];
  if (bucket === undefined) return undefined;
  next: for (let k = 0; k < bucket.length; k++) {
    const cand = bucket[k]!;
    const n = cand.name;
    for (let i = 0; i < len; i++) {
      if ((s.charCodeAt(p + i) | 0x20) !== n.charCodeAt(i)) continue next;
    }
    return cand;
  }
  return undefined;
}

/** What readFieldLine found; reused across lines of one head to avoid allocation. */
export class FieldLine {
  name = '';
  id = F_OTHER;
  value = '';
  error: Http1ErrorCode = 'HTTP_BAD_HEADER_NAME';
}

export const FIELD_ERROR = -1;
export const FIELD_INCOMPLETE = -2;

/**
 * Reads the field line at s[p] (the caller has handled the empty line that
 * ends the section). On success fills `line` (name lower-cased, value with
 * surrounding OWS removed) and returns the index after the line's CRLF.
 * Returns FIELD_ERROR with `line.error` set, or FIELD_INCOMPLETE when `end`
 * came before the CRLF.
 */
export function readFieldLine(s: string, p: number, end: number, line: FieldLine): number {
  // field-name = token, immediately followed by ':'.
  let q = p;
  let upper = false;
  let c = 0;
  while (q < end) {
    c = s.charCodeAt(q);
    if (TCHAR[c] !== 1) break;
    if (c <= 0x5a && c >= 0x41) upper = true;
    q++;
  }
  if (q === end) return FIELD_INCOMPLETE;
  if (c !== COLON || q === p) {
    if (q === p && (c === SP || c === HTAB)) line.error = 'HTTP_OBS_FOLD';
    else if (c === SP || c === HTAB) line.error = 'HTTP_WS_BEFORE_COLON';
    else if (c === LF) line.error = 'HTTP_BARE_LF';
    else line.error = 'HTTP_BAD_HEADER_NAME';
    return FIELD_ERROR;
  }
  const known = findKnown(s, p, q - p);
  if (known !== undefined) {
    line.name = known.name;
    line.id = known.id;
  } else {
    line.name = upper ? s.slice(p, q).toLowerCase() : s.slice(p, q);
    line.id = F_OTHER;
  }

  // field-value = *field-content, with leading and trailing OWS dropped.
  // Find the CR first (a fast builtin), then check the bytes before it in a
  // loop that does nothing else.
  q++;
  const cr = s.indexOf('\r', q);
  const e = cr === -1 || cr >= end ? end : cr;
  let i = q;
  while (i < e && FIELD_CHAR[s.charCodeAt(i)] === 1) i++;
  if (i < e) {
    line.error = s.charCodeAt(i) === LF ? 'HTTP_BARE_LF' : 'HTTP_BAD_HEADER_VALUE';
    return FIELD_ERROR;
  }
  if (e === end || e + 1 === end) return FIELD_INCOMPLETE;
  if (s.charCodeAt(e + 1) !== LF) {
    line.error = 'HTTP_BARE_CR';
    return FIELD_ERROR;
  }
  let vs = q;
  while (vs < e && ((c = s.charCodeAt(vs)) === SP || c === HTAB)) vs++;
  let ve = e;
  while (ve > vs && ((c = s.charCodeAt(ve - 1)) === SP || c === HTAB)) ve--;
  line.value = vs === ve ? '' : s.slice(vs, ve);
  return e + 2;
}

export const LINES_BARE_LF = -1;
export const LINES_BARE_CR = -2;

/**
 * For a head that is not complete yet: checks that every LF so far follows
 * a CR and every CR so far (whose next byte has arrived) precedes an LF, and
 * counts the complete lines. A bare line ending can never turn into a valid
 * head, so it is refused now instead of when the size limit is reached.
 * Returns the line count, or LINES_BARE_LF / LINES_BARE_CR.
 */
export function scanPartialLines(s: string, p: number, end: number): number {
  let lines = 0;
  for (let i = s.indexOf('\n', p); i !== -1 && i < end; i = s.indexOf('\n', i + 1)) {
    if (i === p || s.charCodeAt(i - 1) !== CR) return LINES_BARE_LF;
    lines++;
  }
  for (let i = s.indexOf('\r', p); i !== -1 && i + 1 < end; i = s.indexOf('\r', i + 1)) {
    if (s.charCodeAt(i + 1) !== LF) return LINES_BARE_CR;
  }
  return lines;
}
