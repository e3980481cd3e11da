import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthError } from '../../errors.ts';
import type { RouteTable } from '../router.ts';
import { ClientConnection, type EngineContext } from './connection.ts';
import { resolveEdgeLimits, type EdgeLimits } from './limits.ts';

export interface EngineOptions {
  /** The table, or where to get the one in force (worker threads switch tables atomically). */
  readonly routes: RouteTable | (() => RouteTable);
  readonly limits?: Partial<EdgeLimits>;
  readonly proto?: 'http' | 'https';
  readonly log?: (line: string) => void;
  readonly spillDir?: string;
}

export interface ListenOptions {
  readonly host: string | undefined;
  readonly port: number;
  /** Several engines (worker threads) share the port; the kernel spreads connections. */
  readonly reusePort?: boolean;
}

const SWEEP_INTERVAL_MS = 250;

/**
 * One HTTP/1.1 engine on node:net: a listener, its connections, and a sweep
 * that enforces every connection's deadline (header, body, keep-alive and
 * send timeouts) with one timer instead of one per socket. An edge runs one
 * engine per worker thread. Lifecycle: listen(), setRoutes() at will,
 * close() (graceful, idempotent).
 */
export class Engine {
  readonly #server: Server;
  readonly #connections = new Set<ClientConnection>();
  readonly #context: EngineContext & { closing: boolean };
  #routes: RouteTable | null;
  readonly #source: (() => RouteTable) | null;
  #sweep: NodeJS.Timeout | null = null;
  #closing: Promise<void> | null = null;
  #idleWaiters: Array<() => void> = [];

  constructor(options: EngineOptions) {
    this.#routes = typeof options.routes === 'function' ? null : options.routes;
    this.#source = typeof options.routes === 'function' ? options.routes : null;
    const limits = resolveEdgeLimits(options.limits);
    const connections = this.#connections;
    const engine = this;
    this.#context = {
      routes: this.#source ?? (() => engine.#routes!),
      limits,
      proto: options.proto ?? 'http',
      spillDir: options.spillDir ?? join(tmpdir(), `berth-edge-${process.pid}`),
      log: options.log ?? (() => {}),
      forget(connection: ClientConnection) {
        connections.delete(connection);
        if (connections.size === 0 && engine.#idleWaiters.length > 0) for (const wake of engine.#idleWaiters.splice(0)) wake();
      },
      closing: false,
    };
    this.#server = createServer({ noDelay: true, pauseOnConnect: false }, (socket: Socket) => this.#accept(socket));
  }

  #accept(socket: Socket): void {
    if (this.#context.closing) {
      socket.destroy();
      return;
    }
    this.#connections.add(new ClientConnection(socket, this.#context, Date.now()));
  }

  /** The current routing table; replaced whole, never edited. */
  get routes(): RouteTable {
    return this.#context.routes();
  }

  setRoutes(routes: RouteTable): void {
    if (this.#source !== null) throw new Error('this engine reads its routes from a source');
    this.#routes = routes;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  listen(options: ListenOptions): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        const where = `${options.host ?? '*'}:${options.port}`;
        reject(
          new BerthError('BERTH_E_LISTEN', `cannot listen on ${where}: ${err.code ?? err.message}`, {
            hint: err.code === 'EADDRINUSE' ? 'Another program uses that port; pick another with --listen.' : undefined,
          }),
        );
      };
      this.#server.once('error', onError);
      this.#server.listen({ host: options.host, port: options.port, reusePort: options.reusePort ?? false, backlog: 4096 }, () => {
        this.#server.off('error', onError);
        this.#sweep ??= setInterval(() => this.#expire(), SWEEP_INTERVAL_MS);
        this.#sweep.unref();
        resolve(this.#server.address() as AddressInfo);
      });
    });
  }

  #expire(): void {
    const now = Date.now();
    for (const connection of this.#connections) {
      if (connection.deadline !== 0 && connection.deadline <= now) connection.expire();
    }
  }

  /**
   * Stops accepting, closes idle keep-alive connections, lets requests in
   * flight finish until `graceMs`, then cuts what is left. Idempotent.
   */
  close(graceMs = 10_000): Promise<void> {
    this.#closing ??= (async () => {
      this.#context.closing = true;
      const stopped = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const connection of this.#connections) connection.shutdown();
      if (this.#connections.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((resolve) => this.#idleWaiters.push(resolve)),
          new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
        ]);
        clearTimeout(timer);
      }
      for (const connection of this.#connections) connection.destroy();
      if (this.#sweep) clearInterval(this.#sweep);
      this.#sweep = null;
      await stopped;
    })();
    return this.#closing;
  }
}
