import { createServer, type AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BerthError } from '../errors.ts';
import { Engine } from './engine/engine.ts';
import type { EdgeLimits } from './engine/limits.ts';
import type { MainMessage, WorkerInit, WorkerMessage } from './engine/worker-protocol.ts';
import { RouteBuilder, type RouteSpec } from './route-spec.ts';
import type { UpstreamAddress } from './upstream-group.ts';

export interface EdgeOptions {
  readonly routes: RouteSpec;
  readonly limits?: Partial<EdgeLimits>;
  readonly proto?: 'http' | 'https';
  /**
   * Engine threads sharing the port (SO_REUSEPORT): the default uses every
   * core; 0 runs one engine on the calling thread.
   */
  readonly workers?: number;
  /** Reports faults the edge handled (never request contents). */
  readonly log?: (line: string) => void;
}

interface WorkerHandle {
  readonly thread: Worker;
  readonly waiters: Set<(message: WorkerMessage) => boolean>;
  exited: boolean;
}

/**
 * The web server and reverse proxy in front of every app, on every core.
 * The control plane hands it routes as plain data (`RouteSpec`); each
 * engine thread builds its own live table, and a new table comes into force
 * in all of them at once. Lifecycle: `listen()`, `setRoutes()` and
 * `drain()` at will, `close()` (graceful, idempotent).
 */
export class Edge {
  readonly #options: EdgeOptions;
  readonly #workerCount: number;
  #spec: RouteSpec;
  // In-process mode.
  #engine: Engine | null = null;
  #builder: RouteBuilder | null = null;
  // Worker mode.
  readonly #version = new SharedArrayBuffer(4);
  #workers: WorkerHandle[] = [];
  #nextVersion = 1;
  #nextDrain = 1;
  #updating: Promise<void> = Promise.resolve();
  #closing: Promise<void> | null = null;

  constructor(options: EdgeOptions) {
    this.#options = options;
    this.#spec = options.routes;
    this.#workerCount = options.workers ?? availableParallelism();
  }

  get workerCount(): number {
    return this.#workerCount;
  }

  async listen(host: string | undefined, port: number): Promise<AddressInfo> {
    const bindHost = host === '' ? undefined : host;
    if (this.#workerCount === 0) {
      this.#builder = new RouteBuilder();
      const table = RouteBuilder.apply(await this.#builder.prepare(this.#spec));
      this.#engine = new Engine({ routes: table, limits: this.#options.limits, proto: this.#options.proto, log: this.#options.log });
      return this.#engine.listen({ host: bindHost, port });
    }
    // Bind once without SO_REUSEPORT first: it tells us the port when asked
    // for 0, and refuses a port that anything else (even another berth,
    // whose sockets would otherwise share it silently) already holds.
    const address = await probePort(bindHost, port);
    const version = new Int32Array(this.#version);
    const initialVersion = this.#nextVersion++;
    Atomics.store(version, 0, initialVersion);
    const init: WorkerInit = {
      host: bindHost,
      port: address.port,
      spec: this.#spec,
      initialVersion,
      version: this.#version,
      limits: this.#options.limits ?? {},
      proto: this.#options.proto ?? 'http',
    };
    this.#workers = Array.from({ length: this.#workerCount }, () => this.#startWorker(init));
    try {
      await Promise.all(
        this.#workers.map((worker) =>
          this.#await(worker, (message) => {
            if (message.type === 'prepare-failed') throw new BerthError('BERTH_E_STATIC_ROOT', message.message);
            if (message.type === 'listen-failed') throw new BerthError('BERTH_E_LISTEN', message.message);
            return message.type === 'listening';
          }),
        ),
      );
    } catch (err) {
      await Promise.all(this.#workers.map((w) => w.thread.terminate()));
      this.#workers = [];
      throw err;
    }
    return address;
  }

  #startWorker(init: WorkerInit): WorkerHandle {
    const thread = new Worker(new URL('./engine/worker-main.ts', import.meta.url), { workerData: init });
    const handle: WorkerHandle = { thread, waiters: new Set(), exited: false };
    thread.once('exit', () => (handle.exited = true));
    thread.on('message', (message: WorkerMessage) => {
      if (message.type === 'log') {
        this.#options.log?.(message.line);
        return;
      }
      for (const waiter of [...handle.waiters]) if (waiter(message)) handle.waiters.delete(waiter);
    });
    thread.on('error', (err) => this.#options.log?.(`edge worker failed: ${err.message}`));
    return handle;
  }

  /** Resolves when `accept` returns true for a message of this worker; rejects if it throws. */
  #await(worker: WorkerHandle, accept: (message: WorkerMessage) => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      if (worker.exited) {
        reject(new Error('edge worker exited'));
        return;
      }
      const waiter = (message: WorkerMessage) => {
        try {
          if (!accept(message)) return false;
          resolve();
        } catch (err) {
          reject(err);
        }
        return true;
      };
      worker.waiters.add(waiter);
      worker.thread.once('exit', () => {
        if (worker.waiters.delete(waiter)) reject(new Error('edge worker exited'));
      });
    });
  }

  #post(worker: WorkerHandle, message: MainMessage): void {
    worker.thread.postMessage(message);
  }

  /**
   * Replaces the routes. Resolves once the new table is in force in every
   * engine; if any engine cannot build it (a static root is missing), it
   * rejects and the old table stays in force everywhere.
   */
  setRoutes(spec: RouteSpec): Promise<void> {
    const update = this.#updating.then(async () => {
      this.#spec = spec;
      // A closing edge serves no new requests; its engines may be gone already.
      if (this.#closing !== null) return;
      if (this.#engine !== null) {
        this.#engine.setRoutes(RouteBuilder.apply(await this.#builder!.prepare(spec)));
        return;
      }
      if (this.#workers.length === 0) return;
      const next = this.#nextVersion++;
      const prepared = this.#workers.map((worker) =>
        this.#await(worker, (message) => {
          if (message.type === 'prepare-failed' && message.version === next) throw new BerthError('BERTH_E_STATIC_ROOT', message.message);
          return message.type === 'prepared' && message.version === next;
        }),
      );
      for (const worker of this.#workers) this.#post(worker, { type: 'routes', version: next, spec });
      await Promise.all(prepared);
      Atomics.store(new Int32Array(this.#version), 0, next);
    });
    this.#updating = update.catch(() => {});
    return update;
  }

  get routes(): RouteSpec {
    return this.#spec;
  }

  /** Waits until no engine has a request in flight to this upstream, or the deadline passes. */
  async drain(upstream: UpstreamAddress, deadline: number): Promise<void> {
    await this.#updating;
    // Once closing, the engines wait for in-flight requests themselves.
    if (this.#closing !== null) return;
    if (this.#builder !== null) {
      await Promise.all(this.#builder.groups().map((group) => group.drain(upstream, deadline)));
      return;
    }
    const id = this.#nextDrain++;
    const done = this.#workers.map((worker) => this.#await(worker, (message) => message.type === 'drained' && message.id === id));
    for (const worker of this.#workers) this.#post(worker, { type: 'drain', id, host: upstream.host, port: upstream.port, deadline });
    await Promise.all(done);
  }

  close(graceMs = 10_000): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#engine !== null) {
        await this.#engine.close(graceMs);
        for (const group of this.#builder!.groups()) group.close();
        return;
      }
      const closed = this.#workers.map((worker) => this.#await(worker, (message) => message.type === 'closed').catch(() => {}));
      for (const worker of this.#workers) this.#post(worker, { type: 'close', graceMs });
      await Promise.all(closed);
      await Promise.all(this.#workers.map((worker) => worker.thread.terminate()));
    })();
    return this.#closing;
  }
}

function probePort(host: string | undefined, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new BerthError('BERTH_E_LISTEN', `cannot listen on ${host ?? '*'}:${port}: ${err.code ?? err.message}`, {
          hint: err.code === 'EADDRINUSE' ? 'Another program uses that port; pick another with --listen.' : undefined,
        }),
      );
    });
    server.listen({ host, port, exclusive: true }, () => {
      const address = server.address() as AddressInfo;
      server.close(() => resolve(address));
    });
  });
}
