import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { apiToken, serverUrl } from '../../../src/cli/remote/credentials.ts';
import {
  defaultServerName,
  findServer,
  NO_SERVERS,
  parseSavedServers,
  removeServer,
  saveServer,
  serializeSavedServers,
  serverName,
  useServer,
  type SavedServers,
} from '../../../src/cli/remote/saved-servers.ts';

const check = { url: serverUrl, token: apiToken };
const roundTrip = (saved: SavedServers) => parseSavedServers(JSON.parse(serializeSavedServers(saved)), check);

test('server names: letters, digits, ".", "_", ":" and "-", starting with a letter or digit, at most 63', () => {
  for (const good of ['prod', 'berth.example.com', '127.0.0.1:7070', 'a', 'eu-west_1', 'x'.repeat(63)]) assert.equal(serverName(` ${good} `), good);
  for (const bad of ['', ' ', '-prod', '.x', 'two words', 'a/b', 'x'.repeat(64), 'é', 'a\nb']) {
    assert.throws(() => serverName(bad), (err: Error & { code?: string }) => err.code === 'BERTH_E_USAGE', JSON.stringify(bad));
  }
});

test('a server saved without a name is named after its host and port, made unique with -2, -3', () => {
  assert.equal(defaultServerName('http://127.0.0.1:7070', []), '127.0.0.1:7070');
  assert.equal(defaultServerName('https://berth.example.com', []), 'berth.example.com');
  assert.equal(defaultServerName('https://berth.example.com/api', ['berth.example.com']), 'berth.example.com-2');
  assert.equal(defaultServerName('http://berth.example.com', ['berth.example.com', 'berth.example.com-2']), 'berth.example.com-3');
  assert.equal(defaultServerName('http://[::1]:7070', []), 'server-::1:7070');
  for (const url of ['http://[::1]:7070', 'http://xn--bcher-kva.example', 'https://a.b']) assert.equal(serverName(defaultServerName(url, [])), defaultServerName(url, []));
});

test('login saves one entry per URL and makes it current; logging in again replaces the token and keeps the name', () => {
  const first = saveServer(NO_SERVERS, { server: 'http://127.0.0.1:7070', token: 't1' });
  assert.deepEqual(first.saved, { current: 'http://127.0.0.1:7070', servers: [{ name: '127.0.0.1:7070', server: 'http://127.0.0.1:7070', token: 't1' }] });
  assert.equal(first.replaced, false);
  const second = saveServer(first.saved, { server: 'https://prod.example', token: 't2', name: 'prod' });
  assert.equal(second.saved.current, 'https://prod.example');
  assert.deepEqual(second.saved.servers.map((s) => s.name), ['127.0.0.1:7070', 'prod']);
  const again = saveServer(useServer(second.saved, second.saved.servers[0]!), { server: 'https://prod.example', token: 't3' });
  assert.equal(again.replaced, true);
  assert.deepEqual(again.saved, {
    current: 'https://prod.example',
    servers: [
      { name: '127.0.0.1:7070', server: 'http://127.0.0.1:7070', token: 't1' },
      { name: 'prod', server: 'https://prod.example', token: 't3' },
    ],
  });
  const renamed = saveServer(again.saved, { server: 'https://prod.example', token: 't3', name: 'production' });
  assert.deepEqual(renamed.saved.servers.map((s) => s.name), ['127.0.0.1:7070', 'production']);
  assert.throws(
    () => saveServer(again.saved, { server: 'https://other.example', token: 't4', name: 'prod' }),
    (err: Error & { code?: string }) => err.code === 'BERTH_E_USAGE' && err.message === 'the name "prod" is taken by https://prod.example',
  );
  // The same host over http and https: two servers, two names.
  const both = saveServer(saveServer(NO_SERVERS, { server: 'http://a.example', token: 'x' }).saved, { server: 'https://a.example', token: 'y' }).saved;
  assert.deepEqual(both.servers.map((s) => s.name), ['a.example', 'a.example-2']);
});

test('a server is found by its name or by its URL, normalised', () => {
  const saved = saveServer(saveServer(NO_SERVERS, { server: 'https://prod.example/berth', token: 'p', name: 'prod' }).saved, { server: 'http://127.0.0.1:7070', token: 'l' }).saved;
  assert.equal(findServer(saved, 'prod', serverUrl)?.token, 'p');
  assert.equal(findServer(saved, 'https://PROD.example/berth/', serverUrl)?.token, 'p');
  assert.equal(findServer(saved, '127.0.0.1:7070', serverUrl)?.token, 'l');
  assert.equal(findServer(saved, 'https://prod.example', serverUrl), null);
  assert.equal(findServer(saved, 'staging', serverUrl), null);
});

test('logout: the current server forgotten leaves the only other one current, or none among several', () => {
  const a = { name: 'a', server: 'http://a', token: 'ta' };
  const b = { name: 'b', server: 'http://b', token: 'tb' };
  const c = { name: 'c', server: 'http://c', token: 'tc' };
  assert.deepEqual(removeServer({ current: 'http://a', servers: [a, b] }, a), { current: 'http://b', servers: [b] });
  assert.deepEqual(removeServer({ current: 'http://a', servers: [a, b, c] }, a), { current: null, servers: [b, c] });
  assert.deepEqual(removeServer({ current: 'http://a', servers: [a, b, c] }, c), { current: 'http://a', servers: [a, b] });
  assert.deepEqual(removeServer({ current: 'http://a', servers: [a] }, a), { current: null, servers: [] });
});

test('the file: the old single-server form reads as one current server; the new form round-trips; anything inconsistent is refused', () => {
  assert.deepEqual(parseSavedServers({ server: 'http://127.0.0.1:7070/', token: 'tok' }, check), { current: 'http://127.0.0.1:7070', servers: [{ name: '127.0.0.1:7070', server: 'http://127.0.0.1:7070', token: 'tok' }] });
  const saved: SavedServers = { current: 'http://b', servers: [{ name: 'a', server: 'http://a', token: 'ta' }, { name: 'b', server: 'http://b', token: 'tb' }] };
  assert.deepEqual(roundTrip(saved), saved);
  assert.deepEqual(roundTrip(NO_SERVERS), NO_SERVERS);
  for (const bad of [
    null,
    [],
    'text',
    { server: 'http://a' },
    { version: 1, current: null, servers: [] },
    { version: 2, current: null },
    { version: 2, current: 'http://x', servers: [] },
    { version: 2, current: null, servers: [{ name: 'a', server: 'http://a', token: 't' }, { name: 'b', server: 'http://a/', token: 't' }] },
    { version: 2, current: null, servers: [{ name: 'a', server: 'http://a', token: 'two words' }] },
    { version: 2, current: null, servers: [{ name: 'a', server: 'http://a' }] },
    { version: 2, current: 7, servers: [] },
  ]) {
    assert.equal(parseSavedServers(bad, check), null, JSON.stringify(bad));
  }
});

test('any sequence of logins, uses and logouts keeps one entry per URL and per name, a current one that is saved, and a file that reads back the same', () => {
  const hosts = ['http://a.example', 'https://a.example', 'http://a.example:7070', 'http://b.example/berth', 'http://127.0.0.1:7070'];
  const step = fc.oneof(
    fc.record({ kind: fc.constant('login' as const), host: fc.constantFrom(...hosts), token: fc.constantFrom('t1', 't2'), name: fc.option(fc.constantFrom('prod', 'dev', 'a.example'), { nil: undefined }) }),
    fc.record({ kind: fc.constant('use' as const), index: fc.nat(5) }),
    fc.record({ kind: fc.constant('logout' as const), index: fc.nat(5) }),
  );
  fc.assert(
    fc.property(fc.array(step, { maxLength: 25 }), (steps) => {
      let saved: SavedServers = NO_SERVERS;
      for (const s of steps) {
        if (s.kind === 'login') {
          try {
            saved = saveServer(saved, { server: serverUrl(s.host), token: s.token, ...(s.name === undefined ? {} : { name: s.name }) }).saved;
          } catch (err) {
            assert.match((err as Error).message, /is taken by/);
          }
        } else {
          const entry = saved.servers[s.index % Math.max(1, saved.servers.length)];
          if (entry !== undefined) saved = s.kind === 'use' ? useServer(saved, entry) : removeServer(saved, entry);
        }
        assert.equal(new Set(saved.servers.map((e) => e.server)).size, saved.servers.length);
        assert.equal(new Set(saved.servers.map((e) => e.name)).size, saved.servers.length);
        assert.ok(saved.current === null || saved.servers.some((e) => e.server === saved.current));
        assert.deepEqual(roundTrip(saved), saved);
      }
    }),
    { numRuns: 300 },
  );
});
