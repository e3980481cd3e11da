import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { BerthError } from '../errors.ts';
import { proxyRequest, DEFAULT_PROXY_LIMITS, type ProxyLimits } from './proxy.ts';
import { route, type RouteTable } from './router.ts';
import { planStaticResponse, writeStaticResponse } from './static/index.ts';
import { proxyUpgrade } from './tunnel.ts';

export interface EdgeLimits extends ProxyLimits {
  readonly maxHeaderBytes: number;
  /** Time allowed to send the request head (slowloris guard). */
  readonly headerTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
}

export const DEFAULT_EDGE_LIMITS: EdgeLimits = {
  ...DEFAULT_PROXY_LIMITS,
  maxHeaderBytes: 16 * 1024,
  headerTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
};

export interface EdgeOptions {
  readonly routes: RouteTable;
  readonly limits?: Partial<EdgeLimits>;
  readonly proto?: 'http' | 'https';
  /** Reports faults the edge handled (never request contents). */
  readonly log?: (line: string) => void;
}

function plain(res: ServerResponse, status: number, message: string): void {
  const body = `${message}\n`;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * The web server and reverse proxy in front of every app: it routes each
 * request by host and path to a static mount or to the app's upstreams.
 * Lifecycle: `listen()`, `setRoutes()` any number of times, `close()`
 * (graceful, idempotent).
 */
export class Edge {
  #routes: RouteTable;
  readonly #limits: EdgeLimits;
  readonly #proto: 'http' | 'https';
  readonly #log: (line: string) => void;
  readonly #server: Server;
  #inFlight = 0;
  #idleWaiters: Array<() => void> = [];
  #closing: Promise<void> | null = null;

  constructor(options: EdgeOptions) {
    this.#routes = options.routes;
    this.#limits = { ...DEFAULT_EDGE_LIMITS, ...options.limits };
    this.#proto = options.proto ?? 'http';
    this.#log = options.log ?? (() => {});
    this.#server = createServer(
      {
        maxHeaderSize: this.#limits.maxHeaderBytes,
        headersTimeout: this.#limits.headerTimeoutMs,
        keepAliveTimeout: this.#limits.keepAliveTimeoutMs,
        // Uploads may legitimately take long; idle bodies are cut by the proxy.
        requestTimeout: 0,
        requireHostHeader: true,
        noDelay: true,
      },
      (req, res) => this.#handle(req, res),
    );
    this.#server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head));
    this.#server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (!socket.writable) return socket.destroy();
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      socket.end(`HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    });
  }

  /** Replaces the routing table; requests already routed finish on the old one. */
  setRoutes(routes: RouteTable): void {
    this.#routes = routes;
  }

  get routes(): RouteTable {
    return this.#routes;
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        reject(
          new BerthError('BERTH_E_LISTEN', `cannot listen on ${host}:${port}: ${err.code ?? err.message}`, {
            hint: err.code === 'EADDRINUSE' ? 'Another program uses that port; pick another with --listen.' : undefined,
          }),
        );
      };
      this.#server.once('error', onError);
      this.#server.listen({ host, port }, () => {
        this.#server.off('error', onError);
        resolve(this.#server.address() as AddressInfo);
      });
    });
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    if (this.#closing) res.setHeader('connection', 'close');
    this.#inFlight++;
    res.once('close', () => {
      this.#inFlight--;
      if (this.#inFlight === 0 && this.#idleWaiters.length > 0) {
        for (const wake of this.#idleWaiters.splice(0)) wake();
      }
    });
    const target = req.url ?? '/';
    const decision = route(this.#routes, req.headers.host, target);
    switch (decision.kind) {
      case 'static':
        planStaticResponse(decision.site, { method: req.method ?? 'GET', target: decision.target, headers: req.headers as Record<string, string | undefined> })
          .then((plan) => writeStaticResponse(plan, res))
          .catch((err: Error) => {
            this.#log(`static file error: ${err.message}`);
            if (!res.headersSent) plain(res, 500, 'internal error');
            else res.destroy();
          });
        return;
      case 'proxy':
        proxyRequest(req, res, decision.upstreams, this.#limits, { proto: this.#proto, requestId: null }).catch((err: Error) => {
          this.#log(`proxy error: ${err.message}`);
          if (!res.headersSent) plain(res, 502, 'bad gateway');
          else res.destroy();
        });
        return;
      case 'not-found':
        plain(res, 404, 'no app is served at this address');
        return;
    }
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const decision = route(this.#routes, req.headers.host, req.url ?? '/');
    if (decision.kind !== 'proxy') {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    (socket as Socket).setNoDelay?.(true);
    proxyUpgrade(req, socket, head, decision.upstreams, this.#proto);
  }

  /**
   * Stops accepting connections, lets in-flight requests finish until
   * `graceMs` has passed, then closes what is left. Idempotent.
   */
  close(graceMs = 10_000): Promise<void> {
    this.#closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      this.#server.closeIdleConnections();
      if (this.#inFlight > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((resolve) => this.#idleWaiters.push(resolve)),
          new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
        ]);
        clearTimeout(timer);
      }
      this.#server.closeAllConnections();
      await closed;
    })();
    return this.#closing;
  }
}
