// Shared by the static tests: temp folders, a plan runner, raw HTTP.

import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { StaticBody, StaticResponse } from '../../../src/edge/static/index.ts';

/** A fresh temp folder (as a realpath), removed when the test ends. */
export async function tempDir(t: TestContext, prefix = 'berth-static-'): Promise<string> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), prefix)));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export function header(response: StaticResponse, name: string): string | undefined {
  const lower = name.toLowerCase();
  const found = response.headers.filter(([n]) => n.toLowerCase() === lower);
  if (found.length > 1) throw new Error(`header ${name} appears ${found.length} times`);
  return found[0]?.[1];
}

/** A body as plain data (a file body named by its path), for deepEqual. */
export function plainBody(body: StaticBody): unknown {
  return body.kind === 'file' ? { kind: 'file', path: body.file.path, start: body.start, end: body.end } : body;
}

/** The bytes an engine would send for this plan. */
export async function bodyBytes(response: StaticResponse): Promise<Buffer> {
  const body = response.body;
  if (body.kind === 'none') return Buffer.alloc(0);
  if (body.kind === 'buffer') return body.data;
  const fh = await body.file.open();
  if (fh === null) throw new Error(`${body.file.path} may not be opened`);
  try {
    const whole = await fh.readFile();
    return whole.subarray(body.start, body.end + 1);
  } finally {
    await fh.close();
  }
}

export type RawResponse = { status: number; headers: Map<string, string>; body: Buffer; raw: Buffer };

/**
 * Sends bytes exactly as given (no URL normalisation, unlike fetch) and
 * reads until the server closes. Send 'Connection: close'.
 */
export function rawRequest(port: number, request: string | Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    // write, not end: a half-close can make the server drop the connection
    // before an asynchronous handler has answered.
    socket.write(request);
  });
}

/** Splits one or more HTTP/1.1 responses; bodies framed by Content-Length. */
export function parseResponses(raw: Buffer, methods: string[] = []): RawResponse[] {
  const out: RawResponse[] = [];
  let offset = 0;
  while (offset < raw.length) {
    const headEnd = raw.indexOf('\r\n\r\n', offset);
    if (headEnd === -1) throw new Error(`incomplete head: ${raw.subarray(offset).toString('latin1')}`);
    const lines = raw.subarray(offset, headEnd).toString('latin1').split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    const method = methods[out.length] ?? 'GET';
    const hasBody = method !== 'HEAD' && status !== 304 && status !== 204;
    const length = hasBody ? Number(headers.get('content-length') ?? 0) : 0;
    const bodyStart = headEnd + 4;
    const body = raw.subarray(bodyStart, bodyStart + length);
    out.push({ status, headers, body, raw: raw.subarray(offset, bodyStart + length) });
    offset = bodyStart + length;
  }
  return out;
}

/** Polls until `check` is true; conditions, not sleeps. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
