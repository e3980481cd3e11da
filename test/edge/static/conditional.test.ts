import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  etagListMatches,
  evaluatePreconditions,
  makeEtag,
  type PreconditionHeaders,
  type PreconditionOutcome,
} from '../../../src/edge/static/conditional.ts';

test('makeEtag is strong, hex size and mtime, with an optional coding suffix', () => {
  assert.equal(makeEtag(255, 4096), '"ff-1000"');
  assert.equal(makeEtag(0, 0), '"0-0"');
  assert.equal(makeEtag(255, 4096.75), '"ff-1000"');
  assert.equal(makeEtag(255, 4096, 'br'), '"ff-1000-br"');
  assert.equal(makeEtag(255, 4096, 'gzip'), '"ff-1000-gzip"');
  assert.notEqual(makeEtag(1, 2), makeEtag(2, 1));
  assert.notEqual(makeEtag(10, 2), makeEtag(1, 2));
});

const TAG = '"ff-1000"';
const MATCHES: Array<[string, boolean /* strong */, boolean]> = [
  ['"ff-1000"', true, true],
  ['"ff-1000"', false, true],
  ['W/"ff-1000"', false, true],
  ['W/"ff-1000"', true, false], // weak tags never match strongly
  ['*', true, true],
  ['*', false, true],
  [' * ', false, true],
  ['"other", "ff-1000"', false, true],
  ['"other","ff-1000"', true, true],
  ['"other" , W/"ff-1000" ', false, true],
  [', , "ff-1000"', false, true], // empty list members are allowed
  ['"other"', false, false],
  ['"ff-100"', false, false],
  ['"ff-10000"', false, false],
  ['ff-1000', false, false], // unquoted: malformed
  ['"ff-1000', false, false],
  ['w/"ff-1000"', false, false], // W is case-sensitive
  ['W"ff-1000"', false, false],
  ['"a" "ff-1000"', false, false], // missing comma: malformed, stop
  ['"ff-1000"x', false, false],
  ['', false, false],
  ['"ff-1000-br"', false, false],
  ['"a", *', false, false], // '*' is only meaningful alone
];

for (const [header, strong, expected] of MATCHES) {
  test(`etagListMatches(${JSON.stringify(header)}, ${strong ? 'strong' : 'weak'}) is ${expected}`, () => {
    assert.equal(etagListMatches(header, TAG, strong), expected);
  });
}

const LM = Date.UTC(2024, 0, 15, 12, 0, 0) / 1000;
const AT = 'Mon, 15 Jan 2024 12:00:00 GMT';
const BEFORE = 'Mon, 15 Jan 2024 11:59:59 GMT';
const AFTER = 'Mon, 15 Jan 2024 12:00:01 GMT';
const V = { etag: TAG, lastModifiedSec: LM };

const PRECONDITIONS: Array<[string, string, PreconditionHeaders, PreconditionOutcome]> = [
  ['no conditions', 'GET', {}, 'proceed'],
  // If-None-Match
  ['If-None-Match matching', 'GET', { 'if-none-match': TAG }, 'not-modified'],
  ['If-None-Match matching on HEAD', 'HEAD', { 'if-none-match': TAG }, 'not-modified'],
  ['If-None-Match weak matches (weak comparison)', 'GET', { 'if-none-match': 'W/' + TAG }, 'not-modified'],
  ['If-None-Match list', 'GET', { 'if-none-match': '"a", "b", ' + TAG }, 'not-modified'],
  ['If-None-Match *', 'GET', { 'if-none-match': '*' }, 'not-modified'],
  ['If-None-Match other', 'GET', { 'if-none-match': '"other"' }, 'proceed'],
  ['If-None-Match on a non-read method fails', 'POST', { 'if-none-match': TAG }, 'precondition-failed'],
  // If-Modified-Since
  ['If-Modified-Since equal', 'GET', { 'if-modified-since': AT }, 'not-modified'],
  ['If-Modified-Since later', 'GET', { 'if-modified-since': AFTER }, 'not-modified'],
  ['If-Modified-Since earlier', 'GET', { 'if-modified-since': BEFORE }, 'proceed'],
  ['If-Modified-Since invalid is ignored', 'GET', { 'if-modified-since': 'yesterday' }, 'proceed'],
  ['If-Modified-Since with surrounding spaces', 'GET', { 'if-modified-since': ` ${AT} ` }, 'not-modified'],
  ['If-Modified-Since ignored on POST', 'POST', { 'if-modified-since': AT }, 'proceed'],
  // precedence: If-None-Match wins over If-Modified-Since
  ['INM mismatch beats IMS match', 'GET', { 'if-none-match': '"other"', 'if-modified-since': AFTER }, 'proceed'],
  ['INM match beats IMS mismatch', 'GET', { 'if-none-match': TAG, 'if-modified-since': BEFORE }, 'not-modified'],
  // If-Match
  ['If-Match matching', 'GET', { 'if-match': TAG }, 'proceed'],
  ['If-Match *', 'GET', { 'if-match': '*' }, 'proceed'],
  ['If-Match list', 'GET', { 'if-match': '"a", ' + TAG }, 'proceed'],
  ['If-Match other', 'GET', { 'if-match': '"other"' }, 'precondition-failed'],
  ['If-Match weak never matches', 'GET', { 'if-match': 'W/' + TAG }, 'precondition-failed'],
  ['If-Match malformed', 'GET', { 'if-match': 'garbage' }, 'precondition-failed'],
  // If-Unmodified-Since
  ['If-Unmodified-Since equal', 'GET', { 'if-unmodified-since': AT }, 'proceed'],
  ['If-Unmodified-Since later', 'GET', { 'if-unmodified-since': AFTER }, 'proceed'],
  ['If-Unmodified-Since earlier', 'GET', { 'if-unmodified-since': BEFORE }, 'precondition-failed'],
  ['If-Unmodified-Since invalid is ignored', 'GET', { 'if-unmodified-since': 'garbage' }, 'proceed'],
  // precedence: If-Match wins over If-Unmodified-Since
  ['If-Match match beats IUS mismatch', 'GET', { 'if-match': TAG, 'if-unmodified-since': BEFORE }, 'proceed'],
  ['If-Match mismatch beats IUS match', 'GET', { 'if-match': '"x"', 'if-unmodified-since': AFTER }, 'precondition-failed'],
  // step 1/2 before step 3/4
  ['If-Match failure beats If-None-Match match', 'GET', { 'if-match': '"x"', 'if-none-match': TAG }, 'precondition-failed'],
  ['IUS failure beats IMS', 'GET', { 'if-unmodified-since': BEFORE, 'if-modified-since': AT }, 'precondition-failed'],
  ['If-Match pass then If-None-Match match', 'GET', { 'if-match': TAG, 'if-none-match': TAG }, 'not-modified'],
  ['all four, all passing to 304', 'GET', { 'if-match': TAG, 'if-unmodified-since': AT, 'if-none-match': TAG, 'if-modified-since': BEFORE }, 'not-modified'],
];

for (const [name, method, headers, expected] of PRECONDITIONS) {
  test(`preconditions: ${name} → ${expected}`, () => {
    assert.equal(evaluatePreconditions(method, headers, V), expected);
  });
}
