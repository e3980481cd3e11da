import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { request } from 'node:http';
import { Engine, UpstreamGroup, type EdgeLimits, type UpstreamAddress } from '../../src/edge/index.ts';
import { deadPort, httpUpstream, rawUpstream } from '../helpers/upstreams.ts';

async function edgeFor(t: { after(fn: () => unknown): void }, upstreams: UpstreamAddress[], limits: Partial<EdgeLimits> = {}): Promise<{ url: string; group: UpstreamGroup }> {
  const group = new UpstreamGroup(upstreams);
  const edge = new Engine({ routes: { hosts: new Map(), fallbackSite: { mounts: [], upstreams: group, fallback: null } }, limits });
  const address = await edge.listen({ host: '127.0.0.1', port: 0 });
  t.after(async () => {
    await edge.close(100);
    group.close();
  });
  return { url: `http://127.0.0.1:${address.port}`, group };
}

const at = (port: number, id = `u${port}`): UpstreamAddress => ({ id, host: '127.0.0.1', port });

test('a refused upstream is skipped, marked down, and the request served by another', async (t) => {
  const good = await httpUpstream((_req, res) => res.end('good'));
  t.after(() => good.close());
  const dead = await deadPort();
  const { url, group } = await edgeFor(t, [at(dead), at(good.port)]);
  for (let i = 0; i < 6; i++) {
    const res = await fetch(`${url}/`, { method: 'POST', body: 'x' });
    assert.equal(await res.text(), 'good');
  }
  assert.equal(group.members[0]!.health.state, 'down');
  assert.equal(group.members[1]!.health.state, 'up');
});

test('a down upstream comes back once it accepts connections again', async (t) => {
  const dead = await deadPort();
  const { url, group } = await edgeFor(t, [at(dead)]);
  assert.equal((await fetch(`${url}/`)).status, 502);
  assert.equal(group.members[0]!.health.state, 'down');
  const revived = await httpUpstream((_req, res) => res.end('back'));
  t.after(() => revived.close());
  // Same address, new server: re-point the group at it, as the runner would.
  group.set([at(revived.port)]);
  assert.equal(await (await fetch(`${url}/`)).text(), 'back');
});

test('no upstream at all answers 502, never hangs', async (t) => {
  const { url } = await edgeFor(t, [at(await deadPort()), at(await deadPort())]);
  const res = await fetch(`${url}/`);
  assert.equal(res.status, 502);
});

test('an upstream that never answers gives 504 after the first-byte timeout', async (t) => {
  const hung = await rawUpstream(() => {});
  t.after(() => hung.close());
  const { url } = await edgeFor(t, [at(hung.port)], { firstByteTimeoutMs: 300 });
  const started = Date.now();
  const res = await fetch(`${url}/`);
  assert.equal(res.status, 504);
  assert.ok(Date.now() - started < 5_000);
});

test('a garbage response gives 502', async (t) => {
  const garbage = await rawUpstream((socket) => socket.once('data', () => socket.end('NOT HTTP AT ALL\r\n\r\n')));
  t.after(() => garbage.close());
  const { url } = await edgeFor(t, [at(garbage.port)]);
  assert.equal((await fetch(`${url}/`, { method: 'POST', body: 'x' })).status, 502);
});

test('an upstream reset mid-response aborts the client connection instead of faking a complete response', async (t) => {
  const breaking = await rawUpstream((socket) =>
    socket.once('data', () => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n' + 'a'.repeat(1000));
      setTimeout(() => socket.resetAndDestroy(), 50);
    }),
  );
  t.after(() => breaking.close());
  const { url } = await edgeFor(t, [at(breaking.port)]);
  const outcome = await new Promise<string>((resolve) => {
    request(`${url}/`, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve('complete'));
      res.on('error', () => resolve('aborted'));
      res.on('aborted', () => resolve('aborted'));
    }).on('error', () => resolve('aborted')).end();
  });
  assert.equal(outcome, 'aborted');
});

test('a non-idempotent request whose upstream resets after receiving it is not replayed', async (t) => {
  let received = 0;
  const resetting = await rawUpstream((socket) =>
    socket.on('data', () => {
      received++;
      socket.resetAndDestroy();
    }),
  );
  t.after(() => resetting.close());
  const second = await rawUpstream((socket) =>
    socket.on('data', () => {
      received++;
      socket.resetAndDestroy();
    }),
  );
  t.after(() => second.close());
  const { url } = await edgeFor(t, [at(resetting.port), at(second.port)]);
  const res = await fetch(`${url}/pay`, { method: 'POST', body: 'once' });
  assert.equal(res.status, 502);
  assert.equal(received, 1);
});

test('WebSocket upgrades are tunnelled once the upstream answers 101', async (t) => {
  const upstream = await httpUpstream((_req, res) => res.end('plain'));
  t.after(() => upstream.close());
  const { url } = await edgeFor(t, [at(upstream.port)]);
  const ws = new WebSocket(url.replace('http', 'ws') + '/socket');
  const reply = await new Promise<string>((resolve, reject) => {
    ws.onopen = () => ws.send('hi');
    ws.onmessage = (event) => resolve(String(event.data));
    ws.onerror = () => reject(new Error('websocket failed'));
  });
  ws.close();
  assert.equal(reply, 'echo: hi');
});

test('a refused upgrade is passed on as a plain response and the connection closed', async (t) => {
  const upstream = await httpUpstream((_req, res) => res.end('plain'));
  t.after(() => upstream.close());
  const { url } = await edgeFor(t, [at(upstream.port)]);
  const { port } = new URL(url);
  const response = await new Promise<string>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: Number(port) });
    let out = '';
    socket.on('data', (c) => (out += c));
    socket.on('close', () => resolve(out));
    socket.write('GET /no-ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
  });
  assert.match(response, /^HTTP\/1\.1 403 /);
  assert.match(response, /forbidden$/);
});

test('draining waits for in-flight requests of a removed upstream', async (t) => {
  const slow = await httpUpstream((_req, res) => setTimeout(() => res.end('done'), 400));
  t.after(() => slow.close());
  const { url, group } = await edgeFor(t, [at(slow.port, 'web.1')]);
  const inflight = fetch(`${url}/`).then((r) => r.text());
  await new Promise((resolve) => setTimeout(resolve, 100));
  group.set([]);
  const started = Date.now();
  await group.drain(at(slow.port, 'web.1'), Date.now() + 5_000);
  assert.ok(Date.now() - started >= 200, 'drain returned before the request finished');
  assert.equal(await inflight, 'done');
});
