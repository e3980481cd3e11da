import type { ServerResponse } from 'node:http';

// Server-Sent Events: one response kept open, events written as
// `event: NAME` + `data: JSON`. A comment line after a quiet spell keeps
// proxies and idle timeouts from cutting it. A client that reads slower
// than events come is cut off rather than buffered without bound; its
// EventSource reconnects and starts from the present.

/** Past this many unsent bytes the client is too slow: the stream ends. */
export const MAX_UNSENT_BYTES = 1024 * 1024;
export const KEEPALIVE_MS = 15_000;

export class EventStream {
  readonly #res: ServerResponse;
  readonly #keepAlive: NodeJS.Timeout;
  readonly #onClose: Array<() => void> = [];
  #closed = false;

  constructor(res: ServerResponse, headers: Record<string, string>, keepAliveMs = KEEPALIVE_MS) {
    this.#res = res;
    res.writeHead(200, { ...headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    // A client that waits a little before reconnecting after a cut; the head goes out now, not with the first event.
    res.write('retry: 2000\n\n');
    this.#keepAlive = setInterval(() => this.#write(': keep-alive\n\n'), keepAliveMs);
    res.once('close', () => this.close());
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Called once when the stream ends, by either side. */
  onClose(fn: () => void): void {
    if (this.#closed) fn();
    else this.#onClose.push(fn);
  }

  send(event: string, data: unknown): void {
    this.#write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  #write(text: string): void {
    if (this.#closed) return;
    if (this.#res.writableLength > MAX_UNSENT_BYTES) {
      this.close();
      return;
    }
    this.#res.write(text);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#keepAlive);
    this.#res.end();
    for (const fn of this.#onClose.splice(0)) fn();
  }
}
