import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, stat, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { createStaticSite, planStaticResponse, type StaticResponse, type StaticSiteOptions } from '../../../src/edge/static/index.ts';
import { bodyBytes, header, plainBody, tempDir } from './helpers.ts';

const CSS = 'body { color: red; }\n'.repeat(200); // compressible, > 1 KiB
const BIG = Buffer.alloc(300 * 1024, 'abcdefghij'); // > 256 KiB: streamed from disk
const PNG = randomBytes(4096);

type Fixture = {
  root: string;
  base: string;
  plan: (method: string, target: string, headers?: Record<string, string>) => Promise<StaticResponse>;
};

async function fixture(t: TestContext, options: Partial<StaticSiteOptions> = {}): Promise<Fixture> {
  const base = await tempDir(t);
  const root = join(base, 'site');
  await mkdir(join(root, 'css'), { recursive: true });
  await mkdir(join(root, 'docs'));
  await mkdir(join(root, 'empty-dir'));
  await mkdir(join(root, '.well-known'));
  await writeFile(join(base, 'secret.txt'), 'TOP-SECRET');
  await writeFile(join(root, 'index.html'), '<h1>home</h1>');
  await writeFile(join(root, 'docs', 'index.html'), '<h1>docs</h1>');
  await writeFile(join(root, 'css', 'site.css'), CSS);
  await writeFile(join(root, 'app.3f2a9c1b.js'), 'console.log(1)');
  await writeFile(join(root, 'big.bin'), BIG);
  await writeFile(join(root, 'image.png'), PNG);
  await writeFile(join(root, 'tiny.css'), 'a{}');
  await writeFile(join(root, 'empty.txt'), '');
  await writeFile(join(root, 'random.txt'), randomBytes(4096)); // compressible type, incompressible bytes
  await writeFile(join(root, '.env'), 'SECRET=1');
  await writeFile(join(root, '.well-known', 'security.txt'), 'Contact: x');
  await symlink('../secret.txt', join(root, 'leak.txt'));
  await symlink('css/site.css', join(root, 'alias.css'));
  const site = await createStaticSite({ root, ...options });
  return {
    root,
    base,
    plan: (method, target, headers = {}) => planStaticResponse(site, { method, target, headers }),
  };
}

test('GET a file: 200 with type, length, validators and body', async (t) => {
  const f = await fixture(t);
  const r = await f.plan('GET', '/css/site.css');
  assert.equal(r.status, 200);
  assert.equal(header(r, 'Content-Type'), 'text/css; charset=utf-8');
  assert.equal(header(r, 'Content-Length'), String(CSS.length));
  assert.match(header(r, 'ETag')!, /^"[0-9a-f]+-[0-9a-f]+"$/);
  assert.match(header(r, 'Last-Modified')!, /GMT$/);
  assert.equal(header(r, 'Cache-Control'), 'public, max-age=0, must-revalidate');
  assert.equal(header(r, 'Accept-Ranges'), 'bytes');
  assert.equal(header(r, 'X-Content-Type-Options'), 'nosniff');
  assert.equal(header(r, 'Vary'), 'Accept-Encoding');
  assert.equal(header(r, 'Content-Encoding'), undefined);
  assert.equal((await bodyBytes(r)).toString(), CSS);
});

test('small files come from memory, large ones are streamed from disk', async (t) => {
  const f = await fixture(t);
  assert.equal((await f.plan('GET', '/css/site.css')).body.kind, 'buffer');
  const big = await f.plan('GET', '/big.bin');
  assert.deepEqual(plainBody(big.body), { kind: 'file', path: join(f.root, 'big.bin'), start: 0, end: BIG.length - 1 });
});

test('smallFileCacheBytes 0 streams everything', async (t) => {
  const f = await fixture(t, { smallFileCacheBytes: 0 });
  const r = await f.plan('GET', '/tiny.css');
  assert.equal(r.body.kind, 'file');
  assert.equal((await bodyBytes(r)).toString(), 'a{}');
});

test('HEAD has the GET headers, Content-Length included, and no body', async (t) => {
  const f = await fixture(t);
  for (const [target, headers] of [
    ['/css/site.css', {}],
    ['/css/site.css', { 'accept-encoding': 'br' }],
    ['/big.bin', {}],
    ['/empty.txt', {}],
  ] as const) {
    const get = await f.plan('GET', target, headers);
    const head = await f.plan('HEAD', target, headers);
    assert.equal(head.status, 200);
    assert.deepEqual(head.headers, get.headers, target);
    assert.deepEqual(head.body, { kind: 'none' });
  }
});

test('query strings are not part of the file name', async (t) => {
  const f = await fixture(t);
  const r = await f.plan('GET', '/tiny.css?v=123&x=../../secret.txt');
  assert.equal(r.status, 200);
  assert.equal((await bodyBytes(r)).toString(), 'a{}');
});

test('methods other than GET and HEAD are 405 with Allow', async (t) => {
  const f = await fixture(t);
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT', 'get', 'head', 'PROPFIND']) {
    const r = await f.plan(method, '/tiny.css');
    assert.equal(r.status, 405, method);
    assert.equal(header(r, 'Allow'), 'GET, HEAD');
    assert.equal(header(r, 'Content-Type'), 'text/plain; charset=utf-8');
    assert.equal(header(r, 'Content-Length'), String((await bodyBytes(r)).length));
  }
});

test('error responses are short plain text, and empty for HEAD', async (t) => {
  const f = await fixture(t);
  const cases: Array<[string, string, number]> = [
    ['GET', '/nope', 404],
    ['GET', '/..%2fsecret.txt', 400],
    ['GET', '/.env', 404],
  ];
  for (const [method, target, status] of cases) {
    const get = await f.plan(method, target);
    assert.equal(get.status, status);
    assert.equal(header(get, 'Content-Type'), 'text/plain; charset=utf-8');
    const body = await bodyBytes(get);
    assert.ok(body.length > 0 && body.length < 64);
    assert.equal(header(get, 'Content-Length'), String(body.length));
    const head = await f.plan('HEAD', target);
    assert.equal(head.status, status);
    assert.deepEqual(head.body, { kind: 'none' });
    assert.equal(header(head, 'Content-Length'), String(body.length));
  }
});

test('hidden files are 404, .well-known is served', async (t) => {
  const f = await fixture(t);
  assert.equal((await f.plan('GET', '/.env')).status, 404);
  assert.equal((await f.plan('GET', '/%2eenv')).status, 404);
  const wk = await f.plan('GET', '/.well-known/security.txt');
  assert.equal(wk.status, 200);
  assert.equal((await bodyBytes(wk)).toString(), 'Contact: x');
});

test('a symlink inside the root is served; one leading out is 404', async (t) => {
  const f = await fixture(t);
  const alias = await f.plan('GET', '/alias.css');
  assert.equal(alias.status, 200);
  assert.equal((await bodyBytes(alias)).toString(), CSS);
  assert.equal(header(alias, 'Content-Type'), 'text/css; charset=utf-8');
  const leak = await f.plan('GET', '/leak.txt');
  assert.equal(leak.status, 404);
  assert.ok(!(await bodyBytes(leak)).toString().includes('TOP-SECRET'));
});

test('a FIFO is 404 and is never opened', async (t) => {
  const f = await fixture(t);
  execFileSync('mkfifo', [join(f.root, 'pipe.txt')]);
  assert.equal((await f.plan('GET', '/pipe.txt')).status, 404);
});

test('directories: index served, missing slash redirected, no listings', async (t) => {
  const f = await fixture(t);
  const home = await f.plan('GET', '/');
  assert.equal(home.status, 200);
  assert.equal(header(home, 'Content-Type'), 'text/html; charset=utf-8');
  assert.equal((await bodyBytes(home)).toString(), '<h1>home</h1>');

  const docs = await f.plan('GET', '/docs/');
  assert.equal((await bodyBytes(docs)).toString(), '<h1>docs</h1>');

  const redirect = await f.plan('GET', '/docs?page=2&x=y');
  assert.equal(redirect.status, 301);
  assert.equal(header(redirect, 'Location'), './docs/?page=2&x=y');

  const nested = await f.plan('GET', '/css');
  assert.equal(header(nested, 'Location'), './css/');

  const encoded = await f.plan('GET', '/%64ocs');
  assert.equal(encoded.status, 301);
  assert.equal(header(encoded, 'Location'), './%64ocs/', 'the raw segment is reused, never re-encoded');

  assert.equal((await f.plan('GET', '/empty-dir/')).status, 404);
  assert.equal((await f.plan('GET', '/empty-dir')).status, 301);
  assert.equal((await f.plan('GET', '/tiny.css/')).status, 404);
});

test('index names are tried in order; a directory or escaping symlink is skipped', async (t) => {
  const f = await fixture(t, { index: ['index.htm', 'index.html'] });
  await writeFile(join(f.root, 'docs', 'index.htm'), 'htm');
  assert.equal((await bodyBytes(await f.plan('GET', '/docs/'))).toString(), 'htm');

  await mkdir(join(f.root, 'a'));
  await mkdir(join(f.root, 'a', 'index.htm'));
  await writeFile(join(f.root, 'a', 'index.html'), 'html');
  assert.equal((await bodyBytes(await f.plan('GET', '/a/'))).toString(), 'html');

  await mkdir(join(f.root, 'b'));
  await symlink('../../secret.txt', join(f.root, 'b', 'index.htm'));
  const b = await f.plan('GET', '/b/');
  assert.equal(b.status, 404);
  assert.ok(!(await bodyBytes(b)).toString().includes('TOP-SECRET'));
});

test('fingerprinted names are immutable for a year, others must revalidate', async (t) => {
  const f = await fixture(t);
  assert.equal(header(await f.plan('GET', '/app.3f2a9c1b.js'), 'Cache-Control'), 'public, max-age=31536000, immutable');
  assert.equal(header(await f.plan('GET', '/tiny.css'), 'Cache-Control'), 'public, max-age=0, must-revalidate');
});

test('a custom immutable pattern, even a /g one, gives stable answers', async (t) => {
  const f = await fixture(t, { immutable: /\/css\//g });
  for (let i = 0; i < 3; i++) {
    assert.equal(header(await f.plan('GET', '/css/site.css'), 'Cache-Control'), 'public, max-age=31536000, immutable');
  }
  assert.equal(header(await f.plan('GET', '/app.3f2a9c1b.js'), 'Cache-Control'), 'public, max-age=0, must-revalidate');
});

test('If-None-Match gives 304 with validators and no body or length', async (t) => {
  const f = await fixture(t);
  const first = await f.plan('GET', '/css/site.css');
  const etag = header(first, 'ETag')!;
  for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
    const r = await f.plan('GET', '/css/site.css', { 'if-none-match': inm });
    assert.equal(r.status, 304, inm);
    assert.deepEqual(r.body, { kind: 'none' });
    assert.equal(header(r, 'ETag'), etag);
    assert.equal(header(r, 'Last-Modified'), header(first, 'Last-Modified'));
    assert.equal(header(r, 'Cache-Control'), header(first, 'Cache-Control'));
    assert.equal(header(r, 'Vary'), 'Accept-Encoding');
    assert.equal(header(r, 'Content-Length'), undefined);
    assert.equal(header(r, 'Content-Type'), undefined);
  }
  assert.equal((await f.plan('HEAD', '/css/site.css', { 'if-none-match': etag })).status, 304);
  assert.equal((await f.plan('GET', '/css/site.css', { 'if-none-match': '"other"' })).status, 200);
});

test('If-Modified-Since is used only without If-None-Match', async (t) => {
  const f = await fixture(t);
  const lm = header(await f.plan('GET', '/tiny.css'), 'Last-Modified')!;
  assert.equal((await f.plan('GET', '/tiny.css', { 'if-modified-since': lm })).status, 304);
  assert.equal((await f.plan('GET', '/tiny.css', { 'if-modified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' })).status, 200);
  assert.equal((await f.plan('GET', '/tiny.css', { 'if-modified-since': lm, 'if-none-match': '"other"' })).status, 200);
});

test('If-Match and If-Unmodified-Since failures are 412', async (t) => {
  const f = await fixture(t);
  const etag = header(await f.plan('GET', '/tiny.css'), 'ETag')!;
  assert.equal((await f.plan('GET', '/tiny.css', { 'if-match': '"other"' })).status, 412);
  assert.equal((await f.plan('GET', '/tiny.css', { 'if-match': etag })).status, 200);
  assert.equal((await f.plan('GET', '/tiny.css', { 'if-unmodified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' })).status, 412);
  const r = await f.plan('GET', '/tiny.css', { 'if-match': '"other"' });
  assert.equal(header(r, 'Content-Type'), 'text/plain; charset=utf-8');
});

test('a single range is 206 with Content-Range, from memory or disk', async (t) => {
  const f = await fixture(t);
  const small = await f.plan('GET', '/tiny.css', { range: 'bytes=1-1' });
  assert.equal(small.status, 206);
  assert.equal(header(small, 'Content-Range'), 'bytes 1-1/3');
  assert.equal(header(small, 'Content-Length'), '1');
  assert.equal((await bodyBytes(small)).toString(), '{');

  const big = await f.plan('GET', '/big.bin', { range: 'bytes=100000-100009' });
  assert.equal(big.status, 206);
  assert.deepEqual(plainBody(big.body), { kind: 'file', path: join(f.root, 'big.bin'), start: 100000, end: 100009 });
  assert.equal(header(big, 'Content-Range'), `bytes 100000-100009/${BIG.length}`);
  assert.deepEqual(await bodyBytes(big), BIG.subarray(100000, 100010));

  const suffix = await f.plan('GET', '/big.bin', { range: 'bytes=-10' });
  assert.equal(header(suffix, 'Content-Range'), `bytes ${BIG.length - 10}-${BIG.length - 1}/${BIG.length}`);

  const whole = await f.plan('GET', '/tiny.css', { range: 'bytes=-100' });
  assert.equal(whole.status, 206);
  assert.equal(header(whole, 'Content-Range'), 'bytes 0-2/3');
});

test('ranges: 416, multiple, malformed, HEAD and If-Range', async (t) => {
  const f = await fixture(t);
  const over = await f.plan('GET', '/tiny.css', { range: 'bytes=3-' });
  assert.equal(over.status, 416);
  assert.equal(header(over, 'Content-Range'), 'bytes */3');

  assert.equal((await f.plan('GET', '/tiny.css', { range: 'bytes=0-0,2-2' })).status, 200);
  assert.equal((await f.plan('GET', '/tiny.css', { range: 'bytes=x-y' })).status, 200);
  assert.equal((await f.plan('HEAD', '/tiny.css', { range: 'bytes=0-0' })).status, 200);

  const etag = header(await f.plan('GET', '/tiny.css'), 'ETag')!;
  assert.equal((await f.plan('GET', '/tiny.css', { range: 'bytes=0-0', 'if-range': etag })).status, 206);
  const stale = await f.plan('GET', '/tiny.css', { range: 'bytes=0-0', 'if-range': '"old"' });
  assert.equal(stale.status, 200);
  assert.equal((await bodyBytes(stale)).toString(), 'a{}');
});

test('an empty file: 200 with length 0; ranges cannot name its bytes', async (t) => {
  const f = await fixture(t);
  const r = await f.plan('GET', '/empty.txt');
  assert.equal(r.status, 200);
  assert.equal(header(r, 'Content-Length'), '0');
  assert.equal((await bodyBytes(r)).length, 0);
  assert.equal((await f.plan('GET', '/empty.txt', { range: 'bytes=0-0' })).status, 416);
  assert.equal((await f.plan('GET', '/empty.txt', { range: 'bytes=-1' })).status, 200);
});

test('br and gzip bodies decompress to the file, with their own ETag', async (t) => {
  const f = await fixture(t);
  const identity = await f.plan('GET', '/css/site.css');
  for (const [accept, encoding, decompress] of [
    ['br', 'br', brotliDecompressSync],
    ['gzip, deflate, br', 'br', brotliDecompressSync],
    ['gzip', 'gzip', gunzipSync],
    ['br;q=0.1, gzip', 'gzip', gunzipSync],
  ] as const) {
    const r = await f.plan('GET', '/css/site.css', { 'accept-encoding': accept });
    assert.equal(r.status, 200);
    assert.equal(header(r, 'Content-Encoding'), encoding, accept);
    assert.equal(header(r, 'Vary'), 'Accept-Encoding');
    const body = await bodyBytes(r);
    assert.equal(header(r, 'Content-Length'), String(body.length));
    assert.ok(body.length < CSS.length);
    assert.equal(decompress(body).toString(), CSS);
    assert.equal(header(r, 'ETag'), header(identity, 'ETag')!.replace(/"$/, `-${encoding}"`));
  }
});

test('304 for a compressed ETag only when the same coding is chosen', async (t) => {
  const f = await fixture(t);
  const br = await f.plan('GET', '/css/site.css', { 'accept-encoding': 'br' });
  const etag = header(br, 'ETag')!;
  assert.equal((await f.plan('GET', '/css/site.css', { 'accept-encoding': 'br', 'if-none-match': etag })).status, 304);
  const gz = await f.plan('GET', '/css/site.css', { 'accept-encoding': 'gzip', 'if-none-match': etag });
  assert.equal(gz.status, 200);
  assert.equal(header(gz, 'Content-Encoding'), 'gzip');
});

test('concurrent requests for an uncached file share one compression', async (t) => {
  const f = await fixture(t);
  const plans = await Promise.all(Array.from({ length: 10 }, () => f.plan('GET', '/css/site.css', { 'accept-encoding': 'br' })));
  const first = plans[0]!.body;
  assert.equal(first.kind, 'buffer');
  for (const p of plans) assert.equal(p.body.kind === 'buffer' && first.kind === 'buffer' && p.body.data === first.data, true);
});

test('no compression for small, incompressible or non-text files, nor for ranges', async (t) => {
  const f = await fixture(t);
  const accept = { 'accept-encoding': 'br, gzip' };
  const tiny = await f.plan('GET', '/tiny.css', accept);
  assert.equal(header(tiny, 'Content-Encoding'), undefined);
  assert.equal(header(tiny, 'Vary'), undefined, 'below the threshold the answer does not vary');

  const png = await f.plan('GET', '/image.png', accept);
  assert.equal(header(png, 'Content-Encoding'), undefined);
  assert.equal(header(png, 'Vary'), undefined);
  assert.deepEqual(await bodyBytes(png), PNG);

  const random = await f.plan('GET', '/random.txt', accept);
  assert.equal(header(random, 'Content-Encoding'), undefined, 'output not smaller: identity');
  assert.equal(header(random, 'Vary'), 'Accept-Encoding');

  const ranged = await f.plan('GET', '/css/site.css', { ...accept, range: 'bytes=0-9' });
  assert.equal(ranged.status, 206);
  assert.equal(header(ranged, 'Content-Encoding'), undefined);
  assert.equal((await bodyBytes(ranged)).toString(), CSS.slice(0, 10));
  assert.equal(header(ranged, 'ETag'), header(await f.plan('GET', '/css/site.css'), 'ETag'));
});

test('identity responses of compressible files carry Vary too', async (t) => {
  const f = await fixture(t);
  const variants: Array<Record<string, string>> = [{}, { 'accept-encoding': 'identity' }, { 'accept-encoding': 'deflate' }];
  for (const headers of variants) {
    const r = await f.plan('GET', '/css/site.css', headers);
    assert.equal(header(r, 'Content-Encoding'), undefined);
    assert.equal(header(r, 'Vary'), 'Accept-Encoding');
  }
});

test('a precompressed sibling is preferred when it is not older than the file', async (t) => {
  const f = await fixture(t);
  const css = join(f.root, 'css', 'site.css');
  const pre = brotliCompressSync(Buffer.from(CSS));
  await writeFile(css + '.br', pre);
  await writeFile(css + '.gz', gzipSync(CSS));
  const st = await stat(css);
  await utimes(css + '.br', st.atime, new Date(st.mtimeMs + 1000));
  await utimes(css + '.gz', st.atime, new Date(st.mtimeMs - 10_000)); // stale: ignored

  const br = await f.plan('GET', '/css/site.css', { 'accept-encoding': 'br' });
  assert.equal(header(br, 'Content-Encoding'), 'br');
  assert.deepEqual(plainBody(br.body), { kind: 'file', path: css + '.br', start: 0, end: pre.length - 1 });
  assert.equal(header(br, 'Content-Length'), String(pre.length));
  assert.match(header(br, 'ETag')!, /-pre-br"$/);
  assert.equal(brotliDecompressSync(await bodyBytes(br)).toString(), CSS);

  const gz = await f.plan('GET', '/css/site.css', { 'accept-encoding': 'gzip' });
  assert.equal(gz.body.kind, 'buffer', 'the stale .gz is not used: compressed here instead');
  assert.match(header(gz, 'ETag')!, /-gzip"$/);
});

test('a precompressed sibling that is a symlink out of the root is not used', async (t) => {
  const f = await fixture(t);
  await writeFile(join(f.base, 'evil.br'), 'TOP-SECRET');
  await symlink(join(f.base, 'evil.br'), join(f.root, 'css', 'site.css.br'));
  const r = await f.plan('GET', '/css/site.css', { 'accept-encoding': 'br' });
  assert.equal(r.body.kind, 'buffer');
  assert.ok(!(await bodyBytes(r)).toString().includes('TOP-SECRET'));
});

test('compressCacheBytes 0 turns on-the-fly compression off, siblings still work', async (t) => {
  const f = await fixture(t, { compressCacheBytes: 0 });
  const r = await f.plan('GET', '/css/site.css', { 'accept-encoding': 'br' });
  assert.equal(header(r, 'Content-Encoding'), undefined);
  await writeFile(join(f.root, 'css', 'site.css.br'), brotliCompressSync(Buffer.from(CSS)));
  const pre = await f.plan('GET', '/css/site.css', { 'accept-encoding': 'br' });
  assert.equal(header(pre, 'Content-Encoding'), 'br');
});

test('without lookup caching, a file changed on disk is served fresh, compressed or not', async (t) => {
  const f = await fixture(t, { fileInfoValidMs: 0 });
  const path = join(f.root, 'css', 'site.css');
  const before = await f.plan('GET', '/css/site.css');
  const beforeBr = await f.plan('GET', '/css/site.css', { 'accept-encoding': 'br' });
  const next = CSS.replace(/red/g, 'blue');
  await writeFile(path, next);
  await utimes(path, new Date(), new Date(Date.now() + 5000)); // a different mtime whatever the clock resolution
  const after = await f.plan('GET', '/css/site.css');
  assert.notEqual(header(after, 'ETag'), header(before, 'ETag'));
  assert.equal((await bodyBytes(after)).toString(), next);
  const afterBr = await f.plan('GET', '/css/site.css', { 'accept-encoding': 'br' });
  assert.notEqual(header(afterBr, 'ETag'), header(beforeBr, 'ETag'));
  assert.equal(brotliDecompressSync(await bodyBytes(afterBr)).toString(), next);
  // the old ETag no longer gets a 304
  assert.equal((await f.plan('GET', '/css/site.css', { 'if-none-match': header(before, 'ETag')! })).status, 200);
});

test('without lookup caching, a deleted file is 404 at once', async (t) => {
  const f = await fixture(t, { fileInfoValidMs: 0 });
  assert.equal((await f.plan('GET', '/tiny.css')).status, 200);
  await rm(join(f.root, 'tiny.css'));
  assert.equal((await f.plan('GET', '/tiny.css')).status, 404);
});

test('with lookup caching, a changed or deleted file is seen once the lookup is no longer trusted', async (t) => {
  const f = await fixture(t, { fileInfoValidMs: 40 });
  assert.equal((await f.plan('GET', '/tiny.css')).status, 200);
  await rm(join(f.root, 'tiny.css'));
  // Within the window the old lookup stands (that is the point of it)...
  await new Promise((resolve) => setTimeout(resolve, 60));
  // ...and after it, the file is looked up again.
  assert.equal((await f.plan('GET', '/tiny.css')).status, 404);
});

test('a file truncated after stat is not served from a stale cache entry', async (t) => {
  const f = await fixture(t, { fileInfoValidMs: 0 });
  await f.plan('GET', '/css/site.css');
  await truncate(join(f.root, 'css', 'site.css'), 10);
  const r = await f.plan('GET', '/css/site.css');
  assert.equal(header(r, 'Content-Length'), '10');
  assert.equal((await bodyBytes(r)).toString(), CSS.slice(0, 10));
});

test('a mounted site redirects relative to the mount', async (t) => {
  const { stripMount } = await import('../../../src/edge/static/index.ts');
  const f = await fixture(t);
  const target = stripMount('/static', '/static/docs?x=1')!;
  const r = await f.plan('GET', target);
  assert.equal(r.status, 301);
  assert.equal(new URL(header(r, 'Location')!, 'http://h/static/docs?x=1').pathname, '/static/docs/');
});

test("the default fingerprint pattern: webpack's and Parcel's hex, Rollup's, Vite's and esbuild's 8 characters; words, versions and dates are no hash", async () => {
  const { STATIC_DEFAULTS } = await import('../../../src/edge/static/site.ts');
  const immutable = (path: string) => STATIC_DEFAULTS.immutable.test(path);
  for (const path of ['/app.3f2a9c1b.js', '/app-3F2A9C1B.css', '/main.8e7f3a1b2c4d5e6f.js', '/assets/index-BdT3xq9L.js', '/assets/index-C_x3-9Qz.css', '/chunk-ABCD2345.js', '/assets/logo-Dk2mJ8Qp.svg']) {
    assert.ok(immutable(path), `${path} is fingerprinted`);
  }
  for (const path of ['/photo-20240101.jpg', '/app-Settings.js', '/lib-v2alpha1.js', '/jquery-fallback.js', '/index.html', '/assets/index-bdt3xq9l.js', '/app.js', '/long-BdT3xq9Lx.js']) {
    assert.ok(!immutable(path), `${path} is not`);
  }
});
