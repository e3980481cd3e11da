// A raw HTTP/1.1 client for the attack tests: exact bytes on a socket,
// half-closes, a chosen source address, and a small response reader that
// follows the framing the server declared (so broken framing shows).

import { connect, type Socket } from 'node:net';

export interface RawResult {
  /** Everything the server sent, latin1. */
  readonly text: string;
  /** The server closed (or reset) the connection before the time was up. */
  readonly closed: boolean;
}

export interface RawOptions {
  /** Half-close after writing (shutdown(SHUT_WR), as `printf … | nc` does). */
  readonly end?: boolean;
  /** Give up waiting for the server to close after this (the result says it did not). */
  readonly timeoutMs?: number;
  readonly localAddress?: string;
  /** Stop waiting as soon as the text so far satisfies this. */
  readonly until?: (text: string) => boolean;
}

/** Writes `bytes` (one write per piece) on a fresh connection and collects the answer. */
export function rawExchange(port: number, pieces: string | readonly string[], options: RawOptions = {}): Promise<RawResult> {
  const list = typeof pieces === 'string' ? [pieces] : pieces;
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ...(options.localAddress ? { localAddress: options.localAddress } : {}), allowHalfOpen: true });
    let text = '';
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(() => finish(false), options.timeoutMs ?? 10_000);
    socket.on('connect', () => {
      for (const piece of list) socket.write(piece, 'latin1');
      if (options.end === true) socket.end();
    });
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (options.until?.(text)) finish(false);
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
  });
}

/** A connection kept open: write, read what came so far, wait for more. */
export class RawConnection {
  readonly socket: Socket;
  text = '';
  closed = false;
  #waiters: Array<() => void> = [];

  constructor(port: number, localAddress?: string) {
    this.socket = connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}), allowHalfOpen: true });
    this.socket.on('data', (chunk: Buffer) => {
      this.text += chunk.toString('latin1');
      this.#wake();
    });
    const close = () => {
      this.closed = true;
      this.#wake();
    };
    this.socket.on('end', close);
    this.socket.on('close', close);
    this.socket.on('error', close);
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  write(bytes: string | Buffer): void {
    if (!this.closed) this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /** Resolves when `check(text, closed)` holds; rejects after `timeoutMs` with what arrived. */
  async waitFor(what: string, check: (text: string, closed: boolean) => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check(this.text, this.closed)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; received ${JSON.stringify(this.text)}${this.closed ? ' (closed)' : ''}`);
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export interface ParsedResponse {
  readonly status: number;
  /** Lower-case names; repeated fields joined with ", ". */
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * Splits a byte stream into the responses it frames, by the framing each
 * head declares (Content-Length, chunked, none for 1xx/204/304 or HEAD,
 * else to the end). Throws on anything that is not a well-framed response,
 * and on trailing bytes that are not a complete response.
 */
export function parseResponses(text: string, methods: readonly string[] = []): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  let at = 0;
  while (at < text.length) {
    const headEnd = text.indexOf('\r\n\r\n', at);
    if (headEnd === -1) throw new Error(`an incomplete head at ${at}: ${JSON.stringify(text.slice(at))}`);
    const lines = text.slice(at, headEnd).split('\r\n');
    const status = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0]!);
    if (status === null) throw new Error(`not a status line: ${JSON.stringify(lines[0])}`);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new Error(`not a field line: ${JSON.stringify(line)}`);
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const code = Number(status[1]);
    at = headEnd + 4;
    let body = '';
    const method = methods[out.length] ?? 'GET';
    if ((code >= 100 && code < 200) || code === 204 || code === 304 || method === 'HEAD') {
      // no body
    } else if (headers['transfer-encoding'] !== undefined) {
      if (headers['transfer-encoding'] !== 'chunked' || headers['content-length'] !== undefined) throw new Error(`odd framing: ${JSON.stringify(headers)}`);
      for (;;) {
        const lineEnd = text.indexOf('\r\n', at);
        if (lineEnd === -1) throw new Error('an incomplete chunk-size line');
        const size = Number.parseInt(text.slice(at, lineEnd), 16);
        if (!/^[0-9a-f]+$/i.test(text.slice(at, lineEnd))) throw new Error(`not a chunk-size line: ${JSON.stringify(text.slice(at, lineEnd))}`);
        at = lineEnd + 2;
        if (size === 0) {
          if (text.slice(at, at + 2) !== '\r\n') throw new Error('trailers or an incomplete last chunk');
          at += 2;
          break;
        }
        if (text.length < at + size + 2) throw new Error('an incomplete chunk');
        body += text.slice(at, at + size);
        if (text.slice(at + size, at + size + 2) !== '\r\n') throw new Error('a chunk without its CRLF');
        at += size + 2;
      }
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (!Number.isSafeInteger(length) || length < 0) throw new Error(`bad content-length ${headers['content-length']}`);
      if (text.length < at + length) throw new Error('an incomplete body');
      body = text.slice(at, at + length);
      at += length;
    } else {
      body = text.slice(at);
      at = text.length;
    }
    out.push({ status: code, headers, body });
  }
  return out;
}
