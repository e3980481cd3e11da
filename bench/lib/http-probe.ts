// One plain GET, and "wait until this server answers correctly", both bounded in time.
import { request } from 'node:http';
import type { Child } from './child-processes.ts';

export interface ProbeAnswer {
  readonly status: number;
  readonly body: Buffer;
}

export function get(url: string, timeoutMs = 2_000): Promise<ProbeAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** What a correct answer looks like: a 200 with a body of this many bytes. */
export interface Expectation {
  readonly url: string;
  readonly bodyBytes: number;
}

export function checkAnswer(answer: ProbeAnswer, expected: Expectation): string | null {
  if (answer.status !== 200) return `GET ${expected.url} answered ${answer.status}, not 200`;
  if (answer.body.length !== expected.bodyBytes) return `GET ${expected.url} answered ${answer.body.length} bytes, not ${expected.bodyBytes}`;
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
      const problem = checkAnswer(await get(expected.url), expected);
      if (problem === null) return;
      last = problem;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${child.name} was not serving ${expected.url} after ${timeoutMs / 1000} s (${last})\n${child.output().trim().split('\n').slice(-8).join('\n')}`);
}

/** Checks a running server once more, e.g. every path a scenario will load, before wrk starts. */
export async function verify(expected: Expectation): Promise<void> {
  const problem = checkAnswer(await get(expected.url), expected);
  if (problem) throw new Error(problem);
}
