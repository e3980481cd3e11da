import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { CONTROL_MAX_CONNECTIONS, listenOn } from '../listen.ts';
import { BerthError, isBerthError } from '../errors.ts';
import { escapeControls } from '../terminal-text.ts';
import { parseAuthorization } from './authorization.ts';
import { readUpgradeBody, sendOnSocket } from './upgrade-request.ts';
import { ApiRouter } from './router.ts';

/** A streamed answer silent this long gets an empty keep-alive line. */
export const STREAM_KEEPALIVE_MS = 20_000;

/** One API call as a handler sees it. */
export interface ApiRequest {
  readonly method: string;
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** Who is calling: the token's name (for the audit log). */
  readonly actor: string;
  /** The request body parsed as JSON (size-limited; malformed → 400). */
  json(): Promise<unknown>;
  /** The raw body, for uploads; the handler enforces its own limit. */
  readonly raw: IncomingMessage;
  /** The protocol the client asked to switch to (`Upgrade:`, one the server takes: UPGRADE_PROTOCOLS), or null. */
  readonly upgrade: string | null;
}

/** The protocols a client may switch to on an API route (a one-off run's stream); any other Upgrade is a plain request. */
export const UPGRADE_PROTOCOLS: ReadonlySet<string> = new Set(['berth-run']);

/**
 * What a handler answers: JSON, a stream of text lines (build logs, followed
 * logs), or a raw answer whose head and body the handler writes itself (git's
 * smart HTTP); `closed` aborts when the client goes away.
 *
 * A stream's head (200) goes out at once, unless `deferHead`: then it goes
 * out with the first line, so an error thrown before any line (a deploy's
 * upload refused while it is unpacked) is answered with its own status like
 * any other error. A deferred stream still keeps the connection alive: once
 * the request body has arrived whole and nothing was written for the
 * keep-alive interval, the 200 head and an empty line go out. An error
 * thrown after the head is the stream's last line, `{"error": {code,
 * message, hint}}`.
 */
export type ApiResponse =
  | { readonly status?: number; readonly body: unknown }
  | { readonly stream: (write: (line: string) => boolean, closed: AbortSignal) => Promise<void>; readonly deferHead?: boolean }
  | { readonly raw: (res: ServerResponse, closed: AbortSignal) => Promise<void> }
  /**
   * Only for a request whose `upgrade` is set: the server answers 101 with
   * that protocol and hands the connection over; the handler owns it from
   * then on (the request body, if any, was read by `json()`).
   */
  | { readonly upgrade: (socket: Duplex) => Promise<void> };

export type ApiHandler = (request: ApiRequest) => Promise<ApiResponse>;

export interface ApiServerOptions {
  /** The actor behind a bearer token, or null when the token is unknown or revoked. */
  readonly authenticate: (token: string) => string | null;
  readonly log: (line: string) => void;
  readonly maxJsonBytes?: number;
  /** A streamed answer silent this long gets an empty keep-alive line (default STREAM_KEEPALIVE_MS). */
  readonly streamKeepAliveMs?: number;
}

const DEFAULT_MAX_JSON_BYTES = 1024 * 1024;
/** The protocol a request asks to switch to, if it is one the API takes. */
function upgradeProtocol(req: IncomingMessage): string | null {
  const asked = req.headers.upgrade?.trim().toLowerCase() ?? '';
  return UPGRADE_PROTOCOLS.has(asked) ? asked : null;
}

// Every answer's text passes through escapeControls: JSON keeps exactly its
// value (C1 controls and bidi overrides, which JSON.stringify leaves raw,
// become \u escapes), and the plain-text lines of a stream (an app's log, a
// build's output) show control characters as escapes, so neither `curl` nor
// the CLI hands an app's escape sequences to an operator's terminal.

function send(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = `${escapeControls(JSON.stringify(body))}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...extra });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, code: string, message: string, hint?: string, extra: Record<string, string> = {}): void {
  send(res, status, hint === undefined ? { code, message } : { code, message, hint }, extra);
}

function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) return reject(new BerthError('BERTH_E_TOO_LARGE', `request body is larger than ${limit} bytes`, { status: 413 }));
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.destroy();
        reject(new BerthError('BERTH_E_TOO_LARGE', `request body is larger than ${limit} bytes`, { status: 413 }));
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return resolve({});
      try {
        resolve(JSON.parse(text));
      } catch (err) {
        reject(new BerthError('BERTH_E_BAD_JSON', `request body is not valid JSON: ${(err as Error).message}`, { status: 400 }));
      }
    });
    req.once('error', reject);
  });
}

/**
 * The control API: HTTP+JSON, bearer tokens on every route, real status
 * codes with `{code, message, hint}` bodies. Handlers throw BerthErrors; the
 * server turns them into answers and logs everything else once, here.
 */
export class ApiServer {
  readonly router = new ApiRouter<ApiHandler>();
  readonly #options: ApiServerOptions;
  readonly #server: Server;
  readonly #basicAuthPrefixes: string[] = [];
  /** Connections handed to a handler after a 101: the HTTP server no longer closes them. */
  readonly #upgraded = new Set<Duplex>();

  constructor(options: ApiServerOptions) {
    this.#options = options;
    this.#server = createServer(
      // Only the API's own protocols upgrade; any other Upgrade (h2c, websocket) is answered as plain HTTP.
      { requestTimeout: 0, headersTimeout: 10_000, shouldUpgradeCallback: (req) => upgradeProtocol(req) !== null },
      (req, res) => void this.#handle(req, res),
    );
    this.#server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.#handleUpgrade(req, socket, head));
    this.#server.maxConnections = CONTROL_MAX_CONNECTIONS.api;
  }

  /**
   * Under `prefix` (e.g. "/git/"), HTTP basic auth is accepted too, with the
   * token as the password and any user name, and a missing or wrong token is
   * answered with a Basic challenge, so git asks for credentials (or its
   * credential helper answers).
   */
  /**
   * An unexpected error (not a BerthError) as the client is told of it:
   * logged here, once, with its stack, `where` it happened (the call, the
   * app) and a short reference, which the answer carries so the operator
   * can find the line.
   */
  internalError(err: unknown, where: string): { code: 'BERTH_E_INTERNAL'; message: string; reference: string } {
    const reference = randomBytes(4).toString('hex');
    this.#options.log(`${where} failed [ref ${reference}]: ${(err as Error)?.stack ?? String(err)}`);
    return { code: 'BERTH_E_INTERNAL', message: `internal error (ref ${reference}); the daemon log has the details`, reference };
  }

  allowBasicAuth(prefix: string): this {
    this.#basicAuthPrefixes.push(prefix);
    return this;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://api');
    const method = req.method ?? 'GET';
    const basic = this.#basicAuthPrefixes.some((prefix) => url.pathname.startsWith(prefix));
    const presented = parseAuthorization(req.headers.authorization);
    const token = presented.kind === 'bearer' ? presented.token : basic && presented.kind === 'basic' ? presented.password : '';
    const actor = token === '' ? null : this.#options.authenticate(token);
    if (actor === null) {
      req.resume();
      if (basic) {
        return sendError(res, 401, 'BERTH_E_UNAUTHORIZED', token === '' ? 'an API token is required as the password' : 'the API token is not valid', 'git asks for a user name (any) and a password: give an API token (berth tokens create NAME).', {
          'www-authenticate': 'Basic realm="berth"',
        });
      }
      return sendError(res, 401, 'BERTH_E_UNAUTHORIZED', token === '' ? 'an API token is required' : 'the API token is not valid', 'Log in with `berth login --server URL --token TOKEN` (or set BERTH_TOKEN).', {
        'www-authenticate': 'Bearer realm="berth"',
      });
    }
    const match = this.router.match(method, url.pathname);
    if (match === null) {
      req.resume();
      return sendError(res, 404, 'BERTH_E_NOT_FOUND', `no API route ${method} ${url.pathname}`);
    }
    if ('allowed' in match) {
      req.resume();
      return sendError(res, 405, 'BERTH_E_METHOD', `${method} is not allowed on ${url.pathname}`, undefined, { allow: match.allowed.join(', ') });
    }
    const request: ApiRequest = {
      method,
      path: url.pathname,
      params: match.params,
      query: url.searchParams,
      actor,
      json: () => readJson(req, this.#options.maxJsonBytes ?? DEFAULT_MAX_JSON_BYTES),
      raw: req,
      upgrade: null,
    };
    let raw = false;
    try {
      const response = await match.handler(request);
      if ('upgrade' in response) throw new Error(`the handler of ${method} ${url.pathname} switched protocols on a request that asked for none`);
      if ('raw' in response) {
        raw = true;
        const closed = new AbortController();
        res.once('close', () => closed.abort());
        await response.raw(res, closed.signal);
        return;
      }
      if ('stream' in response) {
        const start = () => {
          if (res.headersSent) return;
          res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
          res.flushHeaders();
        };
        // Unless deferred, the head goes out now, not with the first line: a
        // followed log with nothing to say yet must not look like a server
        // that never answered.
        if (response.deferHead !== true) start();
        const closed = new AbortController();
        res.once('close', () => closed.abort());
        // An empty line after a quiet spell keeps clients' and proxies' idle
        // timeouts from cutting a long build or a quiet `logs -f`; clients
        // skip it. A deferred head waits while the body is still arriving:
        // the client is busy sending, and its wait for an answer starts when
        // it is done.
        const quiet = this.#options.streamKeepAliveMs ?? STREAM_KEEPALIVE_MS;
        let wrote = Date.now();
        const keepAlive = setInterval(() => {
          // (req.complete: the whole body has been received, read or not.)
          if (!res.headersSent && !req.complete) wrote = Date.now();
          else if (Date.now() - wrote >= quiet) {
            wrote = Date.now();
            start();
            res.write('\n');
          }
        }, quiet / 2);
        try {
          await response.stream((line) => {
            wrote = Date.now();
            start();
            return res.write(`${escapeControls(line)}\n`);
          }, closed.signal);
        } finally {
          clearInterval(keepAlive);
        }
        start();
        res.end();
        return;
      }
      send(res, response.status ?? 200, response.body);
    } catch (err) {
      if (!req.complete) req.resume();
      if (res.headersSent && raw) {
        // A raw answer has no place for an error once its head is out: cut it, so it never looks complete.
        this.#options.log(`API ${method} ${url.pathname} failed: ${(err as Error).stack ?? String(err)}`);
        res.destroy();
        return;
      }
      const where = `API ${method} ${url.pathname}`;
      if (res.headersSent) {
        // A streamed answer already started: its last line says what happened.
        const error = isBerthError(err) ? { code: err.code, message: err.message, ...(err.hint === undefined ? {} : { hint: err.hint }) } : (({ code, message }) => ({ code, message }))(this.internalError(err, where));
        res.end(`${escapeControls(JSON.stringify({ error }))}
`);
        return;
      }
      if (isBerthError(err)) return sendError(res, err.status, err.code, err.message, err.hint);
      const internal = this.internalError(err, where);
      sendError(res, 500, internal.code, internal.message);
    }
  }

  /**
   * A request that asked to switch to one of the API's protocols: the same
   * bearer token and routes as any request, answered on the bare connection
   * (node gives no ServerResponse here). Only a handler that answers with
   * `upgrade` gets a 101 and the connection; any other answer is written as
   * usual and the connection closes.
   */
  async #handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => {});
    if (head.length > 0) socket.unshift(head);
    const url = new URL(req.url ?? '/', 'http://api');
    const method = req.method ?? 'GET';
    const where = `API ${method} ${url.pathname}`;
    const presented = parseAuthorization(req.headers.authorization);
    const actor = presented.kind === 'bearer' ? this.#options.authenticate(presented.token) : null;
    if (actor === null) {
      return sendOnSocket(socket, 401, { code: 'BERTH_E_UNAUTHORIZED', message: presented.kind === 'bearer' ? 'the API token is not valid' : 'an API token is required', hint: 'Log in with `berth login --server URL --token TOKEN` (or set BERTH_TOKEN).' }, { 'www-authenticate': 'Bearer realm="berth"' });
    }
    const match = this.router.match(method, url.pathname);
    if (match === null) return sendOnSocket(socket, 404, { code: 'BERTH_E_NOT_FOUND', message: `no API route ${method} ${url.pathname}` });
    if ('allowed' in match) return sendOnSocket(socket, 405, { code: 'BERTH_E_METHOD', message: `${method} is not allowed on ${url.pathname}` }, { allow: match.allowed.join(', ') });
    const request: ApiRequest = {
      method,
      path: url.pathname,
      params: match.params,
      query: url.searchParams,
      actor,
      json: () => readUpgradeBody(req, socket, this.#options.maxJsonBytes ?? DEFAULT_MAX_JSON_BYTES),
      raw: req,
      upgrade: upgradeProtocol(req),
    };
    let switched = false;
    try {
      const response = await match.handler(request);
      if ('upgrade' in response) {
        if (socket.destroyed) return;
        this.#upgraded.add(socket);
        socket.once('close', () => this.#upgraded.delete(socket));
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: ${request.upgrade}\r\n\r\n`);
        switched = true;
        // The socket may be paused (its body was read): the handler resumes it once it listens.
        await response.upgrade(socket);
        return;
      }
      if ('body' in response) return sendOnSocket(socket, response.status ?? 200, response.body);
      throw new Error(`the handler of ${method} ${url.pathname} answered an upgrading request with a stream`);
    } catch (err) {
      if (switched) {
        // The new protocol has no place for an HTTP error: cut it, so it never looks complete.
        this.#options.log(`${where} failed: ${(err as Error).stack ?? String(err)}`);
        socket.destroy();
        return;
      }
      if (isBerthError(err)) return sendOnSocket(socket, err.status, err.hint === undefined ? { code: err.code, message: err.message } : { code: err.code, message: err.message, hint: err.hint });
      const internal = this.internalError(err, where);
      sendOnSocket(socket, 500, { code: internal.code, message: internal.message });
    }
  }

  listen(host: string | undefined, port: number): Promise<AddressInfo> {
    return listenOn(this.#server, host, port);
  }

  /**
   * Stops accepting; requests in flight get `graceMs` to end, then every
   * connection is cut (a `logs -f` follower or a streamed deploy would
   * otherwise hold the daemon's stop, and the apps' with it, for ever).
   */
  close(graceMs = 10_000): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#server.closeAllConnections();
        // An attached run's stream: cut like any other connection (the run then ends as abandoned).
        for (const socket of this.#upgraded) socket.destroy();
      }, graceMs);
      timer.unref();
      this.#server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      this.#server.closeIdleConnections();
    });
  }
}
