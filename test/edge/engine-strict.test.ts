import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { Engine, UpstreamGroup, type EdgeLimits } from '../../src/edge/index.ts';
import { CORPUS } from './http1/corpus.ts';
import { rawUpstream, type Running } from '../helpers/upstreams.ts';

/** An upstream that records every byte it receives and answers each request head with a tiny 200. */
async function recordingUpstream(): Promise<Running & { received: () => string; requests: () => number }> {
  let received = '';
  let requests = 0;
  const server = await rawUpstream((socket) => {
    let pending = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
      pending += chunk;
      // Answer once per complete head (bodies in these tests are length-framed and small).
      for (let end = pending.indexOf('\r\n\r\n'); end !== -1; end = pending.indexOf('\r\n\r\n')) {
        const head = pending.slice(0, end);
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (pending.length < end + 4 + length) break;
        pending = pending.slice(end + 4 + length);
        requests++;
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      }
    });
  });
  return { ...server, received: () => received, requests: () => requests };
}

async function engineFor(t: { after(fn: () => unknown): void }, port: number, limits: Partial<EdgeLimits> = {}): Promise<number> {
  const group = new UpstreamGroup([{ id: 'web.1', host: '127.0.0.1', port }]);
  const engine = new Engine({ routes: { hosts: new Map(), fallbackSite: { mounts: [], upstreams: group, fallback: null } }, limits });
  const address = await engine.listen({ host: '127.0.0.1', port: 0 });
  t.after(async () => {
    await engine.close(100);
    group.close();
  });
  return address.port;
}

/** Sends raw bytes, returns everything the edge wrote until it closed (or the timeout). */
function exchange(port: number, raw: string | Buffer, timeoutMs = 3_000): Promise<string> {
  return new Promise((resolve) => {
    const socket: Socket = connect({ host: '127.0.0.1', port });
    let out = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (out += chunk));
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    socket.on('error', () => {});
    socket.write(typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw);
  });
}

test('every malformed or smuggling request in the corpus is refused, and nothing reaches the app', async (t) => {
  const upstream = await recordingUpstream();
  t.after(() => upstream.close());
  const engines = new Map<string, number>();
  for (const testCase of CORPUS) {
    const key = JSON.stringify(testCase.limits ?? {});
    let port = engines.get(key);
    if (port === undefined) {
      port = await engineFor(t, upstream.port, testCase.limits ?? {});
      engines.set(key, port);
    }
    const response = await exchange(port, testCase.raw);
    const status = Number(response.slice(9, 12));
    assert.equal(status, testCase.expectStatus, `${testCase.name}: answered ${response.slice(0, 40)}`);
    assert.match(response, /\r\nconnection: close\r\n/, `${testCase.name}: connection not closed`);
  }
  assert.equal(upstream.received(), '', 'a refused request reached the app');
});

test('pipelined requests are answered in order', async (t) => {
  const upstream = await recordingUpstream();
  t.after(() => upstream.close());
  const port = await engineFor(t, upstream.port);
  const raw =
    'GET /1 HTTP/1.1\r\nHost: a\r\n\r\n' +
    'POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc' +
    'GET /3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n';
  const response = await exchange(port, raw);
  assert.equal(response.match(/HTTP\/1\.1 200 OK/g)?.length, 3);
  const order = [...upstream.received().matchAll(/(GET|POST) (\/\d) HTTP\/1\.1\r\n/g)].map((m) => m[2]);
  assert.deepEqual(order, ['/1', '/2', '/3']);
});

test('the edge re-frames bodies: a chunked upload reaches the app with a Content-Length', async (t) => {
  const upstream = await recordingUpstream();
  t.after(() => upstream.close());
  const port = await engineFor(t, upstream.port);
  const response = await exchange(port, 'POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n');
  assert.match(response, /^HTTP\/1\.1 200/);
  const received = upstream.received();
  assert.match(received, /\r\ncontent-length: 5\r\n\r\nabcde$/);
  assert.doesNotMatch(received, /transfer-encoding/i);
});

test('hop-by-hop headers, those named in Connection, and client forwarding headers never reach the app', async (t) => {
  const upstream = await recordingUpstream();
  t.after(() => upstream.close());
  const port = await engineFor(t, upstream.port);
  await exchange(
    port,
    'GET / HTTP/1.1\r\nHost: shop.example\r\nConnection: close, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n' +
      'Proxy-Connection: keep-alive\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nForwarded: for=1.2.3.4\r\nX-Real-IP: 6.6.6.6\r\nAccept: */*\r\n\r\n',
  );
  const received = upstream.received().toLowerCase();
  for (const name of ['x-secret', 'keep-alive', 'te:', 'proxy-connection', 'forwarded:', 'x-real-ip', '6.6.6.6', 'https']) {
    assert.ok(!received.includes(name), `${name} was forwarded:\n${received}`);
  }
  assert.match(received, /\r\nx-forwarded-for: 127\.0\.0\.1\r\n/);
  assert.match(received, /\r\nx-forwarded-proto: http\r\n/);
  assert.match(received, /\r\nx-forwarded-host: shop\.example\r\n/);
  assert.match(received, /\r\naccept: \*\/\*\r\n/);
});

test('HTTP/1.0 clients work, with and without keep-alive', async (t) => {
  const upstream = await recordingUpstream();
  t.after(() => upstream.close());
  const port = await engineFor(t, upstream.port);
  const closing = await exchange(port, 'GET / HTTP/1.0\r\n\r\n');
  assert.match(closing, /^HTTP\/1\.1 200 OK\r\n[^]*connection: close\r\n\r\nok$/);
  const kept = await exchange(port, 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n');
  assert.equal(kept.match(/HTTP\/1\.1 200 OK/g)?.length, 2);
  assert.match(kept, /connection: keep-alive/);
});

test('Expect: 100-continue gets 100 before the body is sent, and 413 when the body is too large', async (t) => {
  const upstream = await recordingUpstream();
  t.after(() => upstream.close());
  const port = await engineFor(t, upstream.port, { maxBodyBytes: 1_000 });
  const out = await new Promise<string>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text === 'HTTP/1.1 100 Continue\r\n\r\n') socket.write('hello');
    });
    socket.on('close', () => resolve(text));
    socket.write('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
  });
  assert.match(out, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK/);
  const tooLarge = await exchange(port, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n');
  assert.match(tooLarge, /^HTTP\/1\.1 413 /);
  const chunkedTooLarge = await exchange(port, `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${'400\r\n' + 'x'.repeat(1024) + '\r\n'}0\r\n\r\n`);
  assert.match(chunkedTooLarge, /^HTTP\/1\.1 413 /);
  assert.equal(upstream.requests(), 1);
});

for (const [name, response] of [
  ['Content-Length together with Transfer-Encoding', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'],
  ['two different Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!'],
  ['an invalid Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok'],
  ['a status line that is not HTTP', 'HTTP/9 OK\r\n\r\n'],
] as const) {
  test(`an upstream response with ${name} becomes a 502 and its connection is not reused`, async (t) => {
    let connections = 0;
    const upstream = await rawUpstream((socket) => {
      connections++;
      socket.on('data', () => socket.write(response));
    });
    t.after(() => upstream.close());
    const port = await engineFor(t, upstream.port);
    const first = await exchange(port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    assert.match(first, /^HTTP\/1\.1 502 /);
    await exchange(port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    assert.ok(connections >= 2, 'the doubtful connection was reused');
  });
}

test('a slowloris client gets 408 while other clients keep being served', async (t) => {
  const upstream = await recordingUpstream();
  t.after(() => upstream.close());
  const port = await engineFor(t, upstream.port, { headerTimeoutMs: 600 });
  const slow = new Promise<string>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let out = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (out += chunk));
    socket.on('close', () => resolve(out));
    socket.on('error', () => {});
    const bytes = 'GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ' + 'a'.repeat(100);
    let i = 0;
    const drip = setInterval(() => {
      if (socket.destroyed || i >= bytes.length) return clearInterval(drip);
      socket.write(bytes[i++]!);
    }, 50);
  });
  for (let i = 0; i < 5; i++) assert.match(await exchange(port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 200/);
  const started = Date.now();
  assert.match(await slow, /^HTTP\/1\.1 408 /);
  assert.ok(Date.now() - started < 5_000);
});

test('a client that does not read never holds the app: the response is spooled and the upstream released', async (t) => {
  const size = 20 * 1024 * 1024;
  let upstreamFinished = false;
  const upstream = await rawUpstream((socket) => {
    socket.once('data', () => {
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${size}\r\n\r\n`);
      socket.write(Buffer.alloc(size, 0x62), () => (upstreamFinished = true));
    });
  });
  t.after(() => upstream.close());
  const port = await engineFor(t, upstream.port, { responseBufferBytes: 1024 * 1024 });
  const slow = connect({ host: '127.0.0.1', port });
  t.after(() => slow.destroy());
  slow.pause();
  slow.write('GET /big HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  const deadline = Date.now() + 10_000;
  while (!upstreamFinished && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(upstreamFinished, 'the upstream was held by a client that does not read');
  // Now the client reads, and gets every byte.
  let received = 0;
  slow.on('data', (chunk: Buffer) => (received += chunk.length));
  slow.resume();
  await new Promise((resolve) => slow.once('close', resolve));
  assert.ok(received > size && received < size + 200, `received ${received} bytes`);
});
