import type { Socket } from 'node:net';
import { ChunkedDecoder, isHopByHop, parseRequestHead, type RequestHead, type ResponseHead } from '../http1/index.ts';
import { hostName, route, type RouteTable, type SiteRoutes } from '../router.ts';
import { planStaticResponse, type StaticResponse, type StaticSite } from '../static/index.ts';
import type { UpstreamGroup } from '../upstream-group.ts';
import { cannedHeadResponse, cannedResponse, CONTINUE, httpDate } from './canned.ts';
import { forward, type ResponseSink, type UpstreamFlow, type UpstreamTunnel } from './exchange.ts';
import { admitRequest, enterRequest, fieldValue, leaveRequest, newTrace, proxyRequest, type EdgeServices, type ProxyTrace } from './proxy-pipeline.ts';
import type { EdgeLimits } from './limits.ts';
import { SpillBuffer, type SpillDir } from './spill-buffer.ts';
import { writeFileBody } from './static-writer.ts';
import { readyKey, readyResponse, rememberResponse, serializeHead, wireResponse } from './static-responses.ts';
import type { Observer } from './observations.ts';
import type { TlsState } from './tls-state.ts';
import { BodyClock, transferDeadline } from './transfer-rate.ts';
import { switchingHead, Tunnel, withUpgrade } from './tunnel.ts';
import { upgradeToOffer } from './upgrade-policy.ts';
import { requestIdFor, upstreamRequestHead } from './upstream-head.ts';

/** What every connection of one engine shares. */
export interface EngineContext {
  /** The route table in force when a request's head is complete. */
  routes(): RouteTable;
  readonly limits: EdgeLimits;
  /** The private folder for spill files (made on first need). */
  readonly spillDir: SpillDir;
  readonly log: (line: string) => void;
  /** Certificates (for redirect decisions) and the ACME answers served on plain HTTP. */
  readonly tls: TlsState;
  /** The response cache and the per-client limits. */
  readonly services: EdgeServices;
  /** Where finished exchanges are counted (and kept for the access log); null when nobody asks. */
  readonly observer: Observer | null;
  /** The engine's HTTPS port, when it has a secure listener: plain HTTP redirects there. */
  readonly httpsPort: number | null;
  /** Called when a connection ends, to forget it. */
  forget(connection: EdgeConnection): void;
  readonly closing: boolean;
  /**
   * Retiring (a successor edge took over the port): idle keep-alive
   * connections close once they have stayed idle this long (ms); 0 when not
   * retiring. Each connection's next answer carries `Connection: close`.
   */
  readonly idleCloseMs: number;
}

/** A client connection as its engine sees it, whatever the protocol. */
export interface EdgeConnection {
  /** Monotonic time (ms) at which `expire()` is due; 0 when none. */
  readonly deadline: number;
  expire(): void;
  /** Graceful shutdown: idle connections close now, busy ones after their responses. */
  shutdown(): void;
  /**
   * Retirement: no connection is closed under a client that may be sending
   * on it (the keep-alive race); the next answer says `Connection: close`,
   * and one that stays idle for `ctx.idleCloseMs` is closed.
   */
  retire(): void;
  /** A retiring edge's grace is over: a WebSocket gets its close frame at a frame boundary (false: nothing to say, cut it). */
  goingAway(): boolean;
  destroy(): void;
}

// Phases of a client connection. A request goes HEAD → (BODY) → RESPOND and
// back to HEAD on keep-alive; TUNNEL and CLOSED are final.
const HEAD = 0;
const BODY = 1;
const RESPOND = 2;
const TUNNEL = 3;
const CLOSED = 4;

// What happens when a connection's deadline passes.
const ON_DEADLINE_CLOSE = 0;
const ON_DEADLINE_408 = 1;
/** A response is being written: judge how the client takes it (#judgeSend). */
const ON_DEADLINE_SEND = 2;

const CHUNKED_END = Buffer.from('0\r\n\r\n', 'latin1');
/**
 * After the edge's last bytes have left (its FIN sent), how long the client
 * has to close its side before the socket is cut: what arrives meanwhile is
 * read and dropped (a lingering close, so a late pipelined request does not
 * turn the close into a reset that could destroy the answer), and a client
 * that never closes does not keep a descriptor.
 */
const LINGER_MS = 2_000;
/** Body pieces up to this size are copied behind the response head to leave in one write. */
const MERGE_BODY_BYTES = 16 * 1024;
const CRLF = Buffer.from('\r\n', 'latin1');

/**
 * One client connection: the strict HTTP/1.1 engine's per-socket state
 * machine. It parses requests, answers them one at a time in order
 * (pipelined requests wait in the buffer), buffers request bodies whole
 * before an app sees them, and spools responses for clients slower than the
 * app, so a slow client never holds an app worker.
 */
export class ClientConnection implements ResponseSink, EdgeConnection {
  readonly socket: Socket;
  readonly #ctx: EngineContext;
  readonly #clientAddress: string;
  readonly #proto: 'http' | 'https';
  /** Fields the edge adds to this response (Strict-Transport-Security), as head lines. */
  #extraFields = '';
  #phase = HEAD;
  #buf: Buffer | null = null;
  #pumping = false;
  /** Monotonic time (ms) at which the deadline action fires; 0 when none. */
  deadline = 0;
  #onDeadline = ON_DEADLINE_CLOSE;
  // The request being answered.
  #head: RequestHead | null = null;
  #keepAlive = false;
  /** The client half-closed (FIN): it sends nothing more, but still gets the answers to what it sent. */
  #clientEnded = false;
  #generation = 0;
  // Request body being read.
  #body: SpillBuffer | null = null;
  #bodyRemaining = 0;
  #decoder: ChunkedDecoder | null = null;
  #bodyTarget: UpstreamGroup | null = null;
  /** How fast the body arrives (transfer-rate.ts). */
  #bodyClock: BodyClock | null = null;
  // How the client takes the response being written: since when it has
  // been behind, the bytes the kernel had taken then, and its progress.
  #sendFrom = 0;
  #sendBase = 0;
  #sendSeen = 0;
  #sendSeenAt = 0;
  // Proxied response being written.
  #chunkedOut = false;
  #spool: SpillBuffer | null = null;
  #waitingForDrain = false;
  #upstreamDone = false;
  #responseStarted = false;
  #upstreamFlow: UpstreamFlow | null = null;
  #heldHead: string | null = null;
  /** After a 101: the client joined to the app. */
  #tunnel: Tunnel | null = null;
  /** The site of the request being answered, and whether it counts against the site's per-client in-flight limit. */
  #site: SiteRoutes | null = null;
  #entered = false;
  // What the exchange will be recorded as.
  #startedAt = 0;
  #requestIdValue: string | null = null;
  #siteKey = '';
  #status = 0;
  #bytesAtStart = 0;
  #trace: ProxyTrace | null = null;
  #limited = false;
  #upstreamError = false;

  constructor(socket: Socket, ctx: EngineContext, now: number, proto: 'http' | 'https') {
    this.socket = socket;
    this.#ctx = ctx;
    this.#proto = proto;
    const address = socket.remoteAddress ?? '';
    this.#clientAddress = address.startsWith('::ffff:') ? address.slice(7) : address;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.#closed());
    socket.on('end', () => this.#onClientEnd());
    this.#setDeadline(now + ctx.limits.headerTimeoutMs, ON_DEADLINE_CLOSE);
  }

  /** True while nothing is in flight: safe to close when shutting down. */
  get idle(): boolean {
    return this.#phase === HEAD && this.#buf === null;
  }

  #setDeadline(at: number, action: number): void {
    this.deadline = at;
    this.#onDeadline = action;
  }

  /** Called by the engine's sweep when `deadline` has passed. */
  expire(): void {
    if (this.#onDeadline === ON_DEADLINE_SEND && this.#phase === RESPOND && this.#judgeSend(Date.now())) return;
    if (this.#onDeadline === ON_DEADLINE_408 && !this.#responseStarted && this.#phase !== CLOSED) {
      this.#endWith(cannedResponse(408, true));
      return;
    }
    this.destroy();
  }

  /**
   * Sends `last` (if any) and a FIN, then lingers: the client has the send
   * timeout to take what is still queued and LINGER_MS more to close.
   */
  #endWith(last?: Buffer | string): void {
    this.#phase = CLOSED;
    if (last === undefined) this.socket.end();
    else this.socket.end(last);
    this.#setDeadline(Date.now() + this.#ctx.limits.sendTimeoutMs, ON_DEADLINE_CLOSE);
    this.socket.once('finish', () => {
      if (!this.socket.destroyed) this.#setDeadline(Date.now() + LINGER_MS, ON_DEADLINE_CLOSE);
    });
  }

  /**
   * The client half-closed (shutdown(SHUT_WR), `printf … | nc`). Every
   * complete request it sent is still answered, pipelined ones in order,
   * and the connection closes after the last answer (#finish). A request
   * cut short by the FIN (part of a head or of a body) is never forwarded
   * nor answered: the connection closes at once.
   */
  #onClientEnd(): void {
    this.#clientEnded = true;
    switch (this.#phase) {
      case HEAD:
        // Nothing being answered: whatever is buffered is an unfinished head.
        this.destroy();
        return;
      case BODY:
        this.destroy();
        return;
      case RESPOND:
        if (this.#buf === null) this.#keepAlive = false;
        return;
      case TUNNEL:
        this.#tunnel!.clientEnded();
        return;
      default:
        return;
    }
  }

  destroy(): void {
    if (this.#phase !== CLOSED) this.#phase = CLOSED;
    this.deadline = 0;
    this.socket.destroy();
  }

  #closed(): void {
    this.#tunnel?.clientClosed();
    this.#leaveSite();
    // A request cut before its answer was complete: 499, as nginx logs a client that went away.
    if (this.#head !== null && this.#phase !== TUNNEL) this.#record(this.#responseStarted && this.#status !== 0 ? this.#status : 499);
    this.#phase = CLOSED;
    this.deadline = 0;
    this.#generation++;
    void this.#body?.dispose();
    void this.#spool?.dispose();
    this.#body = null;
    this.#spool = null;
    this.#ctx.forget(this);
  }

  #onData(chunk: Buffer): void {
    switch (this.#phase) {
      case HEAD:
        this.#buf = this.#buf === null ? chunk : Buffer.concat([this.#buf, chunk]);
        if (this.#onDeadline !== ON_DEADLINE_408) this.#setDeadline(Date.now() + this.#ctx.limits.headerTimeoutMs, ON_DEADLINE_408);
        this.#pump();
        return;
      case BODY: {
        const clock = this.#bodyClock!;
        const due = clock.received(chunk.length, Date.now());
        if (!clock.stopped) this.#setDeadline(due, ON_DEADLINE_408);
        this.#feedBody(chunk);
        return;
      }
      case RESPOND:
        // A pipelined request (or, after an upgrade request, the new
        // protocol's first bytes): kept for later, read with a bound.
        this.#buf = this.#buf === null ? chunk : Buffer.concat([this.#buf, chunk]);
        if (this.#buf.length > this.#ctx.limits.maxHeaderBytes) this.socket.pause();
        return;
      case TUNNEL:
        this.#tunnel!.fromClient(chunk);
        return;
      default:
        return;
    }
  }

  /** Parses and starts as many buffered requests as can be answered right away. */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#phase === HEAD && this.#buf !== null) {
        const parsed = parseRequestHead(this.#buf, 0, this.#ctx.limits);
        if (parsed.kind === 'incomplete') return;
        if (parsed.kind === 'error') {
          this.#refuse(parsed.status, parsed.reason);
          return;
        }
        this.#buf = parsed.consumed === this.#buf.length ? null : this.#buf.subarray(parsed.consumed);
        this.#begin(parsed.head);
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** Answers a request we will not serve, and closes: its framing cannot be trusted. */
  #refuse(status: number, reason?: string): void {
    this.#endWith(cannedResponse(status, true, reason));
  }

  #begin(head: RequestHead): void {
    this.#head = head;
    this.#phase = RESPOND;
    this.deadline = 0;
    this.#responseStarted = false;
    this.#keepAlive = head.keepAlive && !this.#ctx.closing;
    this.#extraFields = '';
    // Only what someone will read: a file server nobody observes makes no id per request.
    this.#startedAt = this.#ctx.observer === null ? 0 : Date.now();
    this.#requestIdValue = null;
    this.#siteKey = '';
    this.#status = 0;
    if (this.#ctx.observer !== null) this.#bytesAtStart = this.socket.bytesWritten;
    this.#trace = null;
    this.#limited = false;
    this.#upstreamError = false;
    if (this.#proto === 'http' && this.#plainHttpDuty(head)) return;
    const decision = route(this.#ctx.routes(), head.host ?? undefined, head.target);
    if (decision.kind !== 'not-found') this.#siteKey = decision.owner.key ?? '';
    if (this.#proto === 'https' && decision.kind !== 'not-found') {
      const hsts = decision.owner.hsts;
      if (hsts) this.#extraFields = `strict-transport-security: ${hsts}\r\n`;
    }
    if (decision.kind !== 'not-found' && decision.owner.rateLimit) {
      const wait = admitRequest(this.#ctx.services, decision.owner, this.#clientAddress, Date.now());
      if (wait !== null) {
        this.#tooMany(wait, 'too many requests: slow down');
        return;
      }
    }
    switch (decision.kind) {
      case 'not-found':
        this.#respondCanned(404, 'no app is served at this address');
        return;
      case 'static':
        this.#serveStatic(head, decision.site, decision.target);
        return;
      case 'proxy':
        if (!enterRequest(this.#ctx.services, decision.owner, this.#clientAddress)) {
          this.#tooMany(1, 'too many requests at once from this address');
          return;
        }
        this.#site = decision.owner;
        this.#entered = true;
        if (head.bodyKind === 'none') {
          // Only a request complete at its head may switch protocols; with a
          // body, or offering only HTTP itself (h2c), it is plain HTTP/1.1.
          const upgrade = head.upgrade === null ? null : upgradeToOffer(head.upgrade);
          // An upgrade the app refuses closes after its answer: the client
          // may already be speaking the protocol it asked for.
          if (upgrade !== null) this.#keepAlive = false;
          void this.#forward(head, decision.upstreams, null, upgrade);
          return;
        }
        this.#readBody(head, decision.upstreams, decision.maxBodyBytes);
        return;
    }
  }

  /**
   * What plain HTTP answers before routing: ACME challenges (never
   * redirected, so a CA can validate while HTTPS is not up yet), then a 308
   * to HTTPS for hosts with a trusted certificate. True when answered.
   */
  #plainHttpDuty(head: RequestHead): boolean {
    const ctx = this.#ctx;
    const answer = ctx.tls.challenge(head.target);
    if (answer !== undefined) {
      if (answer === null) {
        this.#respondCanned(404, 'no such challenge');
        return true;
      }
      if (head.bodyKind !== 'none') this.#keepAlive = false;
      this.#responseStarted = true;
      this.#status = 200;
      this.#writeReady(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(answer)}\r\n`, head.method === 'HEAD' ? null : Buffer.from(answer));
      return true;
    }
    if (ctx.httpsPort === null || head.host === null) return false;
    const host = hostName(head.host);
    if (!ctx.tls.redirects(host)) return false;
    const routes = ctx.routes().hosts.get(host);
    if (routes === undefined || routes.httpsRedirect === false) return false;
    const authority = ctx.httpsPort === 443 ? host : `${host.includes(':') ? `[${host}]` : host}:${ctx.httpsPort}`;
    const location = `https://${authority}${head.target.startsWith('/') ? head.target : '/'}`;
    if (head.bodyKind !== 'none') this.#keepAlive = false;
    this.#status = 308;
    this.#writeReady(`HTTP/1.1 308 Permanent Redirect\r\nlocation: ${location}\r\ncontent-length: 0\r\n`, null);
    return true;
  }

  /** 429 with Retry-After; a request with an unread body closes the connection after it. */
  #tooMany(retryAfterSeconds: number, message: string): void {
    const head = this.#head!;
    this.#status = 429;
    this.#limited = true;
    if (head.bodyKind !== 'none') this.#keepAlive = false;
    const body = `${message}\n`;
    this.#writeReady(
      `HTTP/1.1 429 Too Many Requests\r\ncontent-type: text/plain; charset=utf-8\r\nretry-after: ${retryAfterSeconds}\r\ncontent-length: ${body.length}\r\n`,
      head.method === 'HEAD' ? null : Buffer.from(body, 'latin1'),
    );
  }

  #leaveSite(): void {
    if (this.#entered && this.#site !== null) leaveRequest(this.#ctx.services, this.#site, this.#clientAddress);
    this.#entered = false;
    this.#site = null;
  }

  /** A canned answer; a request with an unread body closes the connection after it. */
  #respondCanned(status: number, message?: string): void {
    const head = this.#head!;
    this.#status = status;
    if (head.bodyKind !== 'none') this.#keepAlive = false;
    const close = !this.#keepAlive;
    this.socket.write(head.method === 'HEAD' ? cannedHeadResponse(status, close, message) : cannedResponse(status, close, message));
    this.#finish();
  }

  #serveStatic(head: RequestHead, site: StaticSite, target: string): void {
    // A body on a static request is never read; closing keeps framing simple.
    if (head.bodyKind !== 'none') this.#keepAlive = false;
    const headers = staticHeaders(head.headers);
    // Plain requests (no Range, no preconditions) are answered from a
    // ready-made response when the site has one: no planning at all.
    const key = (headers === null || headers.plain) && this.#extraFields === '' ? readyKey(head.method, target, headers?.fields['accept-encoding']) : null;
    const now = Date.now();
    if (key !== null) {
      const ready = readyResponse(site, key, now);
      if (ready !== null) {
        this.#status = 200;
        const wire = this.#keepAlive && head.version === 11 ? wireResponse(ready, httpDate(now)) : null;
        if (wire !== null) {
          this.#responseStarted = true;
          this.socket.write(wire);
          this.#finish();
          return;
        }
        this.#writeReady(ready.head, ready.body);
        return;
      }
    }
    const generation = this.#generation;
    planStaticResponse(site, { method: head.method, target, headers: headers?.fields ?? NO_HEADERS }).then(
      (plan) => {
        if (key !== null) rememberResponse(site, key, plan, now);
        if (generation === this.#generation) this.#writeStatic(plan);
      },
      (err: Error) => {
        this.#ctx.log(`static file error: ${err.message}`);
        if (generation === this.#generation) this.#respondCanned(500, 'internal error');
      },
    );
  }

  #writeStatic(plan: StaticResponse): void {
    const body = plan.body;
    this.#status = plan.status;
    if (body.kind === 'file') {
      this.#responseStarted = true;
      this.#watchSend(Date.now());
      const text = `${serializeHead(plan)}${this.#extraFields}date: ${httpDate()}\r\n${this.#connectionHeader()}\r\n`;
      const generation = this.#generation;
      writeFileBody(this.socket, text, body.file, body.start, body.end).then(
        () => {
          if (generation === this.#generation) this.#finish();
        },
        () => this.destroy(),
      );
      return;
    }
    this.#writeReady(serializeHead(plan), body.kind === 'buffer' ? body.data : null);
  }

  /** A head and an in-memory body; small bodies leave in the same write as the head. */
  #writeReady(headWithoutDate: string, body: Buffer | null): void {
    this.#responseStarted = true;
    const text = `${headWithoutDate}${this.#extraFields}date: ${httpDate()}\r\n${this.#connectionHeader()}\r\n`;
    if (body === null || body.length === 0) {
      this.socket.write(text, 'latin1');
    } else if (body.length <= MERGE_BODY_BYTES) {
      const merged = Buffer.allocUnsafe(text.length + body.length);
      merged.write(text, 0, 'latin1');
      body.copy(merged, text.length);
      this.socket.write(merged);
    } else {
      this.socket.cork();
      this.socket.write(text, 'latin1');
      this.socket.write(body);
      this.socket.uncork();
    }
    this.#finish();
  }

  #connectionHeader(): string {
    const head = this.#head!;
    if (!this.#keepAlive) return 'connection: close\r\n';
    return head.version === 10 ? 'connection: keep-alive\r\n' : '';
  }

  // ---- request bodies -------------------------------------------------

  #readBody(head: RequestHead, upstreams: UpstreamGroup, appMaxBody: number | null): void {
    let limits = this.#ctx.limits;
    // An app's own limit replaces the edge's, for this request only.
    if (appMaxBody !== null && appMaxBody !== limits.maxBodyBytes) limits = { ...limits, maxBodyBytes: appMaxBody };
    if (head.contentLength > limits.maxBodyBytes) {
      this.#refuse(413);
      return;
    }
    if (head.expectContinue) this.socket.write(CONTINUE);
    this.#body = new SpillBuffer(limits.requestBufferBytes, this.#ctx.spillDir);
    this.#bodyTarget = upstreams;
    this.#phase = BODY;
    const now = Date.now();
    const clock = (this.#bodyClock = new BodyClock(now, { idleMs: this.#ctx.limits.bodyIdleTimeoutMs, minBytesPerSecond: this.#ctx.limits.minBodyRateBytes }));
    this.#setDeadline(clock.received(this.#buf === null ? 0 : this.#buf.length, now), ON_DEADLINE_408);
    if (head.bodyKind === 'length') this.#bodyRemaining = head.contentLength;
    else this.#decoder = new ChunkedDecoder(limits);
    const pending = this.#buf;
    this.#buf = null;
    if (pending !== null) this.#feedBody(pending);
  }

  #feedBody(chunk: Buffer): void {
    const body = this.#body!;
    let rest: Buffer | null = null;
    if (this.#decoder === null) {
      const take = Math.min(chunk.length, this.#bodyRemaining);
      if (!body.append(take === chunk.length ? chunk : chunk.subarray(0, take))) this.#waitForDisk(body);
      this.#bodyRemaining -= take;
      if (take < chunk.length) rest = chunk.subarray(take);
      if (this.#bodyRemaining > 0) return;
    } else {
      const fed = this.#decoder.feed(chunk, 0);
      let keepUp = true;
      for (const piece of fed.data) keepUp = body.append(piece) && keepUp;
      if (!keepUp) this.#waitForDisk(body);
      if (fed.error) {
        this.#refuse(fed.error.status, fed.error.reason);
        return;
      }
      if (!fed.done) return;
      if (fed.consumed < chunk.length) rest = chunk.subarray(fed.consumed);
      this.#decoder = null;
    }
    this.#buf = rest;
    this.#phase = RESPOND;
    this.deadline = 0;
    if (rest !== null && rest.length > this.#ctx.limits.maxHeaderBytes) this.socket.pause();
    const upstreams = this.#bodyTarget!;
    this.#bodyTarget = null;
    void this.#forward(this.#head!, upstreams, body, null);
  }

  /**
   * The upload outruns the disk: stop reading the client until the spill
   * file catches up. The client's clock stops meanwhile: the wait is ours.
   */
  #waitForDisk(body: SpillBuffer): void {
    this.socket.pause();
    const clock = this.#bodyClock!;
    clock.stop(Date.now());
    if (this.#phase === BODY) this.deadline = 0;
    body.flushed().then(
      () => {
        if (this.#phase !== BODY || this.#bodyClock !== clock || !clock.stopped) return;
        this.#setDeadline(clock.resume(Date.now()), ON_DEADLINE_408);
        this.socket.resume();
      },
      () => this.#refuse(500, 'cannot buffer the request body'),
    );
  }

  // ---- proxying -------------------------------------------------------

  /** The request head as the app receives it: re-framed, with the edge's forwarding headers. */
  #upstreamHead(head: RequestHead, body: SpillBuffer | null, omit?: ReadonlySet<string>): string {
    return upstreamRequestHead({
      method: head.method,
      target: head.target,
      fields: head.headers,
      connectionTokens: head.connectionTokens,
      host: head.host,
      clientAddress: this.#clientAddress,
      proto: this.#proto,
      bodySize: body === null ? null : body.size,
      requestId: this.#requestId,
      omit,
    });
  }

  /** Proxies the request; `upgrade` (the protocols offered) sends it straight to the app, past the cache, for a 101 to join the two. */
  async #forward(head: RequestHead, upstreams: UpstreamGroup, body: SpillBuffer | null, upgrade: string | null): Promise<void> {
    const generation = this.#generation;
    this.#upstreamDone = false;
    this.#chunkedOut = false;
    let outcome;
    try {
      if (body !== null) await body.flushed();
      const trace = (this.#trace = newTrace());
      const request = {
        method: head.method,
        target: head.target,
        host: hostName(head.host ?? ''),
        proto: this.#proto,
        fields: head.headers,
        trace,
        head: (omit?: ReadonlySet<string>) => this.#upstreamHead(head, body, omit),
        body,
      };
      outcome =
        upgrade === null
          ? await proxyRequest(request, this.#site!, upstreams, this.#ctx.services, this.#ctx.limits, this)
          : await forward({ method: head.method, head: withUpgrade(request.head(), upgrade), body: null, upgrade }, upstreams, this.#ctx.limits, this, trace);
    } catch (err) {
      this.#ctx.log(`proxy error: ${(err as Error).message}`);
      outcome = 'bad-gateway' as const;
    } finally {
      if (body !== null) {
        void body.dispose();
        if (this.#body === body) this.#body = null;
      }
    }
    if (generation !== this.#generation || outcome === 'done' || outcome === 'aborted' || outcome === 'upgraded') return;
    if (this.#responseStarted) {
      this.destroy();
      return;
    }
    this.#upstreamError = true;
    if (outcome === 'timeout') this.#respondCanned(504, 'gateway timeout: the app did not answer in time');
    else if (outcome === 'unavailable') this.#respondCanned(502, upstreams.members.length === 0 ? 'no instance of the app is ready' : 'bad gateway: no instance could take the request');
    else this.#respondCanned(502, 'bad gateway: the app did not answer properly');
  }

  // ResponseSink: the upstream's response, re-framed for this client.

  start(upstream: ResponseHead, flow: UpstreamFlow): void {
    const head = this.#head!;
    this.#responseStarted = true;
    this.#watchSend(Date.now());
    this.#status = upstream.status;
    this.#upstreamFlow = flow;
    let framing = '';
    switch (upstream.bodyKind) {
      case 'none':
        // HEAD and 304 keep the length the full response would have had.
        if (upstream.contentLength >= 0 && upstream.status !== 204 && (upstream.status === 304 || head.method === 'HEAD')) {
          framing = `content-length: ${upstream.contentLength}\r\n`;
        } else if (upstream.status !== 204 && upstream.status !== 304 && upstream.status >= 200) {
          framing = 'content-length: 0\r\n';
        }
        break;
      case 'length':
        framing = `content-length: ${upstream.contentLength}\r\n`;
        break;
      default:
        // Chunked or close-delimited upstream bodies: chunked to an HTTP/1.1
        // client, delimited by closing to an HTTP/1.0 one.
        if (head.version === 11) {
          this.#chunkedOut = true;
          framing = 'transfer-encoding: chunked\r\n';
        } else {
          this.#keepAlive = false;
        }
    }
    const fields = upstream.headers;
    const named = upstream.connectionTokens.length > 0 ? upstream.connectionTokens : null;
    let text = `HTTP/1.1 ${upstream.status} ${upstream.reason}\r\n`;
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i]!;
      if (name === 'content-length' || isHopByHop(name) || (named !== null && named.includes(name))) continue;
      text += `${name}: ${fields[i + 1]}\r\n`;
    }
    text += `${framing}${this.#extraFields}${this.#connectionHeader()}\r\n`;
    // Held back so that the head and the first piece of body leave in one
    // write: one system call, and the client gets them in one packet.
    this.#heldHead = text;
  }

  #flushHead(): void {
    const head = this.#heldHead;
    if (head !== null) {
      this.#heldHead = null;
      this.#write(head);
    }
  }

  data(chunk: Buffer): void {
    if (chunk.length === 0) return;
    // `chunk` lives in the upstream read buffer: every path below copies it.
    if (this.#chunkedOut) {
      this.socket.cork();
      this.#flushHead();
      this.#write(`${chunk.length.toString(16)}\r\n`);
      this.#write(Buffer.from(chunk));
      this.#write(CRLF);
      this.socket.uncork();
      return;
    }
    const head = this.#heldHead;
    if (head !== null && chunk.length <= MERGE_BODY_BYTES) {
      this.#heldHead = null;
      const merged = Buffer.allocUnsafe(head.length + chunk.length);
      merged.write(head, 0, 'latin1');
      chunk.copy(merged, head.length);
      this.#write(merged);
      return;
    }
    this.#flushHead();
    this.#write(Buffer.from(chunk));
  }

  end(): void {
    this.#flushHead();
    if (this.#chunkedOut) this.#write(CHUNKED_END);
    this.#upstreamDone = true;
    if (!this.#waitingForDrain) this.#finish();
  }

  abort(): void {
    this.destroy();
  }

  upgraded(head: ResponseHead, upstream: UpstreamTunnel, rest: Buffer | null): void {
    if (this.#phase !== RESPOND) {
      // The client went away while the app was answering.
      upstream.socket.destroy();
      return;
    }
    this.#phase = TUNNEL;
    this.deadline = 0;
    this.#responseStarted = true;
    this.#status = 101;
    const early = this.#buf;
    this.#buf = null;
    if (this.socket.isPaused()) this.socket.resume();
    this.#tunnel = new Tunnel(this.socket, upstream, switchingHead(head, this.#extraFields), rest, early, head.upgrade);
    if (this.#clientEnded) this.#tunnel.clientEnded();
  }


  /**
   * Writes response bytes in order. While the client is slower than the
   * app, bytes go to the spool (memory, then disk), so the upstream is read
   * as fast as it writes and its connection is released early.
   */
  #write(chunk: Buffer | string): void {
    if (this.#phase === CLOSED) return;
    if (!this.#waitingForDrain) {
      if (typeof chunk === 'string' ? this.socket.write(chunk, 'latin1') : this.socket.write(chunk)) return;
      this.#waitingForDrain = true;
      this.socket.once('drain', () => void this.#drainSpool());
      return;
    }
    const spool = (this.#spool ??= new SpillBuffer(this.#ctx.limits.responseBufferBytes, this.#ctx.spillDir));
    if (!spool.append(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk) && this.#upstreamFlow !== null) {
      const flow = this.#upstreamFlow;
      flow.pause();
      spool.flushed().then(() => flow.resume(), () => this.destroy());
    }
    if (spool.pending > this.#ctx.limits.maxResponseSpoolBytes) this.destroy();
  }

  async #drainSpool(): Promise<void> {
    const generation = this.#generation;
    const spool = this.#spool;
    for (;;) {
      if (generation !== this.#generation || this.#phase === CLOSED) return;
      const piece = spool === null ? null : await spool.take().catch(() => null);
      if (generation !== this.#generation) return;
      if (piece === null) break;
      if (!this.socket.write(piece)) {
        this.socket.once('drain', () => void this.#drainSpool());
        return;
      }
    }
    this.#waitingForDrain = false;
    if (this.#upstreamDone) this.#finish();
  }

  /** Starts judging how the client takes the response being written; the engine's sweep checks it (#judgeSend). */
  #watchSend(now: number): void {
    this.#sendFrom = now;
    this.#sendBase = this.#taken();
    this.#sendSeen = 0;
    this.#sendSeenAt = now;
    this.#setDeadline(now + this.#ctx.limits.sendTimeoutMs, ON_DEADLINE_SEND);
  }

  /** Response bytes the kernel has taken from us (and so the client from it, its receive window permitting). */
  #taken(): number {
    return this.socket.bytesWritten - this.socket.writableLength;
  }

  /**
   * At a check: false when the client takes the response too slowly — no
   * progress for the send timeout, or less than the minimum rate since it
   * fell behind (a reader taking a byte now and then never goes idle). A
   * client with nothing pending keeps up: its window starts again.
   * Progress is seen at checks, so the idle bound holds within a factor 2.
   */
  #judgeSend(now: number): boolean {
    if (this.socket.writableLength === 0 && !this.#waitingForDrain) {
      this.#watchSend(now);
      return true;
    }
    const progress = this.#taken() - this.#sendBase;
    if (progress > this.#sendSeen) {
      this.#sendSeen = progress;
      this.#sendSeenAt = now;
    }
    const limits = this.#ctx.limits;
    const due = transferDeadline({ startedAt: this.#sendFrom, bytes: progress, lastProgressAt: this.#sendSeenAt }, { idleMs: limits.sendTimeoutMs, minBytesPerSecond: limits.minSendRateBytes });
    if (due <= now) return false;
    this.#setDeadline(due, ON_DEADLINE_SEND);
    return true;
  }

  // ---- end of a response ----------------------------------------------

  /** The response is fully written: close, or get ready for the next request. */
  #finish(): void {
    if (this.#phase === CLOSED || this.#phase === TUNNEL) return;
    this.#leaveSite();
    this.#record(this.#status);
    this.#generation++;
    this.#head = null;
    this.#responseStarted = false;
    this.#upstreamDone = false;
    this.#chunkedOut = false;
    this.#upstreamFlow = null;
    this.#heldHead = null;
    if (this.#spool !== null) {
      void this.#spool.dispose();
      this.#spool = null;
    }
    if (!this.#keepAlive || (this.#clientEnded && this.#buf === null)) {
      this.#endWith();
      return;
    }
    this.#phase = HEAD;
    if (this.socket.isPaused()) this.socket.resume();
    if (this.#buf === null) {
      this.#setDeadline(Date.now() + (this.#ctx.idleCloseMs > 0 ? this.#ctx.idleCloseMs : this.#ctx.limits.keepAliveTimeoutMs), ON_DEADLINE_CLOSE);
      return;
    }
    this.#setDeadline(Date.now() + this.#ctx.limits.headerTimeoutMs, ON_DEADLINE_408);
    this.#pump();
    // A half-closed client's last request was cut short: it will never be whole.
    if (this.#clientEnded && (this.#phase === HEAD || this.#phase === BODY)) this.destroy();
  }

  /** The request's X-Request-Id: made when first needed (forwarding, or recording). */
  get #requestId(): string {
    return (this.#requestIdValue ??= requestIdFor(this.#head?.headers ?? [], this.#clientAddress));
  }

  /** Counts the exchange just answered (and keeps it for the access log). */
  #record(status: number): void {
    const head = this.#head;
    const observer = this.#ctx.observer;
    if (head === null || this.#startedAt === 0 || observer === null) return;
    const trace = this.#trace;
    const fields = head.headers;
    observer.record(
      {
        site: this.#siteKey,
        time: this.#startedAt,
        method: head.method,
        target: head.target,
        host: head.host ?? '',
        status,
        bytes: this.socket.bytesWritten - this.#bytesAtStart,
        durationMs: Date.now() - this.#startedAt,
        upstream: trace?.upstream ?? null,
        requestId: this.#requestId,
        client: this.#clientAddress,
        protocol: head.version === 10 ? 'HTTP/1.0' : 'HTTP/1.1',
        cache: trace?.cache ?? null,
        referer: fieldValue(fields, 'referer') ?? null,
        userAgent: fieldValue(fields, 'user-agent') ?? null,
      },
      { attempts: trace?.attempts ?? 0, upstreamError: this.#upstreamError, limited: this.#limited },
    );
    this.#startedAt = 0;
  }

  /** Graceful shutdown: idle connections close now, busy ones after their response. */
  shutdown(): void {
    this.#keepAlive = false;
    if (this.idle) this.destroy();
  }

  goingAway(): boolean {
    return this.#phase === TUNNEL && this.#tunnel !== null && this.#tunnel.goingAway();
  }

  retire(): void {
    // A busy one keeps the keep-alive its answer's head may already have promised; it comes back here idle.
    if (this.idle) this.#setDeadline(Date.now() + this.#ctx.idleCloseMs, ON_DEADLINE_CLOSE);
  }
}

interface StaticHeaders {
  readonly fields: Record<string, string | undefined>;
  plain: boolean;
}

const NO_HEADERS: Record<string, string | undefined> = Object.freeze({});

/**
 * The request headers the static planner reads, by lower-case name; null
 * when there are none. `plain` says there is no Range and no precondition,
 * so the answer depends on method, target and Accept-Encoding alone.
 */
function staticHeaders(headers: readonly string[]): StaticHeaders | null {
  let out: StaticHeaders | null = null;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    const isEncoding = name === 'accept-encoding';
    if (isEncoding || name === 'range' || name.startsWith('if-')) {
      out ??= { fields: {}, plain: true };
      const fields = out.fields;
      // Repeated fields combine as a list (RFC 9110 §5.3).
      fields[name] = fields[name] === undefined ? headers[i + 1]! : `${fields[name]}, ${headers[i + 1]}`;
      if (!isEncoding) out.plain = false;
    }
  }
  return out;
}
