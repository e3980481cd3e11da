import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { connect as http2Connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { Engine, RouteBuilder, type EdgeLimits, type RouteSpec, type SiteSpec } from '../../src/edge/index.ts';
import { H2_MAX_CONCURRENT_STREAMS, readRequest } from '../../src/edge/engine/http2.ts';
import { DEFAULT_EDGE_LIMITS } from '../../src/edge/engine/limits.ts';
import { TlsState } from '../../src/edge/engine/tls-state.ts';
import { LocalCa } from '../../src/tls/index.ts';
import { deadPort, httpUpstream, type Running } from '../helpers/upstreams.ts';

const run = promisify(execFile);

// ---- fixtures -------------------------------------------------------------

interface Certificate {
  readonly certPem: string;
  readonly keyPem: string;
  readonly rootPem: string;
}

let certificate: Promise<Certificate> | null = null;

/** One leaf for "localhost" from a throwaway local CA, shared by every test of the file. */
function localhostCertificate(): Promise<Certificate> {
  certificate ??= (async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'berth-h2-ca-'));
    try {
      const ca = await LocalCa.open({ stateDir });
      const leaf = await ca.certificateFor('localhost');
      return { certPem: leaf.certPem, keyPem: leaf.keyPem, rootPem: ca.rootPem };
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  })();
  return certificate;
}

const CSS = 'main { display: grid; gap: 1rem; }\n'.repeat(200);
const BIG_FILE = randomBytes(1024 * 1024 + 123);
/** A sparse file past 2 GiB: offsets beyond 32 bits must still be exact. */
const HUGE_FILE_BYTES = 2 ** 31 + 4096;

async function siteRoot(t: TestContext): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'berth-h2-site-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await writeFile(join(root, 'index.html'), '<h1>home</h1>');
  await writeFile(join(root, 'hello.txt'), 'hello, h2');
  await writeFile(join(root, 'site.css'), CSS);
  await writeFile(join(root, 'big.bin'), BIG_FILE);
  await writeFile(join(root, 'huge.bin'), '');
  await truncate(join(root, 'huge.bin'), HUGE_FILE_BYTES);
  return root;
}

interface Edge {
  readonly engine: Engine;
  readonly port: number;
  readonly url: string;
  readonly ca: string;
  readonly logs: string[];
}

async function secureEdge(t: TestContext, spec: RouteSpec, limits: Partial<EdgeLimits> = {}): Promise<Edge> {
  const { certPem, keyPem, rootPem } = await localhostCertificate();
  const tls = new TlsState();
  tls.update({ certificates: [{ hosts: ['localhost'], certPem, keyPem, trusted: false }], fallback: { certPem, keyPem } });
  const builder = new RouteBuilder();
  const routes = RouteBuilder.apply(await builder.prepare(spec));
  const logs: string[] = [];
  const engine = new Engine({ routes, tls, limits, log: (line) => logs.push(line) });
  const address = await engine.listen({ host: '127.0.0.1', port: 0, secure: true });
  t.after(async () => {
    await engine.close(200);
    for (const group of builder.groups()) group.close();
  });
  return { engine, port: address.port, url: `https://127.0.0.1:${address.port}`, ca: rootPem, logs };
}

function site(key: string, fields: Partial<SiteSpec>): SiteSpec {
  return { key, mounts: [], upstreams: null, fallbackRoot: null, ...fields };
}

const at = (upstream: Running) => [{ id: `web.${upstream.port}`, host: '127.0.0.1', port: upstream.port }];

function open(t: TestContext, edge: Edge, options: { maxOutstandingPings?: number } = {}): ClientHttp2Session {
  const session = http2Connect(edge.url, { ca: edge.ca, servername: 'localhost', ...options });
  session.on('error', () => {});
  t.after(() => session.destroy());
  return session;
}

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** One request on a session; the body is collected whole. */
function ask(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: Buffer | string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':authority': 'localhost', ...headers }, { endStream: body === undefined });
    collect(stream).then(resolve, reject);
    if (body !== undefined) stream.end(body);
  });
}

function collect(stream: ClientHttp2Stream): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let head: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => (head = h));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks) }));
    stream.on('error', reject);
    stream.on('close', () => {
      if (stream.rstCode !== constants.NGHTTP2_NO_ERROR) reject(new Error(`stream reset with code ${stream.rstCode}`));
    });
  });
}

/** Reads a response like a slow client: a 20 ms pause after every `every` bytes. */
function slowRead(stream: ClientHttp2Stream, every: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    stream.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received % every < chunk.length) {
        stream.pause();
        setTimeout(() => stream.resume(), 20);
      }
    });
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** An upstream that echoes what it got: method, url, headers and body, as JSON. */
async function echoUpstream(t: TestContext): Promise<Running> {
  const upstream = await httpUpstream((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.setHeader('content-type', 'application/json');
      res.setHeader('keep-alive', 'timeout=5');
      res.setHeader('x-app', 'echo');
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: body.toString('latin1'), size: body.length }));
    });
  });
  t.after(() => upstream.close());
  return upstream;
}

// ---- static files ---------------------------------------------------------

async function staticEdge(t: TestContext, limits: Partial<EdgeLimits> = {}): Promise<Edge> {
  const root = await siteRoot(t);
  return secureEdge(t, { hosts: { localhost: site('docs', { fallbackRoot: root, hsts: 'max-age=63072000' }) }, fallback: null }, limits);
}

test('a static file is served over HTTP/2 with its headers, HSTS and no connection-specific fields', async (t) => {
  const edge = await staticEdge(t);
  const session = open(t, edge);
  const answer = await ask(session, { ':path': '/hello.txt' });
  assert.equal(answer.status, 200);
  assert.equal(answer.body.toString(), 'hello, h2');
  assert.equal(answer.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(answer.headers['content-length'], '9');
  assert.equal(answer.headers['strict-transport-security'], 'max-age=63072000');
  assert.ok(answer.headers.etag);
  assert.ok(answer.headers['last-modified']);
  assert.ok(answer.headers.date);
  for (const name of ['connection', 'keep-alive', 'transfer-encoding']) assert.equal(answer.headers[name], undefined, name);
  const index = await ask(session, { ':path': '/' });
  assert.equal(index.body.toString(), '<h1>home</h1>');
});

test('a large static file is sent from its descriptor, whole and exact, to a slow reader too', async (t) => {
  const edge = await staticEdge(t);
  const session = open(t, edge);
  const answer = await ask(session, { ':path': '/big.bin' });
  assert.equal(answer.status, 200);
  assert.equal(answer.headers['content-length'], String(BIG_FILE.length));
  assert.equal(sha256(answer.body), sha256(BIG_FILE));
  const slow = await slowRead(session.request({ ':path': '/big.bin', ':authority': 'localhost' }), 128 * 1024);
  assert.equal(sha256(slow), sha256(BIG_FILE));
});

test('If-None-Match answers 304 without a body', async (t) => {
  const edge = await staticEdge(t);
  const session = open(t, edge);
  const first = await ask(session, { ':path': '/site.css' });
  const etag = first.headers.etag as string;
  const again = await ask(session, { ':path': '/site.css', 'if-none-match': etag });
  assert.equal(again.status, 304);
  assert.equal(again.body.length, 0);
  assert.equal(again.headers.etag, etag);
});

test('Range answers 206 with exactly the bytes asked for, beyond 2 GiB too', async (t) => {
  const edge = await staticEdge(t);
  const session = open(t, edge);
  const part = await ask(session, { ':path': '/big.bin', range: 'bytes=1000-1999' });
  assert.equal(part.status, 206);
  assert.equal(part.headers['content-range'], `bytes 1000-1999/${BIG_FILE.length}`);
  assert.deepEqual(part.body, BIG_FILE.subarray(1000, 2000));
  const far = await ask(session, { ':path': '/huge.bin', range: `bytes=${HUGE_FILE_BYTES - 100}-` });
  assert.equal(far.status, 206);
  assert.equal(far.headers['content-range'], `bytes ${HUGE_FILE_BYTES - 100}-${HUGE_FILE_BYTES - 1}/${HUGE_FILE_BYTES}`);
  assert.deepEqual(far.body, Buffer.alloc(100));
});

test('HEAD gets the headers of the full answer and no body', async (t) => {
  const edge = await staticEdge(t);
  const session = open(t, edge);
  const head = await ask(session, { ':path': '/big.bin', ':method': 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], String(BIG_FILE.length));
  assert.equal(head.body.length, 0);
  const missing = await ask(session, { ':path': '/nope.txt', ':method': 'HEAD' });
  assert.equal(missing.status, 404);
  assert.equal(missing.body.length, 0);
});

test('gzip and brotli are negotiated for compressible files', async (t) => {
  const edge = await staticEdge(t);
  const session = open(t, edge);
  const br = await ask(session, { ':path': '/site.css', 'accept-encoding': 'gzip, br' });
  assert.equal(br.headers['content-encoding'], 'br');
  assert.equal(br.headers.vary, 'Accept-Encoding');
  assert.equal(brotliDecompressSync(br.body).toString(), CSS);
  const gzip = await ask(session, { ':path': '/site.css', 'accept-encoding': 'gzip' });
  assert.equal(gzip.headers['content-encoding'], 'gzip');
  assert.equal(gunzipSync(gzip.body).toString(), CSS);
  const plain = await ask(session, { ':path': '/site.css' });
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(plain.body.toString(), CSS);
});

test('CONNECT is refused 501: the edge is no forward proxy, and WebSocket stays on HTTP/1.1', async (t) => {
  const edge = await staticEdge(t);
  const session = open(t, edge);
  const answer = await ask(session, { ':method': 'CONNECT', ':authority': 'localhost:443' });
  assert.equal(answer.status, 501);
  assert.match(answer.body.toString(), /not a forward proxy/);
  assert.equal((await ask(session, { ':path': '/hello.txt' })).status, 200);
});

test('an unknown host is answered 404', async (t) => {
  const edge = await staticEdge(t);
  const session = open(t, edge);
  const answer = await ask(session, { ':path': '/', ':authority': 'nobody.example' });
  assert.equal(answer.status, 404);
  assert.equal(answer.body.toString(), 'no app is served at this address\n');
  assert.equal(answer.headers['strict-transport-security'], undefined);
});

// ---- proxying -------------------------------------------------------------

async function proxyEdge(t: TestContext, upstream: Running | number, limits: Partial<EdgeLimits> = {}, fields: Partial<SiteSpec> = {}): Promise<Edge> {
  const upstreams = typeof upstream === 'number' ? [{ id: 'web.1', host: '127.0.0.1', port: upstream }] : at(upstream);
  return secureEdge(t, { hosts: { localhost: site('app', { upstreams, hsts: 'max-age=300', ...fields }) }, fallback: null }, limits);
}

test('GET and POST are proxied with the forwarding headers, and the app sees one head', async (t) => {
  const upstream = await echoUpstream(t);
  const edge = await proxyEdge(t, upstream);
  const session = open(t, edge);
  const got = await ask(session, { ':path': '/items?x=1', 'x-forwarded-for': '6.6.6.6', 'x-client': 'yes' });
  assert.equal(got.status, 200);
  assert.equal(got.headers['x-app'], 'echo');
  assert.equal(got.headers['keep-alive'], undefined);
  assert.equal(got.headers['strict-transport-security'], 'max-age=300');
  const seen = JSON.parse(got.body.toString());
  assert.equal(seen.method, 'GET');
  assert.equal(seen.url, '/items?x=1');
  assert.equal(seen.headers.host, 'localhost');
  assert.equal(seen.headers['x-forwarded-proto'], 'https');
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal(seen.headers['x-forwarded-host'], 'localhost');
  assert.equal(seen.headers['x-client'], 'yes');
  assert.equal(seen.headers['content-length'], undefined);

  const payload = randomBytes(200 * 1024); // past the in-memory part of the body buffer
  const posted = await ask(session, { ':method': 'POST', ':path': '/upload', 'content-type': 'application/octet-stream' }, payload);
  const echoed = JSON.parse(posted.body.toString());
  assert.equal(echoed.method, 'POST');
  assert.equal(echoed.size, payload.length);
  assert.equal(echoed.headers['content-length'], String(payload.length));
  assert.ok(Buffer.from(echoed.body, 'latin1').equals(payload));
});

test('over HTTP/2 too: cached responses are hits, text is compressed, and a client over its rate gets 429', async (t) => {
  let count = 0;
  const upstream = await httpUpstream((_req, res) => {
    count++;
    res.setHeader('cache-control', 'public, max-age=60');
    res.setHeader('content-type', 'text/plain');
    res.end(`version ${count} `.repeat(200));
  });
  t.after(() => upstream.close());
  const edge = await proxyEdge(t, upstream, {}, { rateLimit: { perSecond: 0.5, burst: 4 } });
  const session = open(t, edge);
  const first = await ask(session, { ':path': '/page' });
  assert.match(String(first.headers['cache-status']), /fwd=uri-miss; stored/);
  const hit = await ask(session, { ':path': '/page', 'accept-encoding': 'br' });
  assert.equal(hit.headers['cache-status'], 'berth; hit');
  assert.equal(hit.headers['content-encoding'], 'br');
  assert.equal(brotliDecompressSync(hit.body).toString(), first.body.toString());
  assert.equal(count, 1);
  await ask(session, { ':path': '/other' });
  await ask(session, { ':path': '/page' });
  const limited = await ask(session, { ':path': '/page' });
  assert.equal(limited.status, 429);
  assert.ok(Number(limited.headers['retry-after']) >= 1);
});

test('a header list over the limit never reaches the app', async (t) => {
  let requests = 0;
  const upstream = await httpUpstream((_req, res) => {
    requests++;
    res.end('ok');
  });
  t.after(() => upstream.close());
  const edge = await proxyEdge(t, upstream, { maxHeaderBytes: 4096, maxHeaderCount: 20 });
  const session = open(t, edge);
  const outcome = (headers: OutgoingHttpHeaders) => ask(session, { ':path': '/', ...headers }).then((answer) => answer.status, (err: Error) => err.message);
  // Answered 431, or reset by nghttp2 once the client has acknowledged the limit.
  const big = await outcome({ 'x-big': 'a'.repeat(8192) });
  assert.ok(big === 431 || typeof big === 'string', String(big));
  const many: OutgoingHttpHeaders = {};
  for (let i = 0; i < 40; i++) many[`x-field-${i}`] = 'v';
  const crowded = await outcome(many);
  assert.ok(crowded === 431 || typeof crowded === 'string', String(crowded));
  assert.equal(requests, 0);
  const fresh = open(t, edge);
  assert.equal(await ask(fresh, { ':path': '/' }).then((answer) => answer.status), 200);
});

test('cookie crumbs reach the app as one Cookie field', async (t) => {
  const upstream = await echoUpstream(t);
  const edge = await proxyEdge(t, upstream);
  const session = open(t, edge);
  const answer = await ask(session, { ':path': '/', cookie: ['a=1', 'b=2', 'c=3'] });
  assert.equal(JSON.parse(answer.body.toString()).headers.cookie, 'a=1; b=2; c=3');
});

test('a large proxied response read slowly arrives whole, with flow control, and its upstream connection is reused', async (t) => {
  const body = randomBytes(6 * 1024 * 1024);
  let connections = 0;
  const upstream = await httpUpstream((req, res) => {
    if (req.url === '/small') return res.end('small');
    if (req.url === '/whole') return res.end(body);
    res.setHeader('content-length', body.length);
    // In pieces, so the edge relays many reads.
    let sent = 0;
    const more = () => {
      while (sent < body.length) {
        const piece = body.subarray(sent, sent + 256 * 1024);
        sent += piece.length;
        if (!res.write(piece)) {
          res.once('drain', more);
          return;
        }
      }
      res.end();
    };
    more();
  });
  t.after(() => upstream.close());
  const edge = await proxyEdge(t, upstream);
  const session = open(t, edge);
  upstream.server.on('connection', () => connections++);
  for (let round = 0; round < 3; round++) {
    const received = await slowRead(session.request({ ':path': round === 0 ? '/big' : '/whole', ':authority': 'localhost' }), 512 * 1024);
    assert.equal(received.length, body.length);
    assert.equal(sha256(received), sha256(body));
    // The connection went back to the pool reading, not paused for the slow client.
    assert.equal((await ask(session, { ':path': '/small' })).body.toString(), 'small');
  }
  assert.equal(connections, 1);
});

test('an app that is down is answered 502', async (t) => {
  const edge = await proxyEdge(t, await deadPort());
  const session = open(t, edge);
  const answer = await ask(session, { ':path': '/' });
  assert.equal(answer.status, 502);
  assert.match(answer.body.toString(), /bad gateway|no instance/);
  assert.equal(answer.headers['strict-transport-security'], 'max-age=300');
});

test('a body over the app limit is refused 413, declared or streamed, and never reaches the app', async (t) => {
  let requests = 0;
  const upstream = await httpUpstream((_req, res) => {
    requests++;
    res.end('ok');
  });
  t.after(() => upstream.close());
  const edge = await proxyEdge(t, upstream, {}, { maxBodyBytes: 1024 });
  const session = open(t, edge);
  const declared = await ask(session, { ':method': 'POST', ':path': '/', 'content-length': '5000' }, Buffer.alloc(5000));
  assert.equal(declared.status, 413);
  const streamed = await new Promise<number>((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', ':path': '/', ':authority': 'localhost' });
    stream.on('response', (headers) => resolve(Number(headers[':status'])));
    stream.on('error', reject);
    stream.write(Buffer.alloc(800));
    stream.write(Buffer.alloc(800));
  });
  assert.equal(streamed, 413);
  const small = await ask(session, { ':method': 'POST', ':path': '/' }, Buffer.alloc(1000));
  assert.equal(small.status, 200);
  assert.equal(requests, 1);
});

test('a request body that stops arriving is answered 408', async (t) => {
  const upstream = await echoUpstream(t);
  const edge = await proxyEdge(t, upstream, { bodyIdleTimeoutMs: 300 });
  const session = open(t, edge);
  const status = await new Promise<number>((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', ':path': '/', ':authority': 'localhost' });
    stream.on('response', (headers) => resolve(Number(headers[':status'])));
    stream.on('error', reject);
    stream.write('a little, then nothing');
  });
  assert.equal(status, 408);
});

test('a request body that sends a byte now and then is answered 408 once it falls behind the minimum rate, though never idle', async (t) => {
  const upstream = await echoUpstream(t);
  const edge = await proxyEdge(t, upstream, { bodyIdleTimeoutMs: 600, minBodyRateBytes: 100 });
  const session = open(t, edge);
  let trickle: NodeJS.Timeout | undefined;
  t.after(() => clearInterval(trickle));
  const status = await new Promise<number>((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', ':path': '/', ':authority': 'localhost' });
    stream.on('response', (headers) => resolve(Number(headers[':status'])));
    stream.on('error', reject);
    // A byte every 100 ms: never silent for 600 ms, a tenth of the minimum rate. Bounded by the test's timeout.
    trickle = setInterval(() => stream.writable && stream.write('x'), 100);
  });
  assert.equal(status, 408);
});

test('a client that resets a stream mid-response leaves the upstream connection usable', async (t) => {
  let connections = 0;
  let closedConnections = 0;
  let bigSent = false;
  const big = Buffer.alloc(4 * 1024 * 1024, 'x');
  const upstream = await httpUpstream((req, res) => {
    if (req.url !== '/big') return res.end('small');
    res.on('finish', () => (bigSent = true));
    res.end(big);
  });
  upstream.server.on('connection', (socket) => {
    connections++;
    socket.on('close', () => closedConnections++);
  });
  t.after(() => upstream.close());
  const edge = await proxyEdge(t, upstream);
  const session = open(t, edge);
  const stream = session.request({ ':path': '/big', ':authority': 'localhost' });
  stream.on('error', () => {});
  await new Promise<void>((resolve) => stream.once('data', () => resolve()));
  stream.close(constants.NGHTTP2_CANCEL);
  // The edge reads the rest of the body into nothing, and the connection goes back to the pool.
  await waitFor(() => bigSent);
  for (let i = 0; i < 5; i++) assert.equal((await ask(session, { ':path': '/small' })).body.toString(), 'small');
  assert.equal(closedConnections, 0);
  assert.ok(connections <= 2, `${connections} upstream connections`);
});

// ---- protocols on one port ------------------------------------------------

test('HTTP/1.1 still answers on the same port when ALPN says so', async (t) => {
  const upstream = await echoUpstream(t);
  const edge = await proxyEdge(t, upstream);
  const options: RequestOptions & ConnectionOptions = {
    host: '127.0.0.1', port: edge.port, path: '/one', servername: 'localhost', headers: { host: 'localhost' }, ca: edge.ca, ALPNProtocols: ['http/1.1'], agent: false,
  };
  const answer = await new Promise<{ status: number; protocol: string | false | null; body: string; hsts: unknown }>((resolve, reject) => {
    const req = httpsRequest(
      options,
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, protocol: (res.socket as TLSSocket).alpnProtocol, body, hsts: res.headers['strict-transport-security'] }));
      },
    );
    req.on('error', reject);
    req.end();
  });
  assert.equal(answer.status, 200);
  assert.equal(answer.protocol, 'http/1.1');
  assert.equal(answer.hsts, 'max-age=300');
  assert.equal(JSON.parse(answer.body).headers['x-forwarded-proto'], 'https');
});

test('curl negotiates HTTP/2 and HTTP/1.1 on the same port', async (t) => {
  const edge = await staticEdge(t);
  const curl = async (flag: string) => {
    const { stdout } = await run('curl', ['-sk', flag, '--resolve', `localhost:${edge.port}:127.0.0.1`, '-o', '/dev/null', '-w', '%{http_version} %{http_code}', `https://localhost:${edge.port}/hello.txt`], { timeout: 10_000 });
    return stdout;
  };
  assert.equal(await curl('--http2'), '2 200');
  assert.equal(await curl('--http1.1'), '1.1 200');
});

// ---- concurrency, floods and shutdown ----------------------------------------

test('100 concurrent streams on one session are all answered', async (t) => {
  const upstream = await echoUpstream(t);
  const edge = await proxyEdge(t, upstream);
  const session = open(t, edge);
  const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => ask(session, { ':path': `/n/${i}` })));
  answers.forEach((answer, i) => {
    assert.equal(answer.status, 200);
    assert.equal(JSON.parse(answer.body.toString()).url, `/n/${i}`);
  });
});

test('a client that cancels streams as fast as it opens them (rapid reset) gets GOAWAY ENHANCE_YOUR_CALM and is cut', async (t) => {
  const edge = await staticEdge(t);
  const session = open(t, edge);
  await ask(session, { ':path': '/hello.txt' });
  let goaway: number | null = null;
  session.on('goaway', (code: number) => (goaway = code));
  const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
  const judged = () => edge.logs.some((line) => line.includes('rapid reset'));
  // Bounded: 1,000 streams at most, in batches of 25; stops once the edge has judged.
  for (let i = 0; i < 1_000 && !judged() && goaway === null && !session.destroyed; i++) {
    const stream = session.request({ ':path': '/hello.txt', ':authority': 'localhost' });
    stream.on('error', () => {});
    stream.close(constants.NGHTTP2_CANCEL);
    if (i % 25 === 24) await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('session was not closed')), 5_000))]);
  assert.equal(goaway, constants.NGHTTP2_ENHANCE_YOUR_CALM);
  await waitFor(() => edge.engine.connectionCount === 0);
  // Other clients are still served.
  const other = open(t, edge);
  assert.equal((await ask(other, { ':path': '/hello.txt' })).status, 200);
});

test('pings are answered, and a burst of thousands is cut as a flood while other clients are served', async (t) => {
  const edge = await staticEdge(t);
  const session = open(t, edge, { maxOutstandingPings: 10_000 });
  const ping = () => new Promise<boolean>((resolve) => session.ping((err) => resolve(err === null)));
  assert.equal((await ask(session, { ':path': '/hello.txt' })).status, 200);
  // Keep-alive pings, even many of them, are answered.
  for (let round = 0; round < 10; round++) {
    const answers = await Promise.all(Array.from({ length: 50 }, ping));
    assert.ok(answers.every(Boolean), `round ${round}`);
  }
  assert.equal((await ask(session, { ':path': '/hello.txt' })).status, 200);
  // A flood: more acknowledgements queued at once than nghttp2 keeps (CVE-2019-9512).
  const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
  const flood = await Promise.all(Array.from({ length: 5_000 }, ping));
  await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('session was not closed')), 5_000))]);
  assert.ok(flood.some((answered) => !answered));
  assert.ok(edge.logs.some((line) => line.includes('Flooding was detected')), edge.logs.join('\n'));
  const other = open(t, edge);
  assert.equal((await ask(other, { ':path': '/hello.txt' })).status, 200);
});

// Raw frames, for clients that node:http2's own client would never be.
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}

const SETTINGS = 0x4;
const PING = 0x6;
const HEADERS = 0x1;
const RST_STREAM = 0x3;
const GOAWAY = 0x7;

/** GET / for localhost, HPACK-encoded with the static table only. */
const GET_BLOCK = Buffer.concat([Buffer.from([0x82, 0x87, 0x84, 0x01, 9]), Buffer.from('localhost')]);

/** A raw h2 client over TLS: writes what it is told and records what it reads. */
async function rawH2(edge: Edge): Promise<{ socket: TLSSocket; frames: Array<{ type: number; payload: Buffer }>; closed: Promise<void> }> {
  const socket = tlsConnect({ host: '127.0.0.1', port: edge.port, servername: 'localhost', ca: edge.ca, ALPNProtocols: ['h2'] });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  assert.equal(socket.alpnProtocol, 'h2');
  socket.on('error', () => {});
  const frames: Array<{ type: number; payload: Buffer }> = [];
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 9) {
      const length = pending.readUIntBE(0, 3);
      if (pending.length < 9 + length) break;
      frames.push({ type: pending[3]!, payload: pending.subarray(9, 9 + length) });
      pending = pending.subarray(9 + length);
    }
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0)]));
  return { socket, frames, closed };
}

test('a raw rapid reset (HEADERS then RST_STREAM in one packet) is cut with ENHANCE_YOUR_CALM', async (t) => {
  const edge = await staticEdge(t);
  const client = await rawH2(edge);
  t.after(() => client.socket.destroy());
  const cancel = Buffer.alloc(4);
  cancel.writeUInt32BE(constants.NGHTTP2_CANCEL);
  const batch: Buffer[] = [];
  for (let i = 0; i < 1_000; i++) {
    const id = 1 + 2 * i;
    batch.push(frame(HEADERS, 0x5 /* END_STREAM | END_HEADERS */, id, GET_BLOCK), frame(RST_STREAM, 0, id, cancel));
  }
  client.socket.write(Buffer.concat(batch));
  await Promise.race([client.closed, new Promise((_, reject) => setTimeout(() => reject(new Error('connection was not closed')), 5_000))]);
  const goaway = client.frames.find((f) => f.type === GOAWAY);
  assert.ok(goaway, 'no GOAWAY');
  assert.equal(goaway.payload.readUInt32BE(4), constants.NGHTTP2_ENHANCE_YOUR_CALM);
});

test('streams past the concurrency limit are refused, and a client that keeps opening them is cut', async (t) => {
  const upstream = await httpUpstream(() => {}); // never answers: every stream stays open
  t.after(() => upstream.close());
  const edge = await proxyEdge(t, upstream);
  const client = await rawH2(edge);
  t.after(() => client.socket.destroy());
  const open = (from: number, count: number) => {
    const batch: Buffer[] = [];
    for (let i = from; i < from + count; i++) batch.push(frame(HEADERS, 0x5, 1 + 2 * i, GET_BLOCK));
    client.socket.write(Buffer.concat(batch));
  };
  open(0, H2_MAX_CONCURRENT_STREAMS + 50);
  await waitFor(() => client.frames.filter((f) => f.type === RST_STREAM).length === 50);
  for (const reset of client.frames.filter((f) => f.type === RST_STREAM)) assert.equal(reset.payload.readUInt32BE(0), constants.NGHTTP2_REFUSED_STREAM);
  assert.equal(client.socket.destroyed, false);
  open(H2_MAX_CONCURRENT_STREAMS + 50, 200);
  await Promise.race([client.closed, new Promise((_, reject) => setTimeout(() => reject(new Error('connection was not closed')), 5_000))]);
});

test('PING and SETTINGS floods from a client that does not read are cut, and others are still served', async (t) => {
  const edge = await staticEdge(t, { headerTimeoutMs: 500 });
  for (const type of [PING, SETTINGS]) {
    const client = await rawH2(edge);
    t.after(() => client.socket.destroy());
    client.socket.pause(); // never reads the acknowledgements
    const flood = frame(type, 0, 0, type === PING ? Buffer.alloc(8) : Buffer.from([0, 3, 0, 0, 0, 100]));
    const batch = Buffer.concat(Array.from({ length: 2_000 }, () => flood));
    let written = 0;
    const started = Date.now();
    // Bounded: at most 200 batches (400,000 frames) or 3 s.
    for (let i = 0; i < 200 && !client.socket.destroyed && Date.now() - started < 3_000; i++) {
      if (!client.socket.write(batch)) await new Promise((resolve) => setTimeout(resolve, 5));
      written++;
    }
    await Promise.race([client.closed, new Promise((_, reject) => setTimeout(() => reject(new Error(`flood of ${written} batches was not cut`)), 5_000))]);
  }
  const session = open(t, edge);
  assert.equal((await ask(session, { ':path': '/hello.txt' })).status, 200);
});

test('a session whose first header section never completes is closed after the header timeout', async (t) => {
  const edge = await staticEdge(t, { headerTimeoutMs: 300 });
  const client = await rawH2(edge);
  t.after(() => client.socket.destroy());
  // HEADERS without END_HEADERS, and no CONTINUATION ever.
  client.socket.write(frame(HEADERS, 0x1, 1, GET_BLOCK.subarray(0, 3)));
  const started = Date.now();
  await Promise.race([client.closed, new Promise((_, reject) => setTimeout(() => reject(new Error('connection was not closed')), 3_000))]);
  assert.ok(Date.now() - started >= 200);
});

test('a body sent to a static site is read and dropped, and the answer is whole', async (t) => {
  const edge = await staticEdge(t);
  const session = open(t, edge);
  const posted = await ask(session, { ':method': 'POST', ':path': '/hello.txt' }, Buffer.alloc(100_000));
  assert.equal(posted.status, 405);
  assert.equal(posted.headers.allow, 'GET, HEAD');
  const got = await ask(session, { ':path': '/big.bin', 'content-type': 'text/plain' }, 'a GET with a body');
  assert.equal(sha256(got.body), sha256(BIG_FILE));
});

test('an idle session is closed after the keep-alive timeout', async (t) => {
  const edge = await staticEdge(t, { keepAliveTimeoutMs: 300 });
  const session = open(t, edge);
  await ask(session, { ':path': '/hello.txt' });
  const started = Date.now();
  await new Promise<void>((resolve) => session.once('close', () => resolve()));
  assert.ok(Date.now() - started < 3_000);
  await waitFor(() => edge.engine.connectionCount === 0);
});

test('closing the engine sends GOAWAY and lets a slow response in flight finish', async (t) => {
  let requested = false;
  const upstream = await httpUpstream((_req, res) => {
    requested = true;
    res.writeHead(200, { 'content-length': '10' });
    res.write('hello');
    setTimeout(() => res.end('world'), 300);
  });
  t.after(() => upstream.close());
  const edge = await proxyEdge(t, upstream);
  const session = open(t, edge);
  let goaway = false;
  session.on('goaway', () => (goaway = true));
  const answer = ask(session, { ':path': '/slow' });
  await waitFor(() => requested);
  const closing = edge.engine.close(5_000);
  const { status, body } = await answer;
  assert.equal(status, 200);
  assert.equal(body.toString(), 'helloworld');
  await closing;
  assert.equal(goaway, true);
  assert.equal(edge.engine.connectionCount, 0);
});

test('HTTPS connections count against the per-client cap like any other, HTTP/2 sessions and HTTP/1.1 alike; a refused one gets no handshake', async (t) => {
  const edge = await staticEdge(t, { maxConnectionsPerClient: 2 });
  const first = open(t, edge);
  assert.equal((await ask(first, { ':path': '/hello.txt' })).status, 200);
  const second = tlsConnect({ host: '127.0.0.1', port: edge.port, servername: 'localhost', ca: edge.ca, ALPNProtocols: ['http/1.1'] });
  t.after(() => second.destroy());
  await new Promise<void>((resolve, reject) => second.once('secureConnect', () => resolve()).once('error', reject));
  // The third is closed before any handshake.
  const third = tlsConnect({ host: '127.0.0.1', port: edge.port, servername: 'localhost', ca: edge.ca, ALPNProtocols: ['h2'] });
  t.after(() => third.destroy());
  const outcome = await new Promise<string>((resolve) => {
    third.once('secureConnect', () => resolve('handshake'));
    third.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    third.once('close', () => resolve('closed'));
  });
  assert.notEqual(outcome, 'handshake');
  // Room again once one goes.
  second.destroy();
  await waitFor(() => edge.engine.connectionCount === 1);
  const fourth = open(t, edge);
  assert.equal((await ask(fourth, { ':path': '/hello.txt' })).status, 200);
});

test('a TCP connection to the HTTPS port that never starts its handshake is closed after the header timeout', async (t) => {
  const edge = await staticEdge(t, { headerTimeoutMs: 300 });
  const socket = connect({ host: '127.0.0.1', port: edge.port });
  t.after(() => socket.destroy());
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('a silent connection was kept')), 5_000))]);
});

// ---- request validation (pure) ------------------------------------------------

test('readRequest refuses what cannot be re-sent safely as HTTP/1.1', () => {
  const limits = DEFAULT_EDGE_LIMITS;
  const base = [':method', 'GET', ':scheme', 'https', ':authority', 'Example.com', ':path', '/a?b=c'];
  const ok = readRequest([...base, 'cookie', 'a=1', 'accept', '*/*', 'cookie', 'b=2'], limits);
  assert.equal(ok.kind, 'request');
  if (ok.kind === 'request') {
    assert.equal(ok.request.authority, 'example.com');
    assert.deepEqual(ok.request.fields, ['accept', '*/*', 'cookie', 'a=1; b=2']);
  }
  const status = (raw: string[]) => {
    const result = readRequest(raw, limits);
    return result.kind === 'refused' ? result.status : 200;
  };
  assert.equal(status([':method', 'CONNECT', ':authority', 'example.com:443']), 501);
  assert.equal(status([...base, ':protocol', 'websocket']), 501);
  assert.equal(status([':method', 'GET', ':scheme', 'https', ':path', '/']), 400); // no authority
  assert.equal(status([':method', 'GET', ':scheme', 'https', ':path', '/', 'host', 'example.com']), 200);
  assert.equal(status([...base, 'host', 'other.com']), 400);
  assert.equal(status([':method', 'GET', ':scheme', 'https', ':authority', 'a.com', ':path', 'x']), 400);
  assert.equal(status([':method', 'GET', ':scheme', 'https', ':authority', 'a.com', ':path', '*']), 400);
  assert.equal(status([':method', 'OPTIONS', ':scheme', 'https', ':authority', 'a.com', ':path', '*']), 200);
  assert.equal(status([':method', 'GET', ':scheme', 'https', ':authority', 'a.com', ':path', '/a b']), 400);
  assert.equal(status([':method', 'GET', ':scheme', 'https', ':authority', 'a.com', ':path', '/a\r\nx: y']), 400);
  assert.equal(status([':method', 'GET', ':scheme', 'https', ':authority', 'a.com', ':path', '/' + 'a'.repeat(9000)]), 414);
  assert.equal(status([...base, 'x-bad', 'a\nb']), 400);
  assert.equal(status([...base, 'X-Upper', 'a']), 400);
  assert.equal(status([...base, 'connection', 'close']), 400);
  assert.equal(status([...base, 'transfer-encoding', 'chunked']), 400);
  assert.equal(status([...base, 'te', 'gzip']), 400);
  assert.equal(status([...base, 'te', 'trailers']), 200);
  assert.equal(status([...base, 'content-length', '1', 'content-length', '1']), 400);
  assert.equal(status([...base, 'content-length', '-1']), 400);
  assert.equal(status([...base, 'expect', 'magic']), 417);
  assert.equal(status(['x', 'y', ...base]), 400); // pseudo-header after a field
  assert.equal(status([...base, ':method', 'POST']), 400);
  assert.equal(status([...base, 'x-big', 'a'.repeat(limits.maxHeaderBytes)]), 431);
  assert.equal(status([...base, ...Array.from({ length: limits.maxHeaderCount + 1 }, (_, i) => [`x-${i}`, 'v']).flat()]), 431);
  assert.equal(status([...base, ...Array.from({ length: limits.maxHeaderCount }, (_, i) => [`x-${i}`, 'v']).flat()]), 200);
  assert.equal(status([':method', 'GET', ':scheme', 'https', ':authority', 'a.com/evil', ':path', '/']), 400);
});
