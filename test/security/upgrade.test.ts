// Finding 10 of the security review: an Upgrade request the app answered
// with an ordinary response came back with broken framing (the app's
// chunked body relayed raw, delimited by a close that never came), and
// `Upgrade: h2c` reached apps. A plain answer to an upgrade request is
// framed like any other; h2c (and any upgrade to HTTP itself) is dropped
// and the request served as plain HTTP/1.1; the WebSocket path refuses
// 101s nobody asked for, 101s with a body or another protocol, and an app
// that never answers.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { BerthProcess } from '../helpers/berth-process.ts';
import { httpUpstream, rawUpstream } from '../helpers/upstreams.ts';
import { parseResponses, RawConnection, rawExchange } from './raw-client.ts';

/** An app that answers by path, however wrongly it is told to, and records every head it received. */
async function scriptedApp(t: TestContext): Promise<{ port: number; heads: string[] }> {
  const heads: string[] = [];
  const app = await rawUpstream((socket) => {
    let pending = '';
    let echo = false;
    socket.on('end', () => {
      if (echo) socket.end('app: bye');
    });
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      if (echo) {
        socket.write(`echo:${pending}`);
        pending = '';
        return;
      }
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = pending.slice(0, end);
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (pending.length < end + 4 + length) return;
        const body = pending.slice(end + 4, end + 4 + length);
        pending = pending.slice(end + 4 + length);
        heads.push(head);
        const path = head.split(' ')[1]!;
        switch (path) {
          case '/chunked':
            socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
            break;
          case '/length':
            socket.write('HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nforbidden');
            break;
          case '/until-close':
            socket.end('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nthe body ends when the app closes');
            return;
          case '/101':
            socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nTUNNEL BYTES');
            return;
          case '/101-with-body':
            socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 5\r\n\r\nhello');
            return;
          case '/101-other-protocol':
            socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
            return;
          case '/never':
            return;
          case '/echo-tunnel':
            echo = true;
            socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\n\r\n');
            if (pending !== '') socket.write(`echo:${pending}`);
            pending = '';
            return;
          default: {
            const echo = JSON.stringify({ head, body });
            socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(echo, 'latin1')}\r\n\r\n${echo}`);
          }
        }
      }
    });
  });
  t.after(() => app.close());
  return { port: app.port, heads };
}

async function proxyTo(t: TestContext, appPort: number): Promise<number> {
  const berth = new BerthProcess(['reverse-proxy', '--from', '127.0.0.1:0', '--to', `127.0.0.1:${appPort}`, '--workers', '1', '--limit', 'first-byte-timeout=1s']);
  t.after(() => berth.kill());
  return Number(new URL(await berth.url()).port);
}

const WEBSOCKET = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

test('an upgrade request answered with an ordinary response gets it framed like any other, and a clean close', async (t) => {
  const app = await scriptedApp(t);
  const port = await proxyTo(t, app.port);
  for (const [path, status, body] of [
    ['/chunked', 200, 'hello world'],
    ['/length', 403, 'forbidden'],
    ['/until-close', 200, 'the body ends when the app closes'],
  ] as const) {
    const result = await rawExchange(port, `GET ${path} HTTP/1.1\r\nHost: a\r\n${WEBSOCKET}\r\n`, { timeoutMs: 10_000 });
    assert.ok(result.closed, `${path}: the connection is closed after the answer, not left hanging: ${JSON.stringify(result.text)}`);
    const answers = parseResponses(result.text);
    assert.equal(answers.length, 1, `${path}: one framed response: ${JSON.stringify(result.text)}`);
    assert.equal(answers[0]!.status, status);
    assert.equal(answers[0]!.body, body, `${path}: the body, without the app's framing`);
    assert.equal(answers[0]!.headers['upgrade'], undefined);
  }
});

test('h2c upgrades are dropped: the app never sees them and the client gets a plain answer on a connection that stays usable', async (t) => {
  const app = await scriptedApp(t);
  const port = await proxyTo(t, app.port);
  const connection = new RawConnection(port);
  t.after(() => connection.destroy());
  connection.write('GET /first HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n');
  await connection.waitFor('the first answer', (text) => text.includes('}'));
  // Not listed in Connection: still never forwarded.
  connection.write('GET /second HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n');
  await connection.waitFor('the second answer', (text) => parseResponsesSafe(text) === 2);
  const answers = parseResponses(connection.text);
  assert.deepEqual(answers.map((r) => r.status), [200, 200], 'never 101');
  for (const answer of answers) {
    const seen = (JSON.parse(answer.body) as { head: string }).head.toLowerCase();
    assert.doesNotMatch(seen, /\r\nupgrade:/);
    assert.doesNotMatch(seen, /\r\nhttp2-settings:/);
    assert.doesNotMatch(seen, /\r\nconnection:.*upgrade/);
  }
  assert.equal(connection.closed, false);

  // In a list, h2c goes and the rest is still offered to the app.
  const listed = await rawExchange(port, `GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c, websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`, { timeoutMs: 10_000 });
  const head = (JSON.parse(parseResponses(listed.text)[0]!.body) as { head: string }).head.toLowerCase();
  assert.match(head, /\r\nupgrade: websocket(\r\n|$)/);
  // An upgrade to HTTP/2 by its version name is dropped too.
  const named = await rawExchange(port, 'GET /named HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: HTTP/2.0\r\n\r\n', { until: (text) => text.includes('}') });
  assert.doesNotMatch((JSON.parse(parseResponses(named.text)[0]!.body) as { head: string }).head.toLowerCase(), /\r\nupgrade:/);
});

function parseResponsesSafe(text: string): number {
  try {
    return parseResponses(text).length;
  } catch {
    return 0;
  }
}

test('an upgrade request with a body is served as a plain request, its body forwarded and Upgrade dropped', async (t) => {
  const app = await scriptedApp(t);
  const port = await proxyTo(t, app.port);
  const result = await rawExchange(port, `POST /form HTTP/1.1\r\nHost: a\r\n${WEBSOCKET}Content-Length: 11\r\n\r\nhello there`, { until: (text) => text.includes('}') });
  const answer = parseResponses(result.text)[0]!;
  const seen = JSON.parse(answer.body) as { head: string; body: string };
  assert.equal(seen.body, 'hello there');
  assert.doesNotMatch(seen.head.toLowerCase(), /\r\nupgrade:/);
});

test('the tunnel opens only on a 101 that answers the upgrade asked for: anything else is a 502, never a tunnel', async (t) => {
  const app = await scriptedApp(t);
  const port = await proxyTo(t, app.port);
  const cases: Array<[string, string]> = [
    ['a 101 to a request that asked for no upgrade', 'GET /101 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'],
    ['a 101 with a body', `GET /101-with-body HTTP/1.1\r\nHost: a\r\n${WEBSOCKET}\r\n`],
    ['a 101 to another protocol than the one asked for', `GET /101-other-protocol HTTP/1.1\r\nHost: a\r\n${WEBSOCKET}\r\n`],
  ];
  for (const [what, request] of cases) {
    const result = await rawExchange(port, request, { timeoutMs: 10_000 });
    assert.ok(result.closed, `${what}: closed`);
    const answers = parseResponses(result.text);
    assert.equal(answers.length, 1, `${what}: ${JSON.stringify(result.text)}`);
    assert.equal(answers[0]!.status, 502, what);
    assert.doesNotMatch(result.text, /TUNNEL BYTES|hello$/, `${what}: nothing of the app's bytes after the 101`);
  }
});

test('an upgrade the app never answers gets a 504 after the first-byte timeout, and the connection is closed', async (t) => {
  const app = await scriptedApp(t);
  const port = await proxyTo(t, app.port);
  const result = await rawExchange(port, `GET /never HTTP/1.1\r\nHost: a\r\n${WEBSOCKET}\r\n`, { timeoutMs: 15_000 });
  assert.ok(result.closed, `closed: ${JSON.stringify(result.text)}`);
  assert.equal(parseResponses(result.text)[0]?.status, 504);
});

test('a tunnel carries the bytes a client sent before the 101, both ways, and passes a half-close on', async (t) => {
  const app = await scriptedApp(t);
  const port = await proxyTo(t, app.port);
  const connection = new RawConnection(port);
  t.after(() => connection.destroy());
  connection.write(`GET /echo-tunnel HTTP/1.1\r\nHost: a\r\n${WEBSOCKET}\r\nearly`);
  await connection.waitFor('the 101 and the echo of the early bytes', (text) => text.endsWith('echo:early'));
  assert.match(connection.text, /^HTTP\/1\.1 101 Switching Protocols\r\n[^]*connection: upgrade\r\nupgrade: WebSocket\r\n\r\necho:early$/);
  connection.write('more');
  await connection.waitFor('the echo of later bytes', (text) => text.endsWith('echo:more'));
  connection.socket.end();
  await connection.waitFor('the app saw the half-close and said goodbye, then the tunnel closed', (text, closed) => text.endsWith('app: bye') && closed);
});

test('a real WebSocket upgrade is still tunnelled both ways', async (t) => {
  const app = await httpUpstream((_req, res) => res.end('plain'));
  t.after(() => app.close());
  const port = await proxyTo(t, app.port);
  const ws = new WebSocket(`ws://127.0.0.1:${port}/live`);
  const reply = await new Promise<string>((resolve, reject) => {
    ws.onopen = () => ws.send('ping');
    ws.onmessage = (event) => resolve(String(event.data));
    ws.onerror = () => reject(new Error('websocket failed'));
  });
  ws.close();
  assert.equal(reply, 'echo: ping');
});
