// berth server --https end to end: a real daemon gets a certificate for an
// app domain from a real ACME server (Debian's pebble, validating HTTP-01
// through the edge itself), serves it over HTTP/2 and HTTP/1.1 to curl and
// node, renews a short-lived one without dropping a kept-alive connection,
// redirects plain HTTP, and certifies NAME.localhost with its local CA.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BerthProcess, eventually } from '../helpers/berth-process.ts';
import { apiCall, deployDir, startDaemon, type Daemon } from '../helpers/daemon.ts';
import { freePort, startPebble } from '../tls/pebble.ts';

const run = promisify(execFile);

const APP = `const http = require('node:http');
http.createServer((req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end('hello over ' + req.headers['x-forwarded-proto'] + ' for ' + req.headers.host + req.url);
}).listen(process.env.PORT, '127.0.0.1');
`;

async function appDir(root: string, toml = ''): Promise<string> {
  const dir = join(root, 'app');
  await rm(dir, { recursive: true, force: true });
  await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'tls-app', version: '1.0.0', scripts: { start: 'node server.js' } }));
  await writeFile(join(dir, 'server.js'), APP);
  if (toml) await writeFile(join(dir, 'berth.toml'), toml);
  return dir;
}

/** curl against host:port resolved to 127.0.0.1, trusting only `caFile`; status, HTTP version, body. */
async function curl(host: string, port: number, path: string, caFile: string, version: '--http2' | '--http1.1'): Promise<{ status: number; version: string; body: string; headers: string }> {
  const { stdout } = await run('curl', ['-sS', '-D', '-', version, '--cacert', caFile, '--resolve', `${host}:${port}:127.0.0.1`, '--max-time', '10', '-w', '\n%{http_code} %{http_version}', `https://${host}:${port}${path}`]);
  const lines = stdout.trimEnd().split('\n');
  const [status, httpVersion] = lines.pop()!.split(' ');
  const text = lines.join('\n');
  const split = text.indexOf('\r\n\r\n');
  return { status: Number(status), version: httpVersion!, headers: text.slice(0, split), body: text.slice(split + 4) };
}

/** The serial number of the certificate served for `servername`. */
function servedSerial(port: number, servername: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, ca, ALPNProtocols: ['http/1.1'] }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.end();
      resolve(serial);
    });
    socket.on('error', reject);
  });
}

function plainGet(edge: string, host: string, path: string): Promise<{ status: number; location: string | undefined; body: string }> {
  const { hostname, port } = new URL(edge);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, location: res.headers.location, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function httpsGet(agent: Agent, port: number, host: string, path: string): Promise<{ status: number; body: string; hsts: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, servername: host, headers: { host }, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body, hsts: res.headers['strict-transport-security'] as string | undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function startHttpsDaemon(state: string, extra: string[]): Promise<Daemon & { httpsPort: number }> {
  const daemon = await startDaemon(state, 2, ['--https', '127.0.0.1:0', ...extra]);
  const https = (await daemon.berth.waitFor(/edge serving HTTPS on https:\/\/127\.0\.0\.1:(\d+)/))[1]!;
  return { ...daemon, httpsPort: Number(https) };
}

test('an app domain gets a pebble certificate over HTTP-01, served over HTTP/2 and HTTP/1.1, renewed without dropping connections', { timeout: 180_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-https-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  // pebble's VA fetches http://DOMAIN:PORT/.well-known/acme-challenge/… from the edge's HTTP port.
  const httpPort = await freePort();
  // Certificates live 10 s: the manager renews each at half its life.
  const pebble = await startPebble({ alwaysValid: false, dns: true, httpPort, validitySeconds: 10 });
  t.after(() => pebble.close());
  await writeFile(join(root, 'pebble-tls.pem'), pebble.tlsRootPem);
  const issuerRoot = await pebble.issuerRoot();
  const issuerFile = join(root, 'issuer.pem');
  await writeFile(issuerFile, issuerRoot);

  const daemon = await startHttpsDaemon(join(root, 'state'), [
    '--http', `127.0.0.1:${httpPort}`,
    '--acme-directory', pebble.directoryUrl,
    '--acme-ca-bundle', join(root, 'pebble-tls.pem'),
  ]);
  t.after(() => daemon.berth.kill());
  const host = 'shop.example.test';

  assert.equal((await apiCall(daemon, 'POST', '/apps', { name: 'shop' })).status, 201);
  const deployed = await deployDir(daemon, 'shop', await appDir(root, '[https]\nhsts = true\nhsts_max_age = 600\n'));
  assert.equal(deployed.last.result, 'ok', deployed.lines.join('\n'));
  assert.equal((await apiCall(daemon, 'POST', '/apps/shop/domains', { hostname: host })).status, 201);

  const valid = await eventually('the domain has a valid ACME certificate', async () => {
    const { json } = await apiCall(daemon, 'GET', '/apps/shop/domains');
    const detail = json.details.find((d: { hostname: string }) => d.hostname === host);
    assert.equal(detail.certificate.source, 'acme');
    assert.equal(detail.certificate.state, 'valid', JSON.stringify(detail) + pebble.output().slice(-2000));
    return detail;
  }, 60_000);
  assert.ok(Date.parse(valid.certificate.notAfter) > Date.now());
  const own = (await apiCall(daemon, 'GET', '/apps/shop/domains')).json.details[0];
  assert.deepEqual([own.hostname, own.own, own.certificate.source], ['shop.localhost', true, 'local-ca']);

  // curl over HTTP/2 and HTTP/1.1, trusting only pebble's issuing root; the app sees https.
  const overH2 = await eventually('curl gets an answer over HTTP/2', async () => {
    const answer = await curl(host, daemon.httpsPort, '/h2', issuerFile, '--http2');
    assert.equal(answer.status, 200, answer.body);
    return answer;
  }, 20_000);
  assert.equal(overH2.version, '2');
  assert.equal(overH2.body, `hello over https for ${host}:${daemon.httpsPort}/h2`);
  assert.match(overH2.headers, /strict-transport-security: max-age=600/i);
  const overH1 = await curl(host, daemon.httpsPort, '/h1', issuerFile, '--http1.1');
  assert.equal(overH1.status, 200);
  assert.equal(overH1.version, '1.1');
  assert.match(overH1.headers, /strict-transport-security: max-age=600/i);

  // Plain HTTP moves to HTTPS (308, same path), except ACME challenge paths.
  const redirected = await plainGet(daemon.edge, host, '/cart?x=1');
  assert.equal(redirected.status, 308);
  assert.equal(redirected.location, `https://${host}:${daemon.httpsPort}/cart?x=1`);
  const challenge = await plainGet(daemon.edge, host, '/.well-known/acme-challenge/unknown-token');
  assert.equal(challenge.status, 404);

  // node's own client on one kept-alive connection, across a renewal.
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: issuerRoot });
  t.after(() => agent.destroy());
  const first = await httpsGet(agent, daemon.httpsPort, host, '/before');
  assert.equal(first.status, 200);
  assert.equal(first.hsts, 'max-age=600');
  const serialBefore = await servedSerial(daemon.httpsPort, host, issuerRoot);
  await eventually('a renewed certificate is served', async () => {
    assert.notEqual(await servedSerial(daemon.httpsPort, host, issuerRoot), serialBefore, 'a renewed certificate is served');
    // Keep the pooled connection alive while we wait (the edge closes idle ones after 60 s anyway).
    assert.equal((await httpsGet(agent, daemon.httpsPort, host, '/waiting')).status, 200);
    return true;
  }, 40_000, 250);
  const after = await httpsGet(agent, daemon.httpsPort, host, '/after');
  assert.equal(after.status, 200);
  assert.equal(after.body, `hello over https for ${host}/after`);
  const sockets = Object.values(agent.sockets).flat().length + Object.values(agent.freeSockets).flat().length;
  assert.equal(sockets, 1, 'one connection served before and after the renewal');
});

test('NAME.localhost gets a local-CA certificate; berth tls ca exports the root; names are validated at domains add', { timeout: 120_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-https-local-'));
  const daemon = await startHttpsDaemon(join(root, 'state'), ['--no-acme']);
  t.after(() => daemon.berth.kill());
  t.after(() => rm(root, { recursive: true, force: true }));

  assert.equal((await apiCall(daemon, 'POST', '/apps', { name: 'blog' })).status, 201);
  const deployed = await deployDir(daemon, 'blog', await appDir(root));
  assert.equal(deployed.last.result, 'ok', deployed.lines.join('\n'));

  // `berth tls ca`, through the real CLI.
  const cli = new BerthProcess(['tls', 'ca'], { env: { BERTH_SERVER: daemon.api, BERTH_TOKEN: daemon.token } });
  const { code } = await cli.exited;
  assert.equal(code, 0, cli.output);
  assert.match(cli.output, /^-----BEGIN CERTIFICATE-----/);
  const caFile = join(root, 'local-ca.pem');
  await writeFile(caFile, cli.output);

  const answer = await eventually('curl trusts blog.localhost through the local CA', async () => {
    const got = await curl('blog.localhost', daemon.httpsPort, '/', caFile, '--http1.1');
    assert.equal(got.status, 200);
    return got;
  }, 20_000);
  assert.equal(answer.body, `hello over https for blog.localhost:${daemon.httpsPort}/`);
  // A local-CA certificate is not trusted by browsers out of the box: plain HTTP keeps serving.
  const plain = await plainGet(daemon.edge, 'blog.localhost', '/');
  assert.equal(plain.status, 200);
  const { json } = await apiCall(daemon, 'GET', '/apps/blog/domains');
  assert.deepEqual(json.details[0].certificate.source, 'local-ca');
  assert.deepEqual(json.details[0].certificate.state, 'valid');

  const listed = new BerthProcess(['domains', 'list', '--app', 'blog'], { env: { BERTH_SERVER: daemon.api, BERTH_TOKEN: daemon.token } });
  assert.equal((await listed.exited).code, 0, listed.output);
  assert.match(listed.output, /blog\.localhost\s+valid \(local CA\)\s+\d{4}-\d{2}-\d{2}\s+the app's own/);

  // IDNA and wildcards at `domains add`.
  const unicode = await apiCall(daemon, 'POST', '/apps/blog/domains', { hostname: 'bücher.example' });
  assert.equal(unicode.status, 201);
  assert.deepEqual(unicode.json.domains, ['xn--bcher-kva.example']);
  assert.equal(unicode.json.details[1].display, 'bücher.example');
  const wildcard = await apiCall(daemon, 'POST', '/apps/blog/domains', { hostname: '*.example.com' });
  assert.equal(wildcard.status, 400);
  assert.equal(wildcard.json.code, 'BERTH_E_NAME');
  assert.match(wildcard.json.hint, /DNS-01/);
  const bogus = await apiCall(daemon, 'POST', '/apps/blog/domains', { hostname: 'xn--zz.example' });
  assert.equal(bogus.status, 400);
});
