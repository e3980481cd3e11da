import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BerthError } from '../errors.ts';
import { ListenError } from '../listen.ts';
import { makePrivateDir } from '../safe-fs/index.ts';
import { Engine } from './engine/engine.ts';
import type { EdgeLimits } from './engine/limits.ts';
import type { MainMessage, WorkerInit, WorkerMessage } from './engine/worker-protocol.ts';
import { TlsState, type TlsConfig } from './engine/tls-state.ts';
import type { ObservationBatch } from './engine/observations.ts';
import { purgeCache } from './engine/proxy-pipeline.ts';
import { resolveEdgeLimits } from './engine/limits.ts';
import { SharedLimiterTable } from './rate-limit.ts';
import { connectionBudget, openFileLimit, SharedConnectionCounts } from './connection-admission.ts';
import type { RouteSpec } from './route-spec.ts';
import type { EdgeControl } from './edge-control.ts';
import { RouteSwitch } from './route-switch.ts';
import type { UpstreamAddress } from './upstream-group.ts';

// The worker's entry point beside this module, with this module's extension:
// worker-main.ts when berth runs from its sources, worker-main.js when it runs
// from the build in dist/ (which then never loads the TypeScript stripper).
const WORKER_MAIN = new URL(`./engine/worker-main${import.meta.url.slice(import.meta.url.lastIndexOf('.'))}`, import.meta.url);

export interface EdgeOptions {
  readonly routes: RouteSpec;
  readonly limits?: Partial<EdgeLimits>;
  /** Also serve HTTPS (HTTP/2 and HTTP/1.1) here; certificates come with `tls` and `setTls()`. */
  readonly https?: { readonly host: string | undefined; readonly port: number } | null;
  /** The certificates to start with; without any, handshakes fail until `setTls()`. */
  readonly tls?: TlsConfig;
  /**
   * Engines sharing the port (SO_REUSEPORT), one per core by default. The
   * calling thread runs one of them and worker threads the rest, so two
   * cores cost one extra thread, not two.
   */
  readonly workers?: number;
  /** Gets every engine's counters (and records, with `accessRecords`) about once a second. */
  readonly onObservations?: (batch: ObservationBatch) => void;
  /** Keep a record of every exchange, for access logs. */
  readonly accessRecords?: boolean;
  /** Reports faults the edge handled (never request contents). */
  readonly log?: (line: string) => void;
  /**
   * Where the edge makes its private folder (0700, an unpredictable name,
   * removed by close()) for bodies too large for memory; default the
   * system's temp folder. `berth server` gives STATE/tmp.
   */
  readonly tempDir?: string;
}

interface Waiter {
  /** True when this message settles the wait. */
  readonly take: (message: WorkerMessage) => boolean;
  readonly fail: (err: Error) => void;
}

interface WorkerHandle {
  readonly thread: Worker;
  readonly waiters: Set<Waiter>;
  exited: boolean;
}

/**
 * The web server and reverse proxy in front of every app, on every core.
 * The control plane hands it routes as plain data (`RouteSpec`); each
 * engine builds its own live table, and a new table comes into force in all
 * of them at once. Lifecycle: `listen()`, `setRoutes()` and `drain()` at
 * will, `close()` (graceful, idempotent).
 */
export class Edge implements EdgeControl {
  readonly #options: EdgeOptions;
  readonly #engineCount: number;
  #spec: RouteSpec;
  readonly #version = new SharedArrayBuffer(4);
  readonly #routes: RouteSwitch;
  #spillDir: string | null = null;
  #listening = false;
  #engine: Engine | null = null;
  #workers: WorkerHandle[] = [];
  readonly #tls = new TlsState();
  #tlsConfig: TlsConfig;
  #challenges: ReadonlyMap<string, string> = new Map();
  readonly #ticketKeys = randomBytes(48);
  readonly #limiter = SharedLimiterTable.create();
  readonly #connectionCounts = SharedConnectionCounts.create();
  #nextPurge = 1;
  #address: AddressInfo | null = null;
  #httpsAddress: AddressInfo | null = null;
  #nextVersion = 1;
  #nextDrain = 1;
  #updating: Promise<void> = Promise.resolve();
  #closing: Promise<void> | null = null;

  constructor(options: EdgeOptions) {
    this.#options = options;
    // Only this thread's builder logs, so a root that cannot be served is reported once, not once per engine.
    this.#routes = new RouteSwitch(this.#version, options.log);
    this.#spec = options.routes;
    this.#engineCount = Math.max(1, options.workers ?? availableParallelism());
    this.#tlsConfig = options.tls ?? { certificates: [], fallback: null };
    this.#tls.update(this.#tlsConfig);
  }

  /** Where plain HTTP is served, once listening. */
  get address(): AddressInfo | null {
    return this.#address;
  }

  /** Where HTTPS is served, once listening with an `https` address. */
  get httpsAddress(): AddressInfo | null {
    return this.#httpsAddress;
  }

  /** Replaces the certificates in every engine; handshakes under way keep theirs. */
  setTls(config: TlsConfig): void {
    this.#tlsConfig = config;
    this.#tls.update(config);
    for (const worker of this.#workers) this.#post(worker, { type: 'tls', config });
  }

  /** The pending ACME HTTP-01 answers (token → key authorization), served on plain HTTP. */
  setChallenges(tokens: ReadonlyMap<string, string>): void {
    this.#challenges = new Map(tokens);
    this.#tls.setChallenges(this.#challenges);
    for (const worker of this.#workers) this.#post(worker, { type: 'challenges', tokens: this.#challenges });
  }

  /** How many engines serve the port (this thread's included). */
  get engineCount(): number {
    return this.#engineCount;
  }

  /**
   * Starts serving. With `join` (`joinHttps`), the port (the HTTPS one) is
   * another edge's, bound with SO_REUSEPORT, that this one joins to take
   * over from it; without, a port anything else holds is refused.
   */
  async listen(host: string | undefined, port: number, options: { readonly join?: boolean; readonly joinHttps?: boolean } = {}): Promise<AddressInfo> {
    this.#spillDir ??= await makePrivateDir(this.#options.tempDir ?? tmpdir(), 'berth-edge-');
    try {
      const address = await this.#listen(host, port, this.#spillDir, options.join === true, options.joinHttps ?? options.join === true);
      this.#listening = true;
      this.#address = address;
      return address;
    } catch (err) {
      // A failed start leaves nothing behind.
      if (!this.#listening) {
        await rm(this.#spillDir, { recursive: true, force: true });
        this.#spillDir = null;
      }
      throw err;
    }
  }

  async #listen(host: string | undefined, port: number, spillDir: string, join: boolean, joinHttps: boolean): Promise<AddressInfo> {
    const bindHost = host === '' ? undefined : host;
    const version = this.#nextVersion++;
    await this.#routes.prepare(version, this.#spec);
    Atomics.store(new Int32Array(this.#version), 0, version);
    const limits = this.#connectionLimits();
    const cacheBytes = Math.floor(resolveEdgeLimits(limits).cacheMemoryBytes / this.#engineCount);
    const engine = new Engine({
      routes: () => this.#routes.current(),
      limits,
      connections: this.#connectionCounts,
      log: this.#options.log,
      tls: this.#tls,
      ticketKeys: this.#ticketKeys,
      limiter: this.#limiter,
      cacheBytes,
      spillDir,
      observe: this.#options.onObservations ?? null,
      accessRecords: this.#options.accessRecords === true,
    });
    const https = this.#options.https ?? null;
    const httpsHost = https === null ? undefined : https.host === '' ? undefined : https.host;
    // Bind once without SO_REUSEPORT first: it tells us the port when asked
    // for 0, and refuses a port that anything else (even another berth,
    // whose sockets would otherwise share it silently) already holds. Every
    // engine then listens with SO_REUSEPORT, one engine too: a successor
    // edge joins the group to take over without a moment of refusal.
    const address = join ? { address: bindHost ?? '', family: '', port } : await probePort(bindHost, port, false);
    const httpsAddress = https === null ? null : joinHttps ? { address: httpsHost ?? '', family: '', port: https.port } : await probePort(httpsHost, https.port, true);
    if (this.#engineCount === 1) {
      this.#engine = engine;
      const bound = await engine.listen({ host: bindHost, port: address.port, reusePort: true });
      if (httpsAddress !== null) this.#httpsAddress = await engine.listen({ host: httpsHost, port: httpsAddress.port, reusePort: true, secure: true });
      return bound;
    }
    const init: WorkerInit = {
      host: bindHost,
      port: address.port,
      spec: this.#spec,
      initialVersion: version,
      version: this.#version,
      limits,
      connections: this.#connectionCounts,
      https: httpsAddress === null ? null : { host: httpsHost, port: httpsAddress.port },
      tls: this.#tlsConfig,
      challenges: this.#challenges,
      ticketKeys: this.#ticketKeys,
      limiter: this.#limiter,
      cacheBytes,
      spillDir,
      observe: this.#options.onObservations !== undefined,
      accessRecords: this.#options.accessRecords === true,
      engineIndex: 0,
    };
    this.#workers = Array.from({ length: this.#engineCount - 1 }, (_, i) => this.#startWorker({ ...init, engineIndex: i + 1 }));
    try {
      await Promise.all(
        this.#workers.map((worker) =>
          this.#await(worker, (message) => {
            if (message.type === 'prepare-failed') throw new BerthError('BERTH_E_STATIC_ROOT', message.message);
            if (message.type === 'listen-failed') throw new ListenError(message.host, message.port, message.reason, { secure: message.secure });
            return message.type === 'listening';
          }),
        ),
      );
      const bound = await engine.listen({ host: bindHost, port: address.port, reusePort: true });
      if (httpsAddress !== null) this.#httpsAddress = await engine.listen({ host: httpsHost, port: httpsAddress.port, reusePort: true, secure: true });
      this.#engine = engine;
      return bound;
    } catch (err) {
      await Promise.all(this.#workers.map((w) => w.thread.terminate()));
      this.#workers = [];
      throw err;
    }
  }

  /**
   * The edge's limits with `maxConnections` settled once for every engine
   * (derived from the open-file limit unless set), said in the log.
   */
  #connectionLimits(): Partial<EdgeLimits> {
    const given = resolveEdgeLimits(this.#options.limits);
    const fileLimit = openFileLimit();
    const budget = connectionBudget(fileLimit);
    const derived = given.maxConnections === 0;
    const maxConnections = derived ? budget.maxConnections : given.maxConnections;
    const why = derived ? `open-file limit ${fileLimit}, ${budget.reserve} descriptors kept for the rest of berth` : `max-connections; open-file limit ${fileLimit}`;
    this.#options.log?.(`edge: at most ${maxConnections} client connections at once (${why}), ${given.maxConnectionsPerClient} per client address`);
    if (!derived && maxConnections > budget.maxConnections) {
      this.#options.log?.(`edge: warning: max-connections=${maxConnections} can use more descriptors than the open-file limit leaves (${budget.maxConnections} would keep ${budget.reserve} for the rest of berth)`);
    }
    return { ...this.#options.limits, maxConnections };
  }

  #startWorker(init: WorkerInit): WorkerHandle {
    const thread = new Worker(WORKER_MAIN, { workerData: init });
    const handle: WorkerHandle = { thread, waiters: new Set(), exited: false };
    // One exit listener for the thread's life: whoever still waits on it learns it is gone.
    thread.once('exit', () => {
      handle.exited = true;
      for (const waiter of handle.waiters) waiter.fail(new Error('edge worker exited'));
      handle.waiters.clear();
    });
    thread.on('message', (message: WorkerMessage) => {
      if (message.type === 'log') {
        this.#options.log?.(message.line);
        return;
      }
      if (message.type === 'observations') {
        this.#options.onObservations?.(message.batch);
        return;
      }
      for (const waiter of [...handle.waiters]) if (waiter.take(message)) handle.waiters.delete(waiter);
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
      worker.waiters.add({
        take: (message) => {
          try {
            if (!accept(message)) return false;
            resolve();
          } catch (err) {
            reject(err);
          }
          return true;
        },
        fail: reject,
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
      // A closing edge serves no new requests; its engines may be gone already.
      if (this.#closing !== null) return;
      const next = this.#nextVersion++;
      const prepared = this.#workers.map((worker) =>
        this.#await(worker, (message) => {
          if (message.type === 'prepare-failed' && message.version === next) throw new BerthError('BERTH_E_STATIC_ROOT', message.message);
          return message.type === 'prepared' && message.version === next;
        }),
      );
      for (const worker of this.#workers) this.#post(worker, { type: 'routes', version: next, spec });
      await Promise.all([this.#routes.prepare(next, spec), ...prepared]);
      Atomics.store(new Int32Array(this.#version), 0, next);
      // This thread's engine switches now, not at its next request, so that
      // groups it no longer routes to start draining at once.
      this.#routes.current();
      this.#spec = spec;
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
    const id = this.#nextDrain++;
    const done = this.#workers.map((worker) => this.#await(worker, (message) => message.type === 'drained' && message.id === id).catch(() => {}));
    for (const worker of this.#workers) this.#post(worker, { type: 'drain', id, host: upstream.host, port: upstream.port, deadline });
    await Promise.all([...done, ...this.#routes.builder.groups().map((group) => group.drain(upstream, deadline))]);
  }

  /**
   * Drops cached responses of these hosts from every engine: all of them, or
   * those under `path`. Resolves with how many were dropped.
   */
  async purge(hosts: readonly string[], path: string | null): Promise<number> {
    if (this.#closing !== null) return 0;
    const id = this.#nextPurge++;
    let count = 0;
    const done = this.#workers.map((worker) =>
      this.#await(worker, (message) => {
        if (message.type !== 'purged' || message.id !== id) return false;
        count += message.count;
        return true;
      }).catch(() => {}),
    );
    for (const worker of this.#workers) this.#post(worker, { type: 'purge', id, hosts, path });
    if (this.#engine !== null) count += purgeCache(this.#engine.services, hosts, path);
    await Promise.all(done);
    return count;
  }

  close(graceMs = 10_000): Promise<void> {
    return this.#close(graceMs, 0);
  }

  /**
   * Gives the port up to a successor that joined it (`listen` with `join`):
   * stops accepting; each keep-alive connection's next answer says
   * `Connection: close`, one idle for `idleCloseMs` is closed (closing an
   * idle one at once would lose the request a client may be sending on it);
   * requests in flight finish within `graceMs`, then what is left is cut.
   */
  retire(graceMs = 10_000, idleCloseMs = 1_000): Promise<void> {
    return this.#close(graceMs, Math.max(1, idleCloseMs));
  }

  #close(graceMs: number, idleCloseMs: number): Promise<void> {
    this.#closing ??= (async () => {
      const closed = this.#workers.map((worker) => this.#await(worker, (message) => message.type === 'closed').catch(() => {}));
      for (const worker of this.#workers) this.#post(worker, { type: 'close', graceMs, idleCloseMs });
      await Promise.all([...closed, this.#engine?.close(graceMs, idleCloseMs)]);
      for (const group of this.#routes.builder.groups()) group.close();
      await Promise.all(this.#workers.map((worker) => worker.thread.terminate()));
      // Spill files are unlinked as they are made: the folder is empty.
      if (this.#spillDir !== null) await rm(this.#spillDir, { recursive: true, force: true });
    })();
    return this.#closing;
  }
}

function probePort(host: string | undefined, port: number, secure: boolean): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => reject(new ListenError(host, port, err.code ?? err.message, { secure })));
    server.listen({ host, port, exclusive: true }, () => {
      const address = server.address() as AddressInfo;
      server.close(() => resolve(address));
    });
  });
}
