import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { generateToken, hashToken, looksLikeToken, tokensMatch } from '../../src/platform/index.ts';

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
