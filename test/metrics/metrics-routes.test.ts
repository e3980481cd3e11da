import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiServer } from '../../src/api/api-server.ts';
import { MetricsListener, metricsWithoutTokenWarning, registerMetricsRoutes } from '../../src/api/metrics-routes.ts';
import { BerthMetrics } from '../../src/metrics/index.ts';
import { Exposition } from './prom-text.ts';

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function newMetrics() {
  return new BerthMetrics({ sources: { apps: () => ['shop'], running: () => [] }, processMetrics: false });
}

test('GET /metrics on the API needs the bearer token and answers the text format', async (t) => {
  const api = new ApiServer({ authenticate: (token) => (token === 'secret' ? 'admin' : null), log: () => {} });
  registerMetricsRoutes(api, newMetrics());
  const { port } = await api.listen('127.0.0.1', 0);
  t.after(() => api.close());
  const url = `http://127.0.0.1:${port}/metrics`;

  assert.equal((await fetch(url)).status, 401);
  assert.equal((await fetch(url, { headers: { authorization: 'Bearer wrong' } })).status, 401);
  const res = await fetch(url, { headers: { authorization: 'Bearer secret' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), CONTENT_TYPE);
  assert.equal(new Exposition(await res.text()).value('berth_apps'), 1);
});

test('the --metrics listener needs an API token by default, in any spelling of the Bearer scheme', async (t) => {
  const listener = new MetricsListener(newMetrics(), { authenticate: (token) => (token === 'secret' ? 'prometheus' : null) }, () => {});
  const { port } = await listener.listen('127.0.0.1', 0);
  t.after(() => listener.close());
  const url = `http://127.0.0.1:${port}/metrics`;
  for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: 'Basic cHJvbTpzZWNyZXQ=' }, { authorization: 'secret' }]) {
    const res = await fetch(url, { headers });
    assert.equal(res.status, 401, JSON.stringify(headers));
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="berth"');
    assert.doesNotMatch(await res.text(), /berth_apps/);
  }
  assert.equal((await fetch(url, { method: 'HEAD' })).status, 401);
  for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
    const res = await fetch(url, { headers: { authorization: `${scheme} secret` } });
    assert.equal(res.status, 200, scheme);
    assert.equal(new Exposition(await res.text()).value('berth_apps'), 1);
  }
});

test('with --metrics-without-token the listener serves /metrics to anyone, and nothing else', async (t) => {
  const logged: string[] = [];
  const listener = new MetricsListener(newMetrics(), 'without-token', (line) => logged.push(line));
  const { port } = await listener.listen('127.0.0.1', 0);
  t.after(() => listener.close());
  const base = `http://127.0.0.1:${port}`;

  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), CONTENT_TYPE);
  assert.equal(new Exposition(await res.text()).value('berth_apps'), 1);
  const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');
  assert.equal((await fetch(`${base}/apps`)).status, 404);
  assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);

  await listener.close();
  await listener.close();
  await assert.rejects(fetch(`${base}/metrics`));
});

test('a failing scrape is a 500 on the listener, logged, and the listener goes on', async (t) => {
  const logged: string[] = [];
  let fail = true;
  const listener = new MetricsListener({ contentType: CONTENT_TYPE, scrape: async () => (fail ? Promise.reject(new Error('boom')) : '# ok\n') }, 'without-token', (line) => logged.push(line));
  const { port } = await listener.listen('127.0.0.1', 0);
  t.after(() => listener.close());
  assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 500);
  assert.match(logged.join('\n'), /metrics scrape failed: Error: boom/);
  fail = false;
  assert.equal(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(), '# ok\n');
});

test('metricsWithoutTokenWarning: loopback and any-address bindings are warned about, a private interface noted', () => {
  for (const host of [undefined, '', '0.0.0.0', '::', '[::]']) assert.match(metricsWithoutTokenWarning(host), /^warning: .*every address.*every app on this machine/, String(host));
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) assert.match(metricsWithoutTokenWarning(host), /^warning: .*loopback.*every app on this machine/, host);
  for (const host of ['10.0.0.5', '192.168.1.2', 'fd00::5']) assert.match(metricsWithoutTokenWarning(host), /^note: .*needs no token.*apps on this machine/, host);
});
