import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCa, localCaRootPem, DEFAULT_RENEWAL_POLICY, renewalTime } from '../../src/tls/index.ts';
import { handshake } from './handshake.ts';

const DAY = 86_400_000;

function tempState(t: import('node:test').TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-localca-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a leaf for shop.localhost verifies against the local root in a real TLS handshake', async (t) => {
  const stateDir = tempState(t);
  const ca = await LocalCa.open({ stateDir, machineName: 'devbox' });
  const pair = await ca.certificateFor('shop.localhost');
  const peer = await handshake(pair, ca.rootPem, 'shop.localhost', 'shop.localhost');
  assert.equal(peer.subject.CN, 'shop.localhost');
  assert.equal(peer.subjectaltname, 'DNS:shop.localhost');
  // The root: "berth local CA (HOST)", a CA, ten years, P-256.
  const root = new X509Certificate(ca.rootPem);
  assert.match(root.subject, /CN=berth local CA \(devbox\)/);
  assert.equal(root.ca, true);
  assert.equal(root.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const rootYears = (root.validToDate.getTime() - root.validFromDate.getTime()) / (365 * DAY);
  assert.ok(rootYears > 9.9 && rootYears < 10.1, `root valid ${rootYears} years`);
  // The leaf: 90 days, P-256, server auth only, not a CA.
  const leaf = new X509Certificate(pair.certPem);
  assert.equal(leaf.ca, false);
  assert.equal(leaf.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  const leafDays = (pair.notAfter - pair.notBefore) / DAY;
  assert.ok(leafDays > 90 && leafDays < 90.1, `leaf valid ${leafDays} days`);
  assert.ok(leaf.checkIssued(root) && leaf.verify(root.publicKey));
});

test('a leaf for an IP address carries an IP SAN and verifies with no SNI', async (t) => {
  const stateDir = tempState(t);
  const ca = await LocalCa.open({ stateDir });
  const v4 = await ca.certificateFor('127.0.0.1');
  const peer = await handshake(v4, ca.rootPem, undefined, '127.0.0.1');
  assert.equal(peer.subjectaltname, 'IP Address:127.0.0.1');
  const v6 = await ca.certificateFor('0:0:0:0:0:0:0:1');
  assert.equal(new X509Certificate(v6.certPem).checkIP('::1'), '::1');
  // One canonical name, one leaf.
  assert.equal(await ca.certificateFor('::1'), v6);
  assert.deepEqual(readdirSync(join(stateDir, 'tls', 'local')).sort(), ['127.0.0.1', '__1']);
});

test('the leaf does not verify for another name, nor against another root', async (t) => {
  const stateDir = tempState(t);
  const ca = await LocalCa.open({ stateDir });
  const other = await LocalCa.open({ stateDir: tempState(t) });
  const pair = await ca.certificateFor('shop.localhost');
  await assert.rejects(handshake(pair, ca.rootPem, 'blog.localhost', 'blog.localhost'), /ERR_TLS_CERT_ALTNAME_INVALID|does not match/);
  await assert.rejects(handshake(pair, other.rootPem, 'shop.localhost', 'shop.localhost'), /unable to verify|UNABLE_TO_VERIFY_LEAF_SIGNATURE|self.signed/i);
});

test('names the local CA cannot certify are refused with BERTH_E_NAME', async (t) => {
  const ca = await LocalCa.open({ stateDir: tempState(t) });
  for (const name of ['shop.example.com', 'localhost.', '*.localhost', 'a..localhost', '', 'fe80::1%eth0', '127.0.0.01', 'shop.localhost.evil.com']) {
    await assert.rejects(ca.certificateFor(name), { code: 'BERTH_E_NAME' }, name);
  }
  // Case does not make another name.
  const upper = await ca.certificateFor('Shop.LOCALHOST');
  assert.equal(await ca.certificateFor('shop.localhost'), upper);
});

test('the CA, its key and its leaves are stored 0600 in 0700 folders, and reused by the next open', async (t) => {
  const stateDir = tempState(t);
  const ca = await LocalCa.open({ stateDir });
  const pair = await ca.certificateFor('shop.localhost');
  for (const dir of ['tls', 'tls/ca', 'tls/local', 'tls/local/shop.localhost']) assert.equal(statSync(join(stateDir, dir)).mode & 0o777, 0o700, dir);
  for (const file of ['tls/ca/ca-key.pem', 'tls/ca/ca.pem', 'tls/local/shop.localhost/key.pem', 'tls/local/shop.localhost/cert.pem']) {
    assert.equal(statSync(join(stateDir, file)).mode & 0o777, 0o600, file);
  }
  const again = await LocalCa.open({ stateDir });
  assert.equal(again.rootPem, ca.rootPem);
  const reused = await again.certificateFor('shop.localhost');
  assert.equal(reused.certPem, pair.certPem);
  assert.equal(reused.keyPem, pair.keyPem);
  assert.equal(await localCaRootPem({ stateDir }), ca.rootPem);
});

test('a leaf is issued again at its renewal time (injected clock), and the new one is stored', async (t) => {
  const stateDir = tempState(t);
  let now = Date.parse('2030-01-01T00:00:00Z');
  const clock = { now: () => now };
  const ca = await LocalCa.open({ stateDir, clock });
  const first = await ca.certificateFor('shop.localhost');
  const renewAt = renewalTime(first, DEFAULT_RENEWAL_POLICY);
  // Day 60 of 90 (backdated by an hour): just before, the same leaf; at, a new one.
  assert.ok(Math.abs(renewAt - (now + 59 * DAY)) < 2 * DAY);
  now = renewAt - 1;
  assert.equal(await ca.certificateFor('shop.localhost'), first);
  now = renewAt;
  const second = await ca.certificateFor('shop.localhost');
  assert.notEqual(second.certPem, first.certPem);
  assert.notEqual(second.keyPem, first.keyPem);
  assert.ok(second.notAfter > first.notAfter);
  // A restart on the same state reads the renewed leaf, not the old one.
  const restarted = await LocalCa.open({ stateDir, clock });
  assert.equal((await restarted.certificateFor('shop.localhost')).certPem, second.certPem);
  // The handshake uses the real clock, which is before 2030: there the leaf is "not yet valid".
  await assert.rejects(handshake(second, ca.rootPem, 'shop.localhost', 'shop.localhost'), /not yet valid/);
});

test('concurrent requests for one name share one issuance', async (t) => {
  const ca = await LocalCa.open({ stateDir: tempState(t) });
  const all = await Promise.all(Array.from({ length: 8 }, () => ca.certificateFor('api.localhost')));
  for (const pair of all) assert.equal(pair, all[0]);
});

test('a damaged leaf or one from a replaced root is issued again; a damaged root is replaced', async (t) => {
  const stateDir = tempState(t);
  const lines: string[] = [];
  const ca = await LocalCa.open({ stateDir, log: (line) => lines.push(line) });
  const pair = await ca.certificateFor('shop.localhost');
  writeFileSync(join(stateDir, 'tls/local/shop.localhost/cert.pem'), 'garbage');
  const fresh = await (await LocalCa.open({ stateDir })).certificateFor('shop.localhost');
  assert.notEqual(fresh.certPem, pair.certPem);
  // A damaged root: a new CA, and the old leaves (signed by the old root) are not served.
  writeFileSync(join(stateDir, 'tls/ca/ca.pem'), 'garbage');
  const replaced = await LocalCa.open({ stateDir, log: (line) => lines.push(line) });
  assert.notEqual(replaced.rootPem, ca.rootPem);
  const reissued = await replaced.certificateFor('shop.localhost');
  assert.notEqual(reissued.certPem, fresh.certPem);
  await handshake(reissued, replaced.rootPem, 'shop.localhost', 'shop.localhost');
  assert.ok(lines.some((line) => line.includes('cannot be used')));
  // No key material in any log line.
  assert.ok(lines.every((line) => !line.includes('PRIVATE KEY')));
});

test('an expired root is replaced by a new one on open, and leaves are issued under it', async (t) => {
  const stateDir = tempState(t);
  let now = Date.now();
  const clock = { now: () => now };
  const old = await LocalCa.open({ stateDir, clock });
  await old.certificateFor('shop.localhost');
  now += 3651 * DAY;
  const lines: string[] = [];
  const renewed = await LocalCa.open({ stateDir, clock, log: (line) => lines.push(line) });
  assert.notEqual(renewed.rootPem, old.rootPem);
  assert.ok(lines.some((line) => line.includes('has expired')));
  const leaf = new X509Certificate((await renewed.certificateFor('shop.localhost')).certPem);
  assert.ok(leaf.verify(new X509Certificate(renewed.rootPem).publicKey));
});
