import { request as httpRequest, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { clientAddress, clientResponseHeaders, upstreamRequestHeaders } from './forwarded-headers.ts';
import type { Upstream, UpstreamGroup } from './upstream-group.ts';

export interface ProxyLimits {
  /** Time to open a TCP connection to an upstream before trying another. */
  readonly connectTimeoutMs: number;
  /** Time from the request being sent to the first byte of the response (→ 504). */
  readonly firstByteTimeoutMs: number;
  /** Longest silence while a response streams before it is cut. */
  readonly idleTimeoutMs: number;
  /** Request bodies up to this size are read whole before forwarding, so they can be retried. */
  readonly bufferBodyBytes: number;
  /** Largest request body accepted (→ 413). */
  readonly maxBodyBytes: number;
}

export const DEFAULT_PROXY_LIMITS: ProxyLimits = {
  connectTimeoutMs: 5_000,
  firstByteTimeoutMs: 60_000,
  idleTimeoutMs: 60_000,
  bufferBodyBytes: 64 * 1024,
  maxBodyBytes: 1024 * 1024 * 1024,
};

// RFC 9110 §9.2.2: repeating these has the same effect as sending them once,
// so a request that failed before any response byte may go to another instance.
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

type Failure = 'connect' | 'reset-before-response' | 'timeout' | 'response-broken';

export interface ProxyContext {
  readonly proto: 'http' | 'https';
  readonly requestId: string | null;
}

function sendError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${message}\n`;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Reads a small request body whole; null when the client went away. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null | 'too-large'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        resolve('too-large');
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.once('error', () => resolve(null));
    req.once('close', () => {
      if (!req.complete) resolve(null);
    });
  });
}

/**
 * Forwards one request to the app's instances. Bodies up to
 * `bufferBodyBytes` are read first so that a failed attempt can be replayed
 * on another instance; larger ones stream with backpressure and are sent
 * only once a connection is established, so a refused connection can still
 * be retried. Nothing is retried once the response has started.
 */
export async function proxyRequest(
  req: IncomingMessage,
  res: ServerResponse,
  group: UpstreamGroup,
  limits: ProxyLimits,
  context: ProxyContext,
): Promise<void> {
  const method = req.method ?? 'GET';
  const declared = req.headers['content-length'] === undefined ? -1 : Number(req.headers['content-length']);
  const chunked = req.headers['transfer-encoding'] !== undefined;
  if (declared > limits.maxBodyBytes) return sendError(res, 413, 'request body too large');
  const hasBody = declared > 0 || chunked;

  let body: Buffer | null = null;
  if (hasBody && declared !== -1 && declared <= limits.bufferBodyBytes) {
    const read = await readBody(req, limits.bufferBodyBytes);
    if (read === null) return;
    if (read === 'too-large') return sendError(res, 413, 'request body too large');
    body = read;
  }
  const headers = upstreamRequestHeaders(req.rawHeaders, {
    clientAddress: clientAddress(req.socket.remoteAddress),
    proto: context.proto,
    host: req.headers.host ?? '',
    requestId: context.requestId,
  });
  if (body !== null) headers.push('Content-Length', String(body.length));
  else if (hasBody && declared !== -1) headers.push('Content-Length', String(declared));

  const tried = new Set<number>();
  const replayable = !hasBody || body !== null;
  for (;;) {
    const choice = group.pick(tried);
    if (choice === null) {
      return sendError(res, 502, tried.size === 0 ? 'no instance of the app is ready' : 'bad gateway: no instance could take the request');
    }
    tried.add(choice.index);
    const outcome = await attempt(req, res, choice.upstream, method, headers, hasBody ? body : null, hasBody && body === null, limits);
    if (outcome === 'done') return;
    if (outcome === 'connect') group.reportFailure(choice.upstream);
    const canRetry =
      !res.headersSent &&
      !res.destroyed &&
      (outcome === 'connect' || (outcome === 'reset-before-response' && replayable && IDEMPOTENT.has(method)));
    if (!canRetry) {
      if (outcome === 'timeout') return sendError(res, 504, 'gateway timeout: the app did not answer in time');
      return sendError(res, 502, 'bad gateway: the app closed the connection');
    }
  }
}

function attempt(
  req: IncomingMessage,
  res: ServerResponse,
  upstream: Upstream,
  method: string,
  headers: string[],
  body: Buffer | null,
  stream: boolean,
  limits: ProxyLimits,
): Promise<'done' | Failure> {
  return new Promise((resolve) => {
    upstream.acquire();
    let settled = false;
    let responded = false;
    const finish = (result: 'done' | Failure) => {
      if (settled) return;
      settled = true;
      upstream.release();
      resolve(result);
    };
    const up: ClientRequest = httpRequest({
      host: upstream.host,
      port: upstream.port,
      method,
      path: req.url,
      headers,
      agent: upstream.agent,
      setHost: false,
    });
    let connected = false;
    const onConnected = (socket: Socket) => {
      connected = true;
      socket.setTimeout(0);
      up.setTimeout(limits.firstByteTimeoutMs, () => up.destroy(new Error('first-byte timeout')));
      if (stream) req.pipe(up);
    };
    up.once('socket', (socket: Socket) => {
      if (socket.connecting) {
        socket.setTimeout(limits.connectTimeoutMs, () => socket.destroy(new Error('connect timeout')));
        socket.once('connect', () => onConnected(socket));
      } else {
        onConnected(socket);
      }
    });
    up.once('response', (upRes: IncomingMessage) => {
      responded = true;
      up.setTimeout(limits.idleTimeoutMs, () => up.destroy(new Error('idle timeout')));
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, clientResponseHeaders(upRes.rawHeaders));
      upRes.pipe(res);
      upRes.once('end', () => finish('done'));
      // Cut the client connection when the upstream breaks mid-response: a
      // truncated body must never look like a complete one.
      upRes.once('aborted', () => {
        res.destroy();
        finish('response-broken');
      });
      upRes.once('error', () => {
        res.destroy();
        finish('response-broken');
      });
    });
    up.once('error', (err: NodeJS.ErrnoException) => {
      if (responded) {
        res.destroy();
        return finish('response-broken');
      }
      if (!connected) return finish('connect');
      if (err.message === 'first-byte timeout' || err.message === 'idle timeout') return finish('timeout');
      finish('reset-before-response');
    });
    // The client left: stop the upstream work too.
    res.once('close', () => {
      if (!res.writableFinished) up.destroy();
      finish('done');
    });
    if (!stream) up.end(body ?? undefined);
  });
}
