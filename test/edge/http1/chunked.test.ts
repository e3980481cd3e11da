import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkedDecoder, DEFAULT_HTTP1_LIMITS, resolveHttp1Limits } from '../../../src/edge/http1/index.ts';
import { bytes } from './harness.ts';

const L = DEFAULT_HTTP1_LIMITS;

interface Decoded {
  body: string;
  consumed: number;
  done: boolean;
  error: string | null;
  status: number | null;
}

// Feeds `raw` in pieces of `step` bytes (0 = all at once).
function decode(raw: string, step = 0, limits = L): Decoded {
  const buf = bytes(raw);
  const d = new ChunkedDecoder(limits);
  const data: Buffer[] = [];
  let consumed = 0;
  const size = step === 0 ? buf.length : step;
  for (let off = 0; off < buf.length; off += size) {
    const piece = buf.subarray(off, Math.min(off + size, buf.length));
    const r = d.feed(piece);
    if (r.error !== null) return { body: '', consumed, done: false, error: r.error.code, status: r.error.status };
    data.push(...r.data);
    consumed += r.consumed;
    if (r.done) return { body: Buffer.concat(data).toString('latin1'), consumed, done: true, error: null, status: null };
    assert.equal(r.consumed, piece.length, 'an unfinished body consumes every byte it is given');
  }
  return { body: Buffer.concat(data).toString('latin1'), consumed, done: false, error: null, status: null };
}

const VALID: readonly [string, string, string][] = [
  ['one chunk', '5\r\nhello\r\n0\r\n\r\n', 'hello'],
  ['several chunks, hex sizes in both cases', 'a\r\n0123456789\r\nA\r\nabcdefghij\r\n1\r\n!\r\n0\r\n\r\n', '0123456789abcdefghij!'],
  ['only the last chunk', '0\r\n\r\n', ''],
  ['leading zeros up to 16 digits', '0000000000000005\r\nhello\r\n0000\r\n\r\n', 'hello'],
  ['token and quoted extensions', '5;a;b=c;d="e f\\"g"\r\nhello\r\n0;last\r\n\r\n', 'hello'],
  ['trailers are read and dropped', '3\r\nabc\r\n0\r\nX-Sum: 1\r\nX-Other:\tv \r\n\r\n', 'abc'],
  ['chunk data may contain CRLF', '4\r\n\r\n\r\n\r\n0\r\n\r\n', '\r\n\r\n'],
];

for (const [name, raw, body] of VALID) {
  test(`decodes: ${name}`, () => {
    for (const step of [0, 1, 2, 3, 7]) {
      const r = decode(raw, step);
      assert.deepEqual(r, { body, consumed: raw.length, done: true, error: null, status: null }, `step ${step}`);
    }
  });
}

test('stops exactly at the end of the body and leaves the next request', () => {
  const buf = bytes('3\r\nabc\r\n0\r\nX: y\r\n\r\nGET / HTTP/1.1\r\n');
  const d = new ChunkedDecoder(L);
  const r = d.feed(buf, 0);
  assert.equal(r.done, true);
  assert.equal(buf.toString('latin1', r.consumed), 'GET / HTTP/1.1\r\n');
  assert.equal(d.bodyBytes, 3);
  // Once done, further feeds take nothing.
  assert.deepEqual(d.feed(buf, r.consumed), { consumed: 0, data: [], done: true, error: null });
});

test('honours a start offset', () => {
  const buf = bytes('XXXX2\r\nhi\r\n0\r\n\r\n');
  const r = new ChunkedDecoder(L).feed(buf, 4);
  assert.equal(r.done, true);
  assert.equal(r.consumed, buf.length - 4);
  assert.equal(Buffer.concat(r.data).toString(), 'hi');
});

test('data is returned as zero-copy slices of the fed buffer', () => {
  const buf = bytes('5\r\nhello\r\n0\r\n\r\n');
  const r = new ChunkedDecoder(L).feed(buf);
  assert.equal(r.data.length, 1);
  assert.equal(r.data[0]!.buffer, buf.buffer);
  assert.equal(r.data[0]!.byteOffset, buf.byteOffset + 3);
});

test('the body limit is enforced on the declared sizes as they arrive (413)', () => {
  const limits = resolveHttp1Limits({ maxBodyBytes: 10 });
  assert.equal(decode('5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n', 1, limits).done, true);
  for (const step of [0, 1]) {
    const r = decode('5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n', step, limits);
    assert.equal(r.status, 413);
    assert.equal(r.error, 'HTTP_BODY_TOO_LARGE');
  }
  // Refused as soon as the size line is read, before any of that chunk's data.
  const d = new ChunkedDecoder(limits);
  assert.equal(d.feed(bytes('b\r\n')).error?.status, 413);
});

test('errors are sticky and hand out no data', () => {
  const d = new ChunkedDecoder(L);
  const r = d.feed(bytes('5\r\nhelloX'));
  assert.equal(r.error?.code, 'HTTP_CHUNK_MISSING_CRLF');
  assert.deepEqual(r.data, []);
  assert.equal(d.feed(bytes('0\r\n\r\n')).error, r.error);
});

test('malformed chunk lines are refused the same whatever the split', () => {
  const bad: [string, string][] = [
    ['0x5\r\nhello\r\n0\r\n\r\n', 'HTTP_BAD_CHUNK_SIZE'],
    ['5 \r\nhello\r\n0\r\n\r\n', 'HTTP_BAD_CHUNK_SIZE'],
    ['5\nhello\r\n0\r\n\r\n', 'HTTP_BARE_LF'],
    ['5;a\nb\r\nhello\r\n0\r\n\r\n', 'HTTP_BARE_LF'],
    ['5;a="\x01"\r\nhello\r\n0\r\n\r\n', 'HTTP_BAD_CHUNK_EXT'],
    ['5;a="b"c\r\nhello\r\n0\r\n\r\n', 'HTTP_BAD_CHUNK_EXT'],
    ['5;a=\r\nhello\r\n0\r\n\r\n', 'HTTP_BAD_CHUNK_EXT'],
    ['5;\r\nhello\r\n0\r\n\r\n', 'HTTP_BAD_CHUNK_EXT'],
    ['10000000000000000\r\n', 'HTTP_CHUNK_SIZE_OVERFLOW'],
    ['5\r\nhello\n', 'HTTP_CHUNK_MISSING_CRLF'],
    ['0\r\n\n', 'HTTP_BARE_LF'],
    ['0\r\nX : y\r\n\r\n', 'HTTP_WS_BEFORE_COLON'],
    ['0\r\n y\r\n\r\n', 'HTTP_OBS_FOLD'],
  ];
  for (const [raw, code] of bad) {
    for (const step of [0, 1, 2]) assert.equal(decode(raw, step).error, code, `${JSON.stringify(raw)} step ${step}`);
  }
});

test('chunk line and trailer limits are configurable', () => {
  const limits = resolveHttp1Limits({ maxChunkLineBytes: 8, maxTrailerBytes: 16 });
  assert.equal(decode('5;abcde\r\nhello\r\n0\r\n\r\n', 0, limits).done, true);
  assert.equal(decode('5;abcdef\r\nhello\r\n0\r\n\r\n', 0, limits).error, 'HTTP_CHUNK_LINE_TOO_LONG');
  // The trailer section counts its final CRLF: 16 bytes here.
  for (const step of [0, 1]) {
    assert.equal(decode('0\r\nX: 012345678\r\n\r\n', step, limits).done, true);
    const r = decode('0\r\nX: 0123456789\r\n\r\n', step, limits);
    assert.equal(r.error, 'HTTP_TRAILERS_TOO_LARGE');
    assert.equal(r.status, 431);
  }
});

test('an unfinished body is not done', () => {
  const r = decode('5\r\nhel', 1);
  assert.equal(r.done, false);
  assert.equal(r.body, 'hel');
  assert.equal(r.error, null);
});
