// berth's Prometheus metrics on a real daemon with two edge engines: traffic
// to a deployed app, then /metrics scraped with the API token (on the API and
// on the --metrics listener) and read with a real text-format parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiCall, deployDir, startDaemon, viaEdge } from '../helpers/daemon.ts';
import { Exposition } from '../metrics/prom-text.ts';

const APP = `const http = require('node:http');
http.createServer((req, res) => {
  res.setHeader('content-type', 'text/plain');
  if (req.url === '/boom') { res.statusCode = 500; res.end('boom'); return; }
  if (req.url.startsWith('/missing')) { res.statusCode = 404; res.end('no such page'); return; }
  res.end('hello from shop');
}).listen(process.env.PORT, '127.0.0.1');
`;

async function scrape(url: string, token?: string): Promise<{ status: number; contentType: string | null; text: string }> {
  const res = await fetch(url, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, contentType: res.headers.get('content-type'), text: await res.text() };
}

/** Scrapes until `ready` holds (the edge hands its counts over about once a second), at most ~15 s. */
async function scrapeUntil(url: string, token: string, ready: (metrics: Exposition) => boolean): Promise<Exposition> {
  let last: Exposition | null = null;
  for (let attempt = 0; attempt < 150; attempt++) {
    const answer = await scrape(url, token);
    assert.equal(answer.status, 200, answer.text);
    last = new Exposition(answer.text);
    if (ready(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`metrics never showed the traffic; last scrape:\n${[...(last?.samples('berth_http_requests_total') ?? [])].map((s) => JSON.stringify(s)).join('\n')}`);
}

test('a daemon exposes Prometheus metrics of its apps, instances, builds, deploys and itself', { timeout: 120_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-metrics-'));
  const daemon = await startDaemon(join(root, 'state'), 2, ['--metrics', '127.0.0.1:0']);
  t.after(() => daemon.berth.kill());
  t.after(() => rm(root, { recursive: true, force: true }));
  const open = (await daemon.berth.waitFor(/metrics listening on (http:\/\/127\.0\.0\.1:\d+)\/metrics/))[1]!;

  const dir = join(root, 'shop');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'shop', version: '1.0.0', scripts: { start: 'node server.js' } }));
  await writeFile(join(dir, 'server.js'), APP);
  assert.equal((await apiCall(daemon, 'POST', '/apps', { name: 'shop' })).status, 201);
  assert.equal((await deployDir(daemon, 'shop', dir)).last.result, 'ok');

  // 6 × 200, 3 × 404 from the app, 1 × 500 from the app; 2 for a host no app has.
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) statuses.push((await viaEdge(daemon.edge, 'shop.localhost', `/page/${i}`)).status);
  for (let i = 0; i < 3; i++) statuses.push((await viaEdge(daemon.edge, 'shop.localhost', `/missing/${i}`)).status);
  statuses.push((await viaEdge(daemon.edge, 'shop.localhost', '/boom')).status);
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 404, 404, 404, 500]);
  for (let i = 0; i < 2; i++) await viaEdge(daemon.edge, 'nobody.localhost', '/');

  const url = `${daemon.api}/metrics`;
  const unauthorized = await scrape(url);
  assert.equal(unauthorized.status, 401);
  assert.equal((await scrape(url, 'berth_not-a-token')).status, 401);

  const requests = (m: Exposition, code: string) => m.value('berth_http_requests_total', { app: 'shop', code }) ?? 0;
  const unrouted = (m: Exposition) => m.samples('berth_http_requests_total').filter((s) => s.labels.app === '(none)').reduce((sum, s) => sum + s.value, 0);
  const metrics = await scrapeUntil(url, daemon.token, (m) =>
    requests(m, '2xx') >= 6 && requests(m, '4xx') >= 3 && requests(m, '5xx') >= 1 && unrouted(m) >= 2 && (m.value('berth_deploys_total', { app: 'shop', outcome: 'succeeded' }) ?? 0) >= 1,
  );
  const answer = await scrape(url, daemon.token);
  assert.equal(answer.contentType, 'text/plain; version=0.0.4; charset=utf-8');

  // Requests per status class, exactly: nothing else reached shop.
  assert.deepEqual(['1xx', '2xx', '3xx', '4xx', '5xx'].map((code) => requests(metrics, code)), [0, 6, 0, 3, 1]);
  assert.equal(unrouted(metrics), 2);
  const duration = metrics.histogram('berth_http_request_duration_seconds', { app: 'shop' })!;
  assert.equal(duration.count, 10, 'the histogram counts every response');
  assert.ok(duration.sum > 0);
  assert.ok(metrics.value('berth_http_response_bytes_total', { app: 'shop' })! > 0);
  assert.equal(metrics.value('berth_http_upstream_errors_total', { app: 'shop' }), 0, "the app's own 500 is not an upstream failure");
  assert.equal(metrics.families.get('berth_edge_open_connections')?.type, 'GAUGE');
  assert.ok(metrics.value('berth_edge_open_connections')! >= 0);

  // The app's web instance, as the runner and the kernel see it.
  const web = { app: 'shop', process: 'web', instance_name: 'web.1' };
  assert.ok(metrics.value('berth_instance_resident_memory_bytes', web)! > 0);
  assert.ok(metrics.value('berth_instance_uptime_seconds', web)! > 0);
  assert.ok(metrics.value('berth_instance_start_time_seconds', web)! > 1e9);
  assert.ok(metrics.value('berth_instance_processes', web)! >= 1);
  assert.ok(metrics.value('berth_instance_cpu_seconds_total', web)! >= 0);
  assert.equal(metrics.value('berth_instance_restarts_total', web), 0);

  // The build and the deploy.
  assert.equal(metrics.value('berth_builds_total', { app: 'shop', outcome: 'succeeded' }), 1);
  assert.equal(metrics.value('berth_builds_total', { app: 'shop', outcome: 'failed' }), 0);
  assert.equal(metrics.value('berth_deploys_total', { app: 'shop', outcome: 'succeeded' }), 1);
  assert.equal(metrics.histogram('berth_build_duration_seconds', { app: 'shop' })!.count, 1);
  assert.equal(metrics.histogram('berth_deploy_duration_seconds', { app: 'shop' })!.count, 1);
  assert.equal(metrics.value('berth_apps'), 1);

  // The daemon itself.
  assert.ok(metrics.value('process_resident_memory_bytes')! > 0);
  assert.equal(metrics.families.get('process_cpu_seconds_total')?.type, 'COUNTER');
  assert.ok(metrics.families.has('nodejs_eventloop_lag_seconds'));
  assert.ok(metrics.families.has('nodejs_heap_size_used_bytes'));

  // --metrics: the same text, with the API token there too (none: 401).
  assert.equal((await scrape(`${open}/metrics`)).status, 401);
  const plain = await scrape(`${open}/metrics`, daemon.token);
  assert.equal(plain.status, 200);
  assert.equal(plain.contentType, 'text/plain; version=0.0.4; charset=utf-8');
  assert.equal(new Exposition(plain.text).value('berth_http_requests_total', { app: 'shop', code: '2xx' }), 6);
  assert.equal((await scrape(`${open}/apps`)).status, 404);

  // A destroyed app's series go.
  assert.equal((await apiCall(daemon, 'DELETE', '/apps/shop?confirm=shop')).status, 200);
  const after = new Exposition((await scrape(url, daemon.token)).text);
  assert.equal(after.samples('berth_http_requests_total').some((s) => s.labels.app === 'shop'), false);
  assert.equal(after.samples('berth_instance_uptime_seconds').some((s) => s.labels.app === 'shop'), false);
  assert.equal(after.samples('berth_builds_total').some((s) => s.labels.app === 'shop'), false);
  assert.equal(after.value('berth_apps'), 0);
});
