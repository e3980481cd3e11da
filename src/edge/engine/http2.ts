import type { FileHandle } from 'node:fs/promises';
import type { Http2Server, OutgoingHttpHeaders, ServerHttp2Session, ServerHttp2Stream, ServerOptions } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { ResponseHead } from '../http1/index.ts';
import { isFieldValue, isToken, TARGET_CHAR } from '../http1/chars.ts';
import { isValidHost, parseContentLength } from '../http1/field-values.ts';
import { STATUS_CODES } from '../http1/status-codes.ts';
import { hostName, route, type SiteRoutes } from '../router.ts';
import { planStaticResponse, type StaticFile, type StaticResponse, type StaticSite } from '../static/index.ts';
import type { UpstreamGroup } from '../upstream-group.ts';
import type { EdgeConnection, EngineContext } from './connection.ts';
import type { ForwardOutcome, ResponseSink, UpstreamFlow } from './exchange.ts';
import { admitRequest, enterRequest, fieldValue, leaveRequest, newTrace, proxyRequest, type ProxyTrace } from './proxy-pipeline.ts';
import { judgeResets, NO_RESETS, RAPID_RESET, type ResetCount } from './h2-flood.ts';
import type { EdgeLimits } from './limits.ts';
import { SpillBuffer } from './spill-buffer.ts';
import { BodyClock, transferDeadline, type TransferPolicy } from './transfer-rate.ts';
import { requestIdFor, upstreamRequestHead } from './upstream-head.ts';

// HTTP/2 on the edge: TLS is done by the engine's listener; node:http2
// (nghttp2) does the framing, flow control and HPACK; this file does what
// the HTTP/1.1 engine does per request: validate, route, serve static files
// from the planner, buffer request bodies whole and proxy to the app over
// HTTP/1.1, with the same limits and answers.

/** Error codes of RFC 9113 §7. */
const NO_ERROR = 0x0;
const INTERNAL_ERROR = 0x2;
const CANCEL = 0x8;
const ENHANCE_YOUR_CALM = 0xb;

/** :method, :scheme, :authority and :path count as header fields for node:http2. */
const PSEUDO_HEADERS = 4;

/** Requests one session may have in flight. */
export const H2_MAX_CONCURRENT_STREAMS = 128;

/**
 * The node:http2 session options for an engine's limits: every HTTP/2
 * limit and flood guard of the edge is here. Beyond these, node:http2 stops
 * reading a session while its output is not written (a client that floods
 * PINGs or SETTINGS without reading the acknowledgements just stalls, then
 * hits the idle timeout), and nghttp2 ends a session whose queue of
 * acknowledgements passes 1,000 with ENHANCE_YOUR_CALM.
 */
export function http2Options(limits: EdgeLimits): ServerOptions {
  return {
    settings: {
      // Streams in flight at once per session (RFC 9113 sets no default
      // bound): one client cannot start unbounded work ("excessive streams").
      maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS,
      // The decoded header list (names, values, 32 bytes per field): the
      // HTTP/1.1 head limit, and a bound on HPACK bombs. Over it the stream
      // is reset.
      maxHeaderListSize: limits.maxHeaderBytes,
      // The edge never pushes.
      enablePush: false,
      // No extended CONNECT (RFC 8441): WebSocket stays on HTTP/1.1.
      enableConnectProtocol: false,
    },
    // Header fields per request, as HTTP/1.1's maxHeaderCount plus the four
    // pseudo-headers: many tiny fields cost per field whatever their size.
    maxHeaderListPairs: limits.maxHeaderCount + PSEUDO_HEADERS,
    // Memory (MiB) one session may hold: header tables, output queued for
    // the client, unacknowledged PINGs and SETTINGS (CVE-2019-9512 ping
    // flood, CVE-2019-9515 settings flood). Over it new streams are refused.
    // 128 streams × a 64 KiB upstream read each fit with room to spare.
    maxSessionMemory: 32,
    // PINGs the edge sent and the client has not answered. The edge sends
    // none; bounded anyway.
    maxOutstandingPings: 10,
    // Entries in one SETTINGS frame (CVE-2019-9515): a frame with thousands
    // of entries is refused.
    maxSettings: 32,
    // Frames nghttp2 refuses (bad, empty DATA without END_STREAM, CVE-2019-9518
    // "empty frames flood") before the session is closed.
    maxSessionInvalidFrames: 100,
    // Streams refused for being over maxConcurrentStreams or out of session
    // memory before the session is closed: a client that ignores our
    // SETTINGS is not served.
    maxSessionRejectedStreams: 100,
    // Streams the edge may open towards the client: push streams only, which it never sends.
    peerMaxConcurrentStreams: 100,
    // nghttp2's own bucket for RST_STREAM from the client (CVE-2023-44487),
    // a backstop behind judgeResets(), which counts cancelled requests and
    // trips first: the burst is above what one read of a flood carries past
    // our limit, so the client is told ENHANCE_YOUR_CALM, not INTERNAL_ERROR.
    streamResetBurst: 1000,
    streamResetRate: 33,
    // An app that sends a single-value field twice (two Content-Type) gets
    // both passed on, as over HTTP/1.1, instead of failing the response.
    strictSingleValueFields: false,
  };
}

// ---- one node:http2 server per thread ---------------------------------

type Http2Module = typeof import('node:http2');

// node:http2 loads node:http (~16 MiB per engine): loaded on the first
// HTTP/2 connection, not when the engine starts.
let http2: Http2Module | null = null;
// One server per limits (in practice one per engine): it is never bound to
// a port; sockets are handed to it after the engine's own TLS handshake.
const servers = new WeakMap<EdgeLimits, Http2Server>();
let adopted: ServerHttp2Session | null = null;

/** A server-side HTTP/2 session over an established TLS socket, or null when node:http2 would not take it. */
function sessionFor(socket: TLSSocket, limits: EdgeLimits): ServerHttp2Session | null {
  let server = servers.get(limits);
  if (server === undefined) {
    http2 ??= process.getBuiltinModule('node:http2');
    server = http2.createServer(http2Options(limits));
    server.on('session', (session: ServerHttp2Session) => (adopted = session));
    servers.set(limits, server);
  }
  adopted = null;
  // node:http2 creates the session synchronously for a socket whose ALPN said h2.
  server.emit('connection', socket);
  const session = adopted as ServerHttp2Session | null;
  adopted = null;
  return session;
}

// ---- requests ---------------------------------------------------------

/** A request's head as HTTP/2 delivered it, validated. */
export interface H2Request {
  readonly method: string;
  /** :path: path and query, or '*' for OPTIONS. */
  readonly target: string;
  /** :authority, or Host when there is none; lower-cased. */
  readonly authority: string;
  /** The regular fields, flat [name, value, …], names lower-case; cookie crumbs joined into one field. */
  readonly fields: string[];
  /** Declared Content-Length, -1 when absent. */
  readonly contentLength: number;
  readonly expectContinue: boolean;
}

export type H2RequestResult =
  | { readonly kind: 'request'; readonly request: H2Request }
  | { readonly kind: 'refused'; readonly method: string; readonly status: number; readonly message: string };

// Fields that only make sense on one HTTP/1.1 connection: a malformed
// HTTP/2 request (RFC 9113 §8.2.2). nghttp2 refuses them first; checked
// again because the fields are re-sent to an app as HTTP/1.1.
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings']);

const refused = (method: string, status: number, message: string): H2RequestResult => ({ kind: 'refused', method, status, message });

/**
 * Validates a request's header list (node:http2's raw [name, value, …])
 * as strictly as the HTTP/1.1 parser does a head: everything here is
 * re-sent to an app as HTTP/1.1 text, so no byte that could split that
 * head gets through, whatever nghttp2 let pass.
 */
export function readRequest(raw: readonly string[], limits: Pick<EdgeLimits, 'maxRequestLineBytes' | 'maxHeaderBytes' | 'maxHeaderCount'>): H2RequestResult {
  let method: string | null = null;
  let path: string | null = null;
  let scheme: string | null = null;
  let authority: string | null = null;
  let protocol: string | null = null;
  let host: string | null = null;
  let contentLength = -1;
  let expect: string | null = null;
  let cookies: string[] | null = null;
  const fields: string[] = [];
  let regular = false;
  // The header list size as RFC 9113 §6.5.2 counts it. nghttp2 applies our
  // SETTINGS_MAX_HEADER_LIST_SIZE only once the client has acknowledged it,
  // so the first requests of a session (and every request of a client that
  // never acknowledges) are measured here.
  let listSize = 0;
  let count = 0;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    listSize += name.length + value.length + 32;
    if (name.charCodeAt(0) === 0x3a /* : */) {
      if (regular) return refused(method ?? '', 400, 'a pseudo-header after a header field');
      let duplicate = false;
      switch (name) {
        case ':method':
          duplicate = method !== null;
          method = value;
          break;
        case ':path':
          duplicate = path !== null;
          path = value;
          break;
        case ':scheme':
          duplicate = scheme !== null;
          scheme = value;
          break;
        case ':authority':
          duplicate = authority !== null;
          authority = value;
          break;
        case ':protocol':
          duplicate = protocol !== null;
          protocol = value;
          break;
        default:
          return refused(method ?? '', 400, `unknown pseudo-header ${name}`);
      }
      if (duplicate) return refused(method ?? '', 400, `${name} sent twice`);
      continue;
    }
    regular = true;
    count++;
    if (!isToken(name) || name !== name.toLowerCase()) return refused(method ?? '', 400, 'invalid header field name');
    if (!isFieldValue(value)) return refused(method ?? '', 400, `invalid value for ${name}`);
    if (CONNECTION_SPECIFIC.has(name) || (name === 'te' && value.toLowerCase() !== 'trailers')) {
      return refused(method ?? '', 400, `${name} is a connection-specific field, not allowed in HTTP/2`);
    }
    switch (name) {
      case 'cookie':
        // Cookie crumbs are sent as separate fields for compression; an
        // HTTP/1.1 app gets one field (RFC 9113 §8.2.3).
        (cookies ??= []).push(value);
        continue;
      case 'host':
        if (host !== null) return refused(method ?? '', 400, 'host sent twice');
        host = value;
        break;
      case 'content-length':
        if (contentLength !== -1) return refused(method ?? '', 400, 'content-length sent twice');
        contentLength = parseContentLength(value);
        if (contentLength < 0) return refused(method ?? '', 400, 'invalid content-length');
        break;
      case 'expect':
        expect = expect === null ? value : `${expect}, ${value}`;
        break;
    }
    fields.push(name, value);
  }
  if (listSize > limits.maxHeaderBytes || count > limits.maxHeaderCount) {
    return refused(method ?? '', 431, 'the request header fields are too large');
  }
  if (method === null || !isToken(method)) return refused('', 400, 'missing or invalid :method');
  if (protocol !== null) return refused(method, 501, 'extended CONNECT is not supported: WebSocket needs HTTP/1.1');
  if (method === 'CONNECT') return refused(method, 501, 'CONNECT is not supported: the edge is not a forward proxy');
  if (scheme !== 'https' && scheme !== 'http') return refused(method, 400, 'missing or invalid :scheme');
  if (path === null || path.length === 0) return refused(method, 400, 'missing :path');
  if (path === '*' ? method !== 'OPTIONS' : path.charCodeAt(0) !== 0x2f /* / */) return refused(method, 400, 'invalid :path');
  if (path.length > limits.maxRequestLineBytes) return refused(method, 414, 'the request target is too long');
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c > 0xff || TARGET_CHAR[c] !== 1) return refused(method, 400, 'invalid :path');
  }
  if (authority !== null && !isValidHost(authority, 0, authority.length)) return refused(method, 400, 'invalid :authority');
  if (host !== null && !isValidHost(host, 0, host.length)) return refused(method, 400, 'invalid host');
  if (authority !== null && host !== null && authority.toLowerCase() !== host.toLowerCase()) {
    return refused(method, 400, ':authority and host differ');
  }
  const target = authority ?? host;
  if (target === null) return refused(method, 400, 'no :authority or host');
  let expectContinue = false;
  if (expect !== null) {
    if (expect.toLowerCase() !== '100-continue') return refused(method, 417, 'only 100-continue can be expected');
    expectContinue = true;
  }
  if (cookies !== null) fields.push('cookie', cookies.join('; '));
  return { kind: 'request', request: { method, target: path, authority: target.toLowerCase(), fields, contentLength, expectContinue } };
}

const NO_FIELDS: Record<string, string | undefined> = Object.freeze({});

/** A request body's pace: the idle timeout, then the minimum rate (transfer-rate.ts). */
function bodyPolicy(limits: EdgeLimits): TransferPolicy {
  return { idleMs: limits.bodyIdleTimeoutMs, minBytesPerSecond: limits.minBodyRateBytes };
}

/** The request fields the static planner reads; repeated ones combine as a list (RFC 9110 §5.3). */
function staticFields(fields: readonly string[]): Record<string, string | undefined> {
  let out: Record<string, string | undefined> | null = null;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    if (name === 'accept-encoding' || name === 'range' || name.startsWith('if-')) {
      out ??= {};
      out[name] = out[name] === undefined ? fields[i + 1]! : `${out[name]}, ${fields[i + 1]}`;
    }
  }
  return out ?? NO_FIELDS;
}

// ---- responses --------------------------------------------------------

// Upstream response fields never relayed: HTTP/1.1 framing and
// connection-specific fields, which HTTP/2 forbids (RFC 9113 §8.2.2).
// Content-Length is set from the parsed head.
const NOT_RELAYED = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'http2-settings', 'content-length',
]);

/** The HTTP/2 head of an app's response: its fields minus connection-specific ones, and the edge's own. */
function relayedHeaders(head: ResponseHead, hsts: string | null): string[] {
  const out = [':status', String(head.status)];
  const named = head.connectionTokens.length > 0 ? head.connectionTokens : null;
  const fields = head.headers;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    if (NOT_RELAYED.has(name) || (named !== null && named.includes(name))) continue;
    out.push(name, fields[i + 1]!);
  }
  // HEAD and 304 keep the length the full response would have had.
  if (head.contentLength >= 0 && head.status !== 204) out.push('content-length', String(head.contentLength));
  if (hsts !== null) out.push('strict-transport-security', hsts);
  return out;
}

const TEXT_PLAIN = 'text/plain; charset=utf-8';
const textBodies = new Map<string, Buffer>();

/** The body of an answer the edge writes itself, like the HTTP/1.1 engine's canned ones. */
function textBody(status: number, message: string | undefined): Buffer {
  const key = `${status}:${message ?? ''}`;
  let body = textBodies.get(key);
  if (body === undefined) {
    body = Buffer.from(`${message ?? STATUS_CODES[status] ?? 'Unknown'}\n`);
    if (textBodies.size < 256) textBodies.set(key, body);
  }
  return body;
}

// What a stream does when its deadline passes.
const ON_DEADLINE_RESET = 0;
const ON_DEADLINE_408 = 1;

/** After a refusal (408, 413), how long the client has to take it before its stream is reset. */
const REFUSAL_GRACE_MS = 1_000;
/** After GOAWAY with nothing left in flight, how long the client has to close before the socket is cut. */
const CLOSE_GRACE_MS = 1_000;

/** What a stream needs from its session. */
interface StreamHost {
  readonly ctx: EngineContext;
  /** The session's sweep must look at its streams by `at`. */
  schedule(at: number): void;
}

/**
 * One request/response exchange on a stream: its deadline, the body being
 * buffered, the response going out, and the `ResponseSink` an app's
 * response is relayed through.
 */
class H2Stream implements ResponseSink {
  readonly stream: ServerHttp2Stream;
  readonly #host: StreamHost;
  method = '';
  /** Strict-Transport-Security for this response, when its site asks for it. */
  hsts: string | null = null;
  /** Monotonic time (ms) at which `expire()` is due; 0 when none. */
  deadline = 0;
  #onDeadline = ON_DEADLINE_RESET;
  /** The edge is done with the stream: the whole response was handed to node:http2, or the edge reset it. */
  settled = false;
  /** A request body being buffered, until it goes to the app. */
  body: SpillBuffer | null = null;
  #file: FileHandle | null = null;
  #flow: UpstreamFlow | null = null;
  #waitingForDrain = false;
  // How the client takes a relayed response: since when it has been behind
  // (0: keeping up), the bytes relayed then, and its progress at its last drain.
  #behindSince = 0;
  #behindBase = 0;
  #drained = 0;
  #drainedAt = 0;
  // What the exchange will be recorded as (metrics, access log).
  request: H2Request | null = null;
  startedAt = 0;
  requestId = '';
  siteKey = '';
  trace: ProxyTrace | null = null;
  limited = false;
  upstreamError = false;
  /** Body bytes relayed from an app (a proxied answer has no Content-Length when the app streamed it). */
  relayedBytes = 0;

  constructor(stream: ServerHttp2Stream, host: StreamHost) {
    this.stream = stream;
    this.#host = host;
  }

  /** The client still waits for this stream. */
  get open(): boolean {
    return !this.stream.closed && !this.stream.destroyed;
  }

  get #canRespond(): boolean {
    return this.open && !this.stream.headersSent;
  }

  arm(at: number, action: number): void {
    this.deadline = at;
    this.#onDeadline = action;
    this.#host.schedule(at);
  }

  /** Called by the session's sweep when `deadline` has passed. */
  expire(now: number): void {
    this.deadline = 0;
    if (this.#onDeadline === ON_DEADLINE_408 && this.#canRespond) this.refuse(408, undefined, now);
    else this.reset(CANCEL);
  }

  /** Resets the stream (RST_STREAM `code`) unless it is already closed. */
  reset(code: number): void {
    this.settled = true;
    this.body = null;
    if (this.open) this.stream.close(code);
  }

  /**
   * A complete answer before the whole request was read: the client is then
   * told to stop sending (RST_STREAM NO_ERROR, RFC 9113 §8.1), and reset
   * for good if it does not take the answer in time.
   */
  refuse(status: number, message?: string, now = Date.now()): void {
    this.settled = true;
    void this.body?.dispose();
    this.body = null;
    this.respondText(status, message);
    if (this.open) this.stream.close(NO_ERROR);
    this.arm(now + REFUSAL_GRACE_MS, ON_DEADLINE_RESET);
  }

  /** A small plain-text answer of the edge's own. */
  respondText(status: number, message?: string, extra: readonly string[] = []): void {
    if (!this.#canRespond) return;
    const body = textBody(status, message);
    const headers = [':status', String(status), 'content-type', TEXT_PLAIN, 'content-length', String(body.length), ...extra];
    if (this.hsts !== null) headers.push('strict-transport-security', this.hsts);
    this.#respond(headers, this.method === 'HEAD' ? null : body);
  }

  #respond(headers: string[], body: Buffer | null): void {
    try {
      if (body === null || body.length === 0) {
        this.stream.respond(headers, { endStream: true });
      } else {
        this.stream.respond(headers);
        this.stream.end(body);
      }
      this.settled = true;
    } catch (err) {
      this.#host.ctx.log(`http2 response error: ${(err as Error).message}`);
      this.reset(INTERNAL_ERROR);
    }
  }

  /** Carries out the static planner's answer. */
  respondStatic(plan: StaticResponse): void {
    if (!this.#canRespond) return;
    const body = plan.body;
    if (body.kind === 'file' && this.method !== 'HEAD') {
      void this.#sendFile(plan, body.file, body.start, body.end);
      return;
    }
    const headers = [':status', String(plan.status)];
    for (const [name, value] of plan.headers) headers.push(name.toLowerCase(), value);
    if (this.hsts !== null) headers.push('strict-transport-security', this.hsts);
    this.#respond(headers, body.kind === 'buffer' && this.method !== 'HEAD' ? body.data : null);
  }

  /**
   * A byte range of a file, sent by node:http2 from the descriptor with
   * flow control. The file is opened (through its site's checks) before
   * the head is sent, so a file removed since planning, or a path that no
   * longer names it, gets an honest 404.
   */
  async #sendFile(plan: StaticResponse, source: StaticFile, start: number, end: number): Promise<void> {
    let file: FileHandle | null;
    try {
      file = await source.open();
    } catch {
      file = null;
    }
    if (file === null) {
      this.respondText(404);
      return;
    }
    if (!this.#canRespond) {
      void file.close().catch(() => {});
      return;
    }
    this.#file = file;
    const headers: OutgoingHttpHeaders = { ':status': plan.status };
    for (const [name, value] of plan.headers) headers[name.toLowerCase()] = value;
    if (this.hsts !== null) headers['strict-transport-security'] = this.hsts;
    // The descriptor is read natively, out of our sight: the send timeout
    // is the stream's inactivity timer, which node:http2 keeps alive while
    // the session makes progress.
    this.stream.setTimeout(this.#host.ctx.limits.sendTimeoutMs, () => this.reset(CANCEL));
    try {
      this.stream.respondWithFD(file, headers, { offset: start, length: end - start + 1 });
      this.settled = true;
    } catch (err) {
      this.#host.ctx.log(`http2 file response error: ${(err as Error).message}`);
      this.reset(INTERNAL_ERROR);
    }
  }

  // ResponseSink: an app's response, relayed on this stream. Once the
  // client is gone, the rest of the body is read and dropped, so the
  // upstream connection still goes back to its pool.

  get responseStarted(): boolean {
    return this.stream.headersSent;
  }

  start(head: ResponseHead, flow: UpstreamFlow): void {
    this.#flow = flow;
    if (!this.#canRespond) return;
    const endStream = head.bodyKind === 'none';
    try {
      this.stream.respond(relayedHeaders(head, this.hsts), { endStream });
      if (endStream) this.settled = true;
    } catch (err) {
      // A status node:http2 will not send (over 599), a field it refuses.
      this.#host.ctx.log(`http2 relay error: ${(err as Error).message}`);
      this.respondText(502, 'bad gateway: the app did not answer properly');
    }
  }

  data(chunk: Buffer): void {
    if (!this.open || this.settled || this.stream.writableEnded) return;
    this.relayedBytes += chunk.length;
    // `chunk` lives in the upstream read buffer: copied.
    if (this.stream.write(Buffer.from(chunk))) {
      // Taken as fast as the app sends: the client is not behind.
      if (!this.#waitingForDrain) this.#behindSince = 0;
      return;
    }
    if (this.#waitingForDrain) return;
    this.#waitingForDrain = true;
    this.#flow?.pause();
    const now = Date.now();
    if (this.#behindSince === 0) {
      this.#behindSince = now;
      this.#behindBase = this.relayedBytes;
      this.#drained = 0;
      this.#drainedAt = now;
    }
    // The idle timeout since its last drain, or the minimum rate since it fell behind (transfer-rate.ts).
    const limits = this.#host.ctx.limits;
    const policy: TransferPolicy = { idleMs: limits.sendTimeoutMs, minBytesPerSecond: limits.minSendRateBytes };
    this.arm(transferDeadline({ startedAt: this.#behindSince, bytes: this.#drained, lastProgressAt: this.#drainedAt }, policy), ON_DEADLINE_RESET);
    this.stream.once('drain', () => this.#onDrain());
  }

  #onDrain(): void {
    if (!this.#waitingForDrain) return;
    this.#waitingForDrain = false;
    this.deadline = 0;
    this.#drained = this.relayedBytes - this.#behindBase;
    this.#drainedAt = Date.now();
    this.#flow?.resume();
  }

  end(): void {
    this.#releaseFlow();
    if (!this.open || this.settled || this.stream.writableEnded) return;
    this.stream.end();
    this.settled = true;
  }

  abort(): void {
    this.#releaseFlow();
    this.reset(INTERNAL_ERROR);
  }

  /**
   * The response is read whole: the upstream connection may go back to its
   * pool, so it must not stay paused for this client, and is never touched
   * again from here.
   */
  #releaseFlow(): void {
    if (this.#waitingForDrain) this.#flow?.resume();
    this.#flow = null;
  }

  /** The stream is closed: release what it holds. */
  closed(): void {
    this.deadline = 0;
    // An upstream paused for this client reads on, into nothing.
    if (this.#waitingForDrain) this.#onDrain();
    void this.body?.dispose();
    this.body = null;
    const file = this.#file;
    this.#file = null;
    if (file !== null) void file.close().catch(() => {});
  }
}

// ---- the session --------------------------------------------------------

/**
 * One HTTP/2 client connection (TLS, ALPN "h2"): a node:http2 session and
 * its streams. Deadlines (header, body idle, send, idle session) are kept
 * per stream and enforced by the engine's sweep through `deadline` and
 * `expire()`, like HTTP/1.1 connections; no timer per stream or session.
 */
export class Http2Connection implements EdgeConnection {
  readonly #socket: TLSSocket;
  readonly #ctx: EngineContext;
  readonly #session: ServerHttp2Session | null;
  readonly #clientAddress: string;
  readonly #streams = new Set<H2Stream>();
  readonly #host: StreamHost;
  #resets: ResetCount = NO_RESETS;
  /** When an idle session is closed; only meaningful while no stream is open. */
  #idleDeadline: number;
  /** GOAWAY sent: open streams finish, no new ones. */
  #draining = false;
  /** The session is gone or going: the socket is cut at `deadline`. */
  #closing = false;
  #forgotten = false;
  /** Monotonic time (ms) at which the sweep calls `expire()`; 0 when none. */
  deadline = 0;

  constructor(socket: TLSSocket, ctx: EngineContext, now: number) {
    this.#socket = socket;
    this.#ctx = ctx;
    const address = socket.remoteAddress ?? '';
    this.#clientAddress = address.startsWith('::ffff:') ? address.slice(7) : address;
    this.#host = { ctx, schedule: (at) => this.#schedule(at) };
    socket.on('error', () => {});
    socket.once('close', () => this.#socketClosed());
    // The listener keeps half-open sockets (for HTTP/1.1's half-closed
    // clients): a client that ended its side sends no more requests, so the
    // session says GOAWAY and closes once its streams are answered.
    socket.once('end', () => this.#goAway());
    const session = sessionFor(socket, ctx.limits);
    this.#session = session;
    // A client has the header timeout to send its first request, as over HTTP/1.1.
    this.#idleDeadline = now + ctx.limits.headerTimeoutMs;
    this.deadline = this.#idleDeadline;
    if (session === null) {
      socket.destroy();
      return;
    }
    session.on('error', (err: NodeJS.ErrnoException) => {
      // nghttp2's own guards (floods, invalid frames) are worth a line; a client going away is not.
      if (err.code === 'ERR_HTTP2_ERROR' || err.code === 'ERR_HTTP2_TOO_MANY_INVALID_FRAMES') {
        ctx.log(`http2: closing a session from ${this.#clientAddress}: ${err.message}`);
      }
    });
    session.on('frameError', () => {});
    session.on('close', () => this.#closeSoon());
    session.on('stream', (stream: ServerHttp2Stream, _headers: unknown, _flags: number, rawHeaders: string[]) => this.#onStream(stream, rawHeaders));
  }

  #schedule(at: number): void {
    if (this.deadline === 0 || at < this.deadline) this.deadline = at;
  }

  /** Called by the engine's sweep when `deadline` has passed: streams past theirs, then the idle session. */
  expire(): void {
    if (this.#closing) {
      this.destroy();
      return;
    }
    const now = Date.now();
    let next = 0;
    for (const exchange of this.#streams) {
      if (exchange.deadline !== 0 && exchange.deadline <= now) exchange.expire(now);
      if (exchange.deadline !== 0 && (next === 0 || exchange.deadline < next)) next = exchange.deadline;
    }
    if (this.#streams.size === 0 && !this.#draining) {
      if (this.#idleDeadline <= now) {
        this.#goAway();
        return;
      }
      if (next === 0 || this.#idleDeadline < next) next = this.#idleDeadline;
    }
    this.deadline = next;
  }

  /** Graceful: GOAWAY, open streams finish, then the session closes. */
  shutdown(): void {
    this.#goAway();
  }

  /** GOAWAY is already race-free: the client learns which streams were taken. */
  retire(): void {
    this.#goAway();
  }

  goingAway(): boolean {
    return false;
  }

  destroy(): void {
    this.#closing = true;
    this.deadline = 0;
    this.#session?.destroy();
    this.#socket.destroy();
  }

  #goAway(): void {
    if (this.#draining || this.#session === null) return;
    this.#draining = true;
    // node:http2 destroys the session once its last stream is done.
    this.#session.close();
    if (this.#streams.size === 0) this.#closeSoon();
  }

  /** The session is done: the client has a moment to close its end, then the socket is cut. */
  #closeSoon(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.deadline = Date.now() + CLOSE_GRACE_MS;
  }

  #socketClosed(): void {
    this.#closing = true;
    this.deadline = 0;
    if (this.#forgotten) return;
    this.#forgotten = true;
    this.#ctx.forget(this);
  }

  // ---- streams ----------------------------------------------------------

  #onStream(stream: ServerHttp2Stream, rawHeaders: string[]): void {
    stream.on('error', () => {});
    const exchange = new H2Stream(stream, this.#host);
    this.#streams.add(exchange);
    stream.once('close', () => this.#streamClosed(exchange));
    // Emitted as nghttp2 reads the RST_STREAM, before the next frame of
    // the same packet: a burst of cancellations is judged as it arrives.
    stream.once('aborted', () => {
      if (!exchange.settled) this.#noteCancel();
    });
    const parsed = readRequest(rawHeaders, this.#ctx.limits);
    if (parsed.kind === 'refused') {
      exchange.method = parsed.method;
      exchange.refuse(parsed.status, parsed.message);
      return;
    }
    exchange.method = parsed.request.method;
    // The work starts on the next turn of the event loop: a stream its
    // client cancels in the same packet (rapid reset) costs no routing, no
    // file and no upstream connection.
    setImmediate(() => this.#dispatch(exchange, parsed.request));
  }

  #streamClosed(exchange: H2Stream): void {
    this.#streams.delete(exchange);
    exchange.closed();
    this.#record(exchange);
    if (this.#streams.size === 0 && !this.#draining) {
      this.#idleDeadline = Date.now() + this.#ctx.limits.keepAliveTimeoutMs;
      this.#schedule(this.#idleDeadline);
    }
  }

  /** A stream its client cancelled before the edge was done with it: the rapid-reset guard (CVE-2023-44487). */
  #noteCancel(): void {
    const session = this.#session;
    // A session going away cancels its own streams: not the client's doing.
    if (session === null || session.destroyed || this.#closing) return;
    const judged = judgeResets(this.#resets, performance.now());
    this.#resets = judged.count;
    if (judged.calm) this.#calm(`cancelled ${Math.round(judged.recent)} streams within ${RAPID_RESET.windowMs / 1000} s (rapid reset)`);
  }

  /** A client that abuses the protocol: GOAWAY ENHANCE_YOUR_CALM, and the session is closed. */
  #calm(why: string): void {
    const session = this.#session;
    if (session === null || session.destroyed || this.#closing) return;
    this.#ctx.log(`http2: closing a session from ${this.#clientAddress} that ${why}`);
    this.#draining = true;
    // GOAWAY now, and the socket cut at the close grace, not at once:
    // closing a socket with the flood still unread sends a reset, which can
    // make the client's kernel drop the GOAWAY before it is read. Meanwhile
    // nghttp2 ignores the client's new streams, and those already open are
    // cancelled.
    session.goaway(ENHANCE_YOUR_CALM);
    for (const exchange of this.#streams) exchange.reset(CANCEL);
    this.#closeSoon();
  }

  /** Counts a finished exchange (and keeps it for the access log). */
  #record(exchange: H2Stream): void {
    const request = exchange.request;
    const observer = this.#ctx.observer;
    if (request === null || exchange.startedAt === 0 || observer === null) return;
    const sent = exchange.stream.sentHeaders as Record<string, unknown> | undefined;
    const status = Number(sent?.[':status'] ?? 0) || 499;
    const length = Number(sent?.['content-length'] ?? -1);
    const trace = exchange.trace;
    observer.record(
      {
        site: exchange.siteKey,
        time: exchange.startedAt,
        method: request.method,
        target: request.target,
        host: request.authority,
        status,
        bytes: length >= 0 ? length : exchange.relayedBytes,
        durationMs: Date.now() - exchange.startedAt,
        upstream: trace?.upstream ?? null,
        requestId: exchange.requestId,
        client: this.#clientAddress,
        protocol: 'HTTP/2',
        cache: trace?.cache ?? null,
        referer: fieldValue(request.fields, 'referer') ?? null,
        userAgent: fieldValue(request.fields, 'user-agent') ?? null,
      },
      { attempts: trace?.attempts ?? 0, upstreamError: exchange.upstreamError, limited: exchange.limited },
    );
    exchange.startedAt = 0;
  }

  #dispatch(exchange: H2Stream, request: H2Request): void {
    if (!exchange.open) return;
    exchange.request = request;
    exchange.startedAt = Date.now();
    exchange.requestId = requestIdFor(request.fields, this.#clientAddress);
    const decision = route(this.#ctx.routes(), request.authority, request.target);
    if (decision.kind !== 'not-found') {
      exchange.siteKey = decision.owner.key ?? '';
      exchange.hsts = decision.owner.hsts ?? null;
      const wait = decision.owner.rateLimit ? admitRequest(this.#ctx.services, decision.owner, this.#clientAddress, Date.now()) : null;
      if (wait !== null) {
        exchange.limited = true;
        this.#discardBody(exchange);
        exchange.respondText(429, 'too many requests: slow down', ['retry-after', String(wait)]);
        return;
      }
    }
    switch (decision.kind) {
      case 'not-found':
        this.#discardBody(exchange);
        exchange.respondText(404, 'no app is served at this address');
        return;
      case 'static':
        this.#discardBody(exchange);
        this.#serveStatic(exchange, request, decision.site, decision.target);
        return;
      case 'proxy': {
        const site = decision.owner;
        if (!enterRequest(this.#ctx.services, site, this.#clientAddress)) {
          exchange.limited = true;
          this.#discardBody(exchange);
          exchange.respondText(429, 'too many requests at once from this address', ['retry-after', '1']);
          return;
        }
        // In flight until the stream is gone, however it ends.
        exchange.stream.once('close', () => leaveRequest(this.#ctx.services, site, this.#clientAddress));
        this.#readBody(exchange, request, site, decision.upstreams, decision.maxBodyBytes);
        return;
      }
    }
  }

  /**
   * A body nobody will use (a static or 404 answer) is read and dropped
   * under the same limits, so the answer and the stream end normally.
   */
  #discardBody(exchange: H2Stream): void {
    const stream = exchange.stream;
    if (stream.endAfterHeaders) return;
    const limits = this.#ctx.limits;
    let size = 0;
    const now = Date.now();
    const clock = new BodyClock(now, bodyPolicy(limits));
    exchange.arm(clock.deadline(now), ON_DEADLINE_408);
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limits.maxBodyBytes) exchange.reset(CANCEL);
      else exchange.arm(clock.received(chunk.length, Date.now()), ON_DEADLINE_408);
    });
    stream.once('end', () => (exchange.deadline = 0));
  }

  #serveStatic(exchange: H2Stream, request: H2Request, site: StaticSite, target: string): void {
    planStaticResponse(site, { method: request.method, target, headers: staticFields(request.fields) }).then(
      (plan) => exchange.respondStatic(plan),
      (err: Error) => {
        this.#ctx.log(`static file error: ${err.message}`);
        exchange.respondText(500, 'internal error');
      },
    );
  }

  /** Buffers the request body whole (memory, then disk) under the body limit, then proxies. */
  #readBody(exchange: H2Stream, request: H2Request, site: SiteRoutes, upstreams: UpstreamGroup, appMaxBody: number | null): void {
    const stream = exchange.stream;
    const limits = this.#ctx.limits;
    // An app's own limit replaces the edge's, for this request only.
    const maxBody = appMaxBody ?? limits.maxBodyBytes;
    if (request.contentLength > maxBody) {
      exchange.refuse(413);
      return;
    }
    if (stream.endAfterHeaders) {
      void this.#proxy(exchange, request, site, upstreams, null);
      return;
    }
    if (request.expectContinue) stream.additionalHeaders({ ':status': 100 });
    const body = new SpillBuffer(limits.requestBufferBytes, this.#ctx.spillDir);
    exchange.body = body;
    const now = Date.now();
    const clock = new BodyClock(now, bodyPolicy(limits));
    exchange.arm(clock.deadline(now), ON_DEADLINE_408);
    stream.on('data', (chunk: Buffer) => {
      if (exchange.body !== body) return;
      if (body.size + chunk.length > maxBody) {
        exchange.refuse(413);
        return;
      }
      const due = clock.received(chunk.length, Date.now());
      if (!clock.stopped) exchange.arm(due, ON_DEADLINE_408);
      // The upload outruns the disk: stop reading (and granting flow-control
      // window) until it catches up; the wait is the edge's, not the client's.
      if (!body.append(chunk) && !clock.stopped) {
        stream.pause();
        clock.stop(Date.now());
        exchange.deadline = 0;
        body.flushed().then(
          () => {
            if (exchange.body !== body) return;
            exchange.arm(clock.resume(Date.now()), ON_DEADLINE_408);
            stream.resume();
          },
          () => exchange.refuse(500, 'cannot buffer the request body'),
        );
      }
    });
    stream.once('end', () => {
      if (exchange.body !== body) return;
      exchange.body = null;
      exchange.deadline = 0;
      void this.#proxy(exchange, request, site, upstreams, body);
    });
  }

  /** The head the app receives: re-framed as HTTP/1.1, with the edge's forwarding headers. */
  #upstreamHead(request: H2Request, requestId: string, body: SpillBuffer | null, omit?: ReadonlySet<string>): string {
    return upstreamRequestHead({
      omit,
      requestId,
      method: request.method,
      target: request.target,
      fields: request.fields,
      connectionTokens: null,
      host: request.authority,
      clientAddress: this.#clientAddress,
      proto: 'https',
      bodySize: body === null ? null : body.size,
    });
  }

  /** The one place a request goes to an app and its answer comes back: through the proxy pipeline (cache, compression). */
  async #proxy(exchange: H2Stream, request: H2Request, site: SiteRoutes, upstreams: UpstreamGroup, body: SpillBuffer | null): Promise<void> {
    let outcome: ForwardOutcome;
    try {
      if (body !== null) await body.flushed();
      // Cancelled while its body was written out: nothing to ask the app.
      if (!exchange.open) return;
      const trace = (exchange.trace = newTrace());
      const proxied = {
        trace,
        method: request.method,
        target: request.target,
        host: hostName(request.authority),
        proto: 'https' as const,
        fields: request.fields,
        head: (omit?: ReadonlySet<string>) => this.#upstreamHead(request, exchange.requestId, body, omit),
        body,
      };
      outcome = await proxyRequest(proxied, site, upstreams, this.#ctx.services, this.#ctx.limits, exchange);
    } catch (err) {
      this.#ctx.log(`proxy error: ${(err as Error).message}`);
      outcome = 'bad-gateway';
    } finally {
      if (body !== null) void body.dispose();
    }
    if (outcome === 'done' || outcome === 'aborted' || !exchange.open) return;
    if (exchange.responseStarted) {
      exchange.reset(INTERNAL_ERROR);
      return;
    }
    exchange.upstreamError = true;
    if (outcome === 'timeout') exchange.respondText(504, 'gateway timeout: the app did not answer in time');
    else if (outcome === 'unavailable') exchange.respondText(502, upstreams.members.length === 0 ? 'no instance of the app is ready' : 'bad gateway: no instance could take the request');
    else exchange.respondText(502, 'bad gateway: the app did not answer properly');
  }
}
