import { test } from 'node:test';
import assert from 'node:assert/strict';
import { negotiateEncoding, type Encoding } from '../../../src/edge/static/negotiate-encoding.ts';

const CASES: Array<[string | undefined, Encoding]> = [
  [undefined, 'identity'],
  ['', 'identity'],
  ['br', 'br'],
  ['gzip', 'gzip'],
  ['identity', 'identity'],
  ['gzip, deflate, br', 'br'], // equal q: br wins
  ['gzip, deflate, br, zstd', 'br'],
  ['br, gzip', 'br'],
  ['gzip, br', 'br'],
  ['deflate', 'identity'],
  ['zstd', 'identity'],
  ['x-gzip', 'gzip'],
  ['GZIP', 'gzip'],
  ['Br', 'br'],
  [' gzip ,  br ', 'br'],
  // q-values
  ['gzip;q=1.0, br;q=0.5', 'gzip'],
  ['gzip;q=0.5, br;q=0.8', 'br'],
  ['gzip;q=0.8, br;q=0.8', 'br'],
  ['br;q=0, gzip', 'gzip'],
  ['br;q=0, gzip;q=0', 'identity'],
  ['br;q=0.001', 'br'],
  ['br; q=0.5', 'br'],
  ['br;Q=0.5, gzip;q=0.4', 'br'],
  ['br ; q=0.5 , gzip ; q=0.6', 'gzip'],
  ['gzip;q=0.5', 'gzip'], // an unlisted identity ranks below listed codings
  // identity
  ['gzip;q=0.5, identity', 'identity'], // explicitly preferred
  ['gzip;q=0.5, identity;q=0.5', 'gzip'], // ties go to compression
  ['identity;q=0, gzip', 'gzip'],
  ['identity;q=0', 'identity'], // nothing acceptable: identity anyway, no 406
  ['identity;q=0, br;q=0, gzip;q=0', 'identity'],
  // '*'
  ['*', 'br'],
  ['*;q=0.5', 'br'],
  ['*;q=0', 'identity'],
  ['*, br;q=0', 'gzip'],
  ['*;q=0.2, gzip;q=0.5', 'gzip'],
  ['*;q=0.9, br;q=0.5', 'gzip'], // gzip is covered by '*' at 0.9
  ['gzip;q=0, *', 'br'],
  ['*;q=0, identity', 'identity'],
  ['*;q=0, br', 'br'],
  // malformed members are skipped, the rest still counts
  ['br;q=2, gzip', 'gzip'],
  ['br;q=1.5, gzip', 'gzip'],
  ['br;q=0.5000, gzip;q=0.1', 'gzip'], // four decimals: malformed
  ['br;q=abc, gzip', 'gzip'],
  ['br;q=, gzip', 'gzip'],
  ['br;q=-1, gzip', 'gzip'],
  ['br;garbage, gzip;q=0.5', 'gzip'],
  ['br;level=1, gzip;q=0.5', 'br'], // unknown parameters are fine
  [',,,', 'identity'],
  [';q=1', 'identity'],
  ['br;q=1.000', 'br'],
  ['br;q=0., gzip;q=0.1', 'gzip'], // '0.' is a valid qvalue
  // duplicates: the first one counts
  ['br;q=0, br', 'identity'],
  ['gzip, gzip;q=0', 'gzip'],
];

for (const [header, expected] of CASES) {
  test(`negotiateEncoding(${JSON.stringify(header)}) is ${expected}`, () => {
    assert.equal(negotiateEncoding(header), expected);
  });
}
