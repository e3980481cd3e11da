// AcmeIssuer against a real ACME server (Debian's pebble), never a public CA.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AcmeIssuer, ChallengeStore, accountKeyPath, splitCertificates, type ChallengeResponder } from '../../src/tls/index.ts';
import { startPebble, freePort, type Pebble } from './pebble.ts';
import { handshake } from './handshake.ts';

let pebble: Pebble;
before(async () => {
  pebble = await startPebble({ blocklist: ['blocked.example.test'] });
});
after(async () => {
  await pebble?.close();
});

function tempState(t: import('node:test').TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-acme-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function issuerFor(t: import('node:test').TestContext, stateDir: string, over: Partial<ConstructorParameters<typeof AcmeIssuer>[0]> = {}): AcmeIssuer {
  const issuer = new AcmeIssuer({ stateDir, directoryUrl: pebble.directoryUrl, caBundle: pebble.tlsRootPem, polling: { minMs: 50, maxMs: 500 }, ...over });
  t.after(() => issuer.close());
  return issuer;
}

/** A responder that records what it was given, in order. */
function recordingResponder(): ChallengeResponder & { calls: string[] } {
  const store = new ChallengeStore();
  const calls: string[] = [];
  return {
    calls,
    set(token, keyAuthorization) {
      calls.push(`set ${token}`);
      store.set(token, keyAuthorization);
    },
    remove(token) {
      calls.push(`remove ${token}`);
      store.remove(token);
    },
  };
}

test('a certificate from pebble for a host name verifies against pebble\'s root in a real TLS handshake', async (t) => {
  const stateDir = tempState(t);
  const responder = recordingResponder();
  const pair = await issuerFor(t, stateDir, { email: 'ops@example.com' }).issue('Shop.Example.Test', responder);
  // Leaf and intermediate; the leaf is for the name, on a fresh P-256 key.
  const chain = splitCertificates(pair.certPem);
  assert.equal(chain.length, 2);
  const leaf = new X509Certificate(chain[0]!);
  assert.equal(leaf.checkHost('shop.example.test'), 'shop.example.test');
  assert.equal(leaf.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.ok(pair.notAfter > Date.now() && pair.notBefore <= Date.now() + 1000);
  const root = await pebble.issuerRoot();
  const peer = await handshake(pair, root, 'shop.example.test', 'shop.example.test');
  assert.equal(peer.subjectaltname, 'DNS:shop.example.test');
  // The challenge was published, then withdrawn.
  assert.equal(responder.calls.length, 2);
  assert.match(responder.calls[0]!, /^set [A-Za-z0-9_-]+$/);
  assert.equal(responder.calls[1], responder.calls[0]!.replace('set', 'remove'));
  // The account key: made once, 0600 in a 0700 folder, reused by the next order.
  const keyPath = accountKeyPath(stateDir);
  assert.equal(statSync(keyPath).mode & 0o777, 0o600);
  assert.equal(statSync(join(stateDir, 'tls', 'acme')).mode & 0o777, 0o700);
  const accountKey = readFileSync(keyPath, 'utf8');
  const second = await issuerFor(t, stateDir).issue('shop.example.test', new ChallengeStore());
  assert.equal(readFileSync(keyPath, 'utf8'), accountKey);
  assert.notEqual(second.keyPem, pair.keyPem);
});

test('the certificate does not verify for another name', async (t) => {
  const pair = await issuerFor(t, tempState(t)).issue('one.example.test', new ChallengeStore());
  await assert.rejects(handshake(pair, await pebble.issuerRoot(), 'two.example.test', 'two.example.test'), /altnames|does not match/i);
});

test('a name pebble refuses ends in BERTH_E_ACME carrying the CA\'s reason', async (t) => {
  await assert.rejects(issuerFor(t, tempState(t)).issue('blocked.example.test', new ChallengeStore()), (err: Error & { code?: string; hint?: string }) => {
    assert.equal(err.code, 'BERTH_E_ACME');
    assert.match(err.message, /blocked\.example\.test/);
    assert.match(err.message, /forbidden by policy/);
    return true;
  });
});

test('an unreachable directory, an untrusted one and a wrong path fail fast with the cause and a hint', async (t) => {
  const stateDir = tempState(t);
  const started = Date.now();
  const closed = issuerFor(t, stateDir, { directoryUrl: `https://127.0.0.1:${await freePort()}/dir` });
  await assert.rejects(closed.issue('a.example.test', new ChallengeStore()), { code: 'BERTH_E_ACME', message: /ECONNREFUSED/, hint: /--acme-directory/ });
  // No CA bundle: pebble's certificate is not trusted by the system roots.
  const untrusted = new AcmeIssuer({ stateDir, directoryUrl: pebble.directoryUrl, polling: { minMs: 50 } });
  t.after(() => untrusted.close());
  await assert.rejects(untrusted.issue('a.example.test', new ChallengeStore()), { code: 'BERTH_E_ACME', message: /certificate/, hint: /--acme-ca-bundle/ });
  const wrongPath = issuerFor(t, stateDir, { directoryUrl: pebble.directoryUrl.replace(/\/dir$/, '/nothing-here') });
  await assert.rejects(wrongPath.issue('a.example.test', new ChallengeStore()), { code: 'BERTH_E_ACME', message: /404/ });
  // acme-client's own retries (5 s, 10 s …) are off: the manager's backoff decides.
  assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
});

test('names that are not for ACME are refused before any request', async (t) => {
  const issuer = issuerFor(t, tempState(t), { directoryUrl: `https://127.0.0.1:${await freePort()}/dir` });
  for (const name of ['shop.localhost', '127.0.0.1', '*.example.test', 'bad..name']) {
    await assert.rejects(issuer.issue(name, new ChallengeStore()), { code: 'BERTH_E_NAME' }, name);
  }
});

test('an HTTP-01 challenge answered for real: pebble\'s VA fetches the key authorization through the responder', async (t) => {
  // A node:http server stands in for the edge's port 80; pebble's VA is pointed at its port
  // (`httpPort`) and resolves every name to 127.0.0.1 through pebble-challtestsrv.
  const store = new ChallengeStore();
  const seen: Array<{ url: string; host: string; answered: boolean }> = [];
  const server = createServer((req: IncomingMessage, res) => {
    const body = store.respond(req.url ?? '');
    seen.push({ url: req.url ?? '', host: req.headers.host ?? '', answered: body !== null });
    if (body === null) res.writeHead(404).end();
    else res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const httpPort = (server.address() as AddressInfo).port;
  const real = await startPebble({ alwaysValid: false, dns: true, httpPort });
  t.after(() => real.close());
  const issuer = new AcmeIssuer({ stateDir: tempState(t), directoryUrl: real.directoryUrl, caBundle: real.tlsRootPem, polling: { minMs: 50, maxMs: 500 } });
  t.after(() => issuer.close());

  const pair = await issuer.issue('shop.example.test', store);
  await handshake(pair, await real.issuerRoot(), 'shop.example.test', 'shop.example.test');
  assert.ok(seen.length >= 1, 'the VA fetched the challenge');
  for (const request of seen) {
    assert.match(request.url, /^\/\.well-known\/acme-challenge\/[A-Za-z0-9_-]+$/);
    assert.equal(request.host.split(':')[0], 'shop.example.test');
    assert.equal(request.answered, true);
  }
  assert.equal(store.tokens().size, 0, 'the token is withdrawn after validation');

  // The same server answering nothing: the VA's fetch fails, and so does the order.
  const silent: ChallengeResponder = { set() {}, remove() {} };
  await assert.rejects(issuer.issue('other.example.test', silent), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'BERTH_E_ACME');
    assert.match(err.message, /other\.example\.test/);
    assert.match(err.message, /404|unauthorized|invalid/i);
    return true;
  });
});
