import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_HTTP1_LIMITS, forwardableHeaders, isHopByHop, parseRequestHead, parseResponseHead,
  serializeRequestHead, serializeResponseHead,
} from '../../../src/edge/http1/index.ts';

test('serializes a response head', () => {
  const buf = serializeResponseHead(200, ['content-type', 'text/plain', 'content-length', '2']);
  assert.equal(buf.toString('latin1'), 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\n');
  assert.equal(serializeResponseHead(418, []).toString(), "HTTP/1.1 418 I'm a Teapot\r\n\r\n");
  assert.equal(serializeResponseHead(299, [], '').toString(), 'HTTP/1.1 299 \r\n\r\n');
});

test('serializes a request head', () => {
  const buf = serializeRequestHead('GET', '/a?b=c', ['host', 'app.example', 'x-name', 'caf\xe9']);
  assert.deepEqual(buf, Buffer.from('GET /a?b=c HTTP/1.1\r\nhost: app.example\r\nx-name: caf\xe9\r\n\r\n', 'latin1'));
});

test('what it writes, the parsers read back unchanged', () => {
  const headers = ['host', 'app.example', 'accept', '*/*', 'x-empty', '', 'x-obs', '\xe9\xff'];
  const req = parseRequestHead(serializeRequestHead('PATCH', '/x', headers), 0, DEFAULT_HTTP1_LIMITS);
  assert.equal(req.kind, 'head');
  assert.deepEqual(req.kind === 'head' && req.head.headers, headers);
  const res = parseResponseHead(serializeResponseHead(404, ['content-length', '0']), 0, DEFAULT_HTTP1_LIMITS, 'GET');
  assert.equal(res.kind === 'head' && res.head.reason, 'Not Found');
});

test('refuses input that would split or forge a field', () => {
  assert.throws(() => serializeResponseHead(200, ['x-a', 'b\r\nSet-Cookie: evil=1']), TypeError);
  assert.throws(() => serializeResponseHead(200, ['x-a', 'b\nc']), TypeError);
  assert.throws(() => serializeResponseHead(200, ['x-a', 'b\x00']), TypeError);
  assert.throws(() => serializeResponseHead(200, ['x-a', ' leading']), TypeError);
  assert.throws(() => serializeResponseHead(200, ['x a', 'b']), TypeError);
  assert.throws(() => serializeResponseHead(200, ['', 'b']), TypeError);
  assert.throws(() => serializeResponseHead(200, ['x-a', '\u0100']), TypeError);
  assert.throws(() => serializeResponseHead(200, ['x-a']), TypeError);
  assert.throws(() => serializeResponseHead(200, [], 'OK\r\nX: y'), TypeError);
  assert.throws(() => serializeResponseHead(99, []), TypeError);
  assert.throws(() => serializeResponseHead(600, []), TypeError);
  assert.throws(() => serializeRequestHead('GET /', '/', []), TypeError);
  assert.throws(() => serializeRequestHead('GET', '/a b', []), TypeError);
  assert.throws(() => serializeRequestHead('GET', '/a#b', []), TypeError);
  assert.throws(() => serializeRequestHead('GET', '', []), TypeError);
});

test('hop-by-hop names', () => {
  for (const name of ['connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade', 'trailer']) {
    assert.equal(isHopByHop(name), true, name);
  }
  for (const name of ['content-length', 'host', 'cookie', 'x-forwarded-for']) assert.equal(isHopByHop(name), false, name);
});

test('forwardable headers drop framing, hop-by-hop and Connection-listed fields', () => {
  const raw = Buffer.from(
    'POST / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: timeout=5\r\n' +
    'Proxy-Connection: keep-alive\r\nTE: trailers\r\nTrailer: X-Sum\r\nUpgrade: h2c\r\nX-Secret: 1\r\n' +
    'Transfer-Encoding: chunked\r\nAccept: */*\r\n\r\n',
  );
  const r = parseRequestHead(raw, 0, DEFAULT_HTTP1_LIMITS);
  assert.equal(r.kind, 'head');
  if (r.kind !== 'head') return;
  assert.deepEqual(forwardableHeaders(r.head.headers, r.head.connectionTokens), ['host', 'a', 'accept', '*/*']);
  assert.deepEqual(forwardableHeaders(['content-length', '5', 'etag', '"x"'], []), ['etag', '"x"']);
});
