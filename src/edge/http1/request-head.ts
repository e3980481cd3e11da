// The head of a client request (request line + header section), parsed
// strictly by RFC 9112. The parser is stateless: call it again with more
// bytes until it returns a head or an error. Anything it refuses must be
// answered with the error's status and then the connection closed.

import { COLON, CR, HTAB, LF, SP, TARGET_CHAR, TCHAR } from './chars.ts';
import { requestError, type Http1Error, type Http1ErrorCode } from './errors.ts';
import {
  CL_INVALID, CL_OVERFLOW, CONN_CLOSE, CONN_INVALID, CONN_KEEP_ALIVE, CONN_UPGRADE,
  checkTransferEncoding, isValidHost, parseConnection, parseContentLength,
} from './field-values.ts';
import {
  F_CONNECTION, F_CONTENT_LENGTH, F_EXPECT, F_HOST, F_TRANSFER_ENCODING, F_UPGRADE,
  FieldLine, LINES_BARE_LF, readFieldLine, scanPartialLines,
} from './fields.ts';
import type { Http1Limits } from './limits.ts';

export type BodyKind = 'none' | 'length' | 'chunked';

export interface RequestHead {
  readonly method: string;
  /**
   * origin-form (path and query) or "*": an absolute-form target is
   * reduced to its path and query, its authority going to `host`.
   */
  readonly target: string;
  readonly version: 10 | 11;
  /** Flat [name, value, name, value, ...] in arrival order; names lower-cased, values trimmed. */
  readonly headers: string[];
  /**
   * Lower-cased host[:port] to route on: the authority of an absolute-form
   * target when there is one (RFC 9112 §3.2.2), else the Host field; null
   * for an HTTP/1.0 request without Host.
   */
  readonly host: string | null;
  /** Declared Content-Length, -1 when absent. */
  readonly contentLength: number;
  readonly chunked: boolean;
  /** 'none' when no body bytes follow the head (no framing field, or Content-Length: 0). */
  readonly bodyKind: BodyKind;
  /** Whether the connection may carry another request after this one. */
  readonly keepAlive: boolean;
  /** The Upgrade value when Connection has the "upgrade" token (HTTP/1.1 only), else null. */
  readonly upgrade: string | null;
  /** Expect: 100-continue on HTTP/1.1 (it is ignored on HTTP/1.0, RFC 9110 §10.1.1). */
  readonly expectContinue: boolean;
  /** Lower-cased Connection tokens: the hop-by-hop names to strip when forwarding. */
  readonly connectionTokens: readonly string[];
}

export interface Incomplete {
  readonly kind: 'incomplete';
}

export interface ParsedRequestHead {
  readonly kind: 'head';
  readonly head: RequestHead;
  /** Bytes from `start` through the final CRLFCRLF (and any empty lines before the request line). */
  readonly consumed: number;
}

export type RequestHeadResult = Incomplete | Http1Error | ParsedRequestHead;

export const INCOMPLETE: Incomplete = Object.freeze({ kind: 'incomplete' });

const NO_TOKENS: readonly string[] = Object.freeze([]);

// Methods we forward: llhttp's HTTP method list (what node:http accepts),
// minus CONNECT (we are not a forward proxy) and PRI (the HTTP/2 preface).
// Anything else that is a token gets 501, as RFC 9110 §9.1 suggests.
const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY',
  'ACL', 'BIND', 'CHECKOUT', 'COPY', 'LINK', 'LOCK', 'M-SEARCH', 'MERGE', 'MKACTIVITY', 'MKCALENDAR',
  'MKCOL', 'MOVE', 'NOTIFY', 'PROPFIND', 'PROPPATCH', 'PURGE', 'REBIND', 'REPORT', 'SEARCH', 'SOURCE',
  'SUBSCRIBE', 'UNBIND', 'UNLINK', 'UNLOCK', 'UNSUBSCRIBE',
]);

const REQ_INCOMPLETE = -2;
const REQ_ERROR = -1;

/** Scratch for the request line, filled by readRequestLine. */
class RequestLine {
  method = '';
  target = '';
  version: 10 | 11 = 11;
  absoluteHost: string | null = null;
  error: Http1ErrorCode = 'HTTP_BAD_REQUEST_LINE';
}

/**
 * Parses one request head from buf[start..]. Returns INCOMPLETE when more
 * bytes are needed (after refusing early what can never become valid: bad
 * bytes in the request line, bare CR/LF, limits already exceeded).
 */
export function parseRequestHead(buf: Buffer, start: number, limits: Http1Limits): RequestHeadResult {
  const avail = buf.length - start;
  if (avail <= 0) return INCOMPLETE;
  // The whole head must fit in maxHeaderBytes, so never decode more than that.
  const windowLen = avail < limits.maxHeaderBytes ? avail : limits.maxHeaderBytes;
  const s = buf.toString('latin1', start, start + windowLen);

  // RFC 9112 §2.2: ignore empty lines before the request line (old clients
  // send a CRLF after a POST body). They count towards the head size.
  let p = 0;
  while (p + 1 < windowLen && s.charCodeAt(p) === CR && s.charCodeAt(p + 1) === LF) p += 2;

  const headEnd = s.indexOf('\r\n\r\n', p);
  if (headEnd === -1) return unfinished(s, p, windowLen, avail, limits);

  const rl = new RequestLine();
  const end = headEnd + 4;
  const lineEnd = readRequestLine(s, p, end, limits, rl);
  if (lineEnd < 0) return requestError(rl.error);
  const version = rl.version;

  const headers: string[] = [];
  const line = new FieldLine();
  let count = 0;
  let hostSeen = false;
  let host: string | null = null;
  let contentLength = -1;
  let transferEncoding: string | null = null;
  let connFlags = 0;
  let connTokens: string[] | null = null;
  let upgradeValue: string | null = null;
  let expect: string | null = null;

  // Field lines until the empty line. A CR at the start of a line must be
  // that empty line, at headEnd + 2: "\r\n\rX" is a bare CR, not the end.
  let q = lineEnd;
  while (s.charCodeAt(q) !== CR) {
    const next = readFieldLine(s, q, end, line);
    if (next < 0) return requestError(line.error);
    if (++count > limits.maxHeaderCount) return requestError('HTTP_TOO_MANY_HEADERS');
    const value = line.value;
    headers.push(line.name, value);
    switch (line.id) {
      case F_HOST:
        if (hostSeen) return requestError('HTTP_DUP_HOST');
        hostSeen = true;
        if (!isValidHost(value, 0, value.length)) return requestError('HTTP_BAD_HOST');
        host = value.toLowerCase();
        break;
      case F_CONTENT_LENGTH: {
        if (contentLength !== -1) return requestError('HTTP_DUP_CL');
        const n = parseContentLength(value);
        if (n === CL_INVALID) return requestError('HTTP_BAD_CL');
        if (n === CL_OVERFLOW) return requestError('HTTP_CL_OVERFLOW');
        contentLength = n;
        break;
      }
      case F_TRANSFER_ENCODING:
        // Two TE fields would be a list to combine; refusing keeps it one value to judge.
        if (transferEncoding !== null) return requestError('HTTP_DUP_TE');
        transferEncoding = value;
        break;
      case F_CONNECTION: {
        const f = parseConnection(value, (connTokens ??= []));
        if (f === CONN_INVALID) return requestError('HTTP_BAD_CONNECTION');
        connFlags |= f;
        break;
      }
      case F_UPGRADE:
        upgradeValue = upgradeValue === null ? value : `${upgradeValue}, ${value}`;
        break;
      case F_EXPECT:
        expect = expect === null ? value : `${expect}, ${value}`;
        break;
    }
    q = next;
  }
  if (q !== headEnd + 2) return requestError('HTTP_BARE_CR');

  if (version === 11 && !hostSeen) return requestError('HTTP_MISSING_HOST');
  if (rl.absoluteHost !== null) host = rl.absoluteHost;

  let chunked = false;
  if (transferEncoding !== null) {
    if (contentLength !== -1) return requestError('HTTP_CL_AND_TE');
    // RFC 9112 §6.1: TE in HTTP/1.0 means faulty framing.
    if (version === 10) return requestError('HTTP_TE_ON_HTTP10');
    const bad = checkTransferEncoding(transferEncoding);
    if (bad !== null) return requestError(bad);
    chunked = true;
  }
  if (contentLength > limits.maxBodyBytes) return requestError('HTTP_BODY_TOO_LARGE');

  let expectContinue = false;
  if (expect !== null && version === 11) {
    if (expect.length !== 12 || expect.toLowerCase() !== '100-continue') return requestError('HTTP_EXPECTATION_FAILED');
    expectContinue = true;
  }

  const keepAlive = (connFlags & CONN_CLOSE) === 0 && (version === 11 || (connFlags & CONN_KEEP_ALIVE) !== 0);
  const head: RequestHead = {
    method: rl.method,
    target: rl.target,
    version,
    headers,
    host,
    contentLength,
    chunked,
    bodyKind: chunked ? 'chunked' : contentLength > 0 ? 'length' : 'none',
    keepAlive,
    upgrade: version === 11 && (connFlags & CONN_UPGRADE) !== 0 ? upgradeValue : null,
    expectContinue,
    connectionTokens: connTokens ?? NO_TOKENS,
  };
  return { kind: 'head', head, consumed: end };
}

// The head is not complete yet: refuse now anything that cannot become
// valid. Field lines are validated only once the head is complete, so with
// several faults the code (not the status) reported can depend on how the
// bytes arrived.
function unfinished(s: string, p: number, windowLen: number, avail: number, limits: Http1Limits): RequestHeadResult {
  // The request line first, as for a complete head, so the same bytes get
  // the same status however they are split (a lone CR at the end may still
  // become a leading empty line).
  if (p < windowLen && !(p === windowLen - 1 && s.charCodeAt(p) === CR)) {
    const rl = new RequestLine();
    if (readRequestLine(s, p, windowLen, limits, rl) === REQ_ERROR) return requestError(rl.error);
  }
  const lines = scanPartialLines(s, p, windowLen);
  if (lines < 0) return requestError(lines === LINES_BARE_LF ? 'HTTP_BARE_LF' : 'HTTP_BARE_CR');
  if (avail >= limits.maxHeaderBytes) return requestError('HTTP_HEADERS_TOO_LARGE');
  if (lines - 1 > limits.maxHeaderCount) return requestError('HTTP_TOO_MANY_HEADERS');
  return INCOMPLETE;
}

const HTTP_SLASH = 'HTTP/';

/**
 * request-line = method SP request-target SP HTTP-version CRLF, with exactly
 * one SP each. Returns the index after its CRLF, REQ_ERROR (rl.error set) or
 * REQ_INCOMPLETE when `end` comes first and nothing is wrong so far.
 */
function readRequestLine(s: string, p: number, end: number, limits: Http1Limits, rl: RequestLine): number {
  const maxLine = limits.maxRequestLineBytes;
  let q = p;
  while (q < end && TCHAR[s.charCodeAt(q)] === 1) q++;
  if (q === end) return q - p > maxLine ? fail(rl, 'HTTP_REQUEST_LINE_TOO_LONG') : REQ_INCOMPLETE;
  let c = s.charCodeAt(q);
  if (c !== SP || q === p) {
    return fail(rl, q > p && c !== HTAB && c !== CR && c !== LF ? 'HTTP_BAD_METHOD' : 'HTTP_BAD_REQUEST_LINE');
  }
  const methodEnd = q;

  const ts = ++q;
  while (q < end && TARGET_CHAR[s.charCodeAt(q)] === 1) q++;
  if (q - p > maxLine) return fail(rl, 'HTTP_REQUEST_LINE_TOO_LONG');
  if (q === end) return REQ_INCOMPLETE;
  c = s.charCodeAt(q);
  if (c !== SP || q === ts) {
    // An empty target (two spaces) or no version at all (HTTP/0.9 style) is
    // a malformed line; any other byte is a bad target byte.
    return fail(rl, q === ts || c === CR || c === LF ? 'HTTP_BAD_REQUEST_LINE' : 'HTTP_BAD_TARGET');
  }
  const te = q;

  // HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive.
  const vs = ++q;
  for (let i = 0; i < 8; i++, q++) {
    if (q === end) return REQ_INCOMPLETE;
    c = s.charCodeAt(q);
    const ok = i < 5 ? c === HTTP_SLASH.charCodeAt(i) : i === 6 ? c === 0x2e : c >= 0x30 && c <= 0x39;
    if (!ok) return fail(rl, 'HTTP_BAD_VERSION');
  }
  if (q - p > maxLine) return fail(rl, 'HTTP_REQUEST_LINE_TOO_LONG');
  if (q === end) return REQ_INCOMPLETE;
  c = s.charCodeAt(q);
  if (c !== CR) return fail(rl, c === LF ? 'HTTP_BARE_LF' : 'HTTP_BAD_VERSION');
  if (q + 1 === end) return REQ_INCOMPLETE;
  if (s.charCodeAt(q + 1) !== LF) return fail(rl, 'HTTP_BARE_CR');
  const major = s.charCodeAt(vs + 5) - 0x30;
  const minor = s.charCodeAt(vs + 7) - 0x30;
  if (major !== 1 || minor > 1) return fail(rl, 'HTTP_VERSION_UNSUPPORTED');
  rl.version = minor === 1 ? 11 : 10;

  const method = methodName(s, p, methodEnd);
  if (method === 'CONNECT') return fail(rl, 'HTTP_CONNECT_UNSUPPORTED');
  if (!KNOWN_METHODS.has(method)) return fail(rl, 'HTTP_UNKNOWN_METHOD');
  rl.method = method;

  // request-target forms (RFC 9112 §3.2): origin-form for everything,
  // asterisk-form only for OPTIONS, absolute-form with an http(s) authority.
  const t0 = s.charCodeAt(ts);
  if (t0 === 0x2f) {
    // origin-form: nothing more to check.
  } else if (t0 === 0x2a && te - ts === 1) {
    if (method !== 'OPTIONS') return fail(rl, 'HTTP_BAD_TARGET');
  } else {
    const as = schemeEnd(s, ts, te);
    if (as === -1) return fail(rl, 'HTTP_BAD_TARGET');
    let ae = as;
    while (ae < te && (c = s.charCodeAt(ae)) !== 0x2f && c !== 0x3f) ae++;
    if (!isValidHost(s, as, ae)) return fail(rl, 'HTTP_BAD_TARGET');
    rl.absoluteHost = s.slice(as, ae).toLowerCase();
    // RFC 9112 §3.2.2: the authority replaces Host, and what is left is
    // the origin-form every later step (routing, the app) sees; an empty
    // path is "/" ("*" for OPTIONS, §3.2.4).
    rl.target = ae === te ? (method === 'OPTIONS' ? '*' : '/') : s.charCodeAt(ae) === 0x3f ? `/${s.slice(ae, te)}` : s.slice(ae, te);
    return q + 2;
  }
  rl.target = s.slice(ts, te);
  return q + 2;
}

// Index after "http://" or "https://" (scheme case-insensitive), else -1.
function schemeEnd(s: string, ts: number, te: number): number {
  const n = te - ts;
  if (n < 7) return -1;
  if ((s.charCodeAt(ts) | 0x20) !== 0x68 || (s.charCodeAt(ts + 1) | 0x20) !== 0x74 ||
    (s.charCodeAt(ts + 2) | 0x20) !== 0x74 || (s.charCodeAt(ts + 3) | 0x20) !== 0x70) return -1;
  let i = ts + 4;
  if ((s.charCodeAt(i) | 0x20) === 0x73) i++;
  if (i + 3 > te || s.charCodeAt(i) !== COLON || s.charCodeAt(i + 1) !== 0x2f || s.charCodeAt(i + 2) !== 0x2f) return -1;
  return i + 3;
}

// Shared strings for the common methods, so GET costs no allocation.
function methodName(s: string, p: number, e: number): string {
  const n = e - p;
  const c0 = s.charCodeAt(p);
  if (n === 3 && c0 === 0x47 && s.charCodeAt(p + 1) === 0x45 && s.charCodeAt(p + 2) === 0x54) return 'GET';
  if (n === 4 && c0 === 0x50 && s.charCodeAt(p + 1) === 0x4f && s.charCodeAt(p + 2) === 0x53 && s.charCodeAt(p + 3) === 0x54) return 'POST';
  if (n === 4 && c0 === 0x48 && s.charCodeAt(p + 1) === 0x45 && s.charCodeAt(p + 2) === 0x41 && s.charCodeAt(p + 3) === 0x44) return 'HEAD';
  return s.slice(p, e);
}

function fail(rl: RequestLine, code: Http1ErrorCode): number {
  rl.error = code;
  return REQ_ERROR;
}
