// Steady load for restart tests and benches: N clients, each making a
// request every `intervalMs` for a bounded time (and a bounded count), some
// over one keep-alive connection, some over a new connection per request.
// Every request's outcome is kept with its timestamps, so a run can say
// "X requests failed between t1 and t2, this many refused, this many
// reset". The summaries are pure functions over those records.
import { Agent, request, type IncomingMessage } from 'node:http';

export type ConnectionMode = 'keep-alive' | 'new-connection';

/** ok: the expected status and a whole body; status: any other status; the rest: how the connection failed. */
export type Outcome = 'ok' | 'status' | 'refused' | 'reset' | 'timeout' | 'other';
export const FAILURES: readonly Exclude<Outcome, 'ok'>[] = ['status', 'refused', 'reset', 'timeout', 'other'];

export interface RequestRecord {
  readonly client: number;
  readonly mode: ConnectionMode;
  /** Wall-clock milliseconds since the epoch (fractional), comparable with Date.now() taken elsewhere. */
  readonly start: number;
  readonly end: number;
  readonly outcome: Outcome;
  /** The HTTP status, when one arrived. */
  readonly status?: number;
  /** The error's code or message, for a failure. */
  readonly detail?: string;
  /** True when it went over a connection an earlier request had used (a keep-alive client's reuse). */
  readonly reused: boolean;
}

export interface SteadyLoadOptions {
  /** Origin to connect to, e.g. http://127.0.0.1:8080. */
  readonly origin: string;
  readonly path?: string;
  /** Host header (for an edge that routes by name). */
  readonly host?: string;
  readonly clients: number;
  /** How many of `clients` keep one connection open; the others open one per request. */
  readonly keepAliveClients: number;
  /** Time between the starts of a client's requests (a slow answer delays the next; it never piles up). */
  readonly intervalMs: number;
  readonly durationMs: number;
  /** A request that has not ended after this long is recorded as a timeout and abandoned. */
  readonly timeoutMs: number;
  readonly expectStatus?: number;
  /** Hard bound on each client's request count (default: what the duration allows, plus one). */
  readonly maxRequestsPerClient?: number;
}

export interface SteadyLoad {
  /** Every record so far (complete once `done` settles). */
  readonly records: readonly RequestRecord[];
  /** Ends the run early: the clients stop after their request in flight. */
  stop(): void;
  readonly done: Promise<readonly RequestRecord[]>;
}

/** Wall-clock milliseconds, with sub-millisecond precision. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Maps a failed request's error to an outcome. Pure. */
export function classifyError(err: { code?: string; message?: string }): Exclude<Outcome, 'ok' | 'status'> {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return 'reset';
    case 'ETIMEDOUT':
    case 'ESTEADYLOADTIMEOUT':
      return 'timeout';
  }
  if (err.message === 'socket hang up' || err.message === 'aborted') return 'reset';
  return 'other';
}

/** Starts the clients; each stops at the deadline, at `stop()` or at its request bound, whichever is first. */
export function startSteadyLoad(options: SteadyLoadOptions): SteadyLoad {
  if (!(options.clients >= 1) || options.keepAliveClients < 0 || options.keepAliveClients > options.clients) throw new Error('steady load: bad client counts');
  if (!(options.intervalMs > 0) || !(options.durationMs > 0) || !(options.timeoutMs > 0)) throw new Error('steady load: bad interval, duration or timeout');
  const url = new URL(options.origin);
  const records: RequestRecord[] = [];
  const deadline = now() + options.durationMs;
  const maxRequests = options.maxRequestsPerClient ?? Math.ceil(options.durationMs / options.intervalMs) + 1;
  let stopped = false;

  async function client(index: number): Promise<void> {
    const mode: ConnectionMode = index < options.keepAliveClients ? 'keep-alive' : 'new-connection';
    const agent = mode === 'keep-alive' ? new Agent({ keepAlive: true, maxSockets: 1 }) : null;
    // Spread the clients' first requests over one interval so they do not march in step.
    await sleep((options.intervalMs * index) / options.clients);
    try {
      for (let n = 0; n < maxRequests && !stopped && now() < deadline; n++) {
        const start = now();
        records.push(await once(index, mode, agent, start));
        await sleep(start + options.intervalMs - now());
      }
    } finally {
      agent?.destroy();
    }
  }

  function once(index: number, mode: ConnectionMode, agent: Agent | null, start: number): Promise<RequestRecord> {
    return new Promise((resolve) => {
      let settled = false;
      let reused = false;
      const finish = (outcome: Outcome, status?: number, detail?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ client: index, mode, start, end: now(), outcome, reused, ...(status === undefined ? {} : { status }), ...(detail === undefined ? {} : { detail }) });
      };
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: options.path ?? '/',
          agent: agent ?? false,
          headers: { ...(options.host ? { host: options.host } : {}), ...(agent ? {} : { connection: 'close' }) },
        },
        (res: IncomingMessage) => {
          res.resume();
          res.once('end', () => {
            const expected = options.expectStatus ?? 200;
            if (res.statusCode === expected) finish('ok', res.statusCode);
            else finish('status', res.statusCode, `status ${res.statusCode}`);
          });
          res.once('error', (err: NodeJS.ErrnoException) => finish(classifyError(err), res.statusCode, err.code ?? err.message));
          res.once('aborted', () => finish('reset', res.statusCode, 'aborted'));
        },
      );
      req.once('socket', () => (reused = req.reusedSocket));
      const timer = setTimeout(() => {
        finish('timeout', undefined, `no answer within ${options.timeoutMs} ms`);
        req.destroy();
      }, options.timeoutMs);
      req.once('error', (err: NodeJS.ErrnoException) => finish(classifyError(err), undefined, err.code ?? err.message));
      req.end();
    });
  }

  const done = Promise.all(Array.from({ length: options.clients }, (_, i) => client(i))).then(() => records.sort((a, b) => a.start - b.start));
  return {
    records,
    stop: () => {
      stopped = true;
    },
    done,
  };
}

export interface LoadSummary {
  readonly total: number;
  readonly ok: number;
  readonly failed: number;
  readonly byOutcome: Readonly<Record<Exclude<Outcome, 'ok'>, number>>;
  /** Start of the first failed request and end of the last one (null when none failed). */
  readonly firstFailure: number | null;
  readonly lastFailure: number | null;
  /** lastFailure − firstFailure, in ms (0 for a single failure, null when none failed). */
  readonly gapMs: number | null;
  /** Failures on a reused keep-alive connection (the race of a close between requests). */
  readonly failedOnReuse: number;
}

/**
 * The counts of `records`, optionally only those that started (or, with
 * by 'end', ended) in [from, to). By end time, a request in flight when a
 * process was killed counts with the kill, not with what came before. Pure.
 */
export function summarize(records: readonly RequestRecord[], from = -Infinity, to = Infinity, by: 'start' | 'end' = 'start'): LoadSummary {
  const byOutcome = { status: 0, refused: 0, reset: 0, timeout: 0, other: 0 };
  let ok = 0;
  let total = 0;
  let failedOnReuse = 0;
  let firstFailure: number | null = null;
  let lastFailure: number | null = null;
  for (const r of records) {
    const at = by === 'start' ? r.start : r.end;
    if (at < from || at >= to) continue;
    total++;
    if (r.outcome === 'ok') {
      ok++;
      continue;
    }
    byOutcome[r.outcome]++;
    if (r.reused) failedOnReuse++;
    if (firstFailure === null || r.start < firstFailure) firstFailure = r.start;
    if (lastFailure === null || r.end > lastFailure) lastFailure = r.end;
  }
  const gapMs = firstFailure === null || lastFailure === null ? null : lastFailure - firstFailure;
  return { total, ok, failed: total - ok, byOutcome, firstFailure, lastFailure, gapMs, failedOnReuse };
}

/** The summary per connection mode. Pure. */
export function summarizeByMode(records: readonly RequestRecord[], from = -Infinity, to = Infinity, by: 'start' | 'end' = 'start'): Record<ConnectionMode, LoadSummary> {
  return {
    'keep-alive': summarize(records.filter((r) => r.mode === 'keep-alive'), from, to, by),
    'new-connection': summarize(records.filter((r) => r.mode === 'new-connection'), from, to, by),
  };
}

/** "12 failed of 800 (refused 10, reset 2) over 1.23 s" — for logs and assertion messages. Pure. */
export function describeSummary(s: LoadSummary): string {
  if (s.failed === 0) return `0 failed of ${s.total}`;
  const kinds = FAILURES.filter((k) => s.byOutcome[k] > 0).map((k) => `${k} ${s.byOutcome[k]}`).join(', ');
  return `${s.failed} failed of ${s.total} (${kinds}) over ${((s.gapMs ?? 0) / 1000).toFixed(2)} s`;
}
