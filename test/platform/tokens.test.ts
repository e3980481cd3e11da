import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { generateToken, hashToken, isAdminToken, looksLikeToken, nextAdminTokenName, revocationLocksOut, tokensMatch } from '../../src/platform/index.ts';

test('a token is "berth_" and 43 base64url characters of 32 random bytes, with its sha256', () => {
  const { token, hash } = generateToken();
  assert.match(token, /^berth_[A-Za-z0-9_-]{43}$/);
  assert.equal(Buffer.from(token.slice('berth_'.length), 'base64url').length, 32);
  assert.match(hash, /^[0-9a-f]{64}$/);
  assert.equal(hash, createHash('sha256').update(token).digest('hex'));
  assert.ok(looksLikeToken(token));
});

test('the randomness is injected, so the format is checked on known bytes', () => {
  const { token, hash } = generateToken((size) => Buffer.alloc(size, 0xff));
  // 256 one-bits: 42 sextets of 63 ('_') and 4 bits padded with zeros, 0b111100 = 60 ('8').
  assert.equal(token, `berth_${'_'.repeat(42)}8`);
  assert.equal(hash, hashToken(token));
});

test('tokens do not repeat', () => {
  const seen = new Set(Array.from({ length: 1000 }, () => generateToken().token));
  assert.equal(seen.size, 1000);
});

test('hashToken is deterministic and differs for any change', () => {
  const { token } = generateToken();
  assert.equal(hashToken(token), hashToken(token));
  assert.notEqual(hashToken(token), hashToken(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`));
});

test('tokensMatch: equal hashes match, others do not, different lengths are false rather than a throw', () => {
  const a = generateToken().hash;
  const b = generateToken().hash;
  assert.equal(tokensMatch(a, a), true);
  assert.equal(tokensMatch(a, `${a}`), true);
  assert.equal(tokensMatch(a, b), false);
  assert.equal(tokensMatch(a, a.slice(0, -1)), false);
  assert.equal(tokensMatch(a, `${a}0`), false);
  assert.equal(tokensMatch('', a), false);
  assert.equal(tokensMatch('', ''), true);
  // Same length in characters, different in bytes.
  assert.equal(tokensMatch('é', 'ab'), false);
});

test('looksLikeToken refuses anything else before a lookup', () => {
  const { token } = generateToken();
  for (const value of ['', 'berth_', token.slice(0, -1), `${token}x`, token.replace('berth_', 'Berth_'), `Bearer ${token}`, token.replace(/.$/, '=')]) {
    assert.equal(looksLikeToken(value), false, value);
  }
});

test('isAdminToken: every active token is an admin until tokens get roles; a revoked one is not', () => {
  assert.equal(isAdminToken({ name: 'ci', revokedAt: null }), true);
  assert.equal(isAdminToken({ name: 'ci', revokedAt: '2025-01-01T00:00:00.000Z' }), false);
});

test('revocationLocksOut: refused only for the last active admin token, whatever came before', () => {
  const at = '2025-01-01T00:00:00.000Z';
  const t = (name: string, revoked = false) => ({ name, revokedAt: revoked ? at : null });
  const cases: Array<[string, ReturnType<typeof t>[], string, boolean]> = [
    ['the only token', [t('admin')], 'admin', true],
    ['one of two', [t('admin'), t('ci')], 'admin', false],
    ['one of two, itself', [t('admin'), t('ci')], 'ci', false],
    ['the last active after the admin was revoked', [t('admin', true), t('ci')], 'ci', true],
    ['the admin while only revoked ones remain', [t('admin'), t('ci', true), t('old', true)], 'admin', true],
    ['an already revoked token (a no-op)', [t('admin'), t('ci', true)], 'ci', false],
    ['an already revoked token with nothing active', [t('admin', true)], 'admin', false],
    ['an unknown name (not found is decided elsewhere)', [t('admin')], 'nobody', false],
    ['no tokens at all', [], 'admin', false],
    ['one of three', [t('a'), t('b'), t('c')], 'b', false],
  ];
  for (const [what, tokens, name, expected] of cases) assert.equal(revocationLocksOut(tokens, name), expected, what);
});

test('nextAdminTokenName: "admin" while free, then the first free admin-N', () => {
  assert.equal(nextAdminTokenName([]), 'admin');
  assert.equal(nextAdminTokenName(['ci']), 'admin');
  assert.equal(nextAdminTokenName(['admin']), 'admin-2');
  assert.equal(nextAdminTokenName(['admin', 'admin-2', 'admin-3']), 'admin-4');
  assert.equal(nextAdminTokenName(['admin', 'admin-3']), 'admin-2');
  assert.equal(nextAdminTokenName(['admin', 'admin-2', 'admin-x']), 'admin-3');
});
