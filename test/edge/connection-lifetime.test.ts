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
