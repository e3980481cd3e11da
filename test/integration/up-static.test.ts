import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { gunzipSync, brotliDecompressSync } from 'node:zlib';
import { request } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthProcess, EXAMPLES } from '../helpers/berth-process.ts';

function raw(url: string, text: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let out = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (out += chunk));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
    socket.end(text);
  });
}

function get(url: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('berth up serves the static example with no process at all', async (t) => {
  const root = join(EXAMPLES, 'static-site');
  const berth = new BerthProcess(['up', root, '--listen', '127.0.0.1:0']);
  t.after(() => berth.kill());
  const url = await berth.url();
  const css = await readFile(join(root, 'assets/site.css'));

  await t.test('index.html for / and for folders; a folder without a slash redirects', async () => {
    const home = await fetch(`${url}/`);
    assert.equal(home.status, 200);
    assert.match(home.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await home.text(), /A static site on berth/);
    assert.match(await (await fetch(`${url}/docs/`)).text(), /<h1>Docs<\/h1>/);
    const redirect = await fetch(`${url}/docs`, { redirect: 'manual' });
    assert.equal(redirect.status, 301);
    // Relative, so it stays right under any mount prefix.
    assert.equal(new URL(redirect.headers.get('location')!, `${url}/docs`).pathname, '/docs/');
  });

  await t.test('ETag and Last-Modified give 304s', async () => {
    const first = await fetch(`${url}/assets/site.css`);
    const etag = first.headers.get('etag')!;
    assert.ok(etag);
    assert.equal((await fetch(`${url}/assets/site.css`, { headers: { 'if-none-match': etag } })).status, 304);
    const lastModified = first.headers.get('last-modified')!;
    assert.equal((await fetch(`${url}/assets/site.css`, { headers: { 'if-modified-since': lastModified } })).status, 304);
  });

  await t.test('ranges give 206 and 416', async () => {
    const part = await get(`${url}/assets/site.css`, { range: 'bytes=10-19' });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 10-19/${css.length}`);
    assert.ok(part.body.equals(css.subarray(10, 20)));
    const beyond = await get(`${url}/assets/site.css`, { range: `bytes=${css.length + 10}-` });
    assert.equal(beyond.status, 416);
  });

  await t.test('gzip and brotli for compressible types', async () => {
    const gz = await get(`${url}/assets/site.css`, { 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.ok(gunzipSync(gz.body).equals(css));
    const br = await get(`${url}/assets/site.css`, { 'accept-encoding': 'gzip, br' });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.ok(brotliDecompressSync(br.body).equals(css));
    assert.match(String(br.headers.vary), /accept-encoding/i);
  });

  await t.test('HEAD has headers and no body', async () => {
    const head = await fetch(`${url}/assets/site.css`, { method: 'HEAD', headers: { 'accept-encoding': 'identity' } });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(css.length));
    assert.equal((await head.arrayBuffer()).byteLength, 0);
  });

  await t.test('fingerprinted assets are cached for a year', async () => {
    const res = await fetch(`${url}/assets/app.5f3c2a91.js`);
    assert.match(res.headers.get('cache-control') ?? '', /max-age=31536000.*immutable/);
    assert.match(res.headers.get('content-type') ?? '', /javascript/);
  });

  await t.test('no way out of the root', async () => {
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/assets/%2E%2E/%2e%2e/package.json', '/..%2fpackage.json', '/%00', '/assets%5c..%5c..%5cpackage.json', '/assets/..\\..\\package.json']) {
      const response = await raw(url, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      const status = Number(response.slice(9, 12));
      assert.ok(status === 400 || status === 404, `${path} answered ${status}`);
      assert.doesNotMatch(response, /"name": "berth"/);
    }
  });

  await t.test('stops cleanly', async () => {
    assert.equal((await berth.stop('SIGINT')).code, 0);
  });
});
