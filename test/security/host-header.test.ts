// Finding 8 of the security review: `GET http://a.example/ HTTP/1.1` with
// `Host: b.example` was routed by the target's authority but the app got
// `Host: b.example` — what a password-reset link is built from (host header
// poisoning). RFC 9112 §3.2.2: the authority of an absolute-form target
// replaces Host. The app sees the authority it was routed by, in Host and in
// X-Forwarded-Host, and an origin-form target; over HTTP/2 a :authority that
// disagrees with Host is refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as http2Connect, type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiCall, deployDir, startDaemon, type Daemon } from '../helpers/daemon.ts';
import { parseResponses, rawExchange } from './raw-client.ts';

/** An app that answers with its own name and the host fields and target it received. */
function echoApp(name: string): string {
  return `
const http = require('node:http');
http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ app: ${JSON.stringify(name)}, host: req.headers.host, forwardedHost: req.headers['x-forwarded-host'], url: req.url, hosts: req.rawHeaders.filter((_, i) => i % 2 === 0 && /^host$/i.test(req.rawHeaders[i])).length }));
}).listen(Number(process.env.PORT), '127.0.0.1');
`;
}

interface Echo {
  app: string;
  host: string;
  forwardedHost: string;
  url: string;
  hosts: number;
}

function h2Ask(session: ClientHttp2Session, headers: OutgoingHttpHeaders): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers);
    let status = 0;
    let body = '';
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (body += chunk));
    stream.on('end', () => resolve({ status, body }));
    stream.on('error', reject);
  });
}

test('an absolute-form request reaches the app it names with that authority as Host and X-Forwarded-Host, never the Host it carried', { timeout: 240_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-host-header-'));
  let d: Daemon | null = null;
  // In order: the daemon (and its apps), then its folder.
  t.after(async () => {
    await d?.berth.kill();
    await rm(root, { recursive: true, force: true });
  });
  d = await startDaemon(join(root, 'state'), 1, ['--https', '127.0.0.1:0', '--no-acme']);
  const httpsPort = Number((await d.berth.waitFor(/edge serving HTTPS on https:\/\/127\.0\.0\.1:(\d+)/))[1]);
  for (const name of ['bank', 'evil']) {
    assert.equal((await apiCall(d, 'POST', '/apps', { name })).status, 201);
    const dir = join(root, name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'server.js'), echoApp(name));
    await writeFile(join(dir, 'Procfile'), 'web: node server.js\n');
    const deployed = await deployDir(d, name, dir);
    assert.equal(deployed.last.result, 'ok', deployed.lines.join('\n'));
  }
  const edgePort = Number(new URL(d.edge).port);
  const ask = async (request: string): Promise<{ status: number; echo: Echo | null }> => {
    const result = await rawExchange(edgePort, request, { until: (text) => text.includes('}') || /^HTTP\/1\.1 [45]\d\d [^]*\r\n\r\n[^]*\n$/.test(text) });
    const answer = parseResponses(result.text)[0]!;
    return { status: answer.status, echo: answer.status === 200 ? (JSON.parse(answer.body) as Echo) : null };
  };

  await t.test('the absolute-form authority wins over Host, and the app sees it', async () => {
    const poisoned = await ask('GET http://bank.localhost/reset?user=alice HTTP/1.1\r\nHost: evil.localhost\r\n\r\n');
    assert.equal(poisoned.status, 200);
    assert.deepEqual(poisoned.echo, { app: 'bank', host: 'bank.localhost', forwardedHost: 'bank.localhost', url: '/reset?user=alice', hosts: 1 });
    const other = await ask('GET http://evil.localhost/ HTTP/1.1\r\nHost: bank.localhost\r\n\r\n');
    assert.deepEqual(other.echo, { app: 'evil', host: 'evil.localhost', forwardedHost: 'evil.localhost', url: '/', hosts: 1 });
  });

  await t.test('a port, an empty path, a query without a path and upper case in the authority are carried over as routed', async () => {
    const withPort = await ask(`GET http://BANK.localhost:${edgePort}?q=1 HTTP/1.1\r\nHost: evil.localhost\r\n\r\n`);
    assert.deepEqual(withPort.echo, { app: 'bank', host: `bank.localhost:${edgePort}`, forwardedHost: `bank.localhost:${edgePort}`, url: '/?q=1', hosts: 1 });
    const https = await ask('GET https://bank.localhost HTTP/1.1\r\nHost: evil.localhost\r\n\r\n');
    assert.equal(https.echo?.app, 'bank');
    assert.equal(https.echo?.url, '/');
  });

  await t.test('an origin-form request\'s Host reaches the app as routed, in lower case', async () => {
    const plain = await ask('GET /login HTTP/1.1\r\nHost: Bank.localhost\r\n\r\n');
    assert.deepEqual(plain.echo, { app: 'bank', host: 'bank.localhost', forwardedHost: 'bank.localhost', url: '/login', hosts: 1 });
  });

  await t.test('over HTTP/2, a Host that disagrees with :authority is refused; an agreeing one reaches the app as routed', async () => {
    const session = http2Connect(`https://127.0.0.1:${httpsPort}`, { servername: 'bank.localhost', rejectUnauthorized: false });
    t.after(() => session.close());
    const mismatch = await h2Ask(session, { ':authority': 'bank.localhost', ':path': '/reset', host: 'evil.localhost' });
    assert.equal(mismatch.status, 400);
    const agreeing = await h2Ask(session, { ':authority': 'bank.localhost', ':path': '/reset', host: 'BANK.localhost' });
    assert.equal(agreeing.status, 200);
    assert.deepEqual(JSON.parse(agreeing.body), { app: 'bank', host: 'bank.localhost', forwardedHost: 'bank.localhost', url: '/reset', hosts: 1 });
    const authorityOnly = await h2Ask(session, { ':authority': 'bank.localhost', ':path': '/x' });
    assert.deepEqual(JSON.parse(authorityOnly.body), { app: 'bank', host: 'bank.localhost', forwardedHost: 'bank.localhost', url: '/x', hosts: 1 });
  });
});
