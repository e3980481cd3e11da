// Finding 11 of the security review: a client that sends its requests and
// then half-closes (shutdown(SHUT_WR), as `printf … | nc` does) got no
// answer at all. Every complete request received is answered, pipelined
// ones too, and the connection closes after the last answer; a half-close
// in the middle of a request is a truncated request: no answer, nothing
// forwarded. (nginx 1.22 answers such clients from static files; for proxied
// requests it does with `proxy_ignore_client_abort on`, and by default drops
// them as 499.)

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthProcess } from '../helpers/berth-process.ts';
import { httpUpstream } from '../helpers/upstreams.ts';
import { parseResponses, rawExchange } from './raw-client.ts';

/** An app that answers late (after the client's FIN has arrived) and records what reached it. */
async function slowApp(t: TestContext): Promise<{ port: number; seen: string[] }> {
  const seen: string[] = [];
  const app = await httpUpstream((req, res) => {
    let size = 0;
    req.on('data', (chunk: Buffer) => (size += chunk.length));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${size}`);
      setTimeout(() => res.end(`answer to ${req.method} ${req.url} (${size} bytes)\n`), 50);
    });
  });
  t.after(() => app.close());
  return { port: app.port, seen };
}

async function berth(t: TestContext, args: string[]): Promise<number> {
  const process = new BerthProcess([...args, '--workers', '1']);
  t.after(() => process.kill());
  return Number(new URL(await process.url()).port);
}

test('a half-closed client gets the answer to every complete request it sent, proxied, then the connection closes', async (t) => {
  const app = await slowApp(t);
  const port = await berth(t, ['reverse-proxy', '--from', '127.0.0.1:0', '--to', `127.0.0.1:${app.port}`]);

  const one = await rawExchange(port, 'GET /one HTTP/1.1\r\nHost: shop.example\r\n\r\n', { end: true });
  assert.ok(one.closed, 'the edge closes once it has answered');
  const [answer] = parseResponses(one.text);
  assert.equal(answer?.status, 200);
  assert.equal(answer?.body, 'answer to GET /one (0 bytes)\n');

  const pipelined = await rawExchange(
    port,
    ['GET /a HTTP/1.1\r\nHost: shop.example\r\n\r\n', 'POST /b HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 5\r\n\r\nhello', 'GET /c HTTP/1.1\r\nHost: shop.example\r\n\r\n'],
    { end: true },
  );
  assert.ok(pipelined.closed);
  assert.deepEqual(
    parseResponses(pipelined.text).map((r) => [r.status, r.body]),
    [
      [200, 'answer to GET /a (0 bytes)\n'],
      [200, 'answer to POST /b (5 bytes)\n'],
      [200, 'answer to GET /c (0 bytes)\n'],
    ],
  );
  // The way the review found it: the whole request in one write, then the FIN.
  const nc = await rawExchange(port, 'GET /nc HTTP/1.0\r\n\r\n', { end: true });
  assert.equal(parseResponses(nc.text)[0]?.body, 'answer to GET /nc (0 bytes)\n');
});

test('a half-closed client gets static files too, pipelined ones included', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-half-close-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await writeFile(join(root, 'index.html'), '<h1>home</h1>\n');
  await writeFile(join(root, 'big.txt'), 'x'.repeat(300_000));
  const port = await berth(t, ['file-server', '--root', root, '--listen', '127.0.0.1:0']);

  const result = await rawExchange(
    port,
    ['GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n', 'GET /big.txt HTTP/1.1\r\nHost: a\r\n\r\n', 'HEAD / HTTP/1.1\r\nHost: a\r\n\r\n', 'GET /missing HTTP/1.1\r\nHost: a\r\n\r\n'],
    { end: true },
  );
  assert.ok(result.closed);
  const answers = parseResponses(result.text, ['GET', 'GET', 'HEAD', 'GET']);
  assert.deepEqual(answers.map((r) => r.status), [200, 200, 200, 404]);
  assert.equal(answers[0]!.body, '<h1>home</h1>\n');
  assert.equal(answers[1]!.body.length, 300_000);
});

test('a half-close in the middle of a request is a truncated request: nothing is forwarded and no answer is made up', async (t) => {
  const app = await slowApp(t);
  const port = await berth(t, ['reverse-proxy', '--from', '127.0.0.1:0', '--to', `127.0.0.1:${app.port}`]);

  const cases: Array<[string, string[]]> = [
    ['a head without its end', ['GET /head-cut HTTP/1.1\r\nHost: shop.example\r\n']],
    ['a body shorter than its Content-Length', ['POST /body-cut HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 10\r\n\r\nabc']],
    ['a chunked body without its last chunk', ['POST /chunk-cut HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n']],
  ];
  for (const [what, pieces] of cases) {
    const result = await rawExchange(port, pieces, { end: true });
    assert.ok(result.closed, `${what}: the edge closes`);
    // No answer, or a 400 for the broken request: never a 2xx the app did not give.
    assert.ok(result.text === '' || /^HTTP\/1\.1 400 /.test(result.text), `${what}: ${JSON.stringify(result.text)}`);
  }
  // A complete request, then part of the next: the first is answered, the second never reaches the app.
  const mixed = await rawExchange(port, ['GET /whole HTTP/1.1\r\nHost: shop.example\r\n\r\n', 'POST /partial HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 100\r\n\r\nsome'], { end: true });
  assert.ok(mixed.closed);
  assert.deepEqual(parseResponses(mixed.text).map((r) => r.body), ['answer to GET /whole (0 bytes)\n']);
  // A last request on its own connection: anything forwarded before it would be in the log by now.
  const last = await rawExchange(port, 'GET /last HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n');
  assert.equal(parseResponses(last.text)[0]?.status, 200);
  assert.deepEqual(app.seen, ['GET /whole 0', 'GET /last 0']);
});
