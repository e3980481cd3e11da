// An edge retiring in favour of a successor: no keep-alive connection is
// closed under a client that may be sending on it, and a WebSocket gets a
// close frame (1001) rather than a cut.
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import test from 'node:test';
import { Edge } from '../../src/edge/index.ts';
import { httpUpstream } from '../helpers/upstreams.ts';
import { HOST, routesTo, webSocket } from '../edge-process/scene.ts';

async function retiringEdge(t: test.TestContext): Promise<{ edge: Edge; port: number }> {
  const upstream = await httpUpstream((_req, res) => res.end('ok'));
  t.after(() => upstream.close());
  const edge = new Edge({ routes: routesTo(upstream.port), workers: 1 });
  t.after(() => edge.close(0));
  const { port } = await edge.listen('127.0.0.1', 0);
  return { edge, port };
}

function get(port: number, agent: Agent): Promise<{ status: number; connection: string | undefined; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host: HOST }, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('a retiring edge answers an idle keep-alive connection\'s next request, with Connection: close', async (t) => {
  const { edge, port } = await retiringEdge(t);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  assert.equal((await get(port, agent)).status, 200);
  const retired = edge.retire(5_000, 2_000);
  const next = await get(port, agent);
  assert.deepEqual(next, { status: 200, connection: 'close', reused: true });
  await retired;
});

test('a retiring edge ends a WebSocket with a close frame, 1001 going away, between two frames', async (t) => {
  const { edge, port } = await retiringEdge(t);
  const ws = await webSocket(port);
  t.after(() => ws.socket.destroy());
  assert.equal(await ws.echo('before'), 'echo: before');
  let rest = Buffer.alloc(0);
  ws.socket.on('data', (chunk: Buffer) => (rest = Buffer.concat([rest, chunk])));
  const ended = new Promise<void>((resolve) => ws.socket.once('end', () => resolve()));
  await edge.retire(200, 50);
  await ended;
  assert.deepEqual([...rest], [0x88, 0x02, 0x03, 0xe9]);
});
