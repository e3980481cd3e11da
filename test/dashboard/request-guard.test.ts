import { test } from 'node:test';
import assert from 'node:assert/strict';
import { foreignOrigin, refuseMutation, sameSecret, type GuardedRequest } from '../../src/dashboard/index.ts';

const CSRF = 'the-session-csrf-token';
const own: GuardedRequest = { method: 'POST', host: '127.0.0.1:7071', scheme: 'http', origin: 'http://127.0.0.1:7071', secFetchSite: 'same-origin', csrfHeader: CSRF };

test('a mutation from the dashboard’s own page, with the session’s token, goes ahead', () => {
  assert.equal(refuseMutation(own, CSRF), null);
  // A client that says nothing about where it comes from (curl) is judged by the token alone.
  assert.equal(refuseMutation({ ...own, origin: undefined, secFetchSite: undefined }, CSRF), null);
});

test('reads need no token', () => {
  for (const method of ['GET', 'HEAD']) assert.equal(refuseMutation({ ...own, method, csrfHeader: undefined, secFetchSite: 'cross-site' }, CSRF), null);
});

test('mutations are refused without the token, with another one, or from another site', () => {
  const cases: Array<[string, Partial<GuardedRequest>, RegExp]> = [
    ['no token', { csrfHeader: undefined }, /missing/],
    ['empty token', { csrfHeader: '' }, /missing/],
    ['another token', { csrfHeader: 'the-session-csrf-tokeN' }, /does not match/],
    ['a shorter token', { csrfHeader: 'the' }, /does not match/],
    ['cross-site fetch', { secFetchSite: 'cross-site' }, /another site/],
    ['same-site, other origin', { secFetchSite: 'same-site' }, /another site/],
    ['foreign origin', { origin: 'https://evil.example' }, /another origin/],
    ['origin null (a sandboxed frame)', { origin: 'null' }, /another origin/],
    ['https origin for an http page', { origin: 'https://127.0.0.1:7071' }, /another origin/],
    ['no Host header', { host: undefined }, /another origin/],
  ];
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
    for (const [what, change, reason] of cases) assert.match(refuseMutation({ ...own, method, ...change }, CSRF) ?? '', reason, `${method}: ${what}`);
  }
});

test('the login form is judged by its origin alone', () => {
  assert.equal(foreignOrigin(own), null);
  assert.equal(foreignOrigin({ ...own, scheme: 'https', origin: 'https://127.0.0.1:7071' }), null);
  assert.match(foreignOrigin({ ...own, origin: 'http://localhost:7071' }) ?? '', /another origin/);
});

test('sameSecret compares whole strings', () => {
  assert.equal(sameSecret('abc', 'abc'), true);
  assert.equal(sameSecret('abc', 'abd'), false);
  assert.equal(sameSecret('abc', 'abcd'), false);
  assert.equal(sameSecret('', ''), true);
});
