import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contentRange, ifRangeAllows, parseRange, unsatisfiedRange, type RangeDecision } from '../../../src/edge/static/range.ts';

const ignore: RangeDecision = { kind: 'ignore' };
const unsatisfiable: RangeDecision = { kind: 'unsatisfiable' };
const partial = (start: number, end: number): RangeDecision => ({ kind: 'partial', start, end });

const CASES: Array<[string | undefined, number, RangeDecision]> = [
  [undefined, 100, ignore],
  // int-range
  ['bytes=0-0', 100, partial(0, 0)],
  ['bytes=0-99', 100, partial(0, 99)],
  ['bytes=0-', 100, partial(0, 99)],
  ['bytes=10-19', 100, partial(10, 19)],
  ['bytes=99-99', 100, partial(99, 99)],
  ['bytes=99-', 100, partial(99, 99)],
  ['bytes=50-1000', 100, partial(50, 99)], // last-pos past the end is clamped
  ['bytes=0-999999999999999999999', 100, partial(0, 99)],
  ['bytes=100-', 100, unsatisfiable],
  ['bytes=100-200', 100, unsatisfiable],
  ['bytes=1000-2000', 100, unsatisfiable],
  ['bytes=999999999999999999999-', 100, unsatisfiable],
  ['bytes=0-0', 1, partial(0, 0)],
  ['bytes=1-', 1, unsatisfiable],
  // suffix-range
  ['bytes=-1', 100, partial(99, 99)],
  ['bytes=-10', 100, partial(90, 99)],
  ['bytes=-100', 100, partial(0, 99)],
  ['bytes=-500', 100, partial(0, 99)], // longer than the file: the whole file
  ['bytes=-999999999999999999999', 100, partial(0, 99)],
  ['bytes=-0', 100, unsatisfiable],
  // empty files
  ['bytes=0-0', 0, unsatisfiable],
  ['bytes=0-', 0, unsatisfiable],
  ['bytes=-1', 0, ignore], // satisfiable in theory, but there are no bytes: 200
  ['bytes=-0', 0, unsatisfiable],
  // syntax variants that are fine
  ['Bytes=0-9', 100, partial(0, 9)],
  ['BYTES=0-9', 100, partial(0, 9)],
  ['bytes= 0-9', 100, partial(0, 9)],
  ['bytes=0-9 ', 100, partial(0, 9)],
  ['bytes=0-9,', 100, partial(0, 9)],
  ['bytes=, 0-9', 100, partial(0, 9)],
  // several ranges: the whole file
  ['bytes=0-9,20-29', 100, ignore],
  ['bytes=0-9, 20-29', 100, ignore],
  ['bytes=0-0,-1', 100, ignore],
  ['bytes=200-300,400-500', 100, ignore],
  // malformed: ignored
  ['bytes=', 100, ignore],
  ['bytes=-', 100, ignore],
  ['bytes=,', 100, ignore],
  ['bytes=a-b', 100, ignore],
  ['bytes=1-a', 100, ignore],
  ['bytes=9-0', 100, ignore], // last < first is invalid, not unsatisfiable
  ['bytes=0x10-20', 100, ignore],
  ['bytes=+1-2', 100, ignore],
  ['bytes=-+1', 100, ignore],
  ['bytes=1.5-2', 100, ignore],
  ['bytes=0 - 9', 100, ignore],
  ['bytes=--1', 100, ignore],
  ['bytes=1-2-3', 100, ignore],
  ['bytes 0-9', 100, ignore],
  ['bytes:0-9', 100, ignore],
  ['items=0-9', 100, ignore],
  ['0-9', 100, ignore],
  ['', 100, ignore],
  ['bytes=\u0661-\u0662', 100, ignore], // Arabic-Indic digits are not DIGIT
];

for (const [header, size, expected] of CASES) {
  test(`parseRange(${JSON.stringify(header)}, size ${size})`, () => {
    assert.deepEqual(parseRange(header, size), expected);
  });
}

const ETAG = '"64-18d0c5b1e00"';
const LM = Date.UTC(2024, 0, 15, 12, 0, 0) / 1000;

const IF_RANGE: Array<[string | undefined, boolean]> = [
  [undefined, true],
  [ETAG, true],
  [` ${ETAG} `, true],
  ['W/' + ETAG, false], // If-Range needs a strong match
  ['"other"', false],
  [ETAG + ', "other"', false], // a single tag, not a list
  ['Mon, 15 Jan 2024 12:00:00 GMT', true],
  ['Mon, 15 Jan 2024 12:00:01 GMT', false], // must be exact, not "not newer"
  ['Mon, 15 Jan 2024 11:59:59 GMT', false],
  ['garbage', false],
  ['', false],
];

for (const [value, expected] of IF_RANGE) {
  test(`ifRangeAllows(${JSON.stringify(value)}) is ${expected}`, () => {
    assert.equal(ifRangeAllows(value, ETAG, LM), expected);
  });
}

test('Content-Range values', () => {
  assert.equal(contentRange(0, 0, 1), 'bytes 0-0/1');
  assert.equal(contentRange(10, 19, 100), 'bytes 10-19/100');
  assert.equal(unsatisfiedRange(100), 'bytes */100');
  assert.equal(unsatisfiedRange(0), 'bytes */0');
});
