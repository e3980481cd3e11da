// CertificateManager against a real ACME server (Debian's pebble).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AcmeIssuer,
  CertificateManager,
  ChallengeStore,
  DEFAULT_RENEWAL_POLICY,
  certificateDir,
  renewalTime,
  selectCertificate,
  type CertificateIssuer,
  type CertificateManagerOptions,
  type CertificatePair,
  type HostCertificateStatus,
} from '../../src/tls/index.ts';
import { startPebble, freePort, type Pebble } from './pebble.ts';
import { handshake, waitFor } from './handshake.ts';

let pebble: Pebble;
before(async () => {
  pebble = await startPebble({ blocklist: ['blocked.example.test'] });
});
after(async () => {
  await pebble?.close();
});

function tempState(t: import('node:test').TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-certs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function issuerFor(t: import('node:test').TestContext, stateDir: string, ca: Pebble = pebble, directoryUrl = ca.directoryUrl): AcmeIssuer {
  const issuer = new AcmeIssuer({ stateDir, directoryUrl, caBundle: ca.tlsRootPem, polling: { minMs: 50, maxMs: 500 } });
  t.after(() => issuer.close());
  return issuer;
}

/** The issuer, counting its orders (and their outcomes), every one still a real order. */
function counting(inner: CertificateIssuer): CertificateIssuer & { orders: string[] } {
  const orders: string[] = [];
  return {
    orders,
    async issue(host, responder) {
      orders.push(host);
      return inner.issue(host, responder);
    },
    close: () => inner.close(),
  };
}

interface Recorder {
  readonly certificates: Array<{ host: string; pair: CertificatePair }>;
  readonly states: HostCertificateStatus[];
  readonly lines: string[];
}

function manager(t: import('node:test').TestContext, options: Omit<CertificateManagerOptions, 'responder'> & { responder?: CertificateManagerOptions['responder'] }): { manager: CertificateManager; seen: Recorder } {
  const seen: Recorder = { certificates: [], states: [], lines: [] };
  const made = new CertificateManager({
    responder: new ChallengeStore(),
    onCertificate: (host, pair) => seen.certificates.push({ host, pair }),
    onState: (status) => seen.states.push(status),
    log: (line) => seen.lines.push(line),
    ...options,
  });
  t.after(() => made.close());
  return { manager: made, seen };
}

test('a host gets a certificate on start: pending, then valid; stored 0600 and announced with its PEM pair', async (t) => {
  const stateDir = tempState(t);
  const issuer = counting(issuerFor(t, stateDir));
  const { manager: certs, seen } = manager(t, { stateDir, issuer });
  certs.setHosts(['shop.example.test']);
  assert.deepEqual(certs.status(), [{ host: 'shop.example.test', state: 'pending' }]);
  certs.start();
  const valid = await waitFor('a valid certificate', () => {
    const status = certs.statusOf('shop.example.test');
    return status?.state === 'valid' ? status : undefined;
  });
  assert.deepEqual(issuer.orders, ['shop.example.test']);
  assert.equal(seen.certificates.length, 1);
  const { host, pair } = seen.certificates[0]!;
  assert.equal(host, 'shop.example.test');
  assert.equal(certs.certificate('shop.example.test'), pair);
  assert.equal(valid.notAfter, pair.notAfter);
  assert.equal(valid.renewAt, renewalTime(pair, DEFAULT_RENEWAL_POLICY));
  // The states on the way: pending (added), pending (ordering), valid.
  assert.deepEqual(seen.states.map((s) => s.state), ['pending', 'pending', 'valid']);
  await handshake(pair, await pebble.issuerRoot(), 'shop.example.test', 'shop.example.test');
  // On disk: key and chain, 0600, in 0700 folders.
  const dir = certificateDir(stateDir, 'shop.example.test');
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.equal(statSync(join(stateDir, 'tls', 'certs')).mode & 0o777, 0o700);
  for (const file of ['key.pem', 'cert.pem']) assert.equal(statSync(join(dir, file)).mode & 0o777, 0o600, file);
  assert.equal(readFileSync(join(dir, 'cert.pem'), 'utf8'), pair.certPem);
  assert.equal(readFileSync(join(dir, 'key.pem'), 'utf8'), pair.keyPem);
  // The edge's choice for the handshake.
  assert.deepEqual(selectCertificate('SHOP.example.test', { exact: certs.certificates(), localCa: true }), { source: 'exact', name: 'shop.example.test', certificate: pair });
  // Key material never reaches the log.
  assert.ok(seen.lines.length > 0 && seen.lines.every((line) => !line.includes('PRIVATE KEY') && !line.includes(pair.keyPem.slice(40, 80))));
});

test('a manager started again on the same state reuses the stored certificate without an order', async (t) => {
  const stateDir = tempState(t);
  const first = manager(t, { stateDir, issuer: issuerFor(t, stateDir) });
  first.manager.setHosts(['shop.example.test']);
  first.manager.start();
  await waitFor('the first certificate', () => first.seen.certificates.length === 1);
  await first.manager.close();
  const pair = first.seen.certificates[0]!.pair;

  const issuer = counting(issuerFor(t, stateDir));
  const second = manager(t, { stateDir, issuer });
  second.manager.start();
  second.manager.setHosts(['shop.example.test']);
  // Announced at once, from disk.
  assert.equal(second.seen.certificates.length, 1);
  assert.equal(second.seen.certificates[0]!.pair.certPem, pair.certPem);
  assert.equal(second.seen.certificates[0]!.pair.keyPem, pair.keyPem);
  assert.equal(second.manager.statusOf('shop.example.test')?.state, 'valid');
  await second.manager.runDue();
  assert.deepEqual(issuer.orders, []);
  assert.ok(second.seen.lines.some((line) => line.includes('using the stored certificate')));
});

test('a damaged stored certificate is ordered again', async (t) => {
  const stateDir = tempState(t);
  const first = manager(t, { stateDir, issuer: issuerFor(t, stateDir) });
  first.manager.setHosts(['shop.example.test']);
  await first.manager.runDue();
  await first.manager.close();
  writeFileSync(join(certificateDir(stateDir, 'shop.example.test'), 'cert.pem'), 'not a certificate');

  const issuer = counting(issuerFor(t, stateDir));
  const second = manager(t, { stateDir, issuer });
  second.manager.setHosts(['shop.example.test']);
  assert.equal(second.manager.statusOf('shop.example.test')?.state, 'pending');
  await second.manager.runDue();
  assert.deepEqual(issuer.orders, ['shop.example.test']);
  assert.equal(second.manager.statusOf('shop.example.test')?.state, 'valid');
  assert.ok(second.seen.lines.some((line) => line.includes('cannot be used')));
});

test('with an injected clock: no order before the renewal time, a renewal at it, and the new pair announced', async (t) => {
  const stateDir = tempState(t);
  let now = Date.now();
  const issuer = counting(issuerFor(t, stateDir));
  const { manager: certs, seen } = manager(t, { stateDir, issuer, clock: { now: () => now } });
  certs.setHosts(['shop.example.test']);
  await certs.runDue();
  const first = seen.certificates[0]!.pair;
  const renewAt = renewalTime(first);
  now = renewAt - 1;
  await certs.runDue();
  assert.equal(issuer.orders.length, 1);
  now = renewAt;
  const states = seen.states.length;
  await certs.runDue();
  assert.equal(issuer.orders.length, 2);
  assert.deepEqual(seen.states.slice(states).map((s) => s.state), ['renewing', 'valid']);
  const second = seen.certificates[1]!.pair;
  assert.notEqual(new X509Certificate(second.certPem).serialNumber, new X509Certificate(first.certPem).serialNumber);
  assert.equal(certs.certificate('shop.example.test'), second);
  assert.equal(readFileSync(join(certificateDir(stateDir, 'shop.example.test'), 'cert.pem'), 'utf8'), second.certPem);
});

test('a short-lived certificate is renewed by the timer before it expires', async (t) => {
  // Pebble issues certificates valid 6 s: the policy renews them at half their lifetime.
  const shortLived = await startPebble({ validitySeconds: 6 });
  t.after(() => shortLived.close());
  const stateDir = tempState(t);
  const { manager: certs, seen } = manager(t, { stateDir, issuer: issuerFor(t, stateDir, shortLived) });
  certs.setHosts(['shop.example.test']);
  certs.start();
  await waitFor('the first certificate', () => seen.certificates.length >= 1, 10_000);
  const first = seen.certificates[0]!.pair;
  assert.ok(first.notAfter - first.notBefore <= 6000, `a ${first.notAfter - first.notBefore} ms certificate`);
  await waitFor('the renewed certificate', () => seen.certificates.length >= 2, 15_000);
  const second = seen.certificates[1]!.pair;
  // Renewed while the first one was still valid, and the new one is later.
  assert.ok(second.notBefore < first.notAfter, 'renewed before expiry');
  assert.ok(second.notAfter > first.notAfter);
  assert.ok(seen.states.some((s) => s.state === 'renewing'));
  await handshake(second, await shortLived.issuerRoot(), 'shop.example.test', 'shop.example.test');
});

test('a renewal that fails keeps the old certificate served and reports failed with the next attempt', async (t) => {
  const shortLived = await startPebble({ validitySeconds: 6 });
  let closed = false;
  t.after(() => (closed ? undefined : shortLived.close()));
  const stateDir = tempState(t);
  const policy = { ...DEFAULT_RENEWAL_POLICY, retryMinMs: 60_000 };
  const { manager: certs, seen } = manager(t, { stateDir, issuer: issuerFor(t, stateDir, shortLived), policy, random: () => 0 });
  certs.setHosts(['shop.example.test']);
  certs.start();
  await waitFor('the first certificate', () => seen.certificates.length >= 1, 10_000);
  const pair = seen.certificates[0]!.pair;
  // The CA goes away before the renewal time.
  await shortLived.close();
  closed = true;
  const failed = await waitFor('the failed renewal', () => {
    const status = certs.statusOf('shop.example.test');
    return status?.state === 'failed' ? status : undefined;
  }, 15_000);
  assert.equal(failed.error.code, 'BERTH_E_ACME');
  assert.match(failed.error.message, /ECONNREFUSED/);
  assert.equal(failed.failures, 1);
  assert.equal(failed.notAfter, pair.notAfter);
  assert.ok(failed.nextAttempt - Date.now() > 50_000 && failed.nextAttempt - Date.now() <= 60_000);
  // Still served while it lasts.
  assert.equal(certs.certificate('shop.example.test'), pair);
  assert.equal(seen.certificates.length, 1);
});

test('a failed order ends in failed with a retry time; retries back off; a later success clears the failure', async (t) => {
  const stateDir = tempState(t);
  let now = Date.parse('2030-01-01T00:00:00Z');
  // First the CA is unreachable (a closed port), then it is pebble: both real requests.
  const down = issuerFor(t, stateDir, pebble, `https://127.0.0.1:${await freePort()}/dir`);
  const up = issuerFor(t, stateDir);
  let current: CertificateIssuer = down;
  const issuer: CertificateIssuer = { issue: (host, responder) => current.issue(host, responder), close() {} };
  const { manager: certs, seen } = manager(t, { stateDir, issuer, clock: { now: () => now }, random: () => 0 });
  certs.setHosts(['shop.example.test']);
  await certs.runDue();
  const failed = certs.statusOf('shop.example.test')!;
  assert.equal(failed.state, 'failed');
  if (failed.state === 'failed') {
    assert.equal(failed.error.code, 'BERTH_E_ACME');
    assert.equal(failed.failures, 1);
    assert.equal(failed.nextAttempt, now + 60_000);
    assert.equal(failed.notAfter, null);
  }
  // Not retried before its time.
  now += 59_999;
  await certs.runDue();
  assert.equal(certs.statusOf('shop.example.test')?.state === 'failed' && (certs.statusOf('shop.example.test') as { failures: number }).failures, 1);
  // Retried at it, failing again: the wait doubles.
  now += 1;
  await certs.runDue();
  const again = certs.statusOf('shop.example.test')!;
  assert.ok(again.state === 'failed' && again.failures === 2 && again.nextAttempt === now + 120_000, JSON.stringify(again));
  // The CA is back: the next attempt succeeds and the failure is gone.
  current = up;
  now += 120_000;
  await certs.runDue();
  assert.equal(certs.statusOf('shop.example.test')?.state, 'valid');
  assert.equal(seen.certificates.length, 1);
  assert.ok(seen.lines.some((line) => /next attempt at .*failure 2 in a row/.test(line)));
});

test('a name the CA refuses is failed, and other hosts are not held up by it', async (t) => {
  const stateDir = tempState(t);
  const { manager: certs } = manager(t, { stateDir, issuer: issuerFor(t, stateDir) });
  certs.setHosts(['blocked.example.test', 'shop.example.test']);
  await certs.runDue();
  const [blocked, shop] = certs.status();
  assert.equal(blocked!.host, 'blocked.example.test');
  assert.equal(blocked!.state, 'failed');
  if (blocked!.state === 'failed') assert.match(blocked!.error.message, /forbidden by policy/);
  assert.equal(shop!.state, 'valid');
});

test('setHosts checks every name before changing anything; removed hosts stop being managed, their files stay', async (t) => {
  const stateDir = tempState(t);
  const { manager: certs, seen } = manager(t, { stateDir, issuer: issuerFor(t, stateDir) });
  certs.setHosts(['a.example.test', 'b.example.test']);
  assert.throws(() => certs.setHosts(['a.example.test', 'shop.localhost']), { code: 'BERTH_E_NAME' });
  assert.throws(() => certs.add('127.0.0.1'), { code: 'BERTH_E_NAME' });
  assert.deepEqual(certs.status().map((s) => s.host), ['a.example.test', 'b.example.test']);
  await certs.runDue();
  assert.equal(seen.certificates.length, 2);
  certs.setHosts(['a.example.test']);
  assert.deepEqual(certs.status().map((s) => s.host), ['a.example.test']);
  assert.equal(certs.certificate('b.example.test'), null);
  assert.equal(certs.statusOf('b.example.test'), null);
  assert.ok(statSync(join(certificateDir(stateDir, 'b.example.test'), 'cert.pem')).isFile());
  // Added back: the stored certificate, no new order.
  certs.add('B.example.test');
  assert.equal(certs.statusOf('b.example.test')?.state, 'valid');
  assert.equal(seen.certificates.length, 3);
  // The two first orders may finish in either order: compare with b's own.
  assert.equal(seen.certificates[2]!.host, 'b.example.test');
  assert.equal(seen.certificates[2]!.pair.certPem, seen.certificates.find((c) => c.host === 'b.example.test')!.pair.certPem);
  certs.remove('a.example.test');
  assert.deepEqual(certs.status().map((s) => s.host), ['b.example.test']);
});

test('close waits for the order under way, announces nothing after, and is idempotent', async (t) => {
  const stateDir = tempState(t);
  const { manager: certs, seen } = manager(t, { stateDir, issuer: issuerFor(t, stateDir) });
  certs.setHosts(['shop.example.test']);
  certs.start();
  await waitFor('the order to start', () => certs.statusOf('shop.example.test')?.state === 'pending' && seen.states.length >= 2);
  await Promise.all([certs.close(), certs.close()]);
  await certs.close();
  assert.equal(seen.certificates.length, 0);
  // The order's result was stored all the same.
  assert.ok(statSync(join(certificateDir(stateDir, 'shop.example.test'), 'cert.pem')).isFile());
});
