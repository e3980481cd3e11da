// How long a client connection may live: what ends it, and that nothing a
// client does (or fails to do) keeps its descriptor for ever.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { Engine, UpstreamGroup, type EdgeLimits } from '../../src/edge/index.ts';
import { eventually } from '../helpers/berth-process.ts';
import { httpUpstream } from '../helpers/upstreams.ts';

async function engineFor(t: TestContext, limits: Partial<EdgeLimits> = {}): Promise<{ engine: Engine; port: number }> {
  const app = await httpUpstream((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  const group = new UpstreamGroup([{ id: 'web.1', host: '127.0.0.1', port: app.port }]);
  const engine = new Engine({ routes: { hosts: new Map(), fallbackSite: { mounts: [], upstreams: group, fallback: null } }, limits });
  const address = await engine.listen({ host: '127.0.0.1', port: 0 });
  t.after(async () => {
    await engine.close(100);
    group.close();
    await app.close();
  });
  return { engine, port: address.port };
}

/** A client that writes `raw`, reads what comes, and never closes its side (nor reacts to the edge's FIN). */
function stubbornClient(t: TestContext, port: number, raw: string): { socket: Socket; received: () => string } {
  const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  socket.on('error', () => {});
  socket.write(raw);
  t.after(() => socket.destroy());
  return { socket, received: () => received };
}

test('a client that never closes after the edge closed its side does not keep the connection: it is cut after a short linger', async (t) => {
  const { engine, port } = await engineFor(t);
  const answered = stubbornClient(t, port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  const refused = stubbornClient(t, port, 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n');
  await eventually('both are answered', () => answered.received().endsWith('ok') && refused.received().startsWith('HTTP/1.1 400 '));
  await eventually('the edge let both connections go', () => engine.connectionCount === 0, 10_000);
});

/** Connects and resolves once the edge has either kept the connection (it answers a request) or closed it. */
function tryConnection(t: TestContext, port: number): Promise<{ socket: Socket; kept: boolean }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    t.after(() => socket.destroy());
    let text = '';
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (text.endsWith('ok')) resolve({ socket, kept: true });
    });
    socket.once('close', () => resolve({ socket, kept: false }));
    socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
  });
}

test('one address gets at most max-connections-per-client connections; a closed one makes room', async (t) => {
  const { engine, port } = await engineFor(t, { maxConnectionsPerClient: 3 });
  const kept = [];
  for (let i = 0; i < 3; i++) kept.push(await tryConnection(t, port));
  assert.deepEqual(kept.map((c) => c.kept), [true, true, true]);
  assert.equal((await tryConnection(t, port)).kept, false, 'the fourth is closed without an answer');
  kept[0]!.socket.destroy();
  await eventually('the edge let the first go', () => engine.connectionCount === 2);
  assert.equal((await tryConnection(t, port)).kept, true);
});

test('the edge takes at most max-connections connections in all', async (t) => {
  const { port } = await engineFor(t, { maxConnections: 2, maxConnectionsPerClient: 100 });
  assert.equal((await tryConnection(t, port)).kept, true);
  assert.equal((await tryConnection(t, port)).kept, true);
  assert.equal((await tryConnection(t, port)).kept, false);
});

test('a body that sends a byte now and then is answered 408 once it falls behind the minimum rate, though never idle', async (t) => {
  const { port } = await engineFor(t, { bodyIdleTimeoutMs: 600, minBodyRateBytes: 100 });
  const socket = connect({ host: '127.0.0.1', port });
  t.after(() => socket.destroy());
  socket.on('error', () => {});
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  socket.write('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n');
  // A byte every 100 ms: 10 bytes a second, never silent for the 600 ms idle timeout. Bounded: 20 s at most.
  const trickle = setInterval(() => socket.writable && socket.write('x'), 100);
  t.after(() => clearInterval(trickle));
  await eventually('the edge answered 408 and closed', () => text.startsWith('HTTP/1.1 408 ') && socket.destroyed, 20_000);
});

test('a reader that keeps draining its response, but below the minimum send rate, is cut', async (t) => {
  const big = Buffer.alloc(64 * 1024 * 1024, 'x');
  const app = await httpUpstream((_req, res) => res.end(big));
  t.after(() => app.close());
  const group = new UpstreamGroup([{ id: 'web.1', host: '127.0.0.1', port: app.port }]);
  const engine = new Engine({ routes: { hosts: new Map(), fallbackSite: { mounts: [], upstreams: group, fallback: null } }, limits: { sendTimeoutMs: 3_000, minSendRateBytes: 4 * 1024 * 1024 } });
  const { port } = await engine.listen({ host: '127.0.0.1', port: 0 });
  t.after(async () => {
    await engine.close(100);
    group.close();
  });
  const socket = connect({ host: '127.0.0.1', port });
  t.after(() => socket.destroy());
  socket.on('error', () => {});
  let received = 0;
  let closed = false;
  socket.once('close', () => (closed = true));
  socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
  socket.pause();
  // Every 50 ms, what the socket holds (at most its 64 KiB high-water mark):
  // about 1 MiB/s, so the edge's writes (256 KiB at most) drain well within
  // the 3 s send timeout, at a quarter of the minimum rate. Bounded: 30 s.
  const reader = setInterval(() => {
    const chunk = socket.read() as Buffer | null;
    if (chunk !== null) received += chunk.length;
  }, 50);
  t.after(() => clearInterval(reader));
  await eventually('the slow reader was cut', () => closed, 30_000);
  assert.ok(received < big.length, `the reader got ${received} bytes before the cut`);
});
