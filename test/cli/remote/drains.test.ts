// berth drains and berth logs --access against a small stand-in for the
// daemon's drain and log routes (the real daemon: test/integration/access-logs.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { berth, testEnv } from './run-berth.ts';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly body: string;
}

const DRAIN = { id: 3, kind: 'https', url: 'https://***@logs.example.com/ingest?token=***', createdAt: '2026-01-02T03:04:05.000Z', state: 'retrying', sent: 12, dropped: 2, lastError: 'the receiver answered 503', lastErrorAt: '2026-01-02T03:05:00.000Z' };

async function standIn(t: { after(fn: () => unknown): void }): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, body });
      const json = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      if (req.method === 'POST' && req.url === '/apps/shop/drains') return json(201, { drain: DRAIN });
      if (req.method === 'GET' && req.url === '/apps/shop/drains') return json(200, { drains: [DRAIN] });
      if (req.method === 'DELETE' && req.url === '/apps/shop/drains/3') return json(200, { removed: DRAIN });
      if (req.method === 'GET' && req.url!.startsWith('/apps/shop/logs')) return res.writeHead(200, { 'content-type': 'text/plain' }).end('127.0.0.1 - - [02/Jan/2026:03:04:05 +0000] "GET / HTTP/1.1" 200 5 "-" "-"\n');
      json(404, { code: 'BERTH_E_NOT_FOUND', message: 'no such route' });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

test('berth drains add (argument or --stdin), list and remove', async (t) => {
  const daemon = await standIn(t);
  const env = await testEnv(t, { url: daemon.url, token: 'berth_test_token' });
  const secret = 'https://drain:hunter2@logs.example.com/ingest?token=s3cr3t';

  const added = await berth(['drains', 'add', secret, '--app', 'shop'], { env });
  assert.equal(added.code, 0, added.err);
  assert.equal(added.out, 'added drain 3 (https://***@logs.example.com/ingest?token=***) to shop\n');
  assert.deepEqual(JSON.parse(daemon.seen.at(-1)!.body), { url: secret });

  const fromStdin = await berth(['drains', 'add', '--stdin', '--app', 'shop'], { env, readStdin: async () => `${secret}\n` });
  assert.equal(fromStdin.code, 0, fromStdin.err);
  assert.deepEqual(JSON.parse(daemon.seen.at(-1)!.body), { url: secret });

  const calls = daemon.seen.length;
  const bad = await berth(['drains', 'add', 'http://drain:hunter2@logs.example.com/', '--app', 'shop'], { env });
  assert.equal(bad.code, 1);
  assert.match(bad.err, /BERTH_E_DRAIN_URL/);
  assert.doesNotMatch(bad.err, /hunter2/);
  const both = await berth(['drains', 'add', secret, '--stdin', '--app', 'shop'], { env, readStdin: async () => secret });
  assert.match(both.err, /give the URL or --stdin, not both/);
  assert.equal(daemon.seen.length, calls, 'no call for refused input');

  const listed = await berth(['drains', 'list', '--app', 'shop'], { env });
  assert.equal(
    listed.out,
    [
      'ID  URL                                            STATE     SENT  DROPPED  LAST ERROR',
      '3   https://***@logs.example.com/ingest?token=***  retrying  12    2        the receiver answered 503 (2026-01-02 03:05:00 UTC)',
      '',
    ].join('\n'),
  );
  assert.equal(JSON.parse((await berth(['drains', 'list', '--app', 'shop', '--json'], { env })).out).drains[0].id, 3);

  const removed = await berth(['drains', 'remove', '3', '--app', 'shop'], { env });
  assert.equal(removed.out, 'removed drain 3 (https://***@logs.example.com/ingest?token=***) from shop\n');
  assert.equal(daemon.seen.at(-1)!.method, 'DELETE');
  assert.match((await berth(['drains', 'remove', 'three', '--app', 'shop'], { env })).err, /not a drain id/);
});

test('berth logs --access asks for the access log in a format; --format alone is refused', async (t) => {
  const daemon = await standIn(t);
  const env = await testEnv(t, { url: daemon.url, token: 'berth_test_token' });
  const run = await berth(['logs', '--access', '--format', 'combined', '--process', 'web.1', '--app', 'shop'], { env });
  assert.equal(run.code, 0, run.err);
  assert.match(run.out, /^127\.0\.0\.1 - - \[02\/Jan\/2026:03:04:05 \+0000\] "GET \/ HTTP\/1\.1" 200 5 "-" "-"\n$/);
  assert.equal(daemon.seen.at(-1)!.url, '/apps/shop/logs?process=web.1&access=1&format=combined');
  assert.match((await berth(['logs', '--format', 'common', '--app', 'shop'], { env })).err, /--format is for --access/);
  assert.match((await berth(['logs', '--access', '--format', 'apache', '--app', 'shop'], { env })).err, /not an access log format/);
});
