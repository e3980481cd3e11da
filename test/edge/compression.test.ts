import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { brotliDecompressSync, createBrotliDecompress, createGunzip, gunzipSync, type BrotliDecompress, type Gunzip } from 'node:zlib';
import {
  MIN_COMPRESS_BYTES,
  chooseCompression,
  compressWhole,
  compressedHeaders,
  createCompressor,
  type Compression,
  type CompressionInput,
} from '../../src/edge/compression.ts';

// --- the decision ---

const OK: CompressionInput = {
  method: 'GET',
  status: 200,
  acceptEncoding: 'gzip, deflate, br',
  contentType: 'text/html; charset=utf-8',
  contentLength: 5000,
};

test('a text response to a client that takes br is compressed with br', () => {
  assert.equal(chooseCompression(OK), 'br');
});

test('the coding follows Accept-Encoding: br preferred, else gzip, else none', () => {
  const cases: Array<[string | undefined, Compression | null]> = [
    ['br', 'br'],
    ['gzip', 'gzip'],
    ['gzip, br', 'br'],
    ['br;q=0.5, gzip', 'gzip'],
    ['br;q=0, gzip;q=0', null],
    ['deflate', null],
    ['identity', null],
    ['', null],
    [undefined, null],
    ['*', 'br'],
  ];
  for (const [acceptEncoding, expected] of cases) assert.equal(chooseCompression({ ...OK, acceptEncoding }), expected, String(acceptEncoding));
});

test('every reason to pass a response through untouched', () => {
  const skips: Array<[string, Partial<CompressionInput>]> = [
    ['HEAD has no body', { method: 'HEAD' }],
    ['1xx', { status: 101 }],
    ['204 No Content', { status: 204 }],
    ['205 Reset Content', { status: 205 }],
    ['206 Partial Content', { status: 206 }],
    ['304 Not Modified', { status: 304 }],
    ['already gzip', { contentEncoding: 'gzip' }],
    ['already br', { contentEncoding: 'br' }],
    ['any other coding', { contentEncoding: 'zstd' }],
    ['a coding listed after identity', { contentEncoding: 'identity, gzip' }],
    ['a Content-Range', { contentRange: 'bytes 0-99/5000' }],
    ['Cache-Control: no-transform', { cacheControl: 'no-transform' }],
    ['no-transform among others, any case', { cacheControl: 'public, max-age=60, No-Transform' }],
    ['no content type', { contentType: undefined }],
    ['an image', { contentType: 'image/png' }],
    ['a jpeg', { contentType: 'image/jpeg' }],
    ['video', { contentType: 'video/mp4' }],
    ['audio', { contentType: 'audio/mpeg' }],
    ['a zip', { contentType: 'application/zip' }],
    ['a gzip file', { contentType: 'application/gzip' }],
    ['octet-stream', { contentType: 'application/octet-stream' }],
    ['woff', { contentType: 'font/woff' }],
    ['woff2', { contentType: 'font/woff2' }],
    ['a pdf', { contentType: 'application/pdf' }],
    ['under the minimum', { contentLength: MIN_COMPRESS_BYTES - 1 }],
    ['empty', { contentLength: 0 }],
    ['a client that takes neither', { acceptEncoding: 'deflate, zstd' }],
  ];
  for (const [why, change] of skips) assert.equal(chooseCompression({ ...OK, ...change }), null, why);
});

test('what does not stop compression', () => {
  const goes: Array<[string, Partial<CompressionInput>]> = [
    ['Content-Encoding: identity', { contentEncoding: 'identity' }],
    ['an empty Content-Encoding', { contentEncoding: '' }],
    ['an unknown length', { contentLength: -1 }],
    ['exactly the minimum', { contentLength: MIN_COMPRESS_BYTES }],
    ['203', { status: 203 }],
    ['an error page', { status: 404 }],
    ['a server error page', { status: 503 }],
    ['a redirect with a body', { status: 302 }],
    ['other Cache-Control', { cacheControl: 'no-cache, no-store, private' }],
    ['a directive that merely contains the word', { cacheControl: 'x-no-transform-ish' }],
  ];
  for (const [why, change] of goes) assert.equal(chooseCompression({ ...OK, ...change }), 'br', why);
});

test('compressible types', () => {
  const types = [
    'text/plain',
    'text/css',
    'text/csv',
    'text/event-stream',
    'TEXT/HTML',
    'application/json',
    'application/json; charset=utf-8',
    'application/javascript',
    'application/xml',
    'application/ld+json',
    'application/problem+json',
    'application/manifest+json',
    'application/atom+xml',
    'image/svg+xml',
    'application/wasm',
    'font/ttf',
    'font/otf',
    'application/x-ndjson',
    'application/ndjson',
  ];
  for (const contentType of types) assert.equal(chooseCompression({ ...OK, contentType }), 'br', contentType);
});

// --- the headers ---

const header = (headers: string[], name: string): string[] => headers.filter((_, i) => i % 2 === 1 && headers[i - 1] === name);

test('headers: length and ranges go, the coding and Vary come, the rest stays in order', () => {
  const before = ['content-type', 'text/html', 'content-length', '5000', 'accept-ranges', 'bytes', 'cache-control', 'max-age=60', 'set-cookie', 'a=1', 'set-cookie', 'b=2'];
  assert.deepEqual(compressedHeaders(before, 'gzip'), [
    'content-type', 'text/html',
    'cache-control', 'max-age=60',
    'set-cookie', 'a=1',
    'set-cookie', 'b=2',
    'vary', 'Accept-Encoding',
    'content-encoding', 'gzip',
  ]);
});

test('headers: Content-Encoding identity is replaced, not repeated', () => {
  const after = compressedHeaders(['content-encoding', 'identity', 'content-type', 'text/plain'], 'br');
  assert.deepEqual(header(after, 'content-encoding'), ['br']);
});

test('headers: Vary is merged without duplicating the token', () => {
  const cases: Array<[string[], string[]]> = [
    [[], ['Accept-Encoding']],
    [['origin'], ['origin, Accept-Encoding']],
    [['Origin, Cookie'], ['Origin, Cookie, Accept-Encoding']],
    [['accept-encoding'], ['accept-encoding']],
    [['Origin, Accept-Encoding'], ['Origin, Accept-Encoding']],
    [['origin', 'ACCEPT-ENCODING'], ['origin', 'ACCEPT-ENCODING']],
    [['origin', 'cookie'], ['origin, Accept-Encoding', 'cookie']],
    [['*'], ['*']],
    [[''], ['Accept-Encoding']],
  ];
  for (const [vary, expected] of cases) {
    const before = vary.flatMap((value) => ['vary', value]);
    assert.deepEqual(header(compressedHeaders(before, 'br'), 'vary'), expected, JSON.stringify(vary));
  }
});

test('headers: a strong ETag turns weak, a weak one is left alone', () => {
  assert.deepEqual(header(compressedHeaders(['etag', '"abc"'], 'br'), 'etag'), ['W/"abc"']);
  assert.deepEqual(header(compressedHeaders(['etag', 'W/"abc"'], 'br'), 'etag'), ['W/"abc"']);
  assert.deepEqual(header(compressedHeaders(['etag', '""'], 'br'), 'etag'), ['W/""']);
});

test('headers: the input is not modified', () => {
  const before = ['content-length', '10', 'etag', '"x"'];
  compressedHeaders(before, 'gzip');
  assert.deepEqual(before, ['content-length', '10', 'etag', '"x"']);
});

// --- the compressors ---

const decompressSync = (encoding: Compression, data: Buffer): Buffer => (encoding === 'br' ? brotliDecompressSync(data) : gunzipSync(data));
const decompressor = (encoding: Compression): BrotliDecompress | Gunzip => (encoding === 'br' ? createBrotliDecompress() : createGunzip());

function sampleText(bytes: number): Buffer {
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = `{"id":${i},"name":"item ${i}","tags":["a","b","${(i * 7919) % 1000}"]}\n`;
    parts.push(line);
    size += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

async function compressStream(encoding: Compression, chunks: Buffer[], contentLength: number): Promise<Buffer> {
  const out: Buffer[] = [];
  const compressor = createCompressor(encoding, contentLength);
  compressor.on('data', (chunk: Buffer) => out.push(chunk));
  await pipeline(Readable.from(chunks), compressor);
  return Buffer.concat(out);
}

for (const encoding of ['br', 'gzip'] as const) {
  test(`${encoding}: compressWhole round-trips and shrinks text`, async () => {
    const body = sampleText(100_000);
    const packed = await compressWhole(encoding, body);
    assert.ok(packed.length < body.length / 4, `${packed.length} bytes`);
    assert.deepEqual(decompressSync(encoding, packed), body);
    assert.deepEqual(decompressSync(encoding, await compressWhole(encoding, Buffer.alloc(0))), Buffer.alloc(0));
  });

  test(`${encoding}: a large body streamed in many small chunks round-trips, length known or not`, async () => {
    const body = sampleText(1_000_000);
    const chunks: Buffer[] = [];
    for (let at = 0, size = 1; at < body.length; at += size, size = (size * 7) % 997 + 1) chunks.push(body.subarray(at, at + size));
    assert.ok(chunks.length > 2000);
    for (const contentLength of [body.length, -1]) {
      const packed = await compressStream(encoding, chunks, contentLength);
      assert.deepEqual(decompressSync(encoding, packed), body, `length ${contentLength}`);
      assert.ok(packed.length < body.length / 3, `length ${contentLength}: ${packed.length} bytes`);
    }
  });

  test(`${encoding}: with the length unknown, each chunk reaches the client before the next is written`, async () => {
    const compressor = createCompressor(encoding);
    const inflate = decompressor(encoding);
    compressor.pipe(inflate);
    const events = ['data: one\n\n', 'data: two\n\n', 'data: three\n\n'];
    for (const event of events) {
      const arrived = once(inflate, 'data');
      compressor.write(event);
      const [plain] = (await arrived) as [Buffer];
      assert.equal(plain.toString(), event);
    }
    compressor.end();
    await once(inflate, 'end');
  });

  test(`${encoding}: with the length known, small chunks are held to compress well`, async () => {
    const body = sampleText(64_000);
    const chunks: Buffer[] = [];
    for (let at = 0; at < body.length; at += 64) chunks.push(body.subarray(at, at + 64));
    const held = await compressStream(encoding, chunks, body.length);
    const flushed = await compressStream(encoding, chunks, -1);
    assert.ok(held.length < flushed.length, `${held.length} held < ${flushed.length} flushed`);
  });
}
