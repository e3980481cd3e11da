import { test } from 'node:test';
import assert from 'node:assert/strict';
import { opensslArgs } from './tls-cert.ts';

test('one self-signed P-256 certificate for 127.0.0.1 and localhost, key unencrypted', () => {
  const args = opensslArgs('/tmp/x/cert.pem', '/tmp/x/key.pem');
  const after = (flag: string) => args[args.indexOf(flag) + 1];
  assert.deepEqual(args.slice(0, 2), ['req', '-x509']);
  assert.equal(after('-newkey'), 'ec');
  assert.equal(after('-pkeyopt'), 'ec_paramgen_curve:P-256');
  assert.ok(args.includes('-nodes'));
  assert.equal(after('-keyout'), '/tmp/x/key.pem');
  assert.equal(after('-out'), '/tmp/x/cert.pem');
  assert.equal(after('-subj'), '/CN=127.0.0.1');
  assert.equal(after('-addext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost');
});
