import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DEFAULT_HTTP1_LIMITS, HTTP1_ERRORS, parseRequestHead, resolveHttp1Limits, type RequestHead,
} from '../../../src/edge/http1/index.ts';
import { bytes, parseByteByByte, parseWhole, type Outcome } from './harness.ts';
import { mutated, request } from './request-grammar.ts';

const L = DEFAULT_HTTP1_LIMITS;

interface ValidCase {
  readonly name: string;
  readonly raw: string;
  readonly expect: Partial<RequestHead>;
  readonly body?: string;
}

const VALID: readonly ValidCase[] = [
  {
    name: 'GET with a query string',
    raw: 'GET /search?q=caf%C3%A9&page=2 HTTP/1.1\r\nHost: app.example\r\nAccept: */*\r\n\r\n',
    expect: {
      method: 'GET', target: '/search?q=caf%C3%A9&page=2', version: 11, host: 'app.example',
      headers: ['host', 'app.example', 'accept', '*/*'], contentLength: -1, chunked: false, bodyKind: 'none',
      keepAlive: true, upgrade: null, expectContinue: false, connectionTokens: [],
    },
  },
  {
    name: 'POST with Content-Length',
    raw: 'POST /form HTTP/1.1\r\nHost: app.example\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello',
    expect: { method: 'POST', contentLength: 5, bodyKind: 'length', chunked: false },
    body: 'hello',
  },
  {
    name: 'chunked POST with extensions and a trailer',
    raw: 'POST /up HTTP/1.1\r\nHost: app.example\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value;q="a \\"b\\""\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n',
    expect: { chunked: true, bodyKind: 'chunked', contentLength: -1 },
    body: 'hello world',
  },
  {
    name: 'Transfer-Encoding after a tab (tab is valid OWS)',
    raw: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked\t\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    expect: { chunked: true, headers: ['host', 'a', 'transfer-encoding', 'chunked'] },
    body: 'abc',
  },
  {
    name: 'Transfer-Encoding in upper case',
    raw: 'POST / HTTP/1.1\r\nHost: a\r\nTRANSFER-ENCODING: CHUNKED\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n',
    expect: { chunked: true },
    body: '0123456789',
  },
  {
    name: 'Transfer_Encoding is just another field',
    raw: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer_Encoding: chunked\r\n\r\n',
    expect: { chunked: false, bodyKind: 'none', headers: ['host', 'a', 'transfer_encoding', 'chunked'] },
  },
  {
    name: 'HTTP/1.0 without Host',
    raw: 'GET / HTTP/1.0\r\n\r\n',
    expect: { version: 10, host: null, keepAlive: false, headers: [] },
  },
  {
    name: 'HTTP/1.0 with keep-alive',
    raw: 'GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n',
    expect: { version: 10, keepAlive: true, connectionTokens: ['keep-alive'] },
  },
  {
    name: 'absolute-form takes its host from the target, and leaves an origin-form target',
    raw: 'GET HTTP://App.Example:8080/x?y HTTP/1.1\r\nHost: other.example\r\n\r\n',
    expect: { target: '/x?y', host: 'app.example:8080' },
  },
  {
    name: 'absolute-form https without a path',
    raw: 'GET https://app.example HTTP/1.1\r\nHost: app.example\r\n\r\n',
    expect: { target: '/', host: 'app.example' },
  },
  {
    name: 'absolute-form with a query and no path',
    raw: 'GET http://app.example?q=1 HTTP/1.1\r\nHost: app.example\r\n\r\n',
    expect: { target: '/?q=1', host: 'app.example' },
  },
  {
    name: 'absolute-form OPTIONS without a path asks about the server: *',
    raw: 'OPTIONS http://[::1]:8080 HTTP/1.1\r\nHost: x\r\n\r\n',
    expect: { target: '*', host: '[::1]:8080' },
  },
  { name: 'OPTIONS *', raw: 'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n', expect: { method: 'OPTIONS', target: '*' } },
  {
    name: 'Connection: close with extra tokens',
    raw: 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close, X-Trace ,, \r\nX-Trace: 1\r\n\r\n',
    expect: { keepAlive: false, connectionTokens: ['close', 'x-trace'] },
  },
  {
    name: 'WebSocket upgrade',
    raw: 'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
    expect: { upgrade: 'websocket', keepAlive: true, connectionTokens: ['upgrade'] },
  },
  {
    name: 'Upgrade without the Connection token is ignored',
    raw: 'GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n',
    expect: { upgrade: null },
  },
  {
    name: 'Expect: 100-continue',
    raw: 'PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\nabc',
    expect: { expectContinue: true, contentLength: 3 },
    body: 'abc',
  },
  {
    name: 'Expect on HTTP/1.0 is ignored',
    raw: 'PUT /f HTTP/1.0\r\nExpect: something-else\r\nContent-Length: 0\r\n\r\n',
    expect: { expectContinue: false, contentLength: 0, bodyKind: 'none' },
  },
  {
    name: 'empty lines before the request line are skipped',
    raw: '\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n',
    expect: { method: 'GET', host: 'a' },
  },
  {
    name: 'latin1 and empty values are kept, OWS trimmed',
    raw: 'GET / HTTP/1.1\r\nHost: a\r\nX-Name:  caf\xe9 au lait \t\r\nX-Empty:\r\nX-Blank:   \r\n\r\n',
    expect: { headers: ['host', 'a', 'x-name', 'caf\xe9 au lait', 'x-empty', '', 'x-blank', ''] },
  },
  {
    name: 'Host forms: IPv6 literal with port, upper case',
    raw: 'GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n',
    expect: { host: '[::1]:8080' },
  },
  { name: 'Host in upper case is lower-cased', raw: 'GET / HTTP/1.1\r\nHost: APP.Example:443\r\n\r\n', expect: { host: 'app.example:443', headers: ['host', 'APP.Example:443'] } },
  { name: 'Content-Length with leading zeros', raw: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\nabcdefg', expect: { contentLength: 7 }, body: 'abcdefg' },
  {
    name: 'every characters llhttp accepts in a path and query',
    raw: "GET /a/b;c=d/~e!$&'()*+,;=:@-._?x[0]=1&y={a|b}^`\\\"<>% HTTP/1.1\r\nHost: a\r\n\r\n",
    expect: { target: "/a/b;c=d/~e!$&'()*+,;=:@-._?x[0]=1&y={a|b}^`\\\"<>%" },
  },
  { name: 'WebDAV method', raw: 'PROPFIND /dav/ HTTP/1.1\r\nHost: a\r\nDepth: 1\r\n\r\n', expect: { method: 'PROPFIND' } },
];

for (const c of VALID) {
  test(`parses: ${c.name}`, () => {
    const raw = bytes(c.raw);
    const whole = parseWhole(raw, L);
    assert.equal(whole.kind, 'accepted', JSON.stringify(whole));
    if (whole.kind !== 'accepted') return;
    for (const [key, value] of Object.entries(c.expect)) {
      assert.deepEqual(whole.head[key as keyof RequestHead], value, `field ${key}`);
    }
    assert.equal(whole.body.toString('latin1'), c.body ?? '');
    assert.equal(whole.consumed, raw.length, 'the whole message is consumed');
  });
}

test('byte-by-byte parsing gives the same result as one-shot parsing', () => {
  for (const c of VALID) {
    const raw = bytes(c.raw);
    assert.deepEqual(parseByteByByte(raw, L), parseWhole(raw, L), c.name);
  }
});

test('byte-by-byte parsing agrees with one-shot parsing on generated requests', () => {
  // Same head and body when accepted, same status when refused (with several
  // faults the code may differ: partial heads are checked for bare CR/LF
  // before their field lines are).
  const summary = (o: Outcome): unknown => (o.kind === 'refused' ? o.status : o);
  fc.assert(
    fc.property(fc.oneof(request, mutated), (raw) => {
      const buf = bytes(raw);
      assert.deepEqual(summary(parseByteByByte(buf, L)), summary(parseWhole(buf, L)));
    }),
    { numRuns: 1000 },
  );
});

test('two pipelined requests in one buffer are parsed one after the other', () => {
  const buf = bytes(
    'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc' +
    'GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  );
  const first = parseRequestHead(buf, 0, L);
  assert.equal(first.kind, 'head');
  if (first.kind !== 'head') return;
  assert.equal(first.head.target, '/a');
  const bodyStart = first.consumed;
  assert.equal(buf.toString('latin1', bodyStart, bodyStart + first.head.contentLength), 'abc');
  const second = parseRequestHead(buf, bodyStart + first.head.contentLength, L);
  assert.equal(second.kind, 'head');
  if (second.kind !== 'head') return;
  assert.equal(second.head.target, '/b');
  assert.equal(second.head.keepAlive, false);
  assert.equal(bodyStart + 3 + second.consumed, buf.length);
});

test('a head is incomplete until its final CRLF arrives', () => {
  const raw = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n';
  for (let n = 0; n < raw.length; n++) {
    assert.equal(parseRequestHead(bytes(raw.slice(0, n)), 0, L).kind, 'incomplete', `at ${n} bytes`);
  }
  assert.equal(parseRequestHead(bytes(raw), 0, L).kind, 'head');
});

test('a start offset inside the buffer is honoured', () => {
  const buf = bytes('garbageGET /x HTTP/1.1\r\nHost: a\r\n\r\n');
  const r = parseRequestHead(buf, 7, L);
  assert.equal(r.kind === 'head' && r.head.target, '/x');
  assert.equal(r.kind === 'head' && r.consumed, buf.length - 7);
});

test('garbage is refused before the head is complete', () => {
  // No CRLFCRLF yet: these can never become valid, so no waiting for more bytes.
  const cases: [string, number][] = [
    ['\x16\x03\x01', 400],
    ['GET /a\x00', 400],
    ['GET / HTTP/1.1\n', 400],
    ['GET / HTTP/1.1\r\nHost: a\nX', 400],
    ['GET / HTTP/1.1\r\nHost: a\rX', 400],
    ['GET / HTTP/3.0\r\n', 505],
    ['FROB / HTTP/1.1\r\n', 501],
  ];
  for (const [raw, status] of cases) {
    const r = parseRequestHead(bytes(raw), 0, L);
    assert.equal(r.kind === 'error' && r.status, status, JSON.stringify(raw));
  }
});

test('limits are configurable', () => {
  const limits = resolveHttp1Limits({ maxHeaderCount: 2, maxRequestLineBytes: 20, maxHeaderBytes: 64, maxBodyBytes: 4 });
  const status = (raw: string): number | string => {
    const r = parseRequestHead(bytes(raw), 0, limits);
    return r.kind === 'error' ? r.status : r.kind;
  };
  assert.equal(status('GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\n\r\n'), 'head');
  assert.equal(status('GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n'), 431);
  assert.equal(status('GET /123456789012 HTTP/1.1\r\nHost: a\r\n\r\n'), 414);
  assert.equal(status(`GET / HTTP/1.1\r\nHost: a\r\nX: ${'a'.repeat(40)}\r\n\r\n`), 431);
  assert.equal(status('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n'), 413);
  assert.equal(status('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n'), 'head');
});

test('a head of exactly maxHeaderBytes is accepted, one byte more is 431', () => {
  const raw = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n';
  assert.equal(parseRequestHead(bytes(raw), 0, resolveHttp1Limits({ maxHeaderBytes: raw.length })).kind, 'head');
  const r = parseRequestHead(bytes(raw), 0, resolveHttp1Limits({ maxHeaderBytes: raw.length - 1 }));
  assert.equal(r.kind === 'error' && r.status, 431);
});

test('limits reject unknown keys and non-positive values', () => {
  assert.throws(() => resolveHttp1Limits({ maxHeaderByte: 1 } as never), /unknown HTTP\/1 limit "maxHeaderByte"/);
  assert.throws(() => resolveHttp1Limits({ maxBodyBytes: 0 }), /positive integer/);
  assert.throws(() => resolveHttp1Limits({ maxBodyBytes: 1.5 }), /positive integer/);
  assert.deepEqual(resolveHttp1Limits(), DEFAULT_HTTP1_LIMITS);
});

test('errors are shared frozen objects with a documented code and status', () => {
  const r = parseRequestHead(bytes('GET / HTTP/1.1\r\n\r\n'), 0, L);
  assert.equal(r.kind, 'error');
  if (r.kind !== 'error') return;
  assert.equal(r.code, 'HTTP_MISSING_HOST');
  assert.equal(r.status, 400);
  assert.equal(r.reason, HTTP1_ERRORS.HTTP_MISSING_HOST.reason);
  assert.ok(Object.isFrozen(r));
  assert.equal(parseRequestHead(bytes('GET / HTTP/1.1\r\n\r\n'), 0, L), r);
});
