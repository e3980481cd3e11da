import type { AddressInfo } from 'node:net';
import { Engine } from './engine/engine.ts';
import type { EdgeLimits } from './engine/limits.ts';
import type { RouteTable } from './router.ts';

export interface EdgeOptions {
  readonly routes: RouteTable;
  readonly limits?: Partial<EdgeLimits>;
  readonly proto?: 'http' | 'https';
  /** Reports faults the edge handled (never request contents). */
  readonly log?: (line: string) => void;
}

/**
 * The web server and reverse proxy in front of every app: it routes each
 * request by host and path to a static mount or to the app's upstreams.
 * Lifecycle: `listen()`, `setRoutes()` any number of times, `close()`
 * (graceful, idempotent).
 */
export class Edge {
  readonly #engine: Engine;

  constructor(options: EdgeOptions) {
    this.#engine = new Engine({ routes: options.routes, limits: options.limits, proto: options.proto, log: options.log });
  }

  /** Replaces the routing table; requests already routed finish on the old one. */
  setRoutes(routes: RouteTable): void {
    this.#engine.setRoutes(routes);
  }

  get routes(): RouteTable {
    return this.#engine.routes;
  }

  listen(host: string | undefined, port: number): Promise<AddressInfo> {
    return this.#engine.listen({ host: host === '' ? undefined : host, port });
  }

  close(graceMs = 10_000): Promise<void> {
    return this.#engine.close(graceMs);
  }
}
