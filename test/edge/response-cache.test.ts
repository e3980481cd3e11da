// The edge's proxy path against a real counting upstream: the response
// cache (hits, Vary, no-store, private, Authorization, stale-while-revalidate,
// stale-if-error, collapsed misses, purge, 304s), dynamic compression, and
// per-client rate and in-flight limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { setTimeout as delay } from 'node:timers/promises';
import { Edge, Engine, UpstreamGroup, type SiteRoutes, type UpstreamAddress } from '../../src/edge/index.ts';
import { purgeCache } from '../../src/edge/engine/proxy-pipeline.ts';
import { deadPort, httpUpstream } from '../helpers/upstreams.ts';

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { host: 'app.test', ...headers }, agent: false }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

type Handler = (req: IncomingMessage, res: ServerResponse, count: number) => void;

/** A counting upstream and an engine in front of it; the site's settings are the test's. */
async function setup(t: { after(fn: () => unknown): void }, handler: Handler, site: Partial<SiteRoutes> = {}) {
  let count = 0;
  const upstream = await httpUpstream((req, res) => handler(req, res, ++count));
  t.after(() => upstream.close());
  const group = new UpstreamGroup([{ id: 'u', host: '127.0.0.1', port: upstream.port }]);
  const routes: SiteRoutes = { key: 'app', mounts: [], upstreams: group, fallback: null, ...site };
  const engine = new Engine({ routes: { hosts: new Map([['app.test', routes]]), fallbackSite: null } });
  const address = await engine.listen({ host: '127.0.0.1', port: 0 });
  t.after(async () => {
    await engine.close(100);
    group.close();
  });
  return { port: address.port, engine, group, count: () => count };
}

const cacheable = (maxAge: number, extra = '') => (_req: IncomingMessage, res: ServerResponse, n: number) => {
  res.setHeader('cache-control', `public, max-age=${maxAge}${extra}`);
  res.setHeader('content-type', 'text/plain');
  res.end(`version ${n}`);
};

test('a public, max-age response is served from the cache with Age and Cache-Status', async (t) => {
  const edge = await setup(t, cacheable(60));
  const first = await get(edge.port, '/page');
  assert.equal(first.body.toString(), 'version 1');
  assert.match(String(first.headers['cache-status']), /^berth; fwd=uri-miss; stored/);
  const second = await get(edge.port, '/page');
  assert.equal(second.body.toString(), 'version 1');
  assert.equal(second.headers['cache-status'], 'berth; hit');
  // Seconds since the app answered: 0 unless this machine is slow right now.
  assert.ok(Number(second.headers.age) >= 0 && Number(second.headers.age) <= 5, `age ${second.headers.age}`);
  assert.equal(edge.count(), 1);
  // Another target, another entry; the query is part of the key.
  assert.equal((await get(edge.port, '/page?x=1')).body.toString(), 'version 2');
  // HEAD is answered from the GET's entry, with the length the GET had.
  const head = await get(edge.port, '/page', {}, 'HEAD');
  assert.equal(head.headers['content-length'], '9');
  assert.equal(head.body.length, 0);
  assert.equal(edge.count(), 2);
});

test('no-store, private, Set-Cookie and requests with Authorization are not cached', async (t) => {
  const edge = await setup(t, (req, res, n) => {
    const kind = req.url!.slice(1);
    res.setHeader('cache-control', kind === 'no-store' ? 'no-store' : kind === 'private' ? 'private, max-age=60' : 'max-age=60');
    if (kind === 'cookie') res.setHeader('set-cookie', 'a=b');
    res.end(`version ${n}`);
  });
  for (const path of ['/no-store', '/private', '/cookie']) {
    const a = await get(edge.port, path);
    const b = await get(edge.port, path);
    assert.notEqual(a.body.toString(), b.body.toString(), path);
  }
  const withAuth = [await get(edge.port, '/auth', { authorization: 'Bearer x' }), await get(edge.port, '/auth', { authorization: 'Bearer x' })];
  assert.notEqual(withAuth[0]!.body.toString(), withAuth[1]!.body.toString());
  assert.equal(edge.count(), 8);
});

test('Vary keeps one variant per value of the named request header', async (t) => {
  const edge = await setup(t, (req, res, n) => {
    res.setHeader('cache-control', 'public, max-age=60');
    res.setHeader('vary', 'Accept-Language');
    res.end(`${req.headers['accept-language'] ?? 'none'} ${n}`);
  });
  assert.equal((await get(edge.port, '/', { 'accept-language': 'en' })).body.toString(), 'en 1');
  assert.equal((await get(edge.port, '/', { 'accept-language': 'fr' })).body.toString(), 'fr 2');
  const hit = await get(edge.port, '/', { 'accept-language': 'en' });
  assert.equal(hit.body.toString(), 'en 1');
  assert.equal(hit.headers['cache-status'], 'berth; hit');
  assert.equal((await get(edge.port, '/', { 'accept-language': 'fr' })).body.toString(), 'fr 2');
  assert.equal(edge.count(), 2);
});

test('stale-while-revalidate answers at once from the stale entry and refreshes it in the background', async (t) => {
  const edge = await setup(t, cacheable(0, ', stale-while-revalidate=60'));
  assert.equal((await get(edge.port, '/')).body.toString(), 'version 1');
  const stale = await get(edge.port, '/');
  assert.equal(stale.body.toString(), 'version 1');
  assert.equal(stale.headers['cache-status'], 'berth; hit; detail=stale-while-revalidate');
  // The refresh lands in the cache: a later request sees the new version without waiting on the app.
  for (let i = 0; i < 100 && edge.count() < 2; i++) await delay(10);
  assert.equal(edge.count(), 2);
  let later = await get(edge.port, '/');
  for (let i = 0; i < 50 && later.body.toString() !== 'version 2'; i++) later = await get(edge.port, '/');
  assert.equal(later.body.toString(), 'version 2');
});

test('stale-if-error answers from the stale entry when the app fails or is gone', async (t) => {
  let failing = false;
  const edge = await setup(t, (_req, res, n) => {
    if (failing) {
      res.statusCode = 503;
      res.end('down');
      return;
    }
    res.setHeader('cache-control', 'public, max-age=0, stale-if-error=60');
    res.end(`version ${n}`);
  });
  assert.equal((await get(edge.port, '/')).body.toString(), 'version 1');
  failing = true;
  const rescued = await get(edge.port, '/');
  assert.equal(rescued.status, 200);
  assert.equal(rescued.body.toString(), 'version 1');
  assert.match(String(rescued.headers['cache-status']), /fwd=stale.*detail=stale-if-error/);
  // No instance at all: still the stale answer rather than a 502.
  edge.group.set([{ id: 'dead', host: '127.0.0.1', port: await deadPort() } satisfies UpstreamAddress]);
  const gone = await get(edge.port, '/');
  assert.equal(gone.status, 200);
  assert.equal(gone.body.toString(), 'version 1');
});

test('concurrent misses for one key are collapsed into one upstream request', async (t) => {
  const edge = await setup(t, (_req, res, n) => {
    setTimeout(() => {
      res.setHeader('cache-control', 'public, max-age=60');
      res.end(`version ${n}`);
    }, 150);
  });
  const answers = await Promise.all(Array.from({ length: 10 }, () => get(edge.port, '/slow')));
  assert.equal(edge.count(), 1);
  for (const answer of answers) assert.equal(answer.body.toString(), 'version 1');
  assert.equal(answers.filter((a) => String(a.headers['cache-status']).includes('collapsed')).length, 9);
});

test('a URL that answered uncacheable is passed straight through: its requests run side by side, never queued behind one another', async (t) => {
  let inFlight = 0;
  let most = 0;
  const edge = await setup(t, (_req, res, n) => {
    inFlight++;
    most = Math.max(most, inFlight);
    setTimeout(() => {
      inFlight--;
      res.end(`dynamic ${n}`);
    }, 100);
  });
  await get(edge.port, '/dashboard');
  most = 0;
  const answers = await Promise.all(Array.from({ length: 5 }, () => get(edge.port, '/dashboard')));
  assert.equal(edge.count(), 6);
  assert.equal(most, 5, 'all five reached the app at once');
  assert.deepEqual(new Set(answers.map((a) => a.body.toString())).size, 5);
});

test('purge drops a path (and what is under it) or a whole host; the next request goes to the app', async (t) => {
  const edge = await setup(t, cacheable(60));
  await get(edge.port, '/a');
  await get(edge.port, '/a/b');
  await get(edge.port, '/ab');
  assert.equal(edge.count(), 3);
  assert.equal(purgeCache(edge.engine.services, ['app.test'], '/a'), 2);
  assert.equal((await get(edge.port, '/ab')).headers['cache-status'], 'berth; hit');
  assert.equal((await get(edge.port, '/a')).body.toString(), 'version 4');
  assert.equal(purgeCache(edge.engine.services, ['app.test'], null), 2);
  assert.equal((await get(edge.port, '/ab')).body.toString(), 'version 5');
});

test('a cached response answers If-None-Match with 304', async (t) => {
  const edge = await setup(t, (_req, res, n) => {
    res.setHeader('cache-control', 'public, max-age=60');
    res.setHeader('etag', '"v1"');
    res.setHeader('content-type', 'text/plain');
    res.end(`version ${n}`);
  });
  await get(edge.port, '/');
  const revalidated = await get(edge.port, '/', { 'if-none-match': '"v1"' });
  assert.equal(revalidated.status, 304);
  assert.equal(revalidated.headers.etag, '"v1"');
  assert.equal(revalidated.body.length, 0);
  assert.equal((await get(edge.port, '/', { 'if-none-match': '"other"' })).status, 200);
  assert.equal(edge.count(), 1);
});

test('the cache can be turned off per site', async (t) => {
  const edge = await setup(t, cacheable(60), { cache: false });
  await get(edge.port, '/');
  await get(edge.port, '/');
  assert.equal(edge.count(), 2);
});

const TEXT = 'berth compresses what the app did not. '.repeat(200);

test('uncompressed text is compressed for clients that accept it; small, compressed and binary bodies are not', async (t) => {
  const edge = await setup(t, (req, res) => {
    const path = req.url!;
    if (path === '/small') {
      res.setHeader('content-type', 'text/plain');
      res.end('tiny');
    } else if (path === '/gzipped') {
      res.setHeader('content-type', 'text/plain');
      res.setHeader('content-encoding', 'gzip');
      res.end(gzipSync(TEXT));
    } else if (path === '/image') {
      res.setHeader('content-type', 'image/png');
      res.end(Buffer.alloc(5000, 7));
    } else {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.setHeader('etag', '"abc"');
      // Streamed in pieces, length unknown: chunked upstream.
      res.write(TEXT.slice(0, 3000));
      setTimeout(() => res.end(TEXT.slice(3000)), 5);
    }
  }, { cache: false });
  const br = await get(edge.port, '/page', { 'accept-encoding': 'gzip, br' });
  assert.equal(br.headers['content-encoding'], 'br');
  assert.equal(br.headers.vary, 'Accept-Encoding');
  assert.equal(br.headers.etag, 'W/"abc"');
  assert.equal(brotliDecompressSync(br.body).toString(), TEXT);
  const gz = await get(edge.port, '/page', { 'accept-encoding': 'gzip' });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.equal(gunzipSync(gz.body).toString(), TEXT);
  const plain = await get(edge.port, '/page');
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(plain.body.toString(), TEXT);
  assert.equal((await get(edge.port, '/small', { 'accept-encoding': 'br' })).headers['content-encoding'], undefined);
  const already = await get(edge.port, '/gzipped', { 'accept-encoding': 'br, gzip' });
  assert.equal(already.headers['content-encoding'], 'gzip');
  assert.equal(gunzipSync(already.body).toString(), TEXT);
  assert.equal((await get(edge.port, '/image', { 'accept-encoding': 'br' })).headers['content-encoding'], undefined);
});

test('a cached text response is compressed once per coding and served to each client as it accepts', async (t) => {
  const edge = await setup(t, (_req, res) => {
    res.setHeader('cache-control', 'public, max-age=60');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ text: TEXT }));
  });
  await get(edge.port, '/data');
  const br = await get(edge.port, '/data', { 'accept-encoding': 'br' });
  assert.equal(br.headers['cache-status'], 'berth; hit');
  assert.equal(br.headers['content-encoding'], 'br');
  assert.equal(JSON.parse(brotliDecompressSync(br.body).toString()).text, TEXT);
  const identity = await get(edge.port, '/data');
  assert.equal(identity.headers['content-encoding'], undefined);
  assert.equal(JSON.parse(identity.body.toString()).text, TEXT);
  assert.equal(edge.count(), 1);
});

test('a client over its rate gets 429 with Retry-After', async (t) => {
  const edge = await setup(t, (_req, res) => res.end('ok'), { rateLimit: { perSecond: 0.5, burst: 3 } });
  const statuses: number[] = [];
  let retryAfter: string | undefined;
  for (let i = 0; i < 5; i++) {
    const answer = await get(edge.port, '/');
    statuses.push(answer.status);
    if (answer.status === 429) retryAfter = answer.headers['retry-after'] as string;
  }
  assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
  assert.ok(Number(retryAfter) >= 1 && Number(retryAfter) <= 2, `Retry-After ${retryAfter}`);
  assert.equal(edge.count(), 3);
});

test('a client with too many requests in flight gets 429 for the next one', async (t) => {
  const held: ServerResponse[] = [];
  const edge = await setup(t, (_req, res) => held.push(res), { connectionsPerClient: 2 });
  const first = get(edge.port, '/1');
  const second = get(edge.port, '/2');
  for (let i = 0; i < 200 && held.length < 2; i++) await delay(5);
  assert.equal(held.length, 2);
  const third = await get(edge.port, '/3');
  assert.equal(third.status, 429);
  assert.equal(third.headers['retry-after'], '1');
  for (const res of held) res.end('done');
  assert.equal((await first).status, 200);
  assert.equal((await second).status, 200);
  // Once they are answered, the client may send more.
  const fourth = get(edge.port, '/4');
  for (let i = 0; i < 200 && held.length < 3; i++) await delay(5);
  held[2]!.end('done');
  assert.equal((await fourth).status, 200);
});

test('an edge with several engines shares rate limits across threads and purges every engine', async (t) => {
  let count = 0;
  const upstream = await httpUpstream((_req, res) => {
    count++;
    res.setHeader('cache-control', 'public, max-age=60');
    res.end('ok');
  });
  t.after(() => upstream.close());
  const site = { key: 'app', mounts: [], upstreams: [{ id: 'u', host: '127.0.0.1', port: upstream.port }], fallbackRoot: null };
  const edge = new Edge({ routes: { hosts: { 'app.test': { ...site, rateLimit: { perSecond: 0.1, burst: 10 } }, 'other.test': { ...site, key: 'other' } }, fallback: null }, workers: 2 });
  const address = await edge.listen('127.0.0.1', 0);
  t.after(() => edge.close(100));
  // Fresh connections spread over both engines; the burst is shared, not per engine.
  const statuses: number[] = [];
  for (let i = 0; i < 16; i++) statuses.push((await get(address.port, `/${i}`)).status);
  assert.equal(statuses.filter((s) => s === 200).length, 10);
  // Cache entries in both engines (each keeps its own share) all go with one purge.
  for (let i = 0; i < 10; i++) await get(address.port, '/cached', { host: 'other.test' });
  const purged = await edge.purge(['other.test'], null);
  assert.ok(purged >= 1 && purged <= 2, `purged ${purged}`);
  const before = count;
  await get(address.port, '/cached', { host: 'other.test' });
  assert.equal(count, before + 1);
});
