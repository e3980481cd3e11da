import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatHttpDate, parseHttpDate } from '../../../src/edge/static/http-date.ts';

const NOV_6_1994 = Date.UTC(1994, 10, 6, 8, 49, 37) / 1000;

const CASES: Array<[string, number | null]> = [
  ['Sun, 06 Nov 1994 08:49:37 GMT', NOV_6_1994], // IMF-fixdate
  ['Sunday, 06-Nov-94 08:49:37 GMT', NOV_6_1994], // rfc850
  ['Sun Nov  6 08:49:37 1994', NOV_6_1994], // asctime
  ['Sun Nov 16 08:49:37 1994', NOV_6_1994 + 10 * 86400],
  ['Thu, 01 Jan 1970 00:00:00 GMT', 0],
  ['Tue, 29 Feb 2000 12:00:00 GMT', Date.UTC(2000, 1, 29, 12) / 1000],
  ['Fri, 31 Dec 9999 23:59:59 GMT', Date.UTC(9999, 11, 31, 23, 59, 59) / 1000],
  // not HTTP-dates
  ['', null],
  ['garbage', null],
  ['1994-11-06T08:49:37Z', null],
  ['Sun, 06 Nov 1994 08:49:37 UTC', null],
  ['Sun, 06 Nov 1994 08:49:37 +0000', null],
  ['sun, 06 nov 1994 08:49:37 gmt', null],
  ['Sun, 6 Nov 1994 08:49:37 GMT', null],
  ['Sun, 06 Nov 94 08:49:37 GMT', null],
  ['Sun, 06 Foo 1994 08:49:37 GMT', null],
  ['Sun, 30 Feb 1994 08:49:37 GMT', null],
  ['Sun, 00 Nov 1994 08:49:37 GMT', null],
  ['Sun, 06 Nov 1994 24:00:00 GMT', null],
  ['Sun, 06 Nov 1994 08:60:00 GMT', null],
  ['Sun, 06 Nov 1994 08:49:61 GMT', null],
  [' Sun, 06 Nov 1994 08:49:37 GMT', null],
  ['Sun, 06 Nov 1994 08:49:37 GMT; length=12', null],
  ['1234567890', null],
];

for (const [value, expected] of CASES) {
  test(`parseHttpDate(${JSON.stringify(value)}) is ${expected}`, () => {
    assert.equal(parseHttpDate(value, 2025), expected);
  });
}

test('rfc850 two-digit years more than 50 years ahead mean the past century', () => {
  assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', 2025), NOV_6_1994);
  assert.equal(parseHttpDate('Monday, 06-Nov-34 08:49:37 GMT', 2025), Date.UTC(2034, 10, 6, 8, 49, 37) / 1000);
  assert.equal(parseHttpDate('Monday, 06-Nov-76 08:49:37 GMT', 2025), Date.UTC(1976, 10, 6, 8, 49, 37) / 1000);
  assert.equal(parseHttpDate('Monday, 06-Nov-76 08:49:37 GMT', 2030), Date.UTC(2076, 10, 6, 8, 49, 37) / 1000);
});

test('formatHttpDate writes IMF-fixdate that parseHttpDate reads back', () => {
  assert.equal(formatHttpDate(NOV_6_1994 * 1000), 'Sun, 06 Nov 1994 08:49:37 GMT');
  for (const ms of [0, 1e12, 1.7e12, 4102444800000]) {
    assert.equal(parseHttpDate(formatHttpDate(ms)), Math.floor(ms / 1000));
  }
});
