import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { DEFAULT_DRAIN_LIMITS, drainRetryDelay, serverName, type Drain, type DrainLimits, type DrainLine, type DrainState, type DrainStatus, type DrainTarget } from './drain-policy.ts';
import { DrainQueue } from './drain-queue.ts';
import { formatSyslog, octetFrame, SEVERITY } from './syslog.ts';

interface Frame {
  readonly data: Buffer;
  readonly bytes: number;
}

export interface SyslogDrainOptions {
  readonly app: string;
  /** A syslog or syslog+tls target (parseDrainUrl). */
  readonly target: DrainTarget;
  /** HOSTNAME of every message: this machine's name. */
  readonly hostname: string;
  readonly limits?: Partial<DrainLimits>;
  /** A line for the daemon's log: failures, recoveries, drops (never the URL; the caller names the drain). */
  readonly report?: (message: string) => void;
  /**
   * More TLS options for syslog+tls (a test's CA). An operator trusts a
   * private CA the way every Node program does: NODE_EXTRA_CA_CERTS in the
   * daemon's environment, which Node adds to the default trust.
   */
  readonly tls?: ConnectionOptions;
  readonly now?: () => number;
}

/** Drop reports in the daemon's log at most this often. */
const REPORT_EVERY_MS = 60_000;

/**
 * A syslog drain over TCP or TLS (RFC 5425): one connection, opened when
 * there is something to send and kept while it lasts, messages framed by
 * octet counting. Lines wait in a bounded queue while the connection is
 * down; after a failure the next attempt waits 1 s doubling to 60 s. TCP
 * syslog has no acknowledgements: a line counts as sent once the socket
 * took it, and lines still in a connection that breaks are counted lost.
 */
export class SyslogDrain implements Drain {
  readonly #options: SyslogDrainOptions;
  readonly #limits: DrainLimits;
  readonly #now: () => number;
  readonly #queue: DrainQueue<Frame>;
  #socket: Socket | null = null;
  #state: DrainState = 'idle';
  #failures = 0;
  #retryTimer: NodeJS.Timeout | null = null;
  #inflight = 0;
  #sent = 0;
  #lastError: string | null = null;
  #lastErrorAt: number | null = null;
  #lastDropReport = -Infinity;
  #closing: Promise<void> | null = null;
  /** Set as close() begins: no new lines, no reconnecting. */
  #draining = false;
  #idle: Array<() => void> = [];

  constructor(options: SyslogDrainOptions) {
    this.#options = options;
    this.#limits = { ...DEFAULT_DRAIN_LIMITS, ...options.limits };
    this.#now = options.now ?? Date.now;
    this.#queue = new DrainQueue<Frame>(this.#limits.maxQueueBytes, (dropped) =>
      this.#frame('berth', SEVERITY.warning, this.#now(), `${dropped} ${dropped === 1 ? 'line' : 'lines'} dropped by berth: the drain could not keep up`),
    );
  }

  #frame(procId: string, severity: number, time: number, message: string): Frame {
    const data = octetFrame(formatSyslog({ facility: this.#options.target.facility, severity, time, hostname: this.#options.hostname, appName: this.#options.app, procId, message }));
    return { data, bytes: data.length };
  }

  send(line: DrainLine): void {
    if (this.#draining) return;
    const frame = this.#frame(line.kind === 'access' ? 'access' : line.source, line.stream === 'err' ? SEVERITY.err : SEVERITY.info, line.at, line.text);
    if (!this.#queue.push(frame)) this.#reportDrops();
    this.#pump();
  }

  #reportDrops(): void {
    const now = this.#now();
    if (now - this.#lastDropReport < REPORT_EVERY_MS) return;
    this.#lastDropReport = now;
    this.#options.report?.(`dropping lines: its queue is full (${this.#queue.dropped} dropped so far)`);
  }

  #pump(): void {
    const socket = this.#socket;
    if (socket === null) {
      if (this.#queue.length > 0 && this.#retryTimer === null && !this.#draining) this.#connect();
      else this.#checkIdle();
      return;
    }
    if (this.#state !== 'connected') return;
    while (this.#queue.length > 0 && !socket.writableNeedDrain) {
      const frame = this.#queue.shift()!;
      this.#inflight++;
      socket.write(frame.data, (err) => {
        this.#inflight--;
        if (err) this.#queue.lost(1);
        else this.#sent++;
        this.#checkIdle();
      });
    }
    this.#checkIdle();
  }

  #checkIdle(): void {
    if (this.#queue.length > 0 || this.#inflight > 0) return;
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  #connect(): void {
    const { target } = this.#options;
    this.#state = 'connecting';
    const tls = target.kind === 'syslog+tls';
    const socket = tls
      ? tlsConnect({ host: target.host, port: target.port, servername: serverName(target.host), ...this.#options.tls })
      : netConnect({ host: target.host, port: target.port });
    this.#socket = socket;
    let failed: Error | null = null;
    socket.setTimeout(this.#limits.timeoutMs);
    socket.once(tls ? 'secureConnect' : 'connect', () => {
      socket.setTimeout(0);
      socket.setKeepAlive(true, 60_000);
      this.#state = 'connected';
      if (this.#failures > 0) this.#options.report?.('delivering again');
      this.#failures = 0;
      this.#pump();
    });
    socket.on('timeout', () => socket.destroy(new Error(`no connection within ${this.#limits.timeoutMs} ms`)));
    socket.on('drain', () => this.#pump());
    // A syslog receiver sends nothing back; whatever it does send is read and ignored.
    socket.on('data', () => {});
    socket.on('error', (err) => (failed = err));
    socket.on('close', () => this.#closed(socket, failed));
  }

  #closed(socket: Socket, error: Error | null): void {
    if (this.#socket !== socket) return;
    this.#socket = null;
    if (this.#draining) {
      this.#state = 'closed';
      this.#checkIdle();
      return;
    }
    // Closed by the receiver with nothing waiting: connect again when there is.
    if (error === null && this.#queue.length === 0 && this.#state === 'connected') {
      this.#state = 'idle';
      this.#checkIdle();
      return;
    }
    this.#failures++;
    this.#lastError = error?.message ?? 'the receiver closed the connection';
    this.#lastErrorAt = this.#now();
    if (this.#failures === 1) this.#options.report?.(`cannot deliver: ${this.#lastError}; retrying`);
    this.#state = 'retrying';
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#pump();
    }, drainRetryDelay(this.#failures, this.#limits));
    this.#retryTimer.unref();
  }

  status(): DrainStatus {
    return {
      state: this.#state,
      sent: this.#sent,
      dropped: this.#queue.dropped,
      lastError: this.#lastError,
      lastErrorAt: this.#lastErrorAt === null ? null : new Date(this.#lastErrorAt).toISOString(),
    };
  }

  /** Sends what is queued for up to `graceMs` (while connected), then closes the connection; what is left counts as dropped. Idempotent. */
  close(graceMs: number = this.#limits.closeMs): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    this.#draining = true;
    this.#closing = (async () => {
      if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
      this.#retryTimer = null;
      if (this.#socket !== null && (this.#queue.length > 0 || this.#inflight > 0)) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([new Promise<void>((resolve) => this.#idle.push(resolve)), new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
        clearTimeout(timer);
      }
      this.#queue.clear();
      const socket = this.#socket;
      this.#state = 'closed';
      if (socket !== null) {
        socket.end();
        const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
        const timer = setTimeout(() => socket.destroy(), 1000);
        await closed;
        clearTimeout(timer);
      }
      this.#socket = null;
    })();
    return this.#closing;
  }
}
