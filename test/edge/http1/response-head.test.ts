import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_HTTP1_LIMITS, parseResponseHead, resolveHttp1Limits,
  type ResponseHead, type ResponseHeadResult,
} from '../../../src/edge/http1/index.ts';
import { bytes } from './harness.ts';

const L = DEFAULT_HTTP1_LIMITS;

function parse(raw: string, method = 'GET', limits = L): ResponseHeadResult {
  return parseResponseHead(bytes(raw), 0, limits, method);
}

function headOf(raw: string, method = 'GET'): ResponseHead {
  const r = parse(raw, method);
  assert.equal(r.kind, 'head', JSON.stringify(r));
  return (r as Extract<ResponseHeadResult, { kind: 'head' }>).head;
}

function codeOf(raw: string, method = 'GET'): string {
  const r = parse(raw, method);
  assert.equal(r.kind, 'error', `expected a refusal of ${JSON.stringify(raw)}, got ${JSON.stringify(r)}`);
  if (r.kind !== 'error') return '';
  assert.equal(r.status, 502, 'an upstream refusal is always answered 502');
  return r.code;
}

test('a plain 200 with Content-Length', () => {
  const h = headOf('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\n');
  assert.deepEqual(
    { ...h },
    {
      version: 11, status: 200, reason: 'OK', headers: ['content-type', 'text/plain', 'content-length', '12'],
      contentLength: 12, chunked: false, bodyKind: 'length', keepAlive: true, upgrade: null, connectionTokens: [],
    },
  );
});

test('framing by RFC 9112 §6.3', () => {
  const cases: [string, string, string, boolean][] = [
    // [response, request method, bodyKind, keepAlive]
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'GET', 'chunked', true],
    ['HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 'GET', 'none', true],
    ['HTTP/1.1 200 OK\r\n\r\n', 'GET', 'close', false],
    ['HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n', 'GET', 'length', false],
    ['HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\n', 'GET', 'length', true],
    ['HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\n', 'GET', 'length', false],
    ['HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n', 'HEAD', 'none', true],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'HEAD', 'none', true],
    ['HTTP/1.1 200 OK\r\n\r\n', 'HEAD', 'none', true],
    ['HTTP/1.1 204 No Content\r\n\r\n', 'GET', 'none', true],
    ['HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n', 'DELETE', 'none', true],
    ['HTTP/1.1 304 Not Modified\r\nContent-Length: 500\r\n\r\n', 'GET', 'none', true],
    ['HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n', 'GET', 'none', true],
    ['HTTP/1.1 100 Continue\r\n\r\n', 'POST', 'none', true],
    ['HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n', 'GET', 'none', true],
  ];
  for (const [raw, method, bodyKind, keepAlive] of cases) {
    const h = headOf(raw, method);
    assert.equal(h.bodyKind, bodyKind, `${JSON.stringify(raw)} to ${method}`);
    assert.equal(h.keepAlive, keepAlive, `${JSON.stringify(raw)} to ${method}: keepAlive`);
  }
});

test('a 204 that declares a body is not reused', () => {
  // The upstream might send those bytes anyway; the next response would be read from them.
  assert.equal(headOf('HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n').keepAlive, false);
  assert.equal(headOf('HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n').keepAlive, false);
});

test('101 Switching Protocols carries the Upgrade value and ends keep-alive', () => {
  const h = headOf('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
  assert.equal(h.upgrade, 'websocket');
  assert.equal(h.keepAlive, false);
  assert.equal(h.bodyKind, 'none');
  assert.equal(headOf('HTTP/1.1 200 OK\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n').upgrade, null);
});

test('framing faults are refused (502)', () => {
  assert.equal(codeOf('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n'), 'HTTP_CL_AND_TE');
  assert.equal(codeOf('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n', 'HEAD'), 'HTTP_CL_AND_TE');
  assert.equal(codeOf('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n'), 'HTTP_DUP_CL');
  assert.equal(codeOf('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n'), 'HTTP_DUP_CL');
  assert.equal(codeOf('HTTP/1.1 304 Not Modified\r\nContent-Length: 5, 5\r\n\r\n'), 'HTTP_BAD_CL');
  assert.equal(codeOf('HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'), 'HTTP_BAD_CL');
  assert.equal(codeOf('HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n'), 'HTTP_CL_OVERFLOW');
  assert.equal(codeOf('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'), 'HTTP_TE_UNSUPPORTED');
  assert.equal(codeOf('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n'), 'HTTP_TE_NOT_CHUNKED');
  assert.equal(codeOf('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n'), 'HTTP_DUP_TE');
  assert.equal(codeOf('HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'), 'HTTP_TE_ON_HTTP10');
  assert.equal(codeOf('HTTP/1.1 100 Continue\r\nContent-Length: 0\r\n\r\n'), 'HTTP_INTERIM_WITH_BODY');
});

test('field lines are as strict as in requests', () => {
  assert.equal(codeOf('HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n'), 'HTTP_WS_BEFORE_COLON');
  assert.equal(codeOf('HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\n\r\n'), 'HTTP_OBS_FOLD');
  assert.equal(codeOf('HTTP/1.1 200 OK\r\nX-A: b\x00\r\n\r\n'), 'HTTP_BAD_HEADER_VALUE');
  assert.equal(codeOf('HTTP/1.1 200 OK\nContent-Length: 5\n\n'), 'HTTP_BARE_LF');
  assert.equal(codeOf('HTTP/1.1 200 OK\r\nSet-Cookie: a=b\rX: y\r\n\r\n'), 'HTTP_BARE_CR');
  assert.equal(codeOf('HTTP/1.1 200 OK\r\n\rContent-Length: 5\r\n\r\nhello'), 'HTTP_BARE_CR');
});

test('status lines', () => {
  assert.equal(headOf('HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n').reason, '');
  assert.equal(headOf('HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n').reason, '');
  assert.equal(headOf('HTTP/1.1 404 Not  Found\t!\r\nContent-Length: 0\r\n\r\n').reason, 'Not  Found\t!');
  assert.equal(headOf('HTTP/1.1 599 Whatever\r\nContent-Length: 0\r\n\r\n').status, 599);
  assert.equal(codeOf('HTTP/1.1 2000 OK\r\n\r\n'), 'HTTP_BAD_STATUS_LINE');
  assert.equal(codeOf('HTTP/1.1 20 OK\r\n\r\n'), 'HTTP_BAD_STATUS_LINE');
  assert.equal(codeOf('HTTP/1.1 099 Low\r\n\r\n'), 'HTTP_BAD_STATUS_LINE');
  assert.equal(codeOf('HTTP/1.1 600 High\r\n\r\n'), 'HTTP_BAD_STATUS_LINE');
  assert.equal(codeOf('HTTP/1.1  200 OK\r\n\r\n'), 'HTTP_BAD_STATUS_LINE');
  assert.equal(codeOf('HTTP/1.1 200 O\x01K\r\n\r\n'), 'HTTP_BAD_STATUS_LINE');
  assert.equal(codeOf('http/1.1 200 OK\r\n\r\n'), 'HTTP_BAD_STATUS_LINE');
  assert.equal(codeOf('HTTP/2.0 200 OK\r\n\r\n'), 'HTTP_VERSION_UNSUPPORTED');
  assert.equal(codeOf('HTTP/1.2 200 OK\r\n\r\n'), 'HTTP_VERSION_UNSUPPORTED');
  assert.equal(codeOf('\r\nHTTP/1.1 200 OK\r\n\r\n'), 'HTTP_BAD_STATUS_LINE');
});

test('incomplete, early refusal and byte-by-byte parsing', () => {
  const raw = 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n';
  for (let n = 0; n < raw.length; n++) assert.equal(parse(raw.slice(0, n)).kind, 'incomplete', `at ${n} bytes`);
  assert.equal(parse(raw).kind, 'head');
  assert.equal(codeOf('SSH-2.0-OpenSSH'), 'HTTP_BAD_STATUS_LINE');
  assert.equal(codeOf('HTTP/1.1 200 OK\nX'), 'HTTP_BARE_LF');
});

test('header limits apply to responses', () => {
  const limits = resolveHttp1Limits({ maxHeaderBytes: 40, maxHeaderCount: 1 });
  const big = parse(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(40)}\r\n\r\n`, 'GET', limits);
  assert.equal(big.kind === 'error' && big.code, 'HTTP_HEADERS_TOO_LARGE');
  const many = parse('HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n', 'GET', limits);
  assert.equal(many.kind === 'error' && many.code, 'HTTP_TOO_MANY_HEADERS');
  const unfinished = parse(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(40)}`, 'GET', limits);
  assert.equal(unfinished.kind === 'error' && unfinished.status, 502);
});

test('consumed ends at the head; the body follows', () => {
  const buf = bytes('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi');
  const r = parseResponseHead(buf, 0, L, 'GET');
  assert.equal(r.kind === 'head' && buf.toString('latin1', r.consumed), 'hi');
});
