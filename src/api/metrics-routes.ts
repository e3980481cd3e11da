import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { listenOn } from '../listen.ts';
import type { ApiServer } from './api-server.ts';

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
 * `berth server --metrics HOST:PORT`: `/metrics` without a token on a
 * listener of its own, for a Prometheus that cannot send one. It tells
 * anyone who reaches it the apps' names and traffic, so it belongs on
 * localhost or a private interface. Nothing else is served there.
 */
export class MetricsListener {
  readonly #server: Server;
  readonly #log: (line: string) => void;

  constructor(metrics: MetricsExposition, log: (line: string) => void) {
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
