import { connect, type Socket } from 'node:net';
import { ChunkedDecoder, parseResponseHead, type Http1Limits, type ResponseHead } from '../http1/index.ts';
import type { Upstream, UpstreamGroup } from '../upstream-group.ts';
import { SpillBuffer } from './spill-buffer.ts';
import { acceptsUpgrade } from './upgrade-policy.ts';

/** Where a forwarded response goes: the client connection, which frames it for its client. */
export interface ResponseSink {
  /**
   * The upstream's head, once; the sink writes its own re-framed head.
   * `flow` pauses reading from the upstream while the sink's spool catches up with its disk.
   */
  start(head: ResponseHead, flow: UpstreamFlow): void;
  /**
   * Body bytes, de-framed (chunked decoding already undone). The buffer is
   * only valid during the call (it is the thread's shared read buffer):
   * whatever the sink keeps, it copies.
   */
  data(chunk: Buffer): void;
  /** The body is complete. */
  end(): void;
  /** The upstream broke mid-response: the client connection must be cut. */
  abort(): void;
  /**
   * The app switched protocols (101) as the request offered: the sink
   * writes its own 101 and joins the client to `upstream`. `rest` holds the
   * app's bytes that came after the 101 head (already the new protocol's).
   * Sinks without it never forward upgrade requests.
   */
  upgraded?(head: ResponseHead, upstream: UpstreamTunnel, rest: Buffer | null): void;
}

/** What uses an upstream connection at a time: a request's attempt, or a tunnel once the app switched protocols. */
export interface ConnectionUser {
  onConnect(): void;
  /** The buffer is only valid during the call (the thread's shared read buffer). */
  onData(chunk: Buffer): void;
  onEnd(): void;
  onClose(): void;
  onTimeout(): void;
}

/** The app's side of an upgraded connection. */
export interface UpstreamTunnel extends UpstreamFlow {
  readonly socket: Socket;
  /**
   * From now on the connection's events go to `user`. It never returns to
   * the pool, has no deadline, and counts as in flight on its upstream
   * (for balancing and drains) until it closes.
   */
  tunnel(user: ConnectionUser): void;
}

export interface UpstreamFlow {
  pause(): void;
  resume(): void;
}

export interface UpstreamTimeouts {
  readonly connectTimeoutMs: number;
  readonly firstByteTimeoutMs: number;
  readonly idleTimeoutMs: number;
}

/** Filled in by `forward()`: which instance was asked last, and how many were. */
export interface ForwardTrace {
  upstream: string | null;
  attempts: number;
}

/** A request ready to forward: its head already built for the upstream, its body fully buffered. */
export interface ForwardRequest {
  readonly method: string;
  /** The request head for the upstream, CRLFCRLF included. */
  readonly head: string;
  readonly body: SpillBuffer | null;
  /**
   * The protocols the head offers in Upgrade, for a request that asks to
   * switch: a 101 naming one of them goes to the sink's `upgraded`, any
   * other 101 is a bad answer (502). Such requests use fresh connections.
   */
  readonly upgrade?: string;
}

export type ForwardOutcome =
  | 'done'
  /** No instance could be reached at all: 502. */
  | 'unavailable'
  /** No answer in time: 504. */
  | 'timeout'
  /** The upstream answered with something that is not HTTP, or closed without answering: 502. */
  | 'bad-gateway'
  /** The response had started and broke; the client connection was cut. */
  | 'aborted'
  /** The app switched protocols: the sink holds the connection now. */
  | 'upgraded';

type AttemptResult = 'done' | 'connect-failed' | 'no-response' | 'timeout' | 'bad-response' | 'aborted' | 'upgraded';

// RFC 9110 §9.2.2: repeating these has the same effect as sending them once.
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** Idle keep-alive connections close after this: below the 5 s most app servers keep them. */
const POOL_IDLE_MS = 4_000;
const SWEEP_INTERVAL_MS = 250;

const EMPTY = Buffer.alloc(0);

const RESPONSE_LIMITS: Http1Limits = Object.freeze({
  maxHeaderBytes: 64 * 1024,
  maxHeaderCount: 200,
  maxRequestLineBytes: 8 * 1024,
  maxBodyBytes: Number.MAX_SAFE_INTEGER,
  maxChunkLineBytes: 4 * 1024,
  maxTrailerBytes: 64 * 1024,
});

// Upstream reads land in one buffer per thread (net's `onread`), skipping
// a buffer allocation and the stream machinery per read; everything that
// must outlive the read is copied out of it.
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

// Every upstream connection of this thread, for the deadline sweep: one
// timer for all of them instead of re-arming one per socket per request.
const live = new Set<UpstreamConnection>();
let sweep: NodeJS.Timeout | null = null;

function expireUpstreams(): void {
  const now = Date.now();
  for (const connection of live) if (connection.deadline !== 0 && connection.deadline <= now) connection.expire();
  if (live.size === 0 && sweep !== null) {
    clearInterval(sweep);
    sweep = null;
  }
}

/**
 * One TCP connection to an upstream, for its whole life: its listeners are
 * attached once and hand events to the attempt using it, so reusing a
 * kept-alive connection costs no listener churn. Bytes that arrive while it
 * idles in the pool answer nothing we asked, and close it.
 */
class UpstreamConnection implements UpstreamTunnel {
  readonly socket: Socket;
  readonly upstream: Upstream;
  attempt: ConnectionUser | null = null;
  connected = false;
  /** Time (ms) at which it is given up; 0 for none. */
  deadline = 0;

  constructor(upstream: Upstream) {
    this.upstream = upstream;
    const socket = connect({
      host: upstream.host,
      port: upstream.port,
      noDelay: true,
      onread: {
        buffer: READ_BUFFER,
        callback: (bytes: number, buffer: Uint8Array) => {
          const chunk = (buffer as Buffer).subarray(0, bytes);
          if (this.attempt !== null) this.attempt.onData(chunk);
          else socket.destroy();
          // false pauses reading: the sink asked us to wait for its disk.
          return !this.#paused;
        },
      },
    });
    this.socket = socket;
    live.add(this);
    sweep ??= setInterval(expireUpstreams, SWEEP_INTERVAL_MS);
    sweep.unref();
    socket.on('connect', () => {
      this.connected = true;
      this.attempt?.onConnect();
    });
    socket.on('end', () => {
      if (this.attempt !== null) this.attempt.onEnd();
      else socket.destroy();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      live.delete(this);
      this.upstream.forgetIdle(this);
      this.attempt?.onClose();
    });
  }

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  #paused = false;

  pause(): void {
    this.#paused = true;
    this.socket.pause();
  }

  resume(): void {
    this.#paused = false;
    this.socket.resume();
  }

  destroy(): void {
    this.socket.destroy();
  }

  tunnel(user: ConnectionUser): void {
    this.attempt = user;
    this.deadline = 0;
    const upstream = this.upstream;
    upstream.acquire();
    this.socket.once('close', () => upstream.release());
  }

  expire(): void {
    this.deadline = 0;
    if (this.attempt !== null) this.attempt.onTimeout();
    else this.socket.destroy();
  }

  /** Back to the pool, or closed when the pool will not have it. */
  release(reusable: boolean): void {
    this.attempt = null;
    if (reusable && !this.socket.destroyed && this.upstream.keepIdle(this)) {
      this.deadline = Date.now() + POOL_IDLE_MS;
      return;
    }
    this.deadline = 0;
    this.socket.destroy();
  }
}

/**
 * Forwards one request to the group's upstreams and relays the response.
 * Because the body was buffered whole before we got here, any attempt that
 * failed before the first response byte can be replayed: on another
 * instance after a refused connection (any method: nothing was sent), and
 * after a reset only for idempotent methods (a POST may have been acted on).
 */
export async function forward(request: ForwardRequest, group: UpstreamGroup, timeouts: UpstreamTimeouts, sink: ResponseSink, trace?: ForwardTrace): Promise<ForwardOutcome> {
  let tried: Set<Upstream> | null = null;
  let lastFailure: AttemptResult = 'connect-failed';
  for (;;) {
    const upstream = group.pick(tried);
    if (upstream === null) return lastFailure === 'timeout' ? 'timeout' : lastFailure === 'connect-failed' ? 'unavailable' : 'bad-gateway';
    (tried ??= new Set()).add(upstream);
    if (trace !== undefined) {
      trace.attempts++;
      trace.upstream = upstream.id;
    }
    upstream.acquire();
    let result: AttemptResult;
    try {
      const pooled = request.upgrade === undefined ? upstream.takeIdle<UpstreamConnection>() : null;
      result = await new Attempt(request, pooled ?? new UpstreamConnection(upstream), timeouts, sink).run();
      // A kept-alive connection the app closed just as we reused it fails
      // this way; one fresh connection to the same instance settles it.
      if (result === 'no-response' && pooled !== null && IDEMPOTENT.has(request.method)) {
        result = await new Attempt(request, new UpstreamConnection(upstream), timeouts, sink).run();
      }
    } finally {
      upstream.release();
    }
    if (result === 'done' || result === 'aborted' || result === 'upgraded') return result;
    if (result === 'connect-failed') group.reportFailure(upstream);
    lastFailure = result;
    const retry = result === 'connect-failed' || (result === 'no-response' && IDEMPOTENT.has(request.method));
    if (!retry) return result === 'timeout' ? 'timeout' : 'bad-gateway';
  }
}

/** One request on one upstream connection: send it, parse the answer, relay the body. */
class Attempt implements ConnectionUser {
  readonly #request: ForwardRequest;
  readonly #connection: UpstreamConnection;
  readonly #timeouts: UpstreamTimeouts;
  readonly #sink: ResponseSink;
  #resolve: (result: AttemptResult) => void = () => {};
  #settled = false;
  #started = false;
  #pending: Buffer | null = null;
  #head: ResponseHead | null = null;
  #remaining = 0;
  #decoder: ChunkedDecoder | null = null;

  constructor(request: ForwardRequest, connection: UpstreamConnection, timeouts: UpstreamTimeouts, sink: ResponseSink) {
    this.#request = request;
    this.#connection = connection;
    this.#timeouts = timeouts;
    this.#sink = sink;
  }

  run(): Promise<AttemptResult> {
    return new Promise((resolve) => {
      this.#resolve = resolve;
      const connection = this.#connection;
      connection.attempt = this;
      if (connection.socket.destroyed) {
        this.#fail();
        return;
      }
      if (connection.connected) {
        this.#send();
      } else {
        connection.deadline = Date.now() + this.#timeouts.connectTimeoutMs;
      }
    });
  }

  onConnect(): void {
    this.#send();
  }

  #finish(result: AttemptResult, reusable: boolean): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#connection.release(reusable);
    this.#resolve(result);
  }

  /** The connection failed or closed before the response was complete. */
  #fail(timedOut = false): void {
    if (this.#settled) return;
    if (this.#started) {
      this.#sink.abort();
      return this.#finish('aborted', false);
    }
    if (!this.#connection.connected) return this.#finish('connect-failed', false);
    if (timedOut) return this.#finish('timeout', false);
    if (this.#pending !== null) return this.#finish('bad-response', false);
    this.#finish('no-response', false);
  }

  onTimeout(): void {
    this.#fail(true);
    this.#connection.destroy();
  }

  onClose(): void {
    this.#fail();
  }

  onEnd(): void {
    const head = this.#head;
    if (head !== null && head.bodyKind === 'close') {
      this.#sink.end();
      return this.#finish('done', false);
    }
    this.#fail();
  }

  #send(): void {
    const socket = this.#connection.socket;
    this.#connection.deadline = Date.now() + this.#timeouts.firstByteTimeoutMs;
    const body = this.#request.body;
    if (body === null || body.size === 0) {
      socket.write(this.#request.head, 'latin1');
      return;
    }
    void this.#sendBody(socket, body);
  }

  async #sendBody(socket: Socket, body: SpillBuffer): Promise<void> {
    socket.cork();
    socket.write(this.#request.head, 'latin1');
    const cursor = SpillBuffer.start();
    for (;;) {
      let piece: Buffer | null;
      try {
        piece = await body.read(cursor);
      } catch {
        socket.uncork();
        this.#connection.destroy();
        return;
      }
      if (piece === null || this.#settled) break;
      if (!socket.write(piece)) {
        socket.uncork();
        await new Promise<void>((resume) => {
          const go = () => {
            socket.removeListener('drain', go);
            socket.removeListener('close', go);
            resume();
          };
          socket.once('drain', go);
          socket.once('close', go);
        });
        if (this.#settled || socket.destroyed) return;
        socket.cork();
      }
    }
    socket.uncork();
  }

  onData(chunk: Buffer): void {
    if (this.#head !== null) this.#body(chunk, 0);
    else this.#parseHead(chunk);
  }

  #parseHead(chunk: Buffer): void {
    const buf = this.#pending === null ? chunk : Buffer.concat([this.#pending, chunk]);
    let at = 0;
    for (;;) {
      const parsed = parseResponseHead(buf, at, RESPONSE_LIMITS, this.#request.method);
      if (parsed.kind === 'incomplete') {
        // Kept past this read: copied out of the shared read buffer.
        this.#pending = Buffer.from(at === 0 ? buf : buf.subarray(at));
        return;
      }
      if (parsed.kind === 'error') {
        this.#pending = EMPTY;
        return this.#finish('bad-response', false);
      }
      at += parsed.consumed;
      const head = parsed.head;
      if (head.status === 101) return this.#switched(head, buf, at);
      // Interim answers (103 Early Hints, a stray 100) are not passed on;
      // the final response follows on the same connection.
      if (head.status < 200) {
        if (at >= buf.length) {
          this.#pending = null;
          return;
        }
        continue;
      }
      this.#head = head;
      this.#pending = null;
      this.#started = true;
      this.#connection.deadline = Date.now() + this.#timeouts.idleTimeoutMs;
      if (head.bodyKind === 'length') this.#remaining = head.contentLength;
      else if (head.bodyKind === 'chunked') this.#decoder = new ChunkedDecoder(RESPONSE_LIMITS);
      this.#sink.start(head, this.#connection);
      if (head.bodyKind === 'length' && this.#remaining === 0) {
        this.#sink.end();
        return this.#finish('done', head.keepAlive && at === buf.length);
      }
      return this.#body(buf, at);
    }
  }

  /**
   * A 101: the tunnel opens only when the request offered an upgrade and
   * the app chose one of the protocols offered. Any other 101 (unasked for,
   * or to another protocol) is a bad answer: 502, and nothing of the app's
   * bytes reaches the client. (A 101 with framing fields never parses.)
   */
  #switched(head: ResponseHead, buf: Buffer, at: number): void {
    const offered = this.#request.upgrade;
    const sink = this.#sink;
    if (offered === undefined || sink.upgraded === undefined || !acceptsUpgrade(offered, head.upgrade)) {
      this.#pending = EMPTY;
      return this.#finish('bad-response', false);
    }
    this.#settled = true;
    this.#started = true;
    // Kept past this read: copied out of the shared read buffer.
    sink.upgraded(head, this.#connection, at < buf.length ? Buffer.from(buf.subarray(at)) : null);
    this.#resolve('upgraded');
  }

  #body(buf: Buffer, at: number): void {
    const head = this.#head!;
    const sink = this.#sink;
    this.#connection.deadline = Date.now() + this.#timeouts.idleTimeoutMs;
    switch (head.bodyKind) {
      case 'none':
        sink.end();
        // Bytes after a body-less response answer nothing: framing in doubt.
        return this.#finish('done', head.keepAlive && at === buf.length);
      case 'length': {
        const available = buf.length - at;
        if (available === 0) return;
        const take = Math.min(available, this.#remaining);
        sink.data(at === 0 && take === buf.length ? buf : buf.subarray(at, at + take));
        this.#remaining -= take;
        if (this.#remaining === 0) {
          sink.end();
          this.#finish('done', head.keepAlive && at + take === buf.length);
        }
        return;
      }
      case 'chunked': {
        const fed = this.#decoder!.feed(buf, at);
        for (const piece of fed.data) sink.data(piece);
        if (fed.error) {
          sink.abort();
          return this.#finish('aborted', false);
        }
        if (fed.done) {
          sink.end();
          this.#finish('done', head.keepAlive && at + fed.consumed === buf.length);
        }
        return;
      }
      case 'close':
        if (at < buf.length) sink.data(at === 0 ? buf : buf.subarray(at));
        return;
    }
  }
}
