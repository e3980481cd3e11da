import { test } from 'node:test';
import assert from 'node:assert/strict';
import { upstreamRequestHead, type UpstreamRequest } from '../../src/edge/engine/upstream-head.ts';

const base: UpstreamRequest = {
  method: 'GET',
  target: '/reset',
  fields: ['host', 'Evil.Example', 'accept', '*/*'],
  connectionTokens: null,
  host: 'bank.example',
  clientAddress: '203.0.113.9',
  proto: 'https',
  bodySize: null,
  requestId: 'id-1',
};

const lines = (head: string): string[] => head.split('\r\n');

test('the app gets the authority the request was routed by as Host and X-Forwarded-Host, never the Host field the client sent', () => {
  const head = upstreamRequestHead(base);
  assert.deepEqual(lines(head), [
    'GET /reset HTTP/1.1',
    'host: bank.example',
    'accept: */*',
    'x-forwarded-for: 203.0.113.9',
    'x-forwarded-proto: https',
    'x-request-id: id-1',
    'x-forwarded-host: bank.example',
    '',
    '',
  ]);
  assert.equal(lines(upstreamRequestHead({ ...base, fields: ['host', 'a', 'host', 'b'] })).filter((l) => l.startsWith('host:')).length, 1);
});

test('an HTTP/1.0 request without any host gets a placeholder Host and no X-Forwarded-Host', () => {
  const head = upstreamRequestHead({ ...base, host: null, fields: [] });
  assert.match(head, /^GET \/reset HTTP\/1\.1\r\nhost: localhost\r\n/);
  assert.doesNotMatch(head, /x-forwarded-host/);
});

test('upgrade fields (HTTP2-Settings included), framing and forged forwarding fields never reach the app', () => {
  const fields = ['upgrade', 'h2c', 'http2-settings', 'AAMAAABkAAQAoAAAAAIAAAAA', 'connection', 'Upgrade, HTTP2-Settings', 'transfer-encoding', 'chunked', 'x-forwarded-for', '10.0.0.1', 'forwarded', 'for=10.0.0.1', 'x-trace', '1'];
  const head = upstreamRequestHead({ ...base, fields, connectionTokens: ['x-trace'], bodySize: 3 });
  assert.deepEqual(lines(head).slice(1, -2), ['host: bank.example', 'x-forwarded-for: 203.0.113.9', 'x-forwarded-proto: https', 'x-request-id: id-1', 'x-forwarded-host: bank.example', 'content-length: 3']);
});
