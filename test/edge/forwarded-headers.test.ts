import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientResponseHeaders, upstreamRequestHeaders } from '../../src/edge/index.ts';

const context = { clientAddress: '203.0.113.9', proto: 'http' as const, host: 'shop.example.com', requestId: null };

function asMap(raw: string[]): Record<string, string[]> {
  const map: Record<string, string[]> = {};
  for (let i = 0; i < raw.length; i += 2) (map[raw[i]!.toLowerCase()] ??= []).push(raw[i + 1]!);
  return map;
}

test('hop-by-hop headers and those named in Connection are dropped', () => {
  const out = asMap(
    upstreamRequestHeaders(
      ['Host', 'shop.example.com', 'Connection', 'keep-alive, X-Secret', 'Keep-Alive', 'timeout=5', 'X-Secret', '1', 'TE', 'trailers', 'Transfer-Encoding', 'chunked', 'Upgrade', 'h2c', 'Proxy-Connection', 'x', 'Trailer', 'x', 'Content-Length', '5', 'Accept', '*/*'],
      context,
    ),
  );
  for (const name of ['content-length', 'connection', 'keep-alive', 'x-secret', 'te', 'transfer-encoding', 'upgrade', 'proxy-connection', 'trailer']) {
    assert.equal(out[name], undefined, name);
  }
  assert.deepEqual(out.host, ['shop.example.com']);
  assert.deepEqual(out.accept, ['*/*']);
});

test('client-supplied forwarding headers are replaced, never trusted', () => {
  const out = asMap(
    upstreamRequestHeaders(['X-Forwarded-For', '10.0.0.1', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'evil', 'Forwarded', 'for=1.2.3.4', 'X-Real-IP', '1.1.1.1'], context),
  );
  assert.deepEqual(out['x-forwarded-for'], ['203.0.113.9']);
  assert.deepEqual(out['x-forwarded-proto'], ['http']);
  assert.deepEqual(out['x-forwarded-host'], ['shop.example.com']);
  assert.equal(out.forwarded, undefined);
  assert.equal(out['x-real-ip'], undefined);
});

test('repeated end-to-end headers keep their order and multiplicity', () => {
  const out = upstreamRequestHeaders(['Cookie', 'a=1', 'Accept', 'x', 'Cookie', 'b=2'], context);
  assert.deepEqual(out.slice(0, 6), ['Cookie', 'a=1', 'Accept', 'x', 'Cookie', 'b=2']);
});

test('a request id replaces the client one when the edge assigns it', () => {
  const out = asMap(upstreamRequestHeaders(['X-Request-Id', 'client'], { ...context, requestId: 'edge-1' }));
  assert.deepEqual(out['x-request-id'], ['edge-1']);
});

test('responses lose hop-by-hop headers but keep every Set-Cookie', () => {
  const out = clientResponseHeaders(['Set-Cookie', 'a=1', 'Connection', 'close, X-Internal', 'X-Internal', 'y', 'Keep-Alive', 'timeout=5', 'Transfer-Encoding', 'chunked', 'Set-Cookie', 'b=2', 'Content-Type', 'text/plain']);
  assert.deepEqual(out, ['Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Content-Type', 'text/plain']);
});
