import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { ListenError } from '../../listen.ts';
import { makePrivateDir } from '../../safe-fs/index.ts';
import type { RouteTable } from '../router.ts';
import { ClientConnection, type EdgeConnection, type EngineContext } from './connection.ts';
import type { Http2Connection } from './http2.ts';
import { resolveEdgeLimits, type EdgeLimits } from './limits.ts';
import { SharedLimiterTable } from '../rate-limit.ts';
import { clientKey } from '../client-key.ts';
import { connectionBudget, openFileLimit, SharedConnectionCounts, type ConnectionCountBuffers, type ConnectionVerdict } from '../connection-admission.ts';
import { Observer, type ObservationBatch } from './observations.ts';
import { createEdgeServices, type EdgeServices } from './proxy-pipeline.ts';
import { SECURE_OPTIONS, TlsState } from './tls-state.ts';

export interface EngineOptions {
  /** The table, or where to get the one in force (worker threads switch tables atomically). */
  readonly routes: RouteTable | (() => RouteTable);
  readonly limits?: Partial<EdgeLimits>;
  readonly log?: (line: string) => void;
  /**
   * The private folder (see makePrivateDir) where bodies too large for
   * memory go; default a folder of the engine's own in the system's temp
   * folder, made on first need and removed by close().
   */
  readonly spillDir?: string;
  /** Certificates and ACME answers; each thread holds its own, fed by the control plane. */
  readonly tls?: TlsState;
  /** Session ticket keys (48 bytes) shared by every engine, so a session resumes on any thread. */
  readonly ticketKeys?: Buffer;
  /** The per-client limit table every engine shares (SharedLimiterTable.create()); default a small one of its own. */
  readonly limiter?: SharedArrayBuffer | null;
  /** Open client connections, counted across every engine (SharedConnectionCounts.create()); default counts of its own. */
  readonly connections?: ConnectionCountBuffers;
  /** This engine's share of the edge's cache memory; default all of `cacheMemoryBytes`. */
  readonly cacheBytes?: number;
  /** Gets what the engine saw (counters, and records when `accessRecords`), about once a second. */
  readonly observe?: ((batch: ObservationBatch) => void) | null;
  /** Keep a record of every exchange for access logs. */
  readonly accessRecords?: boolean;
  /** This engine's number in its edge (0: the main thread's), carried by its observation batches. */
  readonly engineIndex?: number;
}

/** How often an engine hands over what it saw. */
const OBSERVE_INTERVAL_MS = 1_000;

export interface ListenOptions {
  readonly host: string | undefined;
  readonly port: number;
  /** Several engines (worker threads) share the port; the kernel spreads connections. */
  readonly reusePort?: boolean;
  /** TLS with SNI and ALPN: HTTP/2 or HTTP/1.1 on the same port. */
  readonly secure?: boolean;
}

const SWEEP_INTERVAL_MS = 250;
/** How long a retiring engine's WebSockets may take to reach a frame boundary for their close frame. */
const GOING_AWAY_MS = 1_000;

/** Refused connections are reported in one line at most this often. */
const REFUSAL_REPORT_MS = 10_000;

/**
 * One engine: its listeners (plain HTTP/1.1 on node:net; TLS with HTTP/2 or
 * HTTP/1.1 by ALPN), their connections, and a sweep that enforces every
 * connection's deadline (header, body, keep-alive and send timeouts) with
 * one timer instead of one per socket. An edge runs one engine per worker
 * thread. Lifecycle: listen() once per listener, setRoutes() at will,
 * close() (graceful, idempotent).
 */
export class Engine {
  readonly #servers: Server[] = [];
  readonly #connections = new Set<EdgeConnection>();
  readonly #context: EngineContext & { closing: boolean; idleCloseMs: number; httpsPort: number | null };
  readonly #ticketKeys: Buffer | undefined;
  // node:tls and node:http2 (which loads node:http) cost 5-15 MiB per
  // thread: loaded only by an engine that serves HTTPS.
  #http2: typeof Http2Connection | null = null;
  #routes: RouteTable | null;
  readonly #source: (() => RouteTable) | null;
  #sweep: NodeJS.Timeout | null = null;
  #closing: Promise<void> | null = null;
  #idleWaiters: Array<() => void> = [];
  /** A spill folder this engine made itself, to remove when it closes. */
  #ownSpillDir: Promise<string> | null = null;
  readonly #admission: SharedConnectionCounts;
  /** TCP connections to the HTTPS listener, from accept to close (those still in their handshake have no connection object yet). */
  readonly #secureSockets = new Set<Socket>();
  #refused = { client: 0, edge: 0, lastClient: '', since: 0 };

  constructor(options: EngineOptions) {
    this.#routes = typeof options.routes === 'function' ? null : options.routes;
    this.#source = typeof options.routes === 'function' ? options.routes : null;
    const limits = resolveEdgeLimits(options.limits);
    const connections = this.#connections;
    const engine = this;
    this.#context = {
      routes: this.#source ?? (() => engine.#routes!),
      limits,
      spillDir: options.spillDir !== undefined ? () => Promise.resolve(options.spillDir!) : () => (engine.#ownSpillDir ??= makePrivateDir(tmpdir(), 'berth-edge-')),
      log: options.log ?? (() => {}),
      tls: options.tls ?? new TlsState(),
      observer: options.observe ? new Observer({ keepRecords: options.accessRecords === true }) : null,
      services: createEdgeServices({ cacheBytes: options.cacheBytes ?? limits.cacheMemoryBytes, cacheEntryBytes: limits.cacheEntryBytes, limiter: options.limiter ?? SharedLimiterTable.create(1024) }),
      httpsPort: null,
      forget(connection: EdgeConnection) {
        connections.delete(connection);
        if (connections.size === 0 && engine.#idleWaiters.length > 0) for (const wake of engine.#idleWaiters.splice(0)) wake();
      },
      closing: false,
      idleCloseMs: 0,
    };
    this.#ticketKeys = options.ticketKeys;
    this.#admission = new SharedConnectionCounts(options.connections ?? SharedConnectionCounts.create(1024), {
      maxConnections: limits.maxConnections === 0 ? connectionBudget(openFileLimit()).maxConnections : limits.maxConnections,
      maxConnectionsPerClient: limits.maxConnectionsPerClient,
    });
    this.#observe = options.observe ?? null;
    this.#engineIndex = options.engineIndex ?? 0;
  }

  readonly #engineIndex: number;

  readonly #observe: ((batch: ObservationBatch) => void) | null;
  #observeTimer: NodeJS.Timeout | null = null;
  #lastConnections = -1;

  /** Hands over what was seen since the last call; with nothing new, only a changed connection count. */
  flushObservations(): void {
    const observe = this.#observe;
    if (observe === null) return;
    const connections = this.#connections.size;
    const batch = this.#context.observer?.take(connections, this.#engineIndex) ?? null;
    if (batch !== null) observe(batch);
    else if (connections !== this.#lastConnections) observe({ engine: this.#engineIndex, sites: {}, connections, records: [], dropped: 0 });
    this.#lastConnections = connections;
  }

  #accept(socket: Socket): void {
    if (!this.#admit(socket)) return;
    this.#connections.add(new ClientConnection(socket, this.#context, Date.now(), 'http'));
  }

  /**
   * Counts a new TCP connection against the caps (per client address and
   * for the whole edge, shared by every engine), before anything else is
   * spent on it. A refused one is closed at once: no answer, no TLS
   * handshake, no buffer; the client sees the connection reset or closed.
   */
  #admit(socket: Socket): boolean {
    if (this.#context.closing) {
      socket.destroy();
      return false;
    }
    const key = clientKey(clientAddress(socket));
    const verdict = this.#admission.admit(key);
    if (verdict !== 'admit') {
      socket.destroy();
      this.#noteRefusal(verdict, key);
      return false;
    }
    socket.once('close', () => this.#admission.release(key));
    return true;
  }

  /** A TCP connection to the HTTPS listener, admitted, goes to the TLS server for its handshake. */
  #acceptTcpForTls(socket: Socket, tls: TlsServer): void {
    if (!this.#admit(socket)) return;
    this.#secureSockets.add(socket);
    socket.once('close', () => this.#secureSockets.delete(socket));
    tls.emit('connection', socket);
  }

  #noteRefusal(verdict: ConnectionVerdict, client: string): void {
    const refused = this.#refused;
    if (refused.client + refused.edge === 0) refused.since = Date.now();
    if (verdict === 'client-full') {
      refused.client++;
      refused.lastClient = client;
    } else {
      refused.edge++;
    }
  }

  /** One line for the connections refused since the last one, at most every REFUSAL_REPORT_MS. */
  #reportRefusals(now: number): void {
    const refused = this.#refused;
    if (refused.client + refused.edge === 0 || now - refused.since < REFUSAL_REPORT_MS) return;
    const limits = this.#context.limits;
    const parts: string[] = [];
    if (refused.client > 0) parts.push(`${refused.client} over max-connections-per-client=${limits.maxConnectionsPerClient} (the last from ${refused.lastClient})`);
    if (refused.edge > 0) parts.push(`${refused.edge} over max-connections`);
    this.#context.log(`edge: refused ${parts.join(' and ')} in the last ${Math.round((now - refused.since) / 1000)} s`);
    this.#refused = { client: 0, edge: 0, lastClient: '', since: 0 };
  }

  #acceptSecure(socket: TLSSocket): void {
    if (this.#context.closing) {
      socket.destroy();
      return;
    }
    const now = Date.now();
    this.#connections.add(socket.alpnProtocol === 'h2' ? new this.#http2!(socket, this.#context, now) : new ClientConnection(socket, this.#context, now, 'https'));
  }

  /**
   * The listening server: plain HTTP, or for HTTPS a plain TCP server
   * that admits each connection before handing it to a TLS server that
   * never listens itself (so refused connections cost no handshake).
   */
  #createServer(secure: boolean): Server {
    // allowHalfOpen: a client's FIN ends only its side; the connection
    // decides when to close ours (after answering what it received).
    if (!secure) return createServer({ noDelay: true, pauseOnConnect: false, allowHalfOpen: true }, (socket: Socket) => this.#accept(socket));
    const tls = this.#createTlsServer();
    return createServer({ noDelay: true, pauseOnConnect: false, allowHalfOpen: true }, (socket: Socket) => this.#acceptTcpForTls(socket, tls));
  }

  #createTlsServer(): TlsServer {
    const tls = this.#context.tls;
    const server = process.getBuiltinModule('node:tls').createServer(
      {
        ...SECURE_OPTIONS,
        noDelay: true,
        allowHalfOpen: true,
        handshakeTimeout: this.#context.limits.headerTimeoutMs,
        SNICallback: (name, done) => done(null, tls.contextFor(name)),
        ...(this.#ticketKeys !== undefined ? { ticketKeys: this.#ticketKeys } : {}),
      },
      (socket: TLSSocket) => this.#acceptSecure(socket),
    );
    // A failed handshake (a scanner, a client refusing the certificate) is
    // the client's business: nothing to log per connection. node:tls does
    // not close the socket itself (not even after handshakeTimeout): a
    // client that connects and says nothing would keep it for ever.
    server.on('tlsClientError', (_err, socket) => socket.destroy());
    // OCSP stapling: emitted only when the client sent status_request, with
    // the leaf of the context SNI chose. callback(null, null) staples
    // nothing; an error would kill the handshake, so none is ever passed.
    server.on('OCSPRequest', (certificate, _issuer, callback) => {
      let staple: Buffer | null = null;
      try {
        staple = tls.ocspFor(certificate);
      } catch {
        // A staple is optional; the handshake goes on without one.
      }
      callback(null, staple);
    });
    const applyFallback = (pair: { cert: string; key: string } | null) => {
      if (pair !== null) server.setSecureContext({ ...SECURE_OPTIONS, ...pair });
    };
    applyFallback(tls.fallbackPair);
    tls.onFallback = applyFallback;
    return server;
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

  /** The response cache and per-client limits of this engine. */
  get services(): EdgeServices {
    return this.#context.services;
  }

  /** The HTTPS port, once a secure listener is bound (for redirects from plain HTTP). */
  get httpsPort(): number | null {
    return this.#context.httpsPort;
  }

  async listen(options: ListenOptions): Promise<AddressInfo> {
    if (options.secure === true) this.#http2 ??= (await import('./http2.ts')).Http2Connection;
    const server = this.#createServer(options.secure === true);
    this.#servers.push(server);
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => reject(new ListenError(options.host, options.port, err.code ?? err.message, { secure: options.secure === true }));
      server.once('error', onError);
      server.listen({ host: options.host, port: options.port, reusePort: options.reusePort ?? false, backlog: 4096 }, () => {
        server.off('error', onError);
        this.#sweep ??= setInterval(() => this.#expire(), SWEEP_INTERVAL_MS);
        this.#sweep.unref();
        if (this.#observe !== null && this.#observeTimer === null) {
          this.#observeTimer = setInterval(() => this.flushObservations(), OBSERVE_INTERVAL_MS);
          this.#observeTimer.unref();
        }
        const address = server.address() as AddressInfo;
        if (options.secure === true) this.#context.httpsPort = address.port;
        resolve(address);
      });
    });
  }

  #expire(): void {
    const now = Date.now();
    for (const connection of this.#connections) {
      if (connection.deadline !== 0 && connection.deadline <= now) connection.expire();
    }
    this.#reportRefusals(now);
  }

  /**
   * Stops accepting, closes idle keep-alive connections, lets requests in
   * flight finish until `graceMs`, then cuts what is left. Idempotent.
   * With `idleCloseMs` (retiring in favour of a successor on the same
   * port), no idle connection is closed at once: each one's next answer
   * says `Connection: close`, and one idle that long is closed.
   */
  /** Resolves when no connection is left, or after `ms`. */
  async #idle(ms: number): Promise<void> {
    if (this.#connections.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.#idleWaiters.push(resolve)),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
    ]);
    clearTimeout(timer);
  }

  close(graceMs = 10_000, idleCloseMs = 0): Promise<void> {
    this.#closing ??= (async () => {
      this.#context.closing = true;
      this.#context.idleCloseMs = idleCloseMs;
      const stopped = Promise.all(this.#servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
      for (const connection of this.#connections) {
        if (idleCloseMs > 0) connection.retire();
        else connection.shutdown();
      }
      await this.#idle(graceMs);
      if (idleCloseMs > 0 && this.#connections.size > 0) {
        // Retiring: WebSockets get their close frame at a frame boundary, for a moment at most.
        let saying = false;
        for (const connection of this.#connections) saying = connection.goingAway() || saying;
        if (saying) await this.#idle(GOING_AWAY_MS);
      }
      for (const connection of this.#connections) connection.destroy();
      // Still in their TLS handshake: no connection object to close them.
      for (const socket of this.#secureSockets) socket.destroy();
      if (this.#sweep) clearInterval(this.#sweep);
      this.#sweep = null;
      if (this.#observeTimer) clearInterval(this.#observeTimer);
      this.#observeTimer = null;
      this.flushObservations();
      await stopped;
      const own = await this.#ownSpillDir?.catch(() => null);
      if (own) await rm(own, { recursive: true, force: true });
    })();
    return this.#closing;
  }
}

/** The client's address, IPv4-mapped IPv6 written as IPv4. */
export function clientAddress(socket: Socket): string {
  const address = socket.remoteAddress ?? '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
