import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CONTROL_MAX_CONNECTIONS, listenOn } from '../listen.ts';
import type { ApiServer } from './api-server.ts';
import { parseAuthorization } from './authorization.ts';

/** What serves the metrics: the exposition text and its media type (`BerthMetrics`). */
export interface MetricsExposition {
  readonly contentType: string;
  scrape(): Promise<string>;
}

/** `GET /metrics` on the API listener, behind the API's bearer token like every route. */
export function registerMetricsRoutes(api: ApiServer, metrics: MetricsExposition): void {
  api.router.add('GET', '/metrics', async () => {
    // Scraped before answering, so a failure is a normal API error rather than a cut answer.
    const text = await metrics.scrape();
    return {
      raw: async (res) => {
        res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
        res.end(text);
      },
    };
  });
}

/**
 * Who may read the `--metrics` listener: the holders of an API token (as on
 * the API; Prometheus sends one with `authorization: {credentials_file}`),
 * or, with `--metrics-without-token`, whoever reaches it.
 */
export type MetricsAccess = { readonly authenticate: (token: string) => string | null } | 'without-token';

/**
 * `berth server --metrics HOST:PORT`: `/metrics` (and nothing else) on a
 * listener of its own, e.g. on a private interface a Prometheus scrapes.
 * It tells whoever reads it every app's name and traffic, and every app on
 * the machine can reach every local address, so it needs an API token
 * unless the operator said otherwise.
 */
export class MetricsListener {
  readonly #server: Server;
  readonly #log: (line: string) => void;

  constructor(metrics: MetricsExposition, access: MetricsAccess, log: (line: string) => void) {
    this.#log = log;
    this.#server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
      req.resume();
      const path = new URL(req.url ?? '/', 'http://metrics').pathname;
      if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('only /metrics is served here\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('GET /metrics\n');
        return;
      }
      if (access !== 'without-token') {
        const presented = parseAuthorization(req.headers.authorization);
        if (presented.kind !== 'bearer' || access.authenticate(presented.token) === null) {
          res.writeHead(401, { 'www-authenticate': 'Bearer realm="berth"', 'content-type': 'text/plain; charset=utf-8' }).end('an API token is required (authorization: Bearer TOKEN)\n');
          return;
        }
      }
      metrics.scrape().then(
        (text) => {
          res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
          res.end(req.method === 'HEAD' ? undefined : text);
        },
        (err: Error) => {
          this.#log(`metrics scrape failed: ${err.stack ?? err.message}`);
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics failed; the daemon log has the details\n');
        },
      );
    });
    this.#server.maxConnections = CONTROL_MAX_CONNECTIONS.metrics;
  }

  listen(host: string | undefined, port: number): Promise<AddressInfo> {
    return listenOn(this.#server, host, port);
  }

  /** Stops listening; idempotent. */
  close(): Promise<void> {
    if (!this.#server.listening) return Promise.resolve();
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}

/**
 * What `berth server` says at start about a `--metrics-without-token`
 * listener on `host`: the loopback and any-address bindings are the ones
 * every app is sure to reach (apps share the machine's network), so they
 * get a warning; a private interface keeps other machines out but not the
 * apps, which the note says.
 */
export function metricsWithoutTokenWarning(host: string | undefined): string {
  const h = (host ?? '').replace(/^\[|\]$/g, '').toLowerCase();
  const any = h === '' || h === '0.0.0.0' || h === '::';
  const loopback = h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h.startsWith('::ffff:127.');
  if (any) return 'warning: --metrics-without-token on every address: every app on this machine, and every host that can reach it, can read all apps\' names and traffic; bind --metrics to a private interface, or leave out --metrics-without-token and give Prometheus a token';
  if (loopback) return 'warning: --metrics-without-token on a loopback address: every app on this machine can read all apps\' names and traffic; leave out --metrics-without-token and give Prometheus a token';
  return `note: /metrics on ${h} needs no token (--metrics-without-token): whoever reaches that interface can read all apps' names and traffic, including the apps on this machine`;
}
