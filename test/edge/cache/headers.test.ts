import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  hitHeaders,
  notModified,
  statusForward,
  statusHit,
  statusStaleIfError,
  statusStaleWhileRevalidate,
  type CacheEntry,
  type CacheMeta,
} from '../../../src/edge/cache/index.ts';
import { formatHttpDate } from '../../../src/edge/static/http-date.ts';

const T0 = Date.UTC(2024, 0, 1, 12, 0, 0);
const DATE = formatHttpDate(T0);
const LAST_MODIFIED = formatHttpDate(T0 - 3600_000);

const META: CacheMeta = {
  freshnessLifetimeMs: 60_000, staleWhileRevalidateMs: 0, staleIfErrorMs: 0,
  requestTime: T0, responseTime: T0, dateValue: T0, ageValue: 30_000, varyNames: [], mustRevalidate: false,
};

function entry(over: Partial<CacheEntry> = {}): CacheEntry {
  return { key: 'h /', varyValues: [], status: 200, headers: [], body: Buffer.from('hello'), meta: META, ...over };
}

test('hitHeaders: stored fields minus hop-by-hop, framing and Age, plus Age and Cache-Status', () => {
  const stored = [
    'content-type', 'text/html',
    'connection', 'close, X-Internal',
    'x-internal', 'secret',
    'keep-alive', 'timeout=5',
    'transfer-encoding', 'chunked',
    'content-length', '5',
    'age', '30',
    'date', DATE,
    'cache-status', 'origin-cdn; hit',
    'etag', '"abc"',
    'upgrade', 'h2c',
    'te', 'trailers',
    'trailer', 'x-checksum',
    'proxy-connection', 'keep-alive',
    'vary', 'accept-encoding',
    'set-header-twice', 'a',
    'set-header-twice', 'b',
  ];
  const e = entry({ headers: stored });
  const copy = [...stored];
  assert.deepEqual(hitHeaders(e, T0 + 5_500, statusHit()), [
    'content-type', 'text/html',
    'date', DATE,
    'cache-status', 'origin-cdn; hit',
    'etag', '"abc"',
    'vary', 'accept-encoding',
    'set-header-twice', 'a',
    'set-header-twice', 'b',
    'age', '35',
    'cache-status', 'berth; hit',
  ]);
  assert.deepEqual(e.headers, copy); // the stored entry is not changed
});

test('hitHeaders: Age comes from the RFC 9111 age, not the stored header', () => {
  const e = entry({ headers: ['age', '999'], meta: { ...META, ageValue: 0, dateValue: T0 - 2_000 } });
  assert.deepEqual(hitHeaders(e, T0 + 999, statusStaleWhileRevalidate()), [
    'age', '2', 'cache-status', 'berth; hit; detail=stale-while-revalidate',
  ]);
});

test('Cache-Status values', () => {
  const cases: Array<[string, string]> = [
    [statusHit(), 'berth; hit'],
    [statusStaleWhileRevalidate(), 'berth; hit; detail=stale-while-revalidate'],
    [statusStaleIfError(502), 'berth; fwd=stale; fwd-status=502; detail=stale-if-error'],
    [statusStaleIfError(null), 'berth; fwd=stale; detail=stale-if-error'],
    [statusForward('uri-miss'), 'berth; fwd=uri-miss'],
    [statusForward('uri-miss', { stored: true }), 'berth; fwd=uri-miss; stored'],
    [statusForward('vary-miss', { stored: false }), 'berth; fwd=vary-miss'],
    [statusForward('stale', { stored: true }), 'berth; fwd=stale; stored'],
    [statusForward('uri-miss', { collapsed: true }), 'berth; fwd=uri-miss; collapsed'],
    [statusForward('uri-miss', { stored: true, collapsed: true }), 'berth; fwd=uri-miss; stored; collapsed'],
    [statusForward('method'), 'berth; fwd=method'],
    [statusForward('bypass'), 'berth; fwd=bypass'],
  ];
  for (const [actual, expected] of cases) assert.equal(actual, expected);
});

const STRONG = entry({ etag: '"abc"', lastModified: LAST_MODIFIED });
const WEAK = entry({ etag: 'W/"abc"' });
const NO_VALIDATORS = entry();

const CONDITIONALS: Array<[string, CacheEntry, string[], boolean]> = [
  ['no conditional headers', STRONG, [], false],
  ['same tag', STRONG, ['if-none-match', '"abc"'], true],
  ['weak request tag matches weakly', STRONG, ['if-none-match', 'W/"abc"'], true],
  ['strong request tag against a weak entry', WEAK, ['if-none-match', '"abc"'], true],
  ['weak against weak', WEAK, ['if-none-match', 'W/"abc"'], true],
  ['in a list', STRONG, ['if-none-match', '"x", "abc"'], true],
  ['over two field lines', STRONG, ['if-none-match', '"x"', 'if-none-match', '"abc"'], true],
  ['other tag', STRONG, ['if-none-match', '"abcd"'], false],
  ['unquoted', STRONG, ['if-none-match', 'abc'], false],
  ['*', STRONG, ['if-none-match', '*'], true],
  ['* without an ETag', NO_VALIDATORS, ['if-none-match', ' * '], true],
  ['tag without an ETag', NO_VALIDATORS, ['if-none-match', '"abc"'], false],
  ['If-None-Match decides alone', STRONG, ['if-none-match', '"x"', 'if-modified-since', DATE], false],
  ['If-Modified-Since equal to Last-Modified', STRONG, ['if-modified-since', LAST_MODIFIED], true],
  ['If-Modified-Since after', STRONG, ['if-modified-since', DATE], true],
  ['If-Modified-Since before', STRONG, ['if-modified-since', formatHttpDate(T0 - 3601_000)], false],
  ['If-Modified-Since in rfc850 form', STRONG, ['if-modified-since', 'Monday, 01-Jan-24 12:00:00 GMT'], true],
  ['If-Modified-Since invalid', STRONG, ['if-modified-since', 'yesterday'], false],
  ['If-Modified-Since twice', STRONG, ['if-modified-since', DATE, 'if-modified-since', DATE], false],
  ['If-Modified-Since without Last-Modified', WEAK, ['if-modified-since', DATE], false],
  ['an unparseable Last-Modified', entry({ lastModified: 'recently' }), ['if-modified-since', DATE], false],
  ['a stored 404 is never 304', entry({ status: 404, etag: '"abc"' }), ['if-none-match', '"abc"'], false],
  ['a stored 301 is never 304', entry({ status: 301, etag: '"abc"' }), ['if-none-match', '*'], false],
  ['a stored 204 may be', entry({ status: 204, etag: '"abc"' }), ['if-none-match', '"abc"'], true],
];

test('notModified: If-None-Match with weak comparison, else If-Modified-Since', () => {
  for (const [name, e, req, expected] of CONDITIONALS) assert.equal(notModified(e, req), expected, name);
});
