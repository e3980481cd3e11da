import { connect, type Socket } from 'node:net';
import { ChunkedDecoder, parseResponseHead, type Http1Limits, type ResponseHead } from '../http1/index.ts';
import type { Upstream, UpstreamGroup } from '../upstream-group.ts';
import { SpillBuffer } from './spill-buffer.ts';

/** Where a forwarded response goes: the client connection, which frames it for its client. */
export interface ResponseSink {
  /**
   * The upstream's head, once; the sink writes its own re-framed head.
   * `flow` pauses reading from the upstream while the sink's spool catches up with its disk.
   */
  start(head: ResponseHead, flow: UpstreamFlow): void;
  /** Body bytes, de-framed (chunked decoding already undone). */
  data(chunk: Buffer): void;
  /** The body is complete. */
  end(): void;
  /** The upstream broke mid-response: the client connection must be cut. */
  abort(): void;
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

/** A request ready to forward: its head already built for the upstream, its body fully buffered. */
export interface ForwardRequest {
  readonly method: string;
  /** The request head for the upstream, CRLFCRLF included, without Content-Length. */
  readonly head: string;
  readonly body: SpillBuffer | null;
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
  | 'aborted';

type Attempt = 'done' | 'connect-failed' | 'no-response' | 'timeout' | 'bad-response' | 'aborted';

// RFC 9110 §9.2.2: repeating these has the same effect as sending them once.
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

const TIMEOUT = new Error('upstream timeout');
const CONNECT_TIMEOUT = new Error('upstream connect timeout');

const RESPONSE_LIMITS: Http1Limits = Object.freeze({
  maxHeaderBytes: 64 * 1024,
  maxHeaderCount: 200,
  maxRequestLineBytes: 8 * 1024,
  maxBodyBytes: Number.MAX_SAFE_INTEGER,
  maxChunkLineBytes: 4 * 1024,
  maxTrailerBytes: 64 * 1024,
});

/**
 * Forwards one request to the group's upstreams and relays the response.
 * Because the body was buffered whole before we got here, any attempt that
 * failed before the first response byte can be replayed: on another
 * instance after a refused connection (any method: nothing was sent), and
 * after a reset only for idempotent methods (a POST may have been acted on).
 */
export async function forward(request: ForwardRequest, group: UpstreamGroup, timeouts: UpstreamTimeouts, sink: ResponseSink): Promise<ForwardOutcome> {
  const tried = new Set<Upstream>();
  let lastFailure: Attempt = 'connect-failed';
  for (;;) {
    const upstream = group.pick(tried);
    if (upstream === null) return lastFailure === 'timeout' ? 'timeout' : lastFailure === 'connect-failed' ? 'unavailable' : 'bad-gateway';
    tried.add(upstream);
    upstream.acquire();
    let result: Attempt;
    try {
      const first = await attempt(request, upstream, timeouts, sink, false);
      result = first.result;
      // A kept-alive connection the app closed just as we reused it fails
      // this way; one fresh connection to the same instance settles it.
      if (result === 'no-response' && first.reused && IDEMPOTENT.has(request.method)) {
        result = (await attempt(request, upstream, timeouts, sink, true)).result;
      }
    } finally {
      upstream.release();
    }
    if (result === 'done') return 'done';
    if (result === 'aborted') return 'aborted';
    if (result === 'connect-failed') group.reportFailure(upstream);
    lastFailure = result;
    const retry = result === 'connect-failed' || (result === 'no-response' && IDEMPOTENT.has(request.method));
    if (!retry) return result === 'timeout' ? 'timeout' : 'bad-gateway';
  }
}

function attempt(
  request: ForwardRequest,
  upstream: Upstream,
  timeouts: UpstreamTimeouts,
  sink: ResponseSink,
  forceFresh: boolean,
): Promise<{ result: Attempt; reused: boolean }> {
  return new Promise((resolveAttempt) => {
    let socket = forceFresh ? null : upstream.takeIdle();
    const reused = socket !== null;
    const resolve = (result: Attempt) => resolveAttempt({ result, reused });
    let connected = reused;
    let started = false;
    let settled = false;
    let pending: Buffer | null = null;
    let head: ResponseHead | null = null;
    let remaining = 0;
    let decoder: ChunkedDecoder | null = null;

    const finish = (result: Attempt, reusable: boolean) => {
      if (settled) return;
      settled = true;
      const s = socket!;
      s.removeListener('data', onData);
      s.removeListener('end', onEnd);
      s.removeListener('error', onError);
      s.removeListener('close', onClose);
      if (reusable && !s.destroyed) upstream.keepIdle(s);
      else s.destroy();
      resolve(result);
    };

    const failBeforeResponse = (err: Error | null) => {
      if (started) {
        sink.abort();
        return finish('aborted', false);
      }
      if (!connected) return finish('connect-failed', false);
      if (err === TIMEOUT) return finish('timeout', false);
      if (head !== null || pending !== null) return finish('bad-response', false);
      finish('no-response', false);
    };

    const onError = (err: Error) => failBeforeResponse(err);
    const onClose = () => failBeforeResponse(null);
    const onEnd = () => {
      if (head !== null && head.bodyKind === 'close') {
        sink.end();
        return finish('done', false);
      }
      failBeforeResponse(null);
    };

    const body = (buf: Buffer, at: number) => {
      const h = head!;
      if (h.bodyKind === 'none') {
        sink.end();
        return finish('done', h.keepAlive && at === buf.length);
      }
      if (h.bodyKind === 'length') {
        const available = buf.length - at;
        if (available === 0) return;
        const take = Math.min(available, remaining);
        sink.data(take === buf.length && at === 0 ? buf : buf.subarray(at, at + take));
        remaining -= take;
        if (remaining === 0) {
          sink.end();
          // Bytes past the declared length answer nothing we asked: framing in doubt.
          finish('done', h.keepAlive && at + take === buf.length);
        }
        return;
      }
      if (h.bodyKind === 'chunked') {
        const fed = decoder!.feed(buf, at);
        for (const piece of fed.data) sink.data(piece);
        if (fed.error) {
          sink.abort();
          return finish('aborted', false);
        }
        if (fed.done) {
          sink.end();
          finish('done', h.keepAlive && at + fed.consumed === buf.length);
        }
        return;
      }
      // Close-delimited: everything until the upstream closes.
      if (at < buf.length) sink.data(at === 0 ? buf : buf.subarray(at));
    };

    const onData = (chunk: Buffer) => {
      if (head !== null) return body(chunk, 0);
      let buf = pending === null ? chunk : Buffer.concat([pending, chunk]);
      let at = 0;
      for (;;) {
        const parsed = parseResponseHead(buf, at, RESPONSE_LIMITS, request.method);
        if (parsed.kind === 'incomplete') {
          pending = at === 0 ? buf : buf.subarray(at);
          return;
        }
        if (parsed.kind === 'error') {
          pending = buf;
          return finish('bad-response', false);
        }
        at += parsed.consumed;
        const h = parsed.head;
        // Interim answers (103 Early Hints, a stray 100) are not passed on;
        // the final response follows on the same connection.
        if (h.status >= 100 && h.status < 200 && h.status !== 101) {
          if (at >= buf.length) {
            pending = null;
            return;
          }
          continue;
        }
        head = h;
        pending = null;
        started = true;
        socket!.setTimeout(timeouts.idleTimeoutMs);
        if (h.bodyKind === 'length') remaining = h.contentLength;
        if (h.bodyKind === 'chunked') decoder = new ChunkedDecoder(RESPONSE_LIMITS);
        const s = socket!;
        sink.start(h, { pause: () => s.pause(), resume: () => s.resume() });
        if (h.status === 101) {
          // Upgrades are handled by the tunnel, never here.
          sink.abort();
          return finish('aborted', false);
        }
        if (h.bodyKind === 'length' && remaining === 0) {
          sink.end();
          return finish('done', h.keepAlive && at === buf.length);
        }
        return body(buf, at);
      }
    };

    const send = async () => {
      const s = socket!;
      s.setTimeout(timeouts.firstByteTimeoutMs);
      const bodyBuffer = request.body;
      if (bodyBuffer === null || bodyBuffer.size === 0) {
        s.write(request.head, 'latin1');
        return;
      }
      s.cork();
      s.write(request.head, 'latin1');
      const cursor = SpillBuffer.start();
      for (;;) {
        let piece: Buffer | null;
        try {
          piece = await bodyBuffer.read(cursor);
        } catch {
          s.uncork();
          return failBeforeResponse(null);
        }
        if (piece === null || settled) break;
        if (!s.write(piece)) {
          s.uncork();
          await new Promise<void>((resume) => {
            const go = () => {
              s.removeListener('drain', go);
              s.removeListener('close', go);
              resume();
            };
            s.once('drain', go);
            s.once('close', go);
          });
          if (settled || s.destroyed) return;
          s.cork();
        }
      }
      s.uncork();
    };

    const attach = (s: Socket) => {
      s.on('data', onData);
      s.once('end', onEnd);
      s.once('error', onError);
      s.once('close', onClose);
    };

    if (socket !== null) {
      attach(socket);
      void send();
      return;
    }
    const fresh = connect({ host: upstream.host, port: upstream.port, noDelay: true });
    socket = fresh;
    // One timeout handler for the socket's whole life; what a timeout means
    // depends on the state, and every state ends by destroying it.
    fresh.on('timeout', () => fresh.destroy(connected ? TIMEOUT : CONNECT_TIMEOUT));
    // Errors while the socket idles in the pool have no attempt to report to.
    fresh.on('error', () => {});
    fresh.setTimeout(timeouts.connectTimeoutMs);
    attach(fresh);
    fresh.once('connect', () => {
      connected = true;
      void send();
    });
  });
}
