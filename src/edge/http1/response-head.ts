// The head of an upstream response, parsed as strictly as a request: an
// app behind the edge must not be able to desynchronise a kept-alive
// upstream connection either. Every refusal is answered 502 and the upstream
// connection is closed.

import { CR, FIELD_VCHAR, HTAB, LF, SP } from './chars.ts';
import { responseError, type Http1Error, type Http1ErrorCode } from './errors.ts';
import {
  CL_INVALID, CL_OVERFLOW, CONN_CLOSE, CONN_INVALID, CONN_KEEP_ALIVE,
  checkTransferEncoding, parseConnection, parseContentLength,
} from './field-values.ts';
import {
  F_CONNECTION, F_CONTENT_LENGTH, F_TRANSFER_ENCODING, F_UPGRADE,
  FieldLine, LINES_BARE_LF, readFieldLine, scanPartialLines,
} from './fields.ts';
import type { Http1Limits } from './limits.ts';
import { INCOMPLETE, type Incomplete } from './request-head.ts';

/**
 * How the response body is delimited (RFC 9112 §6.3):
 * 'none' (HEAD, 1xx, 204, 304), 'length' (Content-Length), 'chunked', or
 * 'close' (read until the upstream closes; the connection is not reused).
 */
export type ResponseBodyKind = 'none' | 'length' | 'chunked' | 'close';

export interface ResponseHead {
  readonly version: 10 | 11;
  readonly status: number;
  readonly reason: string;
  /** Flat [name, value, ...]; names lower-cased, values trimmed. */
  readonly headers: string[];
  /** Declared Content-Length, -1 when absent (it is metadata only for HEAD and 304). */
  readonly contentLength: number;
  readonly chunked: boolean;
  readonly bodyKind: ResponseBodyKind;
  /** Whether the upstream connection may be reused after this response's body. */
  readonly keepAlive: boolean;
  /** For 101 Switching Protocols: the Upgrade value; otherwise null. */
  readonly upgrade: string | null;
  readonly connectionTokens: readonly string[];
}

export interface ParsedResponseHead {
  readonly kind: 'head';
  readonly head: ResponseHead;
  readonly consumed: number;
}

export type ResponseHeadResult = Incomplete | Http1Error | ParsedResponseHead;

const NO_TOKENS: readonly string[] = Object.freeze([]);
const ST_ERROR = -1;
const ST_INCOMPLETE = -2;

class StatusLine {
  version: 10 | 11 = 11;
  status = 0;
  reason = '';
  error: Http1ErrorCode = 'HTTP_BAD_STATUS_LINE';
}

/**
 * Parses one response head from buf[start..]. `requestMethod` is the method
 * of the request it answers: a response to HEAD never has a body.
 */
export function parseResponseHead(buf: Buffer, start: number, limits: Http1Limits, requestMethod: string): ResponseHeadResult {
  const avail = buf.length - start;
  if (avail <= 0) return INCOMPLETE;
  const windowLen = avail < limits.maxHeaderBytes ? avail : limits.maxHeaderBytes;
  const s = buf.toString('latin1', start, start + windowLen);

  // No empty lines are skipped before the status line: an upstream that
  // sends bytes after a body has already broken framing.
  const headEnd = s.indexOf('\r\n\r\n');
  if (headEnd === -1) {
    const st = new StatusLine();
    if (readStatusLine(s, windowLen, st) === ST_ERROR) return responseError(st.error);
    const lines = scanPartialLines(s, 0, windowLen);
    if (lines < 0) return responseError(lines === LINES_BARE_LF ? 'HTTP_BARE_LF' : 'HTTP_BARE_CR');
    if (avail >= limits.maxHeaderBytes) return responseError('HTTP_HEADERS_TOO_LARGE');
    if (lines - 1 > limits.maxHeaderCount) return responseError('HTTP_TOO_MANY_HEADERS');
    return INCOMPLETE;
  }

  const end = headEnd + 4;
  const st = new StatusLine();
  const lineEnd = readStatusLine(s, end, st);
  if (lineEnd < 0) return responseError(st.error);
  const { version, status } = st;

  const headers: string[] = [];
  const line = new FieldLine();
  let count = 0;
  let contentLength = -1;
  let transferEncoding: string | null = null;
  let connFlags = 0;
  let connTokens: string[] | null = null;
  let upgradeValue: string | null = null;

  // As in requests: a CR at a line start must be the final empty line.
  let q = lineEnd;
  while (s.charCodeAt(q) !== CR) {
    const next = readFieldLine(s, q, end, line);
    if (next < 0) return responseError(line.error);
    if (++count > limits.maxHeaderCount) return responseError('HTTP_TOO_MANY_HEADERS');
    const value = line.value;
    headers.push(line.name, value);
    switch (line.id) {
      case F_CONTENT_LENGTH: {
        if (contentLength !== -1) return responseError('HTTP_DUP_CL');
        const n = parseContentLength(value);
        if (n === CL_INVALID) return responseError('HTTP_BAD_CL');
        if (n === CL_OVERFLOW) return responseError('HTTP_CL_OVERFLOW');
        contentLength = n;
        break;
      }
      case F_TRANSFER_ENCODING:
        if (transferEncoding !== null) return responseError('HTTP_DUP_TE');
        transferEncoding = value;
        break;
      case F_CONNECTION: {
        const f = parseConnection(value, (connTokens ??= []));
        if (f === CONN_INVALID) return responseError('HTTP_BAD_CONNECTION');
        connFlags |= f;
        break;
      }
      case F_UPGRADE:
        upgradeValue = upgradeValue === null ? value : `${upgradeValue}, ${value}`;
        break;
    }
    q = next;
  }
  if (q !== headEnd + 2) return responseError('HTTP_BARE_CR');

  // Framing fields are judged the same whatever the status: even where they
  // carry no body (HEAD, 304) a malformed one shows a broken upstream.
  let chunked = false;
  if (transferEncoding !== null) {
    if (contentLength !== -1) return responseError('HTTP_CL_AND_TE');
    if (version === 10) return responseError('HTTP_TE_ON_HTTP10');
    // Only "chunked" alone: the edge re-frames bodies, so it cannot pass
    // another transfer coding (gzip, ...) through to the client.
    const bad = checkTransferEncoding(transferEncoding);
    if (bad !== null) return responseError(bad);
    chunked = true;
  }
  const hasFraming = chunked || contentLength !== -1;
  if (status < 200 && hasFraming) return responseError('HTTP_INTERIM_WITH_BODY');

  let keepAlive = (connFlags & CONN_CLOSE) === 0 && (version === 11 || (connFlags & CONN_KEEP_ALIVE) !== 0);
  let bodyKind: ResponseBodyKind;
  if (status < 200 || status === 204 || status === 304 || requestMethod === 'HEAD') {
    bodyKind = 'none';
    // A 204 must not declare a body (RFC 9110 §8.6, RFC 9112 §6.1); if it
    // does, the upstream may send one anyway, so do not reuse the connection.
    if (status === 204 && (chunked || contentLength > 0)) keepAlive = false;
    // After 101 the connection belongs to the upgraded protocol.
    if (status === 101) keepAlive = false;
  } else if (chunked) {
    bodyKind = 'chunked';
  } else if (contentLength !== -1) {
    bodyKind = contentLength === 0 ? 'none' : 'length';
  } else {
    bodyKind = 'close';
    keepAlive = false;
  }

  const head: ResponseHead = {
    version,
    status,
    reason: st.reason,
    headers,
    contentLength,
    chunked,
    bodyKind,
    keepAlive,
    upgrade: status === 101 ? upgradeValue : null,
    connectionTokens: connTokens ?? NO_TOKENS,
  };
  return { kind: 'head', head, consumed: end };
}

/**
 * status-line = HTTP-version SP 3DIGIT SP [ reason-phrase ] CRLF.
 * Lenient in one place that cannot affect framing: "HTTP/1.1 200" CRLF
 * without the SP before an empty reason is accepted, as llhttp does.
 * Status must be 100-599 (RFC 9110 §15).
 */
function readStatusLine(s: string, end: number, st: StatusLine): number {
  const prefix = 'HTTP/1.';
  let q = 0;
  for (; q < 7; q++) {
    if (q === end) return ST_INCOMPLETE;
    if (s.charCodeAt(q) !== prefix.charCodeAt(q)) {
      // "HTTP/2.0" and the like are well-formed but unsupported.
      return failStatus(st, q === 5 && isDigit(s.charCodeAt(q)) ? 'HTTP_VERSION_UNSUPPORTED' : 'HTTP_BAD_STATUS_LINE');
    }
  }
  if (q === end) return ST_INCOMPLETE;
  const minor = s.charCodeAt(q++) - 0x30;
  if (minor < 0 || minor > 9) return failStatus(st, 'HTTP_BAD_STATUS_LINE');
  if (minor > 1) return failStatus(st, 'HTTP_VERSION_UNSUPPORTED');
  st.version = minor === 1 ? 11 : 10;
  if (q === end) return ST_INCOMPLETE;
  if (s.charCodeAt(q++) !== SP) return failStatus(st, 'HTTP_BAD_STATUS_LINE');
  let status = 0;
  for (let i = 0; i < 3; i++, q++) {
    if (q === end) return ST_INCOMPLETE;
    const d = s.charCodeAt(q) - 0x30;
    if (d < 0 || d > 9) return failStatus(st, 'HTTP_BAD_STATUS_LINE');
    status = status * 10 + d;
  }
  if (status < 100 || status > 599) return failStatus(st, 'HTTP_BAD_STATUS_LINE');
  st.status = status;
  if (q === end) return ST_INCOMPLETE;
  let c = s.charCodeAt(q);
  let rs = q;
  if (c === SP) {
    rs = ++q;
    // reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
    while (q < end && (FIELD_VCHAR[(c = s.charCodeAt(q))] === 1 || c === SP || c === HTAB)) q++;
    if (q === end) return ST_INCOMPLETE;
  }
  if (c !== CR) return failStatus(st, c === LF ? 'HTTP_BARE_LF' : 'HTTP_BAD_STATUS_LINE');
  if (q + 1 === end) return ST_INCOMPLETE;
  if (s.charCodeAt(q + 1) !== LF) return failStatus(st, 'HTTP_BARE_CR');
  st.reason = q > rs ? s.slice(rs, q) : '';
  return q + 2;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function failStatus(st: StatusLine, code: Http1ErrorCode): number {
  st.error = code;
  return ST_ERROR;
}
