import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import type { z } from 'zod';
import { BerthError, isBerthError, type ErrorCode } from '../../errors.ts';
import { escapeControls } from '../../terminal-text.ts';
import type { Credentials } from './credentials.ts';
import { ErrorBody } from './schemas.ts';

/**
 * A small typed client for the control API (docs/API.md) over fetch: the
 * base URL and bearer token, JSON in and out, answers checked against a
 * schema, and every way a call can fail turned into a BerthError the CLI
 * prints as `berth: MESSAGE [CODE]` and `hint: …`:
 *
 * - an error answer `{code, message, hint}` keeps the server's code;
 * - no connection (refused, unknown host, timeout, TLS) is BERTH_E_UNREACHABLE;
 * - a connection that ends before the answer is whole is BERTH_E_CONNECTION_LOST;
 * - an answer that is not the API's (a proxy's error page, another program)
 *   is BERTH_E_BAD_RESPONSE.
 */

/** An answer: the checked value the command uses, and the JSON as it came for `--json`. */
export interface ApiAnswer<T> {
  readonly value: T;
  readonly json: unknown;
}

export interface StreamRequest {
  /** An upload, sent as it is read (chunked). */
  readonly body?: ReadableStream<Uint8Array>;
  readonly headers?: Readonly<Record<string, string>>;
  /** Aborting ends the stream quietly: the lines stop and no error is thrown. */
  readonly signal?: AbortSignal;
}

/** `apiPath('apps', 'shop', 'domains', 'a.example.com')` → `/apps/shop/domains/a.example.com`, each segment encoded. */
export function apiPath(...segments: readonly string[]): string {
  return segments.map((segment) => `/${encodeURIComponent(segment)}`).join('');
}

/** The first `code` along an error's cause chain (`ECONNREFUSED`, `UND_ERR_BODY_TIMEOUT`, …). */
export function causeCode(err: unknown): string | undefined {
  for (let current = err, depth = 0; current !== null && typeof current === 'object' && depth < 8; current = (current as { cause?: unknown }).cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && !code.startsWith('BERTH_E_')) return code;
  }
  return undefined;
}

function berthErrorInChain(err: unknown): BerthError | undefined {
  for (let current = err, depth = 0; current !== null && typeof current === 'object' && depth < 8; current = (current as { cause?: unknown }).cause, depth++) {
    if (isBerthError(current)) return current;
  }
  return undefined;
}

// Failures before any byte of an answer: nothing reached the daemon, or it is not there.
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ETIMEDOUT', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);

function isTlsFailure(code: string): boolean {
  return code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.includes('CERT') || code.includes('SELF_SIGNED');
}

/**
 * An error the server reported (an answer's body, or a deploy's last line),
 * as a BerthError with the server's code. A newer daemon may send a code this
 * CLI does not list in ERROR_CODES; it is passed on as it is, because the
 * code is what scripts match on.
 */
export function remoteError(body: ErrorBody, status: number): BerthError {
  const hint = body.hint === null || body.hint === undefined || body.hint === '' ? undefined : escapeControls(body.hint, { keepNewlines: true });
  return new BerthError(body.code as ErrorCode, escapeControls(body.message), hint === undefined ? { status } : { status, hint });
}

export class ApiClient {
  readonly server: string;
  readonly #token: string;

  constructor(credentials: Credentials) {
    this.server = credentials.server;
    this.#token = credentials.token;
  }

  /** A JSON call: the answer is checked against `schema`; any failure is a BerthError. */
  async call<S extends z.ZodType>(method: string, path: string, schema: S, body?: unknown): Promise<ApiAnswer<z.infer<S>>> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await this.#fetch(path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await this.#text(response);
    if (!response.ok) throw this.#errorAnswer(response, text);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw this.#badResponse(`the server at ${this.server} answered ${method} ${path} with something that is not JSON`);
    }
    const checked = schema.safeParse(json);
    if (!checked.success) {
      const issue = checked.error.issues[0]!;
      const where = issue.path.length > 0 ? issue.path.join('.') : 'the answer';
      throw this.#badResponse(`the server at ${this.server} answered ${method} ${path} with JSON the CLI does not understand (${where}: ${issue.message})`);
    }
    return { value: checked.data, json };
  }

  /**
   * A call answered with streamed text lines (a deploy's build output,
   * logs). Resolves once the answer starts (an error answer rejects); the
   * lines then come as they arrive. A connection that breaks mid-stream makes
   * the iteration throw BERTH_E_CONNECTION_LOST (after any partial last
   * line); an answer that ends cleanly just ends the iteration.
   */
  async lines(method: string, path: string, request: StreamRequest = {}): Promise<AsyncGenerator<string, void, undefined>> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}`, ...request.headers };
    const init: RequestInit & { duplex?: 'half' } = { method, headers };
    if (request.body !== undefined) {
      init.body = request.body;
      // A streamed upload: fetch needs to be told the answer may start before the upload ends.
      init.duplex = 'half';
    }
    if (request.signal !== undefined) init.signal = request.signal;
    let response: Response;
    try {
      response = await this.#fetch(path, init);
    } catch (err) {
      if (request.signal?.aborted) return (async function* () {})();
      throw err;
    }
    if (!response.ok) throw this.#errorAnswer(response, await this.#text(response));
    if (response.body === null) return (async function* () {})();
    return this.#splitLines(response.body, request.signal);
  }

  async *#splitLines(body: ReadableStream<Uint8Array>, signal: AbortSignal | undefined): AsyncGenerator<string, void, undefined> {
    const decoder = new TextDecoder();
    let pending = '';
    try {
      for await (const chunk of body) {
        pending += decoder.decode(chunk, { stream: true });
        for (let newline = pending.indexOf('\n'); newline !== -1; newline = pending.indexOf('\n')) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          // An empty line is the server's keep-alive during a quiet spell, never content.
          if (line === '' || line === '\r') continue;
          yield line.endsWith('\r') ? line.slice(0, -1) : line;
        }
      }
    } catch (err) {
      if (signal?.aborted) return;
      pending += decoder.decode();
      if (pending !== '') yield pending;
      throw this.#lost(err, 'the berth server closed the connection before its answer was complete');
    }
    pending += decoder.decode();
    if (pending !== '') yield pending;
  }

  /**
   * A JSON request that asks to switch the connection to `protocol` (a
   * one-off run's stream): resolves with the connection after the 101, and
   * any bytes that came with it; an error answer rejects as `call` would.
   */
  upgrade(method: string, path: string, protocol: string, body: unknown): Promise<{ socket: Duplex; head: Buffer }> {
    const text = JSON.stringify(body);
    const url = new URL(`${this.server}${path}`);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, {
        method,
        headers: { authorization: `Bearer ${this.#token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), connection: 'Upgrade', upgrade: protocol, accept: 'application/json' },
      });
      req.once('upgrade', (res: IncomingMessage, socket: Duplex, head: Buffer) => {
        if (res.headers.upgrade?.toLowerCase() !== protocol) {
          socket.destroy();
          return reject(this.#badResponse(`the server at ${this.server} switched to ${JSON.stringify(res.headers.upgrade ?? '')}, not ${protocol}`));
        }
        resolve({ socket, head });
      });
      req.once('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('end', () => reject(this.#errorAnswer(new Response(null, { status: res.statusCode ?? 500, statusText: res.statusMessage ?? '' }), Buffer.concat(chunks).toString('utf8'))));
        res.once('error', (err) => reject(this.#lost(err, 'the berth server closed the connection before its answer was complete')));
      });
      req.once('error', (err) => reject(this.#connectionError(err)));
      req.end(text);
    });
  }

  async #fetch(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.server}${path}`, init);
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw this.#connectionError(err);
    }
  }

  /** A request that got no answer, as the BerthError to show. */
  #connectionError(err: unknown): BerthError {
    // The upload itself failed (a file changed while it was packed): that is the error to show.
    const own = berthErrorInChain(err);
    if (own !== undefined) return own;
    const code = causeCode(err);
    if (code !== undefined && UNREACHABLE_CODES.has(code)) {
      return new BerthError('BERTH_E_UNREACHABLE', `cannot reach the berth server at ${this.server} (${code})`, {
        cause: err,
        hint: 'Check that `berth server` is running there and that its --api address is reachable from this machine; change the URL with `berth login --server URL --token TOKEN` or BERTH_SERVER.',
      });
    }
    if (code !== undefined && isTlsFailure(code)) {
      return new BerthError('BERTH_E_UNREACHABLE', `cannot reach the berth server at ${this.server}: the TLS connection failed (${code})`, {
        cause: err,
        hint: 'Check that the URL\'s scheme (http or https) matches the server and that its certificate is valid for that name.',
      });
    }
    return this.#lost(err, `the berth server at ${this.server} closed the connection without answering`);
  }

  async #text(response: Response): Promise<string> {
    try {
      return await response.text();
    } catch (err) {
      throw this.#lost(err, 'the berth server closed the connection before its answer was complete');
    }
  }

  #lost(err: unknown, message: string): BerthError {
    const own = berthErrorInChain(err);
    if (own !== undefined) return own;
    const code = causeCode(err);
    const why = code === 'UND_ERR_BODY_TIMEOUT' ? ' (nothing arrived for 5 minutes)' : code !== undefined ? ` (${code})` : '';
    return new BerthError('BERTH_E_CONNECTION_LOST', `${message}${why}`, {
      cause: err,
      hint: 'Run the command again; a deploy may still finish on the server (check `berth releases --app NAME`).',
    });
  }

  #errorAnswer(response: Response, text: string): BerthError {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const checked = ErrorBody.safeParse(body);
    if (checked.success) {
      const error = remoteError(checked.data, response.status);
      if (response.status === 401 && error.hint === undefined) {
        return new BerthError(error.code, error.message, { status: 401, hint: 'Log in with `berth login --server URL --token TOKEN`, or set BERTH_TOKEN.' });
      }
      return error;
    }
    return this.#badResponse(`the server at ${this.server} answered ${response.status} ${escapeControls(response.statusText)}`.trimEnd() + ', which is not a berth API answer');
  }

  #badResponse(message: string): BerthError {
    return new BerthError('BERTH_E_BAD_RESPONSE', message, {
      hint: "Check that the URL is `berth server`'s --api address (not the edge's, not a proxy's), and that the CLI and the daemon are the same version.",
    });
  }
}
