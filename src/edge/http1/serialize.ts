// Writing heads. The edge re-frames every message it forwards: it computes
// its own Content-Length or chunking and never copies the peer's framing or
// hop-by-hop fields. These helpers build a head as one latin1 string and
// encode it once, and refuse names and values that could split the head.

import { STATUS_CODES } from './status-codes.ts';
import { isFieldValue, isToken, TARGET_CHAR } from './chars.ts';

// RFC 9110 §7.6.1 hop-by-hop fields, plus Proxy-Connection (never standard,
// still sent by some clients).
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade', 'trailer',
]);

/** True for a lower-cased field name that only applies to one connection. */
export function isHopByHop(name: string): boolean {
  return HOP_BY_HOP.has(name);
}

/**
 * The fields of a received message that may be forwarded: drops the
 * hop-by-hop fields, Content-Length (the edge frames the body itself) and
 * every field named in Connection. Apply it before the edge adds its own
 * fields (X-Forwarded-*, Via), so a peer cannot strip those via Connection.
 */
export function forwardableHeaders(headers: readonly string[], connectionTokens: readonly string[]): string[] {
  const out: string[] = [];
  const named = connectionTokens.length > 0 ? connectionTokens : null;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i]!;
    if (name === 'content-length' || HOP_BY_HOP.has(name)) continue;
    if (named !== null && named.includes(name)) continue;
    out.push(name, headers[i + 1]!);
  }
  return out;
}

/**
 * "HTTP/1.1 <status> <reason>" CRLF, the fields, CRLF. `reason` defaults to
 * the standard phrase. Throws a TypeError on a status outside 100-599 or a
 * name/value/reason that is not valid on the wire: that is a bug in the
 * caller, and writing it would let one value forge another field.
 */
export function serializeResponseHead(status: number, headers: readonly string[], reason?: string): Buffer {
  if (!Number.isInteger(status) || status < 100 || status > 599) throw new TypeError(`invalid status ${status}`);
  const phrase = reason ?? STATUS_CODES[status] ?? '';
  if (phrase !== '' && !isFieldValue(phrase)) throw new TypeError('invalid reason phrase');
  return Buffer.from(`HTTP/1.1 ${status} ${phrase}\r\n${fieldLines(headers)}\r\n`, 'latin1');
}

/** "<method> <target> HTTP/1.1" CRLF, the fields, CRLF. Throws a TypeError on invalid input. */
export function serializeRequestHead(method: string, target: string, headers: readonly string[]): Buffer {
  if (!isToken(method)) throw new TypeError('invalid method');
  if (!isTarget(target)) throw new TypeError('invalid request target');
  return Buffer.from(`${method} ${target} HTTP/1.1\r\n${fieldLines(headers)}\r\n`, 'latin1');
}

function fieldLines(headers: readonly string[]): string {
  if (headers.length % 2 !== 0) throw new TypeError('headers must be a flat [name, value, ...] array');
  let out = '';
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    const value = headers[i + 1]!;
    if (!isToken(name)) throw new TypeError(`invalid field name ${JSON.stringify(name)}`);
    if (!isFieldValue(value)) throw new TypeError(`invalid value for field ${name}`);
    out += `${name}: ${value}\r\n`;
  }
  return out;
}

function isTarget(t: string): boolean {
  if (t.length === 0) return false;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c > 0x7e || TARGET_CHAR[c] !== 1) return false;
  }
  return true;
}
