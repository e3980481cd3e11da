import { Agent, request, type AgentOptions } from 'node:https';
import { DEFAULT_DRAIN_LIMITS, drainRetryDelay, retryableStatus, type Drain, type DrainLimits, type DrainLine, type DrainState, type DrainStatus, type DrainTarget } from './drain-policy.ts';
import { DrainQueue } from './drain-queue.ts';

interface Entry {
  readonly text: string;
  readonly bytes: number;
}

export interface HttpsDrainOptions {
  readonly app: string;
  /** An https target (parseDrainUrl); user and password in it become Basic authentication. */
  readonly target: DrainTarget;
  readonly limits?: Partial<DrainLimits>;
  /** A line for the daemon's log: failures, recoveries, drops (never the URL; the caller names the drain). */
  readonly report?: (message: string) => void;
  /** More TLS options (a test's CA); operators use NODE_EXTRA_CA_CERTS, as for syslog+tls. */
  readonly tls?: AgentOptions;
  readonly now?: () => number;
}

/** Drop reports in the daemon's log at most this often. */
const REPORT_EVERY_MS = 60_000;

/**
 * One JSON object a line, as an HTTPS drain receives them:
 * output `{"app","source","time","text"}` (with `"stream":"err"` for stderr),
 * access `{"app","source":"access", …the access log entry}`.
 */
export function drainJson(line: DrainLine): string {
  const app = JSON.stringify(line.app);
  // The access entry is stored JSON starting with `{"time":`: spliced in, not parsed again.
  if (line.kind === 'access') return `{"app":${app},"source":"access",${line.text.slice(1)}`;
  const stream = line.stream === 'err' ? ',"stream":"err"' : '';
  return `{"app":${app},"source":${JSON.stringify(line.source)},"time":"${new Date(line.at).toISOString()}","text":${JSON.stringify(line.text)}${stream}}`;
}

/**
 * An HTTPS drain: lines are POSTed in batches (`application/x-ndjson`, one
 * JSON object a line; a batch goes once it holds 1000 lines or 512 KiB, or
 * a second after its first line), one request at a time so they arrive in
 * order. A batch answered 408, 429 or 5xx, or not answered, is tried again
 * (1 s doubling) up to 5 attempts; then, or on any other refusal, its lines
 * are dropped and counted. Lines wait in a bounded queue meanwhile.
 */
export class HttpsDrain implements Drain {
  readonly #options: HttpsDrainOptions;
  readonly #limits: DrainLimits;
  readonly #now: () => number;
  readonly #queue: DrainQueue<Entry>;
  readonly #agent: Agent;
  #state: DrainState = 'idle';
  /** The batch being sent (or waiting to be tried again). */
  #batch: Entry[] | null = null;
  #attempts = 0;
  #failing = false;
  #timer: NodeJS.Timeout | null = null;
  #sent = 0;
  #lastError: string | null = null;
  #lastErrorAt: number | null = null;
  #lastDropReport = -Infinity;
  #closing: Promise<void> | null = null;
  /** Set as close() begins: batches go at once and failures are not retried. */
  #draining = false;
  #closed = false;
  #idle: Array<() => void> = [];

  constructor(options: HttpsDrainOptions) {
    this.#options = options;
    this.#limits = { ...DEFAULT_DRAIN_LIMITS, ...options.limits };
    this.#now = options.now ?? Date.now;
    this.#agent = new Agent({ keepAlive: true, maxSockets: 1, ...options.tls });
    this.#queue = new DrainQueue<Entry>(this.#limits.maxQueueBytes, (dropped) =>
      this.#entry({ app: options.app, kind: 'output', at: this.#now(), source: 'berth', text: `${dropped} ${dropped === 1 ? 'line' : 'lines'} dropped by berth: the drain could not keep up` }),
    );
  }

  #entry(line: DrainLine): Entry {
    const text = drainJson(line);
    return { text, bytes: Buffer.byteLength(text) + 1 };
  }

  send(line: DrainLine): void {
    if (this.#draining) return;
    if (!this.#queue.push(this.#entry(line))) this.#reportDrops();
    this.#schedule();
  }

  #reportDrops(): void {
    const now = this.#now();
    if (now - this.#lastDropReport < REPORT_EVERY_MS) return;
    this.#lastDropReport = now;
    this.#options.report?.(`dropping lines: its queue is full (${this.#queue.dropped} dropped so far)`);
  }

  /** Starts the next batch now if it is full (or the drain is closing), else once the batch delay has passed. */
  #schedule(): void {
    if (this.#batch !== null || this.#closed) return;
    if (this.#queue.length === 0) {
      if (this.#state !== 'retrying') this.#state = 'idle';
      for (const resolve of this.#idle.splice(0)) resolve();
      return;
    }
    const full = this.#queue.length >= this.#limits.batchLines || this.#queue.bytes >= this.#limits.batchBytes;
    if (full || this.#draining) {
      if (this.#timer !== null) clearTimeout(this.#timer);
      this.#timer = null;
      this.#startBatch();
    } else if (this.#timer === null) {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.#startBatch();
      }, this.#limits.batchDelayMs);
      this.#timer.unref();
    }
  }

  #startBatch(): void {
    if (this.#batch !== null || this.#queue.length === 0) return;
    this.#batch = this.#queue.take(this.#limits.batchLines, this.#limits.batchBytes);
    this.#attempts = 0;
    void this.#attempt();
  }

  async #attempt(): Promise<void> {
    const batch = this.#batch;
    if (batch === null || this.#closed) return;
    this.#attempts++;
    if (this.#state !== 'retrying') this.#state = 'sending';
    const result = await this.#post(batch.map((entry) => entry.text).join('\n') + '\n', batch.length);
    if (this.#batch !== batch) return; // closed meanwhile: counted there
    if (result.ok) {
      this.#sent += batch.length;
      if (this.#failing) this.#options.report?.('delivering again');
      this.#failing = false;
      this.#state = 'sending';
      this.#done();
      return;
    }
    this.#lastError = result.error;
    this.#lastErrorAt = this.#now();
    if (!this.#failing) this.#options.report?.(`cannot deliver: ${result.error}; ${result.retry ? 'retrying' : 'dropping the batch'}`);
    this.#failing = true;
    if (result.retry && this.#attempts < this.#limits.attempts && !this.#draining) {
      this.#state = 'retrying';
      this.#timer = setTimeout(() => {
        this.#timer = null;
        void this.#attempt();
      }, drainRetryDelay(this.#attempts, this.#limits));
      this.#timer.unref();
      return;
    }
    this.#queue.lost(batch.length);
    this.#state = 'retrying';
    this.#done();
  }

  #done(): void {
    this.#batch = null;
    this.#schedule();
  }

  #post(body: string, lines: number): Promise<{ ok: true } | { ok: false; retry: boolean; error: string }> {
    return new Promise((resolve) => {
      const req = request(this.#options.target.url, {
        method: 'POST',
        agent: this.#agent,
        timeout: this.#limits.timeoutMs,
        headers: { 'content-type': 'application/x-ndjson', 'content-length': Buffer.byteLength(body), 'user-agent': 'berth', 'x-berth-lines': String(lines) },
      });
      req.on('response', (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        const settle = () => resolve(status >= 200 && status < 300 ? { ok: true } : { ok: false, retry: retryableStatus(status), error: `the receiver answered ${status}` });
        res.on('end', settle);
        res.on('error', () => resolve({ ok: false, retry: true, error: 'the answer broke off' }));
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.#limits.timeoutMs} ms`)));
      req.on('error', (err) => resolve({ ok: false, retry: true, error: err.message }));
      req.end(body);
    });
  }

  status(): DrainStatus {
    return {
      state: this.#closed ? 'closed' : this.#state,
      sent: this.#sent,
      dropped: this.#queue.dropped,
      lastError: this.#lastError,
      lastErrorAt: this.#lastErrorAt === null ? null : new Date(this.#lastErrorAt).toISOString(),
    };
  }

  /** Sends what is queued (no waiting for fuller batches, no retries) for up to `graceMs`; what is left counts as dropped. Idempotent. */
  close(graceMs: number = this.#limits.closeMs): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    this.#draining = true;
    this.#closing = (async () => {
      if (this.#batch !== null || this.#queue.length > 0) {
        const idle = new Promise<void>((resolve) => this.#idle.push(resolve));
        // A batch waiting to be tried again is tried now, once; a waiting batch goes at once.
        if (this.#timer !== null) {
          clearTimeout(this.#timer);
          this.#timer = null;
          if (this.#batch !== null) void this.#attempt();
        }
        this.#schedule();
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([idle, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
        clearTimeout(timer);
      }
      this.#closed = true;
      if (this.#timer !== null) clearTimeout(this.#timer);
      this.#timer = null;
      if (this.#batch !== null) this.#queue.lost(this.#batch.length);
      this.#batch = null;
      this.#queue.clear();
      this.#agent.destroy();
    })();
    return this.#closing;
  }
}
