// What the edge reports of its traffic: per-site counters and access
// records from every engine thread, and the request id the app receives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { durationBucket, DURATION_BUCKETS, Edge, type ExchangeRecord, type ObservationBatch, type SiteCounters } from '../../src/edge/index.ts';
import { Observer } from '../../src/edge/engine/observations.ts';
import { httpUpstream } from '../helpers/upstreams.ts';

function get(port: number, host: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host, ...headers }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('durations fall in the Prometheus default buckets, the last one for anything longer', () => {
  assert.equal(durationBucket(0), 0);
  assert.equal(durationBucket(0.005), 0);
  assert.equal(durationBucket(0.0051), 1);
  assert.equal(durationBucket(10), DURATION_BUCKETS.length - 1);
  assert.equal(durationBucket(10.5), DURATION_BUCKETS.length);
});

test('an observer counts by status class, cache part, limits and retries, and keeps records only when asked', () => {
  const record = (status: number, cache: ExchangeRecord['cache']): ExchangeRecord => ({
    site: 'shop', time: 1, method: 'GET', target: '/', host: 'shop', status, bytes: 10, durationMs: 30, upstream: null,
    requestId: 'r', client: '1.2.3.4', protocol: 'HTTP/1.1', cache, referer: null, userAgent: null,
  });
  const observer = new Observer({ keepRecords: false });
  assert.equal(observer.take(0), null);
  observer.record(record(200, 'hit'), { attempts: 0, upstreamError: false, limited: false });
  observer.record(record(502, 'miss'), { attempts: 3, upstreamError: true, limited: false });
  observer.record(record(429, null), { attempts: 0, upstreamError: false, limited: true });
  const batch = observer.take(7)!;
  const shop = batch.sites.shop!;
  assert.deepEqual(shop.responses, [0, 0, 1, 0, 1, 1]);
  assert.equal(shop.bytes, 30);
  assert.equal(shop.cacheHits, 1);
  assert.equal(shop.cacheMisses, 1);
  assert.equal(shop.upstreamErrors, 1);
  assert.equal(shop.upstreamRetries, 2);
  assert.equal(shop.limited, 1);
  assert.equal(shop.durations[durationBucket(0.03)], 3);
  assert.equal(batch.connections, 7);
  assert.deepEqual(batch.records, []);
  assert.equal(observer.take(7), null);
});

test('every engine of an edge reports its traffic: counters per site, records with request ids, and the app gets the id', async (t) => {
  const seenIds: string[] = [];
  const upstream = await httpUpstream((req, res) => {
    seenIds.push(String(req.headers['x-request-id']));
    res.end('app');
  });
  t.after(() => upstream.close());
  const root = await mkdtemp(join(tmpdir(), 'berth-observe-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await writeFile(join(root, 'index.html'), 'hello');
  const batches: ObservationBatch[] = [];
  const edge = new Edge({
    routes: {
      hosts: {
        'app.test': { key: 'app', mounts: [], upstreams: [{ id: 'web.1', host: '127.0.0.1', port: upstream.port }], fallbackRoot: null },
        'site.test': { key: 'site', mounts: [], upstreams: null, fallbackRoot: root },
      },
      fallback: null,
    },
    workers: 2,
    accessRecords: true,
    onObservations: (batch) => batches.push(batch),
  });
  const address = await edge.listen('127.0.0.1', 0);
  t.after(() => edge.close(100));

  for (let i = 0; i < 6; i++) assert.equal((await get(address.port, 'app.test', `/a${i}`)).status, 200);
  for (let i = 0; i < 4; i++) assert.equal((await get(address.port, 'site.test', '/')).status, 200);
  assert.equal((await get(address.port, 'nowhere.test', '/')).status, 404);
  await get(address.port, 'app.test', '/given', { 'x-request-id': 'lb-123' });

  const total = (site: string, pick: (c: SiteCounters) => number) => batches.reduce((sum, b) => sum + (b.sites[site] ? pick(b.sites[site]!) : 0), 0);
  for (let i = 0; i < 300 && total('app', (c) => c.responses[2]!) + total('site', (c) => c.responses[2]!) + total('', (c) => c.responses[4]!) < 12; i++) await delay(10);
  assert.equal(total('app', (c) => c.responses[2]!), 7);
  assert.equal(total('site', (c) => c.responses[2]!), 4);
  assert.equal(total('', (c) => c.responses[4]!), 1);
  const records = batches.flatMap((b) => b.records);
  assert.equal(records.length, 12);
  const proxied = records.filter((r) => r.site === 'app');
  assert.ok(proxied.every((r) => r.upstream === 'web.1' && r.protocol === 'HTTP/1.1' && r.bytes > 0 && r.client === '127.0.0.1'));
  // The id the app saw is the one logged; a loopback peer's own id is kept.
  assert.deepEqual(new Set(proxied.map((r) => r.requestId)), new Set(seenIds));
  assert.ok(seenIds.includes('lb-123'));
  assert.ok(seenIds.filter((id) => id !== 'lb-123').every((id) => /^[0-9a-f-]{36}$/.test(id)));
});
