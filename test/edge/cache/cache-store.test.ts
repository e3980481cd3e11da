import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CacheStore,
  cacheKey,
  ENTRY_OVERHEAD_BYTES,
  entryBytes,
  varyValues,
  type CacheEntry,
  type CacheMeta,
} from '../../../src/edge/cache/index.ts';

const T0 = Date.UTC(2024, 0, 1);

function meta(varyNames: string[] = []): CacheMeta {
  return {
    freshnessLifetimeMs: 60_000, staleWhileRevalidateMs: 0, staleIfErrorMs: 0,
    requestTime: T0, responseTime: T0, dateValue: T0, ageValue: 0, varyNames, mustRevalidate: false,
  };
}

/** An entry whose body is `bodyBytes` long; with Vary, its values come from `requestHeaders`. */
function entry(key: string, bodyBytes = 100, opts: { varyNames?: string[]; requestHeaders?: string[]; tag?: string } = {}): CacheEntry {
  const names = opts.varyNames ?? [];
  return {
    key,
    varyValues: varyValues(names, opts.requestHeaders ?? []),
    status: 200,
    headers: ['content-type', 'text/plain', 'x-tag', opts.tag ?? ''],
    body: Buffer.alloc(bodyBytes, 0x61),
    meta: meta(names),
  };
}

function tagOf(e: CacheEntry | null): string | undefined {
  return e?.headers[3];
}

const K = cacheKey('example.com', '/');
const BIG = { maxBytes: 1_000_000, maxEntryBytes: 100_000 };

test('entryBytes counts body, header bytes, key, vary values and a fixed overhead', () => {
  const e = entry('h /p', 10, { varyNames: ['accept-encoding'], requestHeaders: ['accept-encoding', 'gzip'] });
  const headerBytes = ('content-type'.length + 2) + ('text/plain'.length + 2) + ('x-tag'.length + 2) + 2;
  assert.equal(entryBytes(e), ENTRY_OVERHEAD_BYTES + 10 + 'h /p'.length + headerBytes + 'gzip'.length);
});

test('cacheKey lower-cases the host and keeps the target as received', () => {
  assert.equal(cacheKey('Example.COM:8080', '/A?b=C'), 'example.com:8080 /A?b=C');
});

test('put then get; bytes and count follow', () => {
  const store = new CacheStore(BIG);
  assert.equal(store.get(K, []), null);
  assert.equal(store.has(K), false);
  const e = entry(K, 100);
  assert.equal(store.put(e), true);
  assert.equal(store.get(K, ['accept', 'x']), e); // no Vary: any request matches
  assert.equal(store.has(K), true);
  assert.equal(store.count, 1);
  assert.equal(store.bytes, entryBytes(e));
  assert.equal(store.get(cacheKey('example.com', '/other'), []), null);
});

test('a newer response for the same variant replaces the older one', () => {
  const store = new CacheStore(BIG);
  store.put(entry(K, 100, { tag: 'old' }));
  const newer = entry(K, 300, { tag: 'new' });
  store.put(newer);
  assert.equal(store.count, 1);
  assert.equal(store.bytes, entryBytes(newer));
  assert.equal(tagOf(store.get(K, [])), 'new');
});

test('Vary: each variant is selected by the request values it was fetched with', () => {
  const store = new CacheStore(BIG);
  const vary = ['accept-encoding'];
  store.put(entry(K, 10, { varyNames: vary, requestHeaders: ['accept-encoding', 'gzip, br'], tag: 'gzip-br' }));
  store.put(entry(K, 10, { varyNames: vary, requestHeaders: ['accept-encoding', 'identity'], tag: 'identity' }));
  store.put(entry(K, 10, { varyNames: vary, requestHeaders: [], tag: 'absent' }));
  assert.equal(store.count, 3);
  const cases: Array<[string[], string | undefined]> = [
    [['accept-encoding', 'gzip, br'], 'gzip-br'],
    [['accept-encoding', 'gzip,br'], 'gzip-br'],
    [['accept-encoding', 'gzip', 'accept-encoding', 'br'], 'gzip-br'], // two field lines combine
    [['accept-encoding', 'br, gzip'], undefined],
    [['accept-encoding', 'gzip'], undefined],
    [['accept-encoding', 'identity'], 'identity'],
    [[], 'absent'],
    [['accept-encoding', ''], 'absent'],
    [['accept-language', 'en'], 'absent'], // fields not named in Vary do not matter
  ];
  for (const [req, tag] of cases) assert.equal(tagOf(store.get(K, req)), tag, JSON.stringify(req));
  assert.equal(store.has(K), true); // a vary-miss, not a uri-miss
});

test('Vary on several fields needs every one to match', () => {
  const store = new CacheStore(BIG);
  const vary = ['accept-encoding', 'accept-language'];
  store.put(entry(K, 10, { varyNames: vary, requestHeaders: ['accept-language', 'fr', 'accept-encoding', 'gzip'], tag: 'fr-gzip' }));
  assert.equal(tagOf(store.get(K, ['accept-encoding', 'gzip', 'accept-language', 'fr'])), 'fr-gzip');
  assert.equal(store.get(K, ['accept-encoding', 'gzip', 'accept-language', 'en']), null);
  assert.equal(store.get(K, ['accept-encoding', 'gzip']), null);
});

test('a response varying on other fields replaces every variant of the key', () => {
  const store = new CacheStore(BIG);
  store.put(entry(K, 10, { varyNames: ['accept-encoding'], requestHeaders: ['accept-encoding', 'gzip'] }));
  store.put(entry(K, 10, { varyNames: ['accept-encoding'], requestHeaders: ['accept-encoding', 'br'] }));
  const other = entry(K, 10, { varyNames: ['origin'], requestHeaders: ['origin', 'https://a.example'], tag: 'origin' });
  store.put(other);
  assert.equal(store.count, 1);
  assert.equal(store.bytes, entryBytes(other));
  assert.equal(store.get(K, ['accept-encoding', 'gzip', 'origin', 'x']), null);
  assert.equal(tagOf(store.get(K, ['accept-encoding', 'gzip', 'origin', 'https://a.example'])), 'origin');
  // And a response without Vary replaces the varied ones too.
  store.put(entry(K, 10, { tag: 'plain' }));
  assert.equal(store.count, 1);
  assert.equal(tagOf(store.get(K, ['origin', 'elsewhere'])), 'plain');
});

test('LRU: the least recently used variant is evicted first, and get refreshes recency', () => {
  const size = entryBytes(entry(cacheKey('h', '/a'), 100));
  const store = new CacheStore({ maxBytes: size * 3, maxEntryBytes: size });
  for (const p of ['/a', '/b', '/c']) assert.equal(store.put(entry(cacheKey('h', p), 100)), true);
  assert.equal(store.bytes, size * 3);
  assert.notEqual(store.get(cacheKey('h', '/a'), []), null); // /a is now the most recent
  store.put(entry(cacheKey('h', '/d'), 100)); // evicts /b
  assert.equal(store.has(cacheKey('h', '/b')), false);
  for (const p of ['/a', '/c', '/d']) assert.equal(store.has(cacheKey('h', p)), true, p);
  store.put(entry(cacheKey('h', '/e'), 100)); // evicts /c
  assert.equal(store.has(cacheKey('h', '/c')), false);
  assert.equal(store.count, 3);
  assert.equal(store.bytes, size * 3);
});

test('LRU: a large entry evicts as many old ones as it needs, variants one by one', () => {
  const vary = ['accept-encoding'];
  const aa = entry(K, 100, { varyNames: vary, requestHeaders: ['accept-encoding', 'aa'] });
  const bb = entry(K, 100, { varyNames: vary, requestHeaders: ['accept-encoding', 'bb'] });
  const one = entry(cacheKey('h', '/1'), 100);
  const maxBytes = entryBytes(aa) + entryBytes(bb) + entryBytes(one) + 50;
  const store = new CacheStore({ maxBytes, maxEntryBytes: maxBytes });
  store.put(aa);
  store.put(bb);
  store.put(one);
  store.get(K, ['accept-encoding', 'aa']); // recency now: bb, /1, aa
  // Exactly the room of the free bytes plus the two least recent entries.
  const largeKey = cacheKey('h', '/big');
  const large = entry(largeKey, 50 + entryBytes(bb) + entryBytes(one) - entryBytes(entry(largeKey, 0)));
  assert.equal(store.put(large), true);
  assert.equal(store.get(K, ['accept-encoding', 'bb']), null);
  assert.equal(store.has(cacheKey('h', '/1')), false);
  assert.equal(store.get(K, ['accept-encoding', 'aa']), aa);
  assert.equal(store.count, 2);
  assert.equal(store.bytes, maxBytes);
  // The get above made aa the most recent: a newcomer for a full store evicts large, not aa.
  const next = entry(cacheKey('h', '/next'), 1);
  assert.equal(store.put(next), true);
  assert.deepEqual([store.has(K), store.has(largeKey)], [true, false]);
  assert.equal(store.bytes, entryBytes(aa) + entryBytes(next));
});

test('an entry larger than maxEntryBytes (or maxBytes) is never stored and drops what it replaces', () => {
  const probe = entry(K, 1000);
  const store = new CacheStore({ maxBytes: 100_000, maxEntryBytes: entryBytes(probe) });
  assert.equal(store.put(probe), true); // exactly at the limit
  assert.equal(store.put(entry(K, 1001)), false);
  assert.equal(store.get(K, []), null);
  assert.equal(store.count, 0);
  assert.equal(store.bytes, 0);
  const keep = entry(cacheKey('h', '/keep'), 10);
  store.put(keep);
  assert.equal(store.put(entry(cacheKey('h', '/huge'), 5000)), false);
  assert.equal(store.get(cacheKey('h', '/keep'), []), keep); // a rejected entry evicts nothing else
  const tiny = new CacheStore({ maxBytes: ENTRY_OVERHEAD_BYTES, maxEntryBytes: 1_000_000 });
  assert.equal(tiny.put(entry(K, 0)), false);
  assert.equal(tiny.bytes, 0);
});

test('delete removes every variant of a key', () => {
  const store = new CacheStore(BIG);
  const vary = ['accept-encoding'];
  store.put(entry(K, 10, { varyNames: vary, requestHeaders: ['accept-encoding', 'gzip'] }));
  store.put(entry(K, 10, { varyNames: vary, requestHeaders: [] }));
  store.put(entry(cacheKey('example.com', '/x'), 10));
  assert.equal(store.delete(K), 2);
  assert.equal(store.delete(K), 0);
  assert.equal(store.has(K), false);
  assert.equal(store.count, 1);
  assert.equal(store.bytes, entryBytes(entry(cacheKey('example.com', '/x'), 10)));
});

const TARGETS = ['/', '/a', '/a?x=1', '/a?', '/a/', '/a/b', '/a/b?c=/d', '/ab', '/ab/c', '/A', '/b?next=/a', '/b'];

function filled(): CacheStore {
  const store = new CacheStore(BIG);
  for (const t of TARGETS) {
    store.put(entry(cacheKey('a.example', t), 10));
    store.put(entry(cacheKey('b.example', t), 10));
  }
  return store;
}

test('purge: a path prefix matches at segment boundaries, whatever the query', () => {
  const cases: Array<[string | undefined, string[]]> = [
    ['/a', ['/a', '/a?x=1', '/a?', '/a/', '/a/b', '/a/b?c=/d']],
    ['/a/', ['/a/', '/a/b', '/a/b?c=/d']],
    ['/a/b', ['/a/b', '/a/b?c=/d']],
    ['/ab', ['/ab', '/ab/c']],
    ['/b', ['/b?next=/a', '/b']],
    ['/A', ['/A']],
    ['/a?x=1', ['/a?x=1']], // with a query: exactly that target
    ['/a?x', []],
    ['/c', []],
    ['/', TARGETS],
    ['', TARGETS],
    [undefined, TARGETS],
  ];
  for (const [prefix, removed] of cases) {
    const store = filled();
    assert.equal(store.purge('a.example', prefix), removed.length, String(prefix));
    for (const t of TARGETS) {
      assert.equal(store.has(cacheKey('a.example', t)), !removed.includes(t), `${prefix} ${t}`);
      assert.equal(store.has(cacheKey('b.example', t)), true, `${prefix} other host ${t}`);
    }
  }
});

test('purge: host is case-insensitive, counts variants, and only touches that host', () => {
  const store = filled();
  store.put(entry(cacheKey('a.example', '/v'), 10, { varyNames: ['accept'], requestHeaders: ['accept', 'a'] }));
  store.put(entry(cacheKey('a.example', '/v'), 10, { varyNames: ['accept'], requestHeaders: ['accept', 'b'] }));
  store.put(entry(cacheKey('a.example.org', '/v'), 10));
  assert.equal(store.purge('A.Example', '/v'), 2);
  assert.equal(store.has(cacheKey('a.example.org', '/v')), true);
  assert.equal(store.purge('nowhere.example'), 0);
  const before = store.count;
  assert.equal(store.purge('b.example'), TARGETS.length);
  assert.equal(store.count, before - TARGETS.length);
});

test('purgeAll empties the store', () => {
  const store = filled();
  assert.equal(store.purgeAll(), TARGETS.length * 2);
  assert.equal(store.count, 0);
  assert.equal(store.bytes, 0);
  assert.equal(store.has(cacheKey('a.example', '/a')), false);
  assert.equal(store.put(entry(K, 10)), true);
  assert.equal(store.count, 1);
});

test('bytes stay exact through replacements, evictions, deletes and purges', () => {
  const size = entryBytes(entry(cacheKey('h', '/00'), 50));
  const store = new CacheStore({ maxBytes: size * 5, maxEntryBytes: size * 2 });
  for (let i = 0; i < 40; i++) {
    const e = entry(cacheKey('h', `/${String(i % 7).padStart(2, '0')}`), 50 + (i % 3) * 20);
    store.put(e);
    if (i % 5 === 0) store.purge('h', `/0${i % 4}`);
    if (i % 11 === 0) store.delete(cacheKey('h', '/03'));
    let sum = 0;
    for (let j = 0; j < 7; j++) {
      const got = store.get(cacheKey('h', `/${String(j).padStart(2, '0')}`), []);
      if (got !== null) sum += entryBytes(got);
    }
    assert.equal(store.bytes, sum, `step ${i}`);
    assert.ok(store.bytes <= store.maxBytes);
  }
});

test('options are checked', () => {
  assert.throws(() => new CacheStore({ maxBytes: -1, maxEntryBytes: 1 }), RangeError);
  assert.throws(() => new CacheStore({ maxBytes: 1, maxEntryBytes: Number.NaN }), RangeError);
});
