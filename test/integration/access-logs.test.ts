// Access logs and log drains on a real daemon: requests through the edge land
// in the app's access log (JSON, with the request id the app saw; combined
// through the CLI; on disk across a restart), and a real syslog receiver
// over TCP and over TLS and a real HTTPS receiver get the app's output and
// access lines. The TLS receivers' certificates come from a local CA the
// daemon trusts the way an operator makes it trust a private CA:
// NODE_EXTRA_CA_CERTS in its environment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthProcess, eventually } from '../helpers/berth-process.ts';
import { apiCall, deployDir, startDaemon, type Daemon } from '../helpers/daemon.ts';
import { startHttpsReceiver, startSyslogReceiver } from '../helpers/log-receivers.ts';
import { LocalCa } from '../../src/tls/index.ts';

// Answers with the request id it was given, and logs each request to stdout (errors to stderr).
const APP = `
const http = require('node:http');
http.createServer((req, res) => {
  if (req.url.startsWith('/fail')) console.error('FAILED ' + req.url);
  else console.log('served ' + req.url);
  res.end(req.headers['x-request-id'] || 'none');
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

/** A GET through the edge with extra headers; the answer's status and body. */
function get(edge: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(edge);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, headers: { host: 'shop.localhost', ...headers }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function accessLines(d: Daemon, query = ''): Promise<string[]> {
  const res = await fetch(`${d.api}/apps/shop/logs?access=1&lines=2000${query}`, { headers: { authorization: `Bearer ${d.token}` } });
  assert.equal(res.status, 200);
  return (await res.text()).split('\n').filter((line) => line !== '');
}

async function cli(args: string[], d: Daemon, root: string): Promise<{ code: number | null; output: string }> {
  const run = new BerthProcess(args, { env: { BERTH_SERVER: d.api, BERTH_TOKEN: d.token, XDG_CONFIG_HOME: join(root, 'config') } });
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 60_000);
  const { code } = await run.exited;
  clearTimeout(timer);
  return { code, output: run.output };
}

test('access logs per app, readable as JSON and combined, kept across a restart; drains to syslog (TCP, TLS) and HTTPS', { timeout: 240_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-access-logs-'));
  t.after(() => rm(root, { recursive: true, force: true }));

  // The receivers, with certificates from a CA of their own, trusted by the daemon through NODE_EXTRA_CA_CERTS.
  const ca = await LocalCa.open({ stateDir: join(root, 'receiver-ca') });
  const leaf = await ca.certificateFor('127.0.0.1');
  const caFile = join(root, 'drain-ca.pem');
  await writeFile(caFile, ca.rootPem);
  const tcp = await startSyslogReceiver();
  t.after(() => tcp.close());
  const tls = await startSyslogReceiver({ cert: leaf.certPem, key: leaf.keyPem });
  t.after(() => tls.close());
  const https = await startHttpsReceiver({ cert: leaf.certPem, key: leaf.keyPem });
  t.after(() => https.close());

  const state = join(root, 'state');
  const env = { NODE_EXTRA_CA_CERTS: caFile };
  let d = await startDaemon(state, 1, [], env);
  t.after(() => d.berth.kill());

  assert.equal((await apiCall(d, 'POST', '/apps', { name: 'shop' })).status, 201);
  const secretUrl = https.url.replace('https://', 'https://drain:s3cretpw@') + '?token=t0kenvalue';
  await t.test('drains are added with berth drains add and the API, and listed with their secrets hidden', async () => {
    const added = await cli(['drains', 'add', `syslog://127.0.0.1:${tcp.port}`, '--app', 'shop'], d, root);
    assert.equal(added.code, 0, added.output);
    assert.match(added.output, /^added drain 1 \(syslog:\/\/127\.0\.0\.1:\d+\) to shop$/m);
    assert.equal((await apiCall(d, 'POST', '/apps/shop/drains', { url: `syslog+tls://127.0.0.1:${tls.port}?facility=local0` })).status, 201);
    const viaApi = await apiCall(d, 'POST', '/apps/shop/drains', { url: secretUrl });
    assert.equal(viaApi.status, 201);
    assert.equal(viaApi.json.drain.url, `https://***@127.0.0.1:${https.port}/ingest?token=***`);
    const again = await apiCall(d, 'POST', '/apps/shop/drains', { url: secretUrl });
    assert.equal(again.status, 409);
    assert.equal(again.json.code, 'BERTH_E_DRAIN_EXISTS');
    const bad = await apiCall(d, 'POST', '/apps/shop/drains', { url: 'http://user:s3cretpw@example.com/' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.code, 'BERTH_E_DRAIN_URL');
    assert.ok(!JSON.stringify(bad.json).includes('s3cretpw'));
    const listed = await cli(['drains', 'list', '--app', 'shop'], d, root);
    assert.equal(listed.code, 0, listed.output);
    assert.match(listed.output, /^ID +URL +STATE +SENT +DROPPED +LAST ERROR$/m);
    assert.ok(listed.output.includes(`https://***@127.0.0.1:${https.port}/ingest?token=***`), listed.output);
    assert.ok(!listed.output.includes('s3cret') && !listed.output.includes('t0ken'));
  });

  const appDir = join(root, 'shop');
  await mkdir(appDir);
  await writeFile(join(appDir, 'package.json'), JSON.stringify({ name: 'shop', version: '1.0.0', scripts: { start: 'node server.js' } }));
  await writeFile(join(appDir, 'server.js'), APP);
  const deployed = await deployDir(d, 'shop', appDir);
  assert.equal(deployed.last.result, 'ok', deployed.lines.join('\n'));

  const seen: string[] = [];
  await t.test('requests through the edge are in the access log as JSON, with the request id the app saw', async () => {
    for (const path of ['/a', '/b?x=1', '/fail/c']) {
      const res = await get(d.edge, path, { referer: 'https://example.com/from', 'user-agent': 'test-agent "quoted"' });
      assert.equal(res.status, 200);
      seen.push(res.body);
    }
    // A loopback peer may give its own request id; the app gets that one.
    assert.equal((await get(d.edge, '/given', { 'x-request-id': 'given-id-123' })).body, 'given-id-123');
    seen.push('given-id-123');
    const entries = await eventually('four requests logged', async () => {
      const lines = (await accessLines(d)).map((line) => JSON.parse(line));
      return lines.length >= 4 ? lines : null;
    });
    assert.deepEqual(entries.map((e) => e.requestId), seen);
    const first = entries[0];
    assert.equal(first.method, 'GET');
    assert.equal(first.path, '/a');
    assert.equal(first.host, 'shop.localhost');
    assert.equal(first.status, 200);
    assert.equal(first.instance, 'web.1');
    assert.equal(first.client, '127.0.0.1');
    assert.equal(first.protocol, 'HTTP/1.1');
    assert.equal(first.referer, 'https://example.com/from');
    assert.equal(first.userAgent, 'test-agent "quoted"');
    assert.ok(first.bytes > 0 && first.durationMs >= 0);
    assert.ok(Math.abs(Date.parse(first.time) - Date.now()) < 60_000);
    // The filters of berth logs apply: the instance, grep, since.
    assert.equal((await accessLines(d, '&process=web.1')).length, 4);
    assert.equal((await accessLines(d, '&process=worker')).length, 0);
    assert.deepEqual((await accessLines(d, '&grep=%2Fb%3Fx%3D1')).map((line) => JSON.parse(line).path), ['/b?x=1']);
    assert.equal((await accessLines(d, `&since=${new Date(Date.now() + 60_000).toISOString()}`)).length, 0);
    const badFormat = await fetch(`${d.api}/apps/shop/logs?access=1&format=apache`, { headers: { authorization: `Bearer ${d.token}` } });
    assert.equal(badFormat.status, 400);
    // On disk, private to berth.
    assert.equal((await stat(join(state, 'logs', 'shop', 'access', 'access.log'))).mode & 0o777, 0o600);
  });

  await t.test('berth logs --access --format combined prints Apache/nginx combined lines', async () => {
    const run = await cli(['logs', '--access', '--format', 'combined', '--app', 'shop'], d, root);
    assert.equal(run.code, 0, run.output);
    const lines = run.output.trim().split('\n');
    assert.equal(lines.length, 4, run.output);
    assert.match(lines[0]!, /^127\.0\.0\.1 - - \[\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/a HTTP\/1\.1" 200 \d+ "https:\/\/example\.com\/from" "test-agent \\"quoted\\""$/);
    assert.match(lines[3]!, /"GET \/given HTTP\/1\.1" 200 \d+ "-" "-"$/);
    const common = await cli(['logs', '--access', '--format', 'common', '--lines', '1', '--app', 'shop'], d, root);
    assert.match(common.output.trim(), /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/given HTTP\/1\.1" 200 \d+$/);
    const json = await cli(['logs', '--access', '--lines', '1', '--app', 'shop'], d, root);
    assert.equal(JSON.parse(json.output.trim()).requestId, 'given-id-123');
    const instance = await cli(['logs', '--process', 'web.1', '--grep', 'served /a', '--app', 'shop'], d, root);
    assert.equal(instance.code, 0, instance.output);
    assert.match(instance.output.trim(), / web\.1 \| served \/a$/);
  });

  await t.test('syslog over TCP and TLS get the output lines, build lines and access lines of the app', async () => {
    for (const [name, receiver] of [['tcp', tcp], ['tls', tls]] as const) {
      await eventually(`${name}: the access lines arrive`, async () => receiver.messages.filter((m) => m.procId === 'access').length >= 4);
      const served = receiver.messages.find((m) => m.message === 'served /a');
      assert.ok(served, `${name}: served /a`);
      assert.equal(served.appName, 'shop');
      assert.equal(served.procId, 'web.1');
      assert.equal(served.version, 1);
      assert.equal(served.pri & 7, 6);
      const failed = receiver.messages.find((m) => m.message === 'FAILED /fail/c');
      assert.equal(failed?.pri !== undefined && failed.pri & 7, 3, `${name}: stderr is err`);
      assert.ok(receiver.messages.some((m) => m.procId === 'build'), `${name}: build lines`);
      assert.ok(receiver.messages.some((m) => m.procId === 'web.1' && m.message.startsWith('ready on port')), `${name}: instance events`);
      const access = receiver.messages.filter((m) => m.procId === 'access').map((m) => JSON.parse(m.message));
      assert.deepEqual(access.map((e) => e.requestId), seen);
    }
    assert.equal(tcp.messages[0]!.pri >> 3, 1, 'user by default');
    assert.equal(tls.messages[0]!.pri >> 3, 16, '?facility=local0');
  });

  await t.test('the HTTPS drain gets JSON lines with Basic auth from its URL', async () => {
    await eventually('the access lines arrive', async () => https.lines.filter((l) => l.source === 'access').length >= 4);
    assert.deepEqual(https.lines.filter((l) => l.source === 'access').map((l) => l.requestId), seen);
    const served = https.lines.find((l) => l.text === 'served /a');
    assert.deepEqual(Object.keys(served).sort(), ['app', 'source', 'stream', 'text', 'time'].filter((k) => k !== 'stream').sort());
    assert.equal(served.app, 'shop');
    assert.equal(https.lines.find((l) => l.text === 'FAILED /fail/c').stream, 'err');
    assert.equal(https.requests[0]!.headers.authorization, `Basic ${Buffer.from('drain:s3cretpw').toString('base64')}`);
    const list = await apiCall(d, 'GET', '/apps/shop/drains');
    for (const drain of list.json.drains) {
      assert.ok(drain.sent > 0, JSON.stringify(drain));
      assert.equal(drain.dropped, 0);
      assert.equal(drain.lastError, null);
    }
  });

  await t.test('after a restart the access log still holds every request, and the stored drains deliver again', async () => {
    await d.berth.stop('SIGTERM');
    d = await startDaemon(state, 1, [], env);
    assert.deepEqual((await accessLines(d)).map((line) => JSON.parse(line).requestId), seen);
    await eventually('shop serves again', async () => (await get(d.edge, '/after')).status === 200, 30_000);
    await eventually('the drains get the new request', async () => tcp.messages.some((m) => m.procId === 'access' && JSON.parse(m.message).path === '/after'));
    await eventually('the https drain too', async () => https.lines.some((l) => l.source === 'access' && l.path === '/after'));
    // Followed: new requests come as they are logged, in the format asked for.
    const aborted = new AbortController();
    const res = await fetch(`${d.api}/apps/shop/logs?access=1&format=common&follow=1&lines=1`, {
      headers: { authorization: `Bearer ${d.token}` },
      signal: AbortSignal.any([aborted.signal, AbortSignal.timeout(30_000)]),
    });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    assert.equal((await get(d.edge, '/followed')).status, 200);
    let text = '';
    for (let i = 0; i < 100 && !text.includes('/followed'); i++) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += chunk.value;
    }
    aborted.abort();
    await reader.cancel().catch(() => {});
    assert.match(text, /"GET \/followed HTTP\/1\.1" 200 \d+\n/);
    const removed = await cli(['drains', 'remove', '1', '--app', 'shop'], d, root);
    assert.equal(removed.code, 0, removed.output);
    assert.match(removed.output, /^removed drain 1 /m);
    assert.equal((await apiCall(d, 'DELETE', '/apps/shop/drains/1')).json.code, 'BERTH_E_DRAIN_NOT_FOUND');
    assert.equal((await apiCall(d, 'GET', '/apps/shop/drains')).json.drains.length, 2);
  });

  // The token never reaches the daemon's log or the audit trail.
  assert.ok(!d.berth.output.includes('s3cretpw') && !d.berth.output.includes('t0kenvalue'));
});
