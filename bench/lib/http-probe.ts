// One plain GET (or one over TLS, or one HTTP/2 stream), and "wait until this
// server answers correctly", both bounded in time.
import { request } from 'node:http';
import { connect as connectH2 } from 'node:http2';
import { request as requestTls } from 'node:https';
import type { Child } from './child-processes.ts';

export interface ProbeAnswer {
  readonly status: number;
  readonly body: Buffer;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** What the exchange spoke: 'http/1.1', or 'h2' when HTTP/2 was negotiated. */
  readonly protocol: string;
}

export interface ProbeOptions {
  /** For https URLs: the only CA trusted (the run's self-signed certificate), so a server with another certificate fails. */
  readonly ca?: string;
  /** Speak HTTP/2 (https URLs only; ALPN must choose h2). */
  readonly h2?: boolean;
  readonly timeoutMs?: number;
}

export function get(url: string, options: ProbeOptions = {}): Promise<ProbeAnswer> {
  const timeoutMs = options.timeoutMs ?? 2_000;
  if (options.h2) return getH2(url, options.ca, timeoutMs);
  const https = url.startsWith('https:');
  return new Promise((resolve, reject) => {
    const send = https ? requestTls : request;
    const req = send(url, { agent: false, timeout: timeoutMs, ...(https ? { ca: options.ca, ALPNProtocols: ['http/1.1'] } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers, protocol: 'http/1.1' }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

function getH2(url: string, ca: string | undefined, timeoutMs: number): Promise<ProbeAnswer> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const session = connectH2(target.origin, { ca, ALPNProtocols: ['h2'] });
    const timer = setTimeout(() => session.destroy(new Error(`no HTTP/2 answer from ${url} within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      session.destroy();
      reject(err);
    };
    session.on('error', fail);
    const stream = session.request({ ':method': 'GET', ':path': `${target.pathname}${target.search}` });
    stream.on('error', fail);
    stream.on('response', (headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        clearTimeout(timer);
        const protocol = session.alpnProtocol ?? 'none';
        session.close();
        resolve({ status: Number(headers[':status'] ?? 0), body: Buffer.concat(chunks), headers, protocol });
      });
    });
    stream.end();
  });
}

/** What a correct answer looks like: a 200 with a body of this many bytes (and, when given, a header saying so). */
export interface Expectation {
  readonly url: string;
  readonly bodyBytes: number;
  readonly options?: ProbeOptions;
  /** A response header that must be present and match, e.g. a cache's "hit" marker. */
  readonly header?: { readonly name: string; readonly matches: RegExp };
}

export function checkAnswer(answer: ProbeAnswer, expected: Expectation): string | null {
  const what = `GET ${expected.url}${expected.options?.h2 ? ' over HTTP/2' : ''}`;
  if (expected.options?.h2 && answer.protocol !== 'h2') return `${what} negotiated ${answer.protocol}, not h2`;
  if (answer.status !== 200) return `${what} answered ${answer.status}, not 200`;
  if (answer.body.length !== expected.bodyBytes) return `${what} answered ${answer.body.length} bytes, not ${expected.bodyBytes}`;
  if (expected.header) {
    const value = answer.headers[expected.header.name.toLowerCase()];
    const text = Array.isArray(value) ? value.join(', ') : value;
    if (text === undefined || !expected.header.matches.test(text)) return `${what} answered ${expected.header.name}: ${text ?? '(none)'}, expected ${expected.header.matches}`;
  }
  return null;
}

/**
 * Polls until the server answers `expected` correctly; fails at once if the
 * process exits, and after `timeoutMs` otherwise.
 */
export async function waitUntilServing(child: Child, expected: Expectation, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (child.exit) throw new Error(child.describeExit());
    try {
      const problem = checkAnswer(await get(expected.url, expected.options), expected);
      if (problem === null) return;
      last = problem;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${child.name} was not serving ${expected.url} after ${timeoutMs / 1000} s (${last})\n${child.output().trim().split('\n').slice(-8).join('\n')}`);
}

/** Checks a running server once more, e.g. every path a scenario will load, before the load starts. */
export async function verify(expected: Expectation): Promise<void> {
  let answer: ProbeAnswer;
  try {
    answer = await get(expected.url, expected.options);
  } catch (err) {
    throw new Error(`GET ${expected.url}${expected.options?.h2 ? ' over HTTP/2' : ''} failed: ${(err as Error).message}`);
  }
  const problem = checkAnswer(answer, expected);
  if (problem) throw new Error(problem);
}
