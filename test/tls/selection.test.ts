import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  acmeName,
  certificateSource,
  challengeResponse,
  ChallengeStore,
  isChallengePath,
  isLocalName,
  localName,
  selectCertificate,
  acmeSettings,
} from '../../src/tls/index.ts';

const exact = new Map([
  ['shop.example.com', 'shop-cert'],
  ['api.localhost', 'api-local-override'],
]);

test('selectCertificate: exact name, then the local CA for local names, else null', () => {
  const available = { exact, localCa: true };
  const rows: Array<[string | null | undefined, ReturnType<typeof selectCertificate<string>>]> = [
    ['shop.example.com', { source: 'exact', name: 'shop.example.com', certificate: 'shop-cert' }],
    ['SHOP.Example.COM', { source: 'exact', name: 'shop.example.com', certificate: 'shop-cert' }],
    ['shop.example.com.', { source: 'exact', name: 'shop.example.com', certificate: 'shop-cert' }],
    // An exact certificate wins even for a local name.
    ['api.localhost', { source: 'exact', name: 'api.localhost', certificate: 'api-local-override' }],
    ['shop.localhost', { source: 'local-ca', name: 'shop.localhost' }],
    ['Blog.LocalHost.', { source: 'local-ca', name: 'blog.localhost' }],
    ['localhost', { source: 'local-ca', name: 'localhost' }],
    ['127.0.0.1', { source: 'local-ca', name: '127.0.0.1' }],
    ['10.1.2.3', { source: 'local-ca', name: '10.1.2.3' }],
    ['::1', { source: 'local-ca', name: '::1' }],
    ['[0:0:0:0:0:0:0:1]', { source: 'local-ca', name: '::1' }],
    ['2001:DB8::1', { source: 'local-ca', name: '2001:db8::1' }],
    // No wildcard matching, no parent-domain fallback.
    ['www.shop.example.com', null],
    ['example.com', null],
    ['other.example.org', null],
    // Names nothing can be issued for.
    ['a..localhost', null],
    ['-x.localhost', null],
    ['localhost.example.com', null],
    ['', null],
    [null, null],
    [undefined, null],
    ['x'.repeat(300), null],
  ];
  for (const [name, expected] of rows) assert.deepEqual(selectCertificate(name, available), expected, String(name));
});

test('selectCertificate without the local CA: exact names only', () => {
  const available = { exact, localCa: false };
  assert.equal(selectCertificate('shop.localhost', available), null);
  assert.equal(selectCertificate('127.0.0.1', available), null);
  assert.deepEqual(selectCertificate('api.localhost', available), { source: 'exact', name: 'api.localhost', certificate: 'api-local-override' });
});

test('certificateSource: local names go to the local CA, the rest to ACME', () => {
  for (const name of ['localhost', 'shop.localhost', 'a.b.localhost', 'SHOP.LOCALHOST', '127.0.0.1', '::1', '192.168.1.10']) {
    assert.equal(certificateSource(name), 'local-ca', name);
    assert.equal(isLocalName(name), true, name);
  }
  for (const name of ['shop.example.com', 'localhost.com', 'mylocalhost', 'shop.localhost.example']) {
    assert.equal(certificateSource(name), 'acme', name);
  }
});

test('localName canonicalizes and refuses; acmeName refuses local names', () => {
  assert.equal(localName('Shop.Localhost'), 'shop.localhost');
  assert.equal(localName('0:0:0:0:0:0:0:1'), '::1');
  assert.equal(localName('127.0.0.1'), '127.0.0.1');
  for (const bad of ['shop.example.com', 'localhost.', '', 'a b.localhost', '*.localhost', 42, null, '1.2.3.4.5']) {
    assert.throws(() => localName(bad), { code: 'BERTH_E_NAME' }, String(bad));
  }
  assert.equal(acmeName('Shop.Example.COM'), 'shop.example.com');
  for (const bad of ['shop.localhost', 'localhost', '127.0.0.1', '*.example.com', 'example.com.', 'a..b', '']) {
    assert.throws(() => acmeName(bad), { code: 'BERTH_E_NAME' }, bad);
  }
});

test('challengeResponse answers pending tokens at /.well-known/acme-challenge/TOKEN only', () => {
  const tokens = new Map([['tok_EN-1', 'tok_EN-1.thumb']]);
  assert.equal(challengeResponse('/.well-known/acme-challenge/tok_EN-1', tokens), 'tok_EN-1.thumb');
  assert.equal(challengeResponse('/.well-known/acme-challenge/tok_EN-1?x=1', tokens), 'tok_EN-1.thumb');
  for (const path of [
    '/.well-known/acme-challenge/other',
    '/.well-known/acme-challenge/',
    '/.well-known/acme-challenge/tok_EN-1/',
    '/.well-known/acme-challenge/../acme-challenge/tok_EN-1',
    '/.well-known/acme-challenge/tok%5FEN-1',
    '/.WELL-KNOWN/acme-challenge/tok_EN-1',
    '/x/.well-known/acme-challenge/tok_EN-1',
    '/',
    '',
  ]) {
    assert.equal(challengeResponse(path, tokens), null, path);
  }
  assert.equal(isChallengePath('/.well-known/acme-challenge/anything'), true);
  assert.equal(isChallengePath('/.well-known/other'), false);
});

test('ChallengeStore: set, respond, remove, and a copy for other threads on every change', () => {
  const seen: Array<ReadonlyMap<string, string>> = [];
  const store = new ChallengeStore({ onChange: (tokens) => seen.push(tokens) });
  store.set('abc', 'abc.xyz');
  assert.equal(store.respond('/.well-known/acme-challenge/abc'), 'abc.xyz');
  assert.equal(challengeResponse('/.well-known/acme-challenge/abc', seen[0]!), 'abc.xyz');
  store.remove('abc');
  store.remove('abc'); // twice: no second change
  assert.equal(store.respond('/.well-known/acme-challenge/abc'), null);
  assert.equal(seen.length, 2);
  assert.equal(seen[1]!.size, 0);
  // The copies handed out do not change afterwards.
  assert.equal(seen[0]!.get('abc'), 'abc.xyz');
  // Shapes the CA never sends are refused.
  assert.throws(() => store.set('a/b', 'a/b.x'), TypeError);
  assert.throws(() => store.set('abc', 'other.xyz'), TypeError);
  assert.throws(() => store.set('abc', 'abc.x\ny'), TypeError);
});

test('acmeSettings: https directory, a bundle with certificates, a plain email', () => {
  assert.deepEqual(acmeSettings({ directoryUrl: 'https://ca.example.com/dir' }), { directoryUrl: 'https://ca.example.com/dir' });
  assert.equal(acmeSettings({ directoryUrl: 'https://ca.example.com/dir', email: 'ops@example.com' }).email, 'ops@example.com');
  for (const directoryUrl of ['http://ca.example.com/dir', 'ca.example.com/dir', '', 'ftp://x/']) {
    assert.throws(() => acmeSettings({ directoryUrl }), { code: 'BERTH_E_ACME_CONFIG' }, directoryUrl);
  }
  assert.throws(() => acmeSettings({ directoryUrl: 'https://ca/dir', caBundle: 'not pem' }), { code: 'BERTH_E_ACME_CONFIG' });
  assert.throws(
    () => acmeSettings({ directoryUrl: 'https://ca/dir', caBundle: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }),
    { code: 'BERTH_E_ACME_CONFIG' },
  );
  for (const email of ['ops', 'ops@', '@example.com', 'a b@example.com', 'ops@example.com,evil@x.com', 'ops@localhost', `${'a'.repeat(250)}@example.com`]) {
    assert.throws(() => acmeSettings({ directoryUrl: 'https://ca/dir', email }), { code: 'BERTH_E_ACME_CONFIG' }, email);
  }
});
