import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ageSeconds,
  currentAgeMs,
  judgeEntry,
  parseCacheControl,
  storeDecision,
  varyValues,
  varyValuesEqual,
  type CacheDirectives,
  type CacheExchange,
  type CacheMeta,
  type EntryState,
} from '../../../src/edge/cache/index.ts';
import { formatHttpDate } from '../../../src/edge/static/http-date.ts';

const T0 = Date.UTC(2024, 0, 1, 12, 0, 0);
const S = 1000;

const NONE: CacheDirectives = parseCacheControl(undefined);

test('parseCacheControl: absent and empty values give no directives', () => {
  assert.deepEqual(NONE, {
    noStore: false, noCache: false, private: false, public: false, mustRevalidate: false, proxyRevalidate: false,
    maxAge: null, maxAgeInvalid: false, sMaxAge: null, staleWhileRevalidate: null, staleIfError: null,
  });
  assert.deepEqual(parseCacheControl(''), NONE);
  assert.deepEqual(parseCacheControl(' , ,'), NONE);
});

const DIRECTIVES: Array<[string, Partial<CacheDirectives>]> = [
  ['max-age=60', { maxAge: 60 }],
  ['MAX-AGE=60', { maxAge: 60 }],
  ['Max-Age=60', { maxAge: 60 }],
  ['max-age="60"', { maxAge: 60 }], // recipients accept the quoted form too (RFC 9111 §5.2)
  ['max-age="6\\0"', { maxAge: 60 }], // quoted-pair
  ['max-age = 60', { maxAge: 60 }],
  ['max-age=0', { maxAge: 0 }],
  ['max-age=007', { maxAge: 7 }],
  ['max-age=60, max-age=120', { maxAge: 60 }], // first wins
  ['max-age=60, max-age=abc', { maxAge: 60 }],
  ['max-age=abc, max-age=60', { maxAge: null, maxAgeInvalid: true }],
  ['max-age=abc', { maxAge: null, maxAgeInvalid: true }],
  ['max-age=-1', { maxAge: null, maxAgeInvalid: true }],
  ['max-age=+1', { maxAge: null, maxAgeInvalid: true }],
  ['max-age=1.5', { maxAge: null, maxAgeInvalid: true }],
  ['max-age=1e3', { maxAge: null, maxAgeInvalid: true }],
  ['max-age=6 0', { maxAge: null, maxAgeInvalid: true }],
  ['max-age=', { maxAge: null, maxAgeInvalid: true }],
  ['max-age', { maxAge: null, maxAgeInvalid: true }],
  ['max-age=""', { maxAge: null, maxAgeInvalid: true }],
  ['max-age="60', { maxAge: null, maxAgeInvalid: true }], // unterminated quote
  ['max-age=99999999999999999999', { maxAge: 2147483648 }], // RFC 9111 §1.2.2
  ['max-age=2147483648', { maxAge: 2147483648 }],
  ['s-maxage=10', { sMaxAge: 10 }],
  ['S-MAXAGE="10"', { sMaxAge: 10 }],
  ['s-maxage=x', { sMaxAge: null }], // invalid: absent, not flagged
  ['s-maxage=10, s-maxage=20', { sMaxAge: 10 }],
  ['stale-while-revalidate=30, stale-if-error=600', { staleWhileRevalidate: 30, staleIfError: 600 }],
  ['stale-while-revalidate=-5, stale-if-error=x', {}],
  ['no-store', { noStore: true }],
  ['No-Store', { noStore: true }],
  ['no-store=1', { noStore: true }],
  ['no-cache', { noCache: true }],
  ['no-cache="set-cookie"', { noCache: true }],
  ['private', { private: true }],
  ['private="set-cookie, x-user", max-age=5', { private: true, maxAge: 5 }], // the comma in quotes does not split
  ['foo="a,b\\"c,d", max-age=1', { maxAge: 1 }],
  ['public', { public: true }],
  [' public ,, must-revalidate ', { public: true, mustRevalidate: true }],
  ['Proxy-Revalidate', { proxyRevalidate: true }],
  ['immutable, unknown=1, max-age=3', { maxAge: 3 }],
];

test('parseCacheControl: names, values, duplicates and invalid numbers', () => {
  for (const [value, expected] of DIRECTIVES) {
    assert.deepEqual(parseCacheControl(value), { ...NONE, ...expected }, value);
  }
});

// ---- storeDecision ------------------------------------------------------

function exchange(responseHeaders: string[], more: Partial<CacheExchange> = {}): CacheExchange {
  return {
    method: 'GET',
    requestHeaders: ['host', 'example.com'],
    status: 200,
    responseHeaders,
    requestTime: T0 - 100,
    responseTime: T0,
    ...more,
  };
}

function decide(responseHeaders: string[], more: Partial<CacheExchange> = {}, now = T0) {
  return storeDecision(exchange(responseHeaders, more), now);
}

function metaOf(responseHeaders: string[], more: Partial<CacheExchange> = {}, now = T0): CacheMeta {
  const d = decide(responseHeaders, more, now);
  assert.equal(d.store, true, `expected storable, got ${JSON.stringify(d)}`);
  return (d as { meta: CacheMeta }).meta;
}

function reasonOf(responseHeaders: string[], more: Partial<CacheExchange> = {}, now = T0): string {
  const d = decide(responseHeaders, more, now);
  assert.equal(d.store, false, 'expected not storable');
  return (d as { reason: string }).reason;
}

const CC60 = ['cache-control', 'max-age=60'];

const NOT_STORABLE: Array<[string, string[], Partial<CacheExchange>, string]> = [
  ['HEAD', CC60, { method: 'HEAD' }, 'method'],
  ['POST', CC60, { method: 'POST' }, 'method'],
  ['lower-case get', CC60, { method: 'get' }, 'method'],
  ['201', CC60, { status: 201 }, 'status'],
  ['206', CC60, { status: 206 }, 'status'],
  ['302', CC60, { status: 302 }, 'status'],
  ['304', CC60, { status: 304 }, 'status'],
  ['307', CC60, { status: 307 }, 'status'],
  ['400', CC60, { status: 400 }, 'status'],
  ['500', CC60, { status: 500 }, 'status'],
  ['503', CC60, { status: 503 }, 'status'],
  ['request no-store', CC60, { requestHeaders: ['cache-control', 'no-store'] }, 'request-no-store'],
  ['request no-store in a second line', CC60, { requestHeaders: ['cache-control', 'max-age=0', 'cache-control', 'No-Store'] }, 'request-no-store'],
  ['no-store', ['cache-control', 'max-age=60, no-store'], {}, 'no-store'],
  ['no-store in a second line', ['cache-control', 'max-age=60', 'cache-control', 'no-store'], {}, 'no-store'],
  ['no-store beats public', ['cache-control', 'public, no-store, s-maxage=60'], {}, 'no-store'],
  ['private', ['cache-control', 'private, max-age=60'], {}, 'private'],
  ['qualified private', ['cache-control', 'private="x-user", max-age=60'], {}, 'private'],
  ['no-cache', ['cache-control', 'no-cache, max-age=60'], {}, 'no-cache'],
  ['qualified no-cache', ['cache-control', 'no-cache="set-cookie", max-age=60'], {}, 'no-cache'],
  ['set-cookie', ['cache-control', 'public, max-age=60', 'set-cookie', 'sid=1'], {}, 'set-cookie'],
  ['vary *', ['cache-control', 'max-age=60', 'vary', '*'], {}, 'vary-star'],
  ['vary * in a list', ['cache-control', 'max-age=60', 'vary', 'accept-encoding, *'], {}, 'vary-star'],
  ['vary * in a second line', ['cache-control', 'max-age=60', 'vary', 'accept', 'vary', ' * '], {}, 'vary-star'],
  ['authorization', CC60, { requestHeaders: ['authorization', 'Bearer x'] }, 'authorization'],
  ['no freshness at all', ['etag', '"x"', 'last-modified', formatHttpDate(T0 - 3600 * S)], {}, 'no-freshness'],
  ['no headers', [], {}, 'no-freshness'],
  ['invalid max-age does not fall back to Expires', ['cache-control', 'max-age=soon', 'expires', formatHttpDate(T0 + 3600 * S)], {}, 'invalid-max-age'],
  ['max-age=0', ['cache-control', 'max-age=0'], {}, 'already-stale'],
  ['s-maxage=0', ['cache-control', 's-maxage=0, max-age=60'], {}, 'already-stale'],
  ['Expires: 0', ['expires', '0'], {}, 'already-stale'],
  ['Expires in the past', ['expires', formatHttpDate(T0 - 10 * S), 'date', formatHttpDate(T0)], {}, 'already-stale'],
  ['Expires equal to Date', ['expires', formatHttpDate(T0), 'date', formatHttpDate(T0)], {}, 'already-stale'],
  ['Age beyond max-age', ['cache-control', 'max-age=60', 'age', '60'], {}, 'already-stale'],
  ['must-revalidate forbids the stale window', ['cache-control', 'max-age=0, must-revalidate, stale-while-revalidate=60'], {}, 'already-stale'],
];

test('storeDecision: every reason not to store', () => {
  for (const [name, headers, more, reason] of NOT_STORABLE) {
    assert.equal(reasonOf(headers, more), reason, name);
  }
});

test('storeDecision: every storable status', () => {
  for (const status of [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]) {
    assert.equal(decide(CC60, { status }).store, true, String(status));
  }
});

test('storeDecision: client no-cache and max-age=0 do not prevent storing', () => {
  for (const cc of ['no-cache', 'max-age=0', 'no-cache, max-age=0, min-fresh=10']) {
    assert.equal(decide(CC60, { requestHeaders: ['cache-control', cc, 'pragma', 'no-cache'] }).store, true, cc);
  }
});

// RFC 9111 §3.5: with Authorization, only public, s-maxage or must-revalidate allow storing.
const AUTHORIZED: Array<[string, boolean]> = [
  ['max-age=60', false],
  ['max-age=60, proxy-revalidate', false],
  ['public, max-age=60', true],
  ['s-maxage=60', true],
  ['s-maxage=bogus, max-age=60', false], // an invalid s-maxage is absent
  ['max-age=60, must-revalidate', true],
  ['public, private, max-age=60', false],
];

test('storeDecision: Authorization requires public, s-maxage or must-revalidate', () => {
  for (const [cc, store] of AUTHORIZED) {
    assert.equal(decide(['cache-control', cc], { requestHeaders: ['authorization', 'Basic eDp5'] }).store, store, cc);
    assert.equal(decide(['cache-control', cc]).store, !cc.includes('private'), `${cc} without authorization`);
  }
});

test('storeDecision: freshness from s-maxage, then max-age, then Expires - Date', () => {
  const date = formatHttpDate(T0);
  const later = (s: number) => formatHttpDate(T0 + s * S);
  const cases: Array<[string, string[], number]> = [
    ['s-maxage over max-age', ['cache-control', 'max-age=60, s-maxage=300'], 300],
    ['s-maxage below max-age', ['cache-control', 's-maxage=5, max-age=60'], 5],
    ['s-maxage over invalid max-age', ['cache-control', 'max-age=x, s-maxage=30'], 30],
    ['invalid s-maxage falls back to max-age', ['cache-control', 's-maxage=x, max-age=60'], 60],
    ['max-age over Expires', ['cache-control', 'max-age=60', 'expires', later(3600), 'date', date], 60],
    ['max-age over an invalid Expires', ['cache-control', 'max-age=60', 'expires', '0'], 60],
    ['s-maxage over Expires', ['cache-control', 's-maxage=10', 'expires', later(3600)], 10],
    ['Expires - Date', ['expires', later(120), 'date', date], 120],
    ['Expires - Date, Date in the past', ['expires', formatHttpDate(T0 + 20 * S), 'date', formatHttpDate(T0 - 100 * S)], 120],
    ['Expires without Date uses response time', ['expires', later(90)], 90],
    ['Expires with an invalid Date uses response time', ['expires', later(90), 'date', 'yesterday'], 90],
    ['Expires in obsolete rfc850 form', ['expires', 'Monday, 01-Jan-24 12:01:00 GMT', 'date', date], 60],
    ['first Expires wins', ['expires', later(30), 'expires', later(3000), 'date', date], 30],
    ['Expires with Cache-Control without max-age', ['cache-control', 'public', 'expires', later(45), 'date', date], 45],
  ];
  for (const [name, headers, seconds] of cases) {
    assert.equal(metaOf(headers).freshnessLifetimeMs, seconds * S, name);
  }
});

test('storeDecision: meta carries the age inputs, windows and Vary names', () => {
  const m = metaOf(
    [
      'cache-control', 'max-age=60, stale-while-revalidate=30, stale-if-error=600',
      'date', formatHttpDate(T0 - 2 * S),
      'age', '5',
      'vary', 'Accept-Encoding, accept-language',
      'vary', 'Accept-Encoding,, Origin',
    ],
    { requestTime: T0 - 250, responseTime: T0 },
  );
  assert.deepEqual(m, {
    freshnessLifetimeMs: 60 * S,
    staleWhileRevalidateMs: 30 * S,
    staleIfErrorMs: 600 * S,
    requestTime: T0 - 250,
    responseTime: T0,
    dateValue: T0 - 2 * S,
    ageValue: 5 * S,
    varyNames: ['accept-encoding', 'accept-language', 'origin'],
    mustRevalidate: false,
  });
});

test('storeDecision: absent or invalid Date and Age', () => {
  let m = metaOf(CC60);
  assert.equal(m.dateValue, T0);
  assert.equal(m.ageValue, 0);
  assert.deepEqual(m.varyNames, []);
  m = metaOf([...CC60, 'date', 'not a date', 'age', 'ten']);
  assert.equal(m.dateValue, T0);
  assert.equal(m.ageValue, 0);
  m = metaOf([...CC60, 'age', '-3']);
  assert.equal(m.ageValue, 0);
  m = metaOf([...CC60, 'age', ' 7 ', 'age', '9']);
  assert.equal(m.ageValue, 7 * S);
});

test('storeDecision: must-revalidate and proxy-revalidate forbid stale serving; s-maxage alone does not', () => {
  assert.equal(metaOf(['cache-control', 'max-age=60, must-revalidate']).mustRevalidate, true);
  assert.equal(metaOf(['cache-control', 'max-age=60, proxy-revalidate']).mustRevalidate, true);
  assert.equal(metaOf(['cache-control', 's-maxage=60, stale-while-revalidate=30']).mustRevalidate, false);
});

test('storeDecision: a response already stale is kept when a stale window still applies', () => {
  assert.equal(metaOf(['cache-control', 'max-age=0, stale-while-revalidate=10']).freshnessLifetimeMs, 0);
  assert.equal(metaOf(['cache-control', 'max-age=0, stale-if-error=10']).staleIfErrorMs, 10 * S);
  assert.equal(decide(['cache-control', 'max-age=60, stale-if-error=10', 'age', '65']).store, true);
  assert.equal(reasonOf(['cache-control', 'max-age=60, stale-if-error=10', 'age', '70']), 'already-stale');
  // `now` is when the decision is made: a slow body can make a response stale before it is stored.
  assert.equal(reasonOf(CC60, {}, T0 + 60 * S), 'already-stale');
  assert.equal(decide(CC60, {}, T0 + 59 * S).store, true);
});

// ---- age --------------------------------------------------------------

function meta(over: Partial<CacheMeta>): CacheMeta {
  return {
    freshnessLifetimeMs: 60 * S, staleWhileRevalidateMs: 0, staleIfErrorMs: 0,
    requestTime: T0, responseTime: T0, dateValue: T0, ageValue: 0, varyNames: [], mustRevalidate: false,
    ...over,
  };
}

// RFC 9111 §4.2.3: corrected_initial_age = max(apparent_age, age_value + response_delay); + resident time.
const AGES: Array<[string, Partial<CacheMeta>, number, number]> = [
  ['just received', {}, T0, 0],
  ['resident time only', {}, T0 + 42 * S, 42 * S],
  ['response delay counts', { requestTime: T0 - 3 * S }, T0, 3 * S],
  ['apparent age from Date', { dateValue: T0 - 10 * S }, T0, 10 * S],
  ['apparent age beats Age + delay', { dateValue: T0 - 10 * S, ageValue: 2 * S, requestTime: T0 - 1 * S }, T0 + 5 * S, 15 * S],
  ['Age + delay beats apparent age', { dateValue: T0 - 1 * S, ageValue: 100 * S, requestTime: T0 - 2 * S }, T0, 102 * S],
  ['a Date in the future is not a negative age', { dateValue: T0 + 30 * S }, T0 + 1 * S, 1 * S],
  ['Age header with a future Date', { dateValue: T0 + 30 * S, ageValue: 4 * S }, T0, 4 * S],
  ['all together', { requestTime: T0 - 500, dateValue: T0 - 3 * S, ageValue: 1 * S }, T0 + 7 * S, 10 * S],
];

test('currentAgeMs follows RFC 9111 §4.2.3', () => {
  for (const [name, over, now, expected] of AGES) assert.equal(currentAgeMs(meta(over), now), expected, name);
});

test('ageSeconds floors and never goes negative or beyond 2^31', () => {
  assert.equal(ageSeconds(meta({}), T0 + 1999), 1);
  assert.equal(ageSeconds(meta({}), T0 + 999), 0);
  assert.equal(ageSeconds(meta({}), T0 - 5 * S), 0);
  assert.equal(ageSeconds(meta({ ageValue: 2147483648 * S }), T0 + 10 * S), 2147483648);
});

// ---- judgeEntry ---------------------------------------------------------

test('judgeEntry: fresh, then stale-while-revalidate, then stale-if-error, then stale, at the boundaries', () => {
  const m = meta({ freshnessLifetimeMs: 10 * S, staleWhileRevalidateMs: 5 * S, staleIfErrorMs: 20 * S });
  const cases: Array<[number, EntryState]> = [
    [0, 'fresh'],
    [10 * S - 1, 'fresh'],
    [10 * S, 'stale-while-revalidate'],
    [15 * S - 1, 'stale-while-revalidate'],
    [15 * S, 'stale-if-error'],
    [30 * S - 1, 'stale-if-error'],
    [30 * S, 'stale'],
    [3600 * S, 'stale'],
  ];
  for (const [at, state] of cases) assert.equal(judgeEntry(m, T0 + at), state, `at +${at}ms`);
});

test('judgeEntry: each window alone, and a stale-if-error shorter than the SWR window', () => {
  const table: Array<[Partial<CacheMeta>, number, EntryState]> = [
    [{ freshnessLifetimeMs: 10 * S }, 10 * S, 'stale'],
    [{ freshnessLifetimeMs: 10 * S, staleWhileRevalidateMs: 5 * S }, 15 * S - 1, 'stale-while-revalidate'],
    [{ freshnessLifetimeMs: 10 * S, staleWhileRevalidateMs: 5 * S }, 15 * S, 'stale'],
    [{ freshnessLifetimeMs: 10 * S, staleIfErrorMs: 5 * S }, 10 * S, 'stale-if-error'],
    [{ freshnessLifetimeMs: 10 * S, staleIfErrorMs: 5 * S }, 15 * S, 'stale'],
    [{ freshnessLifetimeMs: 10 * S, staleWhileRevalidateMs: 20 * S, staleIfErrorMs: 5 * S }, 25 * S, 'stale-while-revalidate'],
    [{ freshnessLifetimeMs: 10 * S, staleWhileRevalidateMs: 20 * S, staleIfErrorMs: 5 * S }, 30 * S, 'stale'],
    [{ freshnessLifetimeMs: 0, staleWhileRevalidateMs: 5 * S }, 0, 'stale-while-revalidate'],
    // Age counts from the origin, not from the edge's receipt.
    [{ freshnessLifetimeMs: 10 * S, ageValue: 8 * S }, 2 * S, 'stale'],
    [{ freshnessLifetimeMs: 10 * S, ageValue: 8 * S }, 2 * S - 1, 'fresh'],
  ];
  for (const [over, at, state] of table) assert.equal(judgeEntry(meta(over), T0 + at), state, JSON.stringify({ over, at }));
});

test('judgeEntry: must-revalidate disables both stale modes but not freshness', () => {
  const m = meta({ freshnessLifetimeMs: 10 * S, staleWhileRevalidateMs: 60 * S, staleIfErrorMs: 60 * S, mustRevalidate: true });
  assert.equal(judgeEntry(m, T0 + 10 * S - 1), 'fresh');
  assert.equal(judgeEntry(m, T0 + 10 * S), 'stale');
  assert.equal(judgeEntry(m, T0 + 20 * S), 'stale');
});

// ---- Vary ----------------------------------------------------------------

test('varyValues: combined, normalised, absent as empty, in the order of the names', () => {
  const req = [
    'accept-encoding', 'gzip,  br',
    'accept-language', 'en',
    'accept-encoding', ' zstd ',
    'x-empty', '',
    'x-spaces', 'a   b\t\tc',
  ];
  assert.deepEqual(varyValues(['accept-encoding', 'accept-language', 'origin', 'x-empty', 'x-spaces'], req), [
    'gzip, br, zstd', 'en', '', '', 'a b c',
  ]);
  assert.deepEqual(varyValues([], req), []);
});

test('varyValues: equivalent requests compare equal, different ones do not', () => {
  const names = ['accept-encoding', 'origin'];
  const same: Array<[string[], string[]]> = [
    [['accept-encoding', 'gzip, br'], ['accept-encoding', 'gzip,br']],
    [['accept-encoding', 'gzip, br'], ['accept-encoding', 'gzip', 'accept-encoding', 'br']],
    [['accept-encoding', 'gzip'], ['accept-encoding', 'gzip', 'origin', '']],
    [[], ['other', 'x']],
  ];
  for (const [a, b] of same) assert.equal(varyValuesEqual(varyValues(names, a), varyValues(names, b)), true, JSON.stringify([a, b]));
  const different: Array<[string[], string[]]> = [
    [['accept-encoding', 'gzip, br'], ['accept-encoding', 'br, gzip']], // order is meaningful in general
    [['accept-encoding', 'gzip'], []],
    [['accept-encoding', 'gzip'], ['accept-encoding', 'GZIP']], // values are compared as sent
    [['origin', 'https://a.example'], ['origin', 'https://b.example']],
  ];
  for (const [a, b] of different) assert.equal(varyValuesEqual(varyValues(names, a), varyValues(names, b)), false, JSON.stringify([a, b]));
  assert.equal(varyValuesEqual(['a'], ['a', '']), false);
});
