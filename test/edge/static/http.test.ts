// End to end through node:http. Traversal attempts go through raw sockets
// because fetch (undici) normalises '..' and percent-encoded dots before
// sending, which would test the client instead of us.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdir, readdir, symlink, truncate, unlink, writeFile } from 'node:fs/promises';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import {
  createStaticSite,
  planStaticResponse,
  writeStaticResponse,
  type StaticResponse,
} from '../../../src/edge/static/index.ts';
import { parseResponses, rawRequest, tempDir, waitFor } from './helpers.ts';

const SECRET = 'TOP-SECRET-4f1c';
const CSS = 'main { display: grid; }\n'.repeat(300);
const BIG = Buffer.alloc(32 * 1024 * 1024, 'berth-static-'); // large enough to still be streaming when aborted

type Served = {
  port: number;
  root: string;
  base: string;
  url: (path: string) => string;
  /** Plans to use instead of planning the request (to race the file system). */
  planOverride: { next: StaticResponse | null };
  writes: { done: number; failed: unknown[] };
};

async function serve(t: TestContext): Promise<Served> {
  const base = await tempDir(t);
  const root = join(base, 'site');
  await mkdir(join(root, 'css'), { recursive: true });
  await mkdir(join(root, 'docs'));
  // A secret beside the root, and one in a sibling folder whose name shares the root's prefix.
  await writeFile(join(base, 'secret.txt'), SECRET);
  await mkdir(join(base, 'site-private'));
  await writeFile(join(base, 'site-private', 'secret.txt'), SECRET);
  await writeFile(join(root, 'index.html'), '<h1>home</h1>');
  await writeFile(join(root, 'docs', 'index.html'), '<h1>docs</h1>');
  await writeFile(join(root, 'css', 'site.css'), CSS);
  await writeFile(join(root, 'hello.txt'), 'hello');
  await writeFile(join(root, 'big.bin'), BIG);
  await writeFile(join(root, 'a b.txt'), 'spaced');
  await writeFile(join(root, '.env'), SECRET);
  await symlink('css/site.css', join(root, 'alias.css'));
  await symlink('../secret.txt', join(root, 'leak.txt'));
  await symlink('../site-private', join(root, 'private'));

  const site = await createStaticSite({ root });
  const planOverride: Served['planOverride'] = { next: null };
  const writes: Served['writes'] = { done: 0, failed: [] };
  const server: Server = createServer(async (req, res) => {
    try {
      let plan = planOverride.next;
      planOverride.next = null;
      plan ??= await planStaticResponse(site, {
        method: req.method ?? 'GET',
        target: req.url ?? '/',
        headers: req.headers as Record<string, string | undefined>,
      });
      await writeStaticResponse(plan, res);
    } catch (err) {
      writes.failed.push(err);
      if (!res.headersSent) res.writeHead(500).end();
    } finally {
      writes.done++;
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const port = (server.address() as AddressInfo).port;
  return { port, root, base, planOverride, writes, url: (path) => `http://127.0.0.1:${port}${path}` };
}

async function get(port: number, target: string, headers: Record<string, string> = {}, method = 'GET') {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: localhost', 'Connection: close'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  const raw = await rawRequest(port, lines.join('\r\n') + '\r\n\r\n');
  const [response] = parseResponses(raw, [method]);
  assert.ok(response !== undefined, `no response to ${target}`);
  return { ...response, raw };
}

test('fetch: 200 with the right type and body', async (t) => {
  const s = await serve(t);
  const res = await fetch(s.url('/css/site.css'), { headers: { 'accept-encoding': 'identity' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/css; charset=utf-8');
  assert.equal(res.headers.get('content-length'), String(CSS.length));
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(await res.text(), CSS);

  const spaced = await fetch(s.url('/a%20b.txt'));
  assert.equal(await spaced.text(), 'spaced');
  assert.equal(spaced.headers.get('content-type'), 'text/plain; charset=utf-8');
});

test('fetch: 304 on If-None-Match and on If-Modified-Since', async (t) => {
  const s = await serve(t);
  const first = await fetch(s.url('/hello.txt'));
  await first.arrayBuffer();
  const etag = first.headers.get('etag')!;
  const inm = await fetch(s.url('/hello.txt'), { headers: { 'if-none-match': etag } });
  assert.equal(inm.status, 304);
  assert.equal(inm.headers.get('etag'), etag);
  assert.equal(await inm.text(), '');
  const ims = await fetch(s.url('/hello.txt'), { headers: { 'if-modified-since': first.headers.get('last-modified')! } });
  assert.equal(ims.status, 304);
});

test('fetch: 206 for a range and 416 past the end', async (t) => {
  const s = await serve(t);
  const part = await fetch(s.url('/big.bin'), { headers: { range: 'bytes=13-25' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 13-25/${BIG.length}`);
  assert.deepEqual(Buffer.from(await part.arrayBuffer()), BIG.subarray(13, 26));

  const small = await fetch(s.url('/hello.txt'), { headers: { range: 'bytes=-3' } });
  assert.equal(small.status, 206);
  assert.equal(await small.text(), 'llo');

  const past = await fetch(s.url('/hello.txt'), { headers: { range: 'bytes=5-' } });
  assert.equal(past.status, 416);
  assert.equal(past.headers.get('content-range'), 'bytes */5');
  await past.arrayBuffer();
});

test('HEAD has the right Content-Length and no body, even on a kept-alive connection', async (t) => {
  const s = await serve(t);
  const head = await fetch(s.url('/css/site.css'), { method: 'HEAD', headers: { 'accept-encoding': 'identity' } });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(CSS.length));
  assert.equal(await head.text(), '');

  // Two requests on one socket: if HEAD leaked a body, the second response would be garbage.
  const raw = await rawRequest(
    s.port,
    'HEAD /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n' + 'GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  );
  const [h, g] = parseResponses(raw, ['HEAD', 'GET']);
  assert.equal(h?.status, 200);
  assert.equal(h?.headers.get('content-length'), '5');
  assert.equal(g?.status, 200);
  assert.equal(g?.body.toString(), 'hello');
});

test('gzip and br bodies decompress to the original bytes', async (t) => {
  const s = await serve(t);
  for (const [encoding, decompress] of [
    ['br', brotliDecompressSync],
    ['gzip', gunzipSync],
  ] as const) {
    const r = await get(s.port, '/css/site.css', { 'Accept-Encoding': encoding });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-encoding'), encoding);
    assert.equal(r.headers.get('vary'), 'Accept-Encoding');
    assert.equal(Number(r.headers.get('content-length')), r.body.length);
    assert.equal(decompress(r.body).toString(), CSS);
  }
  // and fetch, which decodes for us, sees the original text
  for (const encoding of ['br', 'gzip']) {
    const res = await fetch(s.url('/css/site.css'), { headers: { 'accept-encoding': encoding } });
    assert.equal(res.headers.get('content-encoding'), encoding);
    assert.equal(await res.text(), CSS);
  }
});

test("index.html for '/', 301 for a directory without its slash", async (t) => {
  const s = await serve(t);
  const home = await fetch(s.url('/'));
  assert.equal(home.status, 200);
  assert.equal(await home.text(), '<h1>home</h1>');

  const redirect = await fetch(s.url('/docs?tab=1'), { redirect: 'manual' });
  assert.equal(redirect.status, 301);
  assert.equal(redirect.headers.get('location'), './docs/?tab=1');
  await redirect.arrayBuffer();

  const followed = await fetch(s.url('/docs'));
  assert.equal(followed.url, s.url('/docs/'));
  assert.equal(await followed.text(), '<h1>docs</h1>');
});

test('a symlink inside the root is served; one leaving it is 404', async (t) => {
  const s = await serve(t);
  const alias = await fetch(s.url('/alias.css'), { headers: { 'accept-encoding': 'identity' } });
  assert.equal(alias.status, 200);
  assert.equal(await alias.text(), CSS);
  for (const path of ['/leak.txt', '/private/secret.txt']) {
    const r = await get(s.port, path);
    assert.equal(r.status, 404, path);
    assert.ok(!r.raw.includes(SECRET), path);
  }
});

// Sent byte for byte. Each must be refused and none may show the secret.
const ATTACKS = [
  '/../secret.txt',
  '/..%2fsecret.txt',
  '/..%2Fsecret.txt',
  '/%2e%2e/secret.txt',
  '/%2E%2E/secret.txt',
  '/%2e%2E%2fsecret.txt',
  '/.%2e/secret.txt',
  '/%2e./secret.txt',
  '/docs/../../secret.txt',
  '/docs/%2e%2e/%2e%2e/secret.txt',
  '/./../secret.txt',
  '/..\\secret.txt',
  '/%5c..%5csecret.txt',
  '/..%5csecret.txt',
  '/..%255csecret.txt',
  '/%252e%252e/secret.txt',
  '/%c0%ae%c0%ae/secret.txt',
  '/%c0%ae%c0%ae%c0%afsecret.txt',
  '/%e0%80%ae%e0%80%ae/secret.txt',
  '/secret.txt%00.html',
  '/%00/../secret.txt',
  '/hello.txt%00',
  '//../secret.txt',
  '/..;/secret.txt',
  '/../site-private/secret.txt',
  '/%2e%2e/site-private/secret.txt',
  '/private/../../secret.txt',
  '/.env',
  '/%2eenv',
  '/%252eenv',
  '/..',
  '/%2e%2e',
];

for (const target of ATTACKS) {
  test(`raw GET ${target} is refused without leaking`, async (t) => {
    const s = await serve(t);
    const r = await get(s.port, target);
    assert.ok(r.status === 400 || r.status === 404, `status ${r.status}`);
    assert.ok(!r.raw.includes(SECRET), 'the secret leaked');
  });
}

test('raw GET with a raw backslash or control byte is refused without leaking', async (t) => {
  const s = await serve(t);
  for (const target of ['/..\\..\\secret.txt', '/\\..\\secret.txt']) {
    const raw = await rawRequest(s.port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    const status = Number(raw.toString('latin1').split(' ')[1]);
    assert.ok(status === 400 || status === 404, `${target}: ${status}`);
    assert.ok(!raw.includes(SECRET));
  }
});

test('a client that aborts a large download leaks no file descriptor', async (t) => {
  const s = await serve(t);
  const countFds = async () => (await readdir('/proc/self/fd')).length;
  // Warm up everything that opens descriptors once (the site, the loader).
  await (await fetch(s.url('/hello.txt'))).text();
  const before = await countFds();
  const doneBefore = s.writes.done;

  for (let i = 0; i < 5; i++) {
    await new Promise<void>((resolve, reject) => {
      const socket = connect(s.port, '127.0.0.1');
      let received = 0;
      socket.on('error', reject);
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > 256 * 1024) {
          socket.destroy();
          resolve();
        }
      });
      socket.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
    });
  }
  await waitFor(() => s.writes.done === doneBefore + 5, 'the server to finish the aborted writes');
  await waitFor(async () => (await countFds()) <= before, 'file descriptors to be closed');
  assert.deepEqual(s.writes.failed, [], 'a client abort is not an error');
});

test('a file deleted between plan and write gets an honest 404', async (t) => {
  const s = await serve(t);
  const site = await createStaticSite({ root: s.root });
  const plan = await planStaticResponse(site, { method: 'GET', target: '/big.bin', headers: {} });
  assert.equal(plan.body.kind, 'file');
  await unlink(join(s.root, 'big.bin'));
  s.planOverride.next = plan;
  const r = await get(s.port, '/big.bin');
  assert.equal(r.status, 404);
});

test('a file that shrinks between plan and write closes the connection instead of hanging', async (t) => {
  const s = await serve(t);
  const site = await createStaticSite({ root: s.root });
  const plan = await planStaticResponse(site, { method: 'GET', target: '/big.bin', headers: {} });
  await truncate(join(s.root, 'big.bin'), 1000);
  s.planOverride.next = plan;
  const doneBefore = s.writes.done;
  // No 'Connection: close' and a keep-alive socket: only the server closing it ends this.
  const raw = await rawRequest(s.port, 'GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.ok(raw.length < BIG.length, 'the truncated body was not passed off as complete');
  await waitFor(() => s.writes.done === doneBefore + 1, 'the write to finish');
  assert.equal(s.writes.failed.length, 1);
  assert.match(String(s.writes.failed[0]), /changed while being sent/);
});

test('405 for POST, with Allow', async (t) => {
  const s = await serve(t);
  const res = await fetch(s.url('/hello.txt'), { method: 'POST', body: 'x' });
  assert.equal(res.status, 405);
  assert.equal(res.headers.get('allow'), 'GET, HEAD');
  assert.equal(await res.text(), 'Method Not Allowed\n');
});
