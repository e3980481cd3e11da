import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAuthorization } from '../../src/api/authorization.ts';

const basic = (userPass: string) => `Basic ${Buffer.from(userPass).toString('base64')}`;

test('the scheme is case-insensitive (RFC 9110 §11.1): Bearer, bearer, BEARER, bEaReR', () => {
  for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) assert.deepEqual(parseAuthorization(`${scheme} berth_abc`), { kind: 'bearer', token: 'berth_abc' });
  for (const scheme of ['Basic', 'basic', 'BASIC']) assert.deepEqual(parseAuthorization(`${scheme} ${Buffer.from('git:berth_abc').toString('base64')}`), { kind: 'basic', password: 'berth_abc' });
});

test('spaces around and between are tolerated; the credential is taken whole', () => {
  assert.deepEqual(parseAuthorization('Bearer   berth_abc  '), { kind: 'bearer', token: 'berth_abc' });
  assert.deepEqual(parseAuthorization('  Bearer berth_abc'), { kind: 'bearer', token: 'berth_abc' });
  assert.deepEqual(parseAuthorization(basic('user:pa:ss')), { kind: 'basic', password: 'pa:ss' });
  assert.deepEqual(parseAuthorization(basic(':only-password')), { kind: 'basic', password: 'only-password' });
});

test('anything else presents no credential', () => {
  for (const header of [undefined, '', 'Bearer', 'Bearer ', 'Bearer    ', 'Bearerberth_abc', 'Token berth_abc', 'Digest username="x"', 'Bear er x', '"Bearer" x', 'Bearer\tx', basic('no-colon'), basic('user:'), 'Basic', 'Basic  ']) {
    assert.deepEqual(parseAuthorization(header), { kind: 'none' }, JSON.stringify(header));
  }
});
