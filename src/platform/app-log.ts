import { decodeLine, encodeLine, linesBackward, LogFiles, openRotated, sizeOf } from './app-log-files.ts';
import { lineMatches, type LogLine, type LogQuery } from './app-log-query.ts';
import { appLogLimits, type AppLogLimits } from './app-log-rotation.ts';

export type { LogLine, LogQuery } from './app-log-query.ts';

/** How a log stores its lines: `encode` gives one line of the file with its newline, `decode` reads one back (null: not a line of this log). */
export interface LineCodec {
  encode(line: LogLine): string;
  decode(text: string): LogLine | null;
}

/** App output as stored: `{"at","source","text"}` a line. */
export const APP_LINE_CODEC: LineCodec = { encode: encodeLine, decode: decodeLine };

export interface AppLogOptions {
  /** The app's log folder, `STATE/apps/NAME/logs`. */
  readonly dir: string;
  readonly now?: () => number;
  readonly limits?: Partial<AppLogLimits>;
  /** Told when the log cannot be written (once, until writing works again). */
  readonly onError?: (err: Error) => void;
  /** How lines are stored (default APP_LINE_CODEC) and the current file's name (default `app.log`): the access log stores its own JSON records. */
  readonly codec?: LineCodec;
  readonly fileName?: string;
}

/** A line held in memory until it is written. */
interface Held {
  readonly line: LogLine;
  /** The number of the last line added when this one was: lines are numbered for followers, markers share their predecessor's. */
  readonly seq: number;
  readonly data: Buffer;
  /** For a marker: how many lines it stands for. */
  readonly dropped: number;
}

type Follower = (line: LogLine, seq: number) => void;

/**
 * The output of one app (instances' stdout and stderr as `web.1`, build
 * lines as `build`, deploy events as `berth`), persistent and rotated, with
 * followers for `logs -f`.
 *
 * `add()` never waits: a line goes to followers at once and into a bounded
 * queue that one writer appends to disk in batches. When the disk falls
 * behind by more than `maxPendingBytes`, new lines are counted instead of
 * queued, and one marker line ("N lines dropped") takes their place.
 * `recent()` reads the files from their end (plus the lines still queued),
 * so it shows what happened before a daemon restart too.
 */
export class AppLog {
  readonly #limits: AppLogLimits;
  readonly #now: () => number;
  readonly #onError: (err: Error) => void;
  readonly #files: LogFiles;
  readonly #codec: LineCodec;
  readonly #followers = new Set<Follower>();
  #seq = 0;
  #pending: Held[] = [];
  #pendingBytes = 0;
  #inflight: Held[] = [];
  #dropped = 0;
  #failing = false;
  #checkDue = false;
  #draining: Promise<void> | null = null;
  #opening: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #closing: Promise<void> | null = null;
  #closed = false;

  constructor(options: AppLogOptions) {
    this.#limits = appLogLimits(options.limits);
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => {});
    this.#codec = options.codec ?? APP_LINE_CODEC;
    this.#files = new LogFiles({ dir: options.dir, limits: this.#limits, now: this.#now, name: options.fileName, decode: this.#codec.decode });
  }

  /** `stream`: which of an instance's outputs the line came from, when known; followers see it, the files do not keep it. */
  add(source: string, text: string, at: number = this.#now(), stream?: 'out' | 'err'): void {
    if (this.#closing !== null) return;
    const cut = text.length > this.#limits.maxLineChars ? `${text.slice(0, this.#limits.maxLineChars)}…` : text;
    const line: LogLine = stream === undefined ? { at, source, text: cut } : { at, source, text: cut, stream };
    const seq = ++this.#seq;
    for (const follower of this.#followers) follower(line, seq);
    const data = Buffer.from(this.#codec.encode(line));
    if (this.#pendingBytes + data.length > this.#limits.maxPendingBytes) {
      this.#dropped += 1;
      return;
    }
    this.#holdMarker();
    this.#hold({ line, seq, data, dropped: 0 });
  }

  /** The marker for the lines dropped since the last one held, if any. */
  #holdMarker(): void {
    if (this.#dropped === 0) return;
    const dropped = this.#dropped;
    this.#dropped = 0;
    const line: LogLine = { at: this.#now(), source: 'berth', text: `${dropped} ${dropped === 1 ? 'line' : 'lines'} dropped: the log could not be written as fast as the app wrote` };
    this.#hold({ line, seq: this.#seq, data: Buffer.from(this.#codec.encode(line)), dropped });
  }

  #hold(held: Held): void {
    this.#pending.push(held);
    this.#pendingBytes += held.data.length;
    this.#startWriting();
  }

  #startWriting(): void {
    if (this.#draining !== null) return;
    this.#draining = this.#write().finally(() => {
      this.#draining = null;
      if (this.#pending.length > 0 && this.#files.isOpen) this.#startWriting();
    });
  }

  #open(): Promise<void> {
    if (this.#files.isOpen) return Promise.resolve();
    if (this.#closed) return Promise.reject(new Error('the log is closed'));
    this.#opening ??= this.#files.open().then(
      () => {
        this.#opening = null;
        if (this.#timer === null && this.#closing === null) {
          this.#timer = setInterval(() => this.#check(), this.#limits.checkEveryMs);
          this.#timer.unref();
        }
      },
      (err: unknown) => {
        this.#opening = null;
        throw err;
      },
    );
    return this.#opening;
  }

  #check(): void {
    this.#checkDue = true;
    this.#startWriting();
  }

  /** The one writer: batches of queued lines, each after a rotation check. */
  async #write(): Promise<void> {
    try {
      await this.#open();
    } catch (err) {
      this.#failed(err, this.#pending.splice(0));
      this.#pendingBytes = 0;
      return;
    }
    // Bounded: each pass writes at least one line, or makes the one due check once the queue is empty.
    while (this.#pending.length > 0 || this.#checkDue) {
      if (this.#pending.length === 0) this.#checkDue = false;
      let bytes = 0;
      let count = 0;
      while (count < this.#pending.length && (count === 0 || bytes + this.#pending[count]!.data.length <= this.#limits.maxBatchBytes)) {
        bytes += this.#pending[count]!.data.length;
        count += 1;
      }
      const batch = this.#pending.splice(0, count);
      this.#pendingBytes -= bytes;
      this.#inflight = batch;
      // The queue has room again: the marker for what did not fit goes next, before any later line
      // (while writes fail, the next line added brings it, so a failing disk is not retried in a loop).
      if (this.#pending.length === 0 && !this.#failing) this.#holdMarker();
      try {
        await this.#files.maintain(bytes);
        if (batch.length > 0) {
          const data = batch.length === 1 ? batch[0]!.data : Buffer.concat(batch.map((held) => held.data), bytes);
          await this.#files.append(data, batch[0]!.line.at, batch.at(-1)!.line.at, () => (this.#inflight = []));
        }
        this.#failing = false;
      } catch (err) {
        this.#inflight = [];
        this.#failed(err, batch);
        if (!this.#files.isOpen) return;
      }
    }
  }

  /** Lines that could not be written count as dropped; the error is told once per bad spell. */
  #failed(err: unknown, lost: readonly Held[]): void {
    for (const held of lost) this.#dropped += held.dropped > 0 ? held.dropped : 1;
    if (!this.#failing) this.#onError(err as Error);
    this.#failing = true;
  }

  /** Resolves once every line added so far is written (or counted as dropped), after a rotation check. */
  async flush(): Promise<void> {
    const target = this.#seq;
    this.#check();
    const unwritten = () => (this.#inflight[0]?.seq ?? Infinity) <= target || (this.#pending[0]?.seq ?? Infinity) <= target;
    // Bounded by the lines added before the call: each pass writes some of them.
    while (this.#draining !== null) {
      await this.#draining;
      if (!unwritten()) break;
    }
  }

  /** The last `query.limit` lines that match the query, oldest first. */
  async recent(query: LogQuery): Promise<LogLine[]> {
    return (await this.#recent(query)).lines;
  }

  async #recent(query: LogQuery): Promise<{ lines: LogLine[]; through: number }> {
    try {
      await this.#open();
    } catch {
      // Closed, or the disk refuses: whatever files there are can still be read.
    }
    const view = await this.#files.openForReading(() => ({ held: [...this.#inflight, ...this.#pending], through: this.#seq }));
    const found: LogLine[] = [];
    // Lines are stored in the order they were added: the first line older than `since` ends the search.
    let done = false;
    const take = (line: LogLine | null): void => {
      if (line === null || done) return;
      if (query.since !== null && line.at < query.since) done = true;
      else if (lineMatches(line, query)) {
        found.push(line);
        if (found.length >= query.limit) done = true;
      }
    };
    const { held, through } = view.captured;
    for (let i = held.length - 1; i >= 0 && !done; i--) take(held[i]!.line);
    try {
      if (view.current !== null) {
        for await (const text of linesBackward(view.current.handle, view.current.end)) {
          take(this.#codec.decode(text));
          if (done) break;
        }
      }
      for (const file of view.rotated) {
        if (done || (query.since !== null && file.closedAt < query.since)) break;
        const handle = await openRotated(view.dir, file);
        if (handle === null) break;
        try {
          for await (const text of linesBackward(handle, await sizeOf(handle))) {
            take(this.#codec.decode(text));
            if (done) break;
          }
        } finally {
          await handle.close();
        }
      }
    } finally {
      await view.current?.handle.close();
    }
    return { lines: found.reverse(), through };
  }

  /** New lines as they are added. Returns the unsubscribe function. */
  follow(listener: (line: LogLine) => void): () => void {
    const follower: Follower = (line) => listener(line);
    this.#followers.add(follower);
    return () => this.#followers.delete(follower);
  }

  /**
   * `recent(query)` and then every new matching line, each given to
   * `listener` in order, none missed or repeated at the seam (lines added
   * while the files are read wait until the recent ones are out).
   */
  async recentThenFollow(query: LogQuery, listener: (line: LogLine) => void): Promise<() => void> {
    let waiting: Array<{ line: LogLine; seq: number }> | null = [];
    const follower: Follower = (line, seq) => {
      if (!lineMatches(line, query)) return;
      if (waiting === null) listener(line);
      else waiting.push({ line, seq });
    };
    this.#followers.add(follower);
    const stop = () => void this.#followers.delete(follower);
    try {
      const { lines, through } = await this.#recent(query);
      for (const line of lines) listener(line);
      for (const { line, seq } of waiting) if (seq > through) listener(line);
      waiting = null;
    } catch (err) {
      stop();
      throw err;
    }
    return stop;
  }

  /** Writes what is queued (and a marker for anything dropped) and closes the files; idempotent. Later lines are ignored. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#timer !== null) clearInterval(this.#timer);
      this.#timer = null;
      this.#holdMarker();
      // A log that was never opened and holds nothing stays without files.
      if (this.#files.isOpen || this.#opening !== null || this.#pending.length > 0) await this.flush();
      if (this.#opening !== null) await this.#opening.catch(() => {});
      this.#closed = true;
      await this.#files.close();
    })();
    return this.#closing;
  }
}

export function formatLogLine(line: LogLine): string {
  return `${new Date(line.at).toISOString()} ${line.source} | ${line.text}`;
}
