// OCSP stapling against a real responder: a tiny CA made with openssl (root,
// intermediate, a responder the intermediate delegated, leaves with and
// without an OCSP URL, one of them revoked) and `openssl ocsp` serving its
// index on an ephemeral port; then the edge: an Engine's TLS listener hands
// the staple to a client that asks for one.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { promisify } from 'node:util';
import { Engine, RouteBuilder } from '../../src/edge/index.ts';
import { TlsState } from '../../src/edge/engine/tls-state.ts';
import { isBerthError } from '../../src/errors.ts';
import { EdgeCertificates, certificateDir, type EdgeTls } from '../../src/tls/index.ts';
import { writePairFiles } from '../../src/tls/tls-files.ts';
import {
  DEFAULT_OCSP_POLICY,
  OcspStapler,
  fetchOcspResponse,
  ocspExpiry,
  ocspRefreshTime,
  ocspRetryTime,
  ocspUrlOf,
  ocspUsable,
  parseOpensslTime,
  type OcspResponse,
} from '../../src/tls/ocsp.ts';
import { deadPort } from '../helpers/upstreams.ts';
import { waitFor } from './handshake.ts';

const run = promisify(execFile);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

// ---------------------------------------------------------------- decisions

test('a staple is refreshed half-way through its window, between 1 h and 12 h from now', () => {
  const now = Date.UTC(2026, 0, 1);
  const cases: Array<{ what: string; thisUpdate: number; nextUpdate: number | null; expected: number }> = [
    { what: 'a 4-day window: capped at 12 h', thisUpdate: now, nextUpdate: now + 4 * DAY, expected: now + 12 * HOUR },
    { what: 'a 10-hour window: half of it', thisUpdate: now, nextUpdate: now + 10 * HOUR, expected: now + 5 * HOUR },
    { what: 'a 90-minute window: at least 1 h', thisUpdate: now, nextUpdate: now + 90 * MINUTE, expected: now + HOUR },
    { what: 'a 30-minute window: the 1 h floor gives way to the expiry', thisUpdate: now, nextUpdate: now + 30 * MINUTE, expected: now + 30 * MINUTE },
    { what: 'a 20-second window: never sooner than the first retry wait', thisUpdate: now, nextUpdate: now + 20_000, expected: now + MINUTE },
    { what: 'no nextUpdate: counts as a day, so 12 h', thisUpdate: now, nextUpdate: null, expected: now + 12 * HOUR },
    { what: 'an answer made 3 h ago for 8 h: at its mid-point (1 h from now)', thisUpdate: now - 3 * HOUR, nextUpdate: now + 5 * HOUR, expected: now + HOUR },
    { what: 'an answer made 6 h ago for 16 h: at its mid-point (2 h from now)', thisUpdate: now - 6 * HOUR, nextUpdate: now + 10 * HOUR, expected: now + 2 * HOUR },
  ];
  for (const { what, thisUpdate, nextUpdate, expected } of cases) assert.equal(ocspRefreshTime({ thisUpdate, nextUpdate, now }), expected, what);
});

test('a failed fetch is retried from 1 min doubling to 1 h, never after the served staple expires', () => {
  const now = Date.UTC(2026, 0, 1);
  const waits = [1, 2, 3, 4, 5, 6, 7, 8, 100].map((failures) => ocspRetryTime({ now, failures, staple: null }) - now);
  assert.deepEqual(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60].map((minutes) => minutes * MINUTE));
  const staple = { thisUpdate: now - DAY, nextUpdate: now + 10 * MINUTE };
  assert.equal(ocspRetryTime({ now, failures: 5, staple }), now + 10 * MINUTE, 'the retry comes at the expiry, which drops the staple');
  assert.equal(ocspRetryTime({ now, failures: 1, staple }), now + MINUTE);
  const expired = { thisUpdate: now - DAY, nextUpdate: now - MINUTE };
  assert.equal(ocspRetryTime({ now, failures: 3, staple: expired }), now + 4 * MINUTE);
});

test('a staple is served until its nextUpdate (a day after thisUpdate without one), never after', () => {
  const now = Date.UTC(2026, 0, 1);
  assert.equal(ocspUsable({ thisUpdate: now - HOUR, nextUpdate: now + 1 }, now), true);
  assert.equal(ocspUsable({ thisUpdate: now - HOUR, nextUpdate: now }, now), false);
  assert.equal(ocspExpiry({ thisUpdate: now, nextUpdate: null }), now + DAY);
  assert.equal(ocspUsable({ thisUpdate: now - DAY + 1, nextUpdate: null }, now), true);
  assert.equal(ocspUsable({ thisUpdate: now - DAY, nextUpdate: null }, now), false);
});

test("openssl's printed times are read as UTC", () => {
  assert.equal(parseOpensslTime('Nov 21 16:23:46 2026 GMT'), Date.UTC(2026, 10, 21, 16, 23, 46));
  assert.equal(parseOpensslTime('Jan  1 00:00:00 2026 GMT'), Date.UTC(2026, 0, 1));
  assert.equal(parseOpensslTime('Feb  3 04:05:06.789 2027 GMT'), Date.UTC(2027, 1, 3, 4, 5, 6));
  assert.equal(parseOpensslTime('2026-01-01'), null);
  assert.equal(parseOpensslTime('Foo  1 00:00:00 2026 GMT'), null);
});

// ------------------------------------------------------------ a tiny real CA

interface Leaf {
  /** The leaf then the intermediate, PEM: what berth serves and asks about. */
  readonly certPem: string;
  readonly keyPem: string;
}

interface Responder {
  readonly url: string;
  readonly process: ChildProcess;
}

interface Ca {
  readonly dir: string;
  readonly rootPem: string;
  /** A responder the intermediate delegated (OCSPSigning): the leaves' AIA names it. */
  readonly delegated: Responder;
  /** The intermediate answering itself. */
  readonly direct: Responder;
  /** A responder signing with a self-made key nobody delegated. */
  readonly rogue: Responder;
  readonly good: Leaf;
  readonly revoked: Leaf;
  /** Issued but not in the responder's index. */
  readonly unknown: Leaf;
  /** No Authority Information Access at all: no OCSP. */
  readonly plain: Leaf;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

async function openssl(dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir, timeout: 10_000 });
}

/** A key and CSR, then a certificate signed by `ca` (or self-signed with `ca` null). */
async function issue(dir: string, name: string, subject: string, extensions: string, ca: string | null, serial: string): Promise<void> {
  await writeFile(join(dir, `${name}.ext`), extensions);
  if (ca === null) {
    await openssl(dir, ['req', '-x509', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-subj', subject, '-days', '30', '-set_serial', serial, '-extensions', 'v3', '-config', `${name}.ext`]);
    return;
  }
  await openssl(dir, ['req', '-new', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
  await openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-set_serial', serial, '-days', '30', '-extfile', `${name}.ext`, '-out', `${name}.pem`]);
}

/** `openssl ocsp` answering from index.txt on an ephemeral port; it exits after `requests` requests, or when killed. */
async function startResponder(dir: string, signer: string, requests: number): Promise<Responder> {
  const child = spawn('openssl', ['ocsp', '-index', 'index.txt', '-port', '0', '-rsigner', `${signer}.pem`, '-rkey', `${signer}.key`, '-CA', 'int.pem', '-ndays', '1', '-nrequest', String(requests)], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  try {
    // "ACCEPT [::]:43283 PID=21383"
    const port = await waitFor('the OCSP responder to listen', () => /^ACCEPT .*:(\d+) PID=/m.exec(output)?.[1], 5000);
    return { url: `http://127.0.0.1:${port}`, process: child };
  } catch (err) {
    child.kill();
    throw new Error(`${(err as Error).message}: ${output}`);
  }
}

async function makeCa(): Promise<Ca> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-ocsp-ca-'));
  await issue(dir, 'root', '/CN=berth test OCSP root', '[v3]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n', null, '0x01');
  await issue(dir, 'int', '/CN=berth test OCSP intermediate', 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\n', 'root', '0x1001');
  await issue(dir, 'responder', '/CN=berth test OCSP responder', 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=OCSPSigning\n', 'int', '0x3001');
  await issue(dir, 'rogue', '/CN=berth test OCSP intermediate', '[v3]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=OCSPSigning\n', null, '0x3002');
  // The index names certificates by serial, so it is written before the
  // leaves exist: their OCSP URL needs the responder's port.
  const row = (status: string, revoked: string, serial: string, cn: string) => `${status}\t491231235959Z\t${revoked}\t${serial}\tunknown\t/CN=${cn}\n`;
  await writeFile(join(dir, 'index.txt'), row('V', '', '2001', 'stapled.test') + row('R', '260101000000Z,keyCompromise', '2002', 'revoked.test') + row('V', '', '2004', 'plain.test'));
  const delegated = await startResponder(dir, 'responder', 200);
  const direct = await startResponder(dir, 'int', 20);
  const rogue = await startResponder(dir, 'rogue', 20);
  const aia = `authorityInfoAccess=OCSP;URI:${delegated.url},caIssuers;URI:${delegated.url}/int.der\n`;
  const leafExtensions = (name: string, withAia: boolean) => `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:${name}\n${withAia ? aia : ''}`;
  await issue(dir, 'good', '/CN=stapled.test', leafExtensions('stapled.test', true), 'int', '0x2001');
  await issue(dir, 'revoked', '/CN=revoked.test', leafExtensions('revoked.test', true), 'int', '0x2002');
  await issue(dir, 'unknown', '/CN=unknown.test', leafExtensions('unknown.test', true), 'int', '0x2003');
  await issue(dir, 'plain', '/CN=plain.test', leafExtensions('plain.test', false), 'int', '0x2004');
  const intPem = await readFile(join(dir, 'int.pem'), 'utf8');
  const leaf = async (name: string): Promise<Leaf> => ({ certPem: (await readFile(join(dir, `${name}.pem`), 'utf8')) + intPem, keyPem: await readFile(join(dir, `${name}.key`), 'utf8') });
  return {
    dir,
    rootPem: await readFile(join(dir, 'root.pem'), 'utf8'),
    delegated,
    direct,
    rogue,
    good: await leaf('good'),
    revoked: await leaf('revoked'),
    unknown: await leaf('unknown'),
    plain: await leaf('plain'),
  };
}

let ca: Ca;

before(async () => {
  ca = await makeCa();
});

after(async () => {
  if (ca === undefined) return;
  for (const responder of [ca.delegated, ca.direct, ca.rogue]) {
    if (responder.process.exitCode === null && responder.process.signalCode === null) {
      responder.process.kill();
      await once(responder.process, 'exit');
    }
  }
  await rm(ca.dir, { recursive: true, force: true });
});

async function rejectsWithOcsp(promise: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isBerthError(err), String(err));
    assert.equal(err.code, 'BERTH_E_OCSP');
    assert.match(err.message, message);
    return true;
  });
}

// ------------------------------------------------------------- the responder

test("the OCSP URL is read from the leaf's Authority Information Access; none without it", () => {
  assert.equal(ocspUrlOf(ca.good.certPem), ca.delegated.url);
  assert.equal(ocspUrlOf(ca.plain.certPem), null);
  assert.equal(ocspUrlOf(ca.rootPem), null);
  assert.equal(ocspUrlOf('not a certificate'), null);
});

test('a good certificate gets a verified response from a delegated responder, with its validity window', async () => {
  const before = Date.now();
  const response = await fetchOcspResponse({ certPem: ca.good.certPem, url: ca.delegated.url, timeoutMs: 5000 });
  assert.ok(response.der.length > 100);
  assert.equal(response.der[0], 0x30, 'a DER SEQUENCE');
  // openssl prints whole seconds.
  assert.ok(response.thisUpdate >= before - 2000 && response.thisUpdate <= Date.now() + 1000, `thisUpdate ${response.thisUpdate}`);
  assert.equal(response.nextUpdate, response.thisUpdate + DAY);
  // The DER is what openssl itself reads as "good" for this serial.
  const file = join(ca.dir, 'check.der');
  await writeFile(file, response.der);
  const { stdout } = await run('openssl', ['ocsp', '-respin', file, '-resp_text', '-noverify'], { timeout: 10_000 });
  assert.match(stdout, /Serial Number: 2001/);
  assert.match(stdout, /Cert Status: good/);
});

test('a response signed by the issuer itself verifies too', async () => {
  const response = await fetchOcspResponse({ certPem: ca.good.certPem, url: ca.direct.url, timeoutMs: 5000 });
  assert.ok(response.der.length > 0);
});

test('a revoked certificate gets no staple: BERTH_E_OCSP naming the status', async () => {
  await rejectsWithOcsp(fetchOcspResponse({ certPem: ca.revoked.certPem, url: ca.delegated.url, timeoutMs: 5000 }), /revoked \(keyCompromise\)/);
});

test('a certificate the responder does not know gets no staple', async () => {
  await rejectsWithOcsp(fetchOcspResponse({ certPem: ca.unknown.certPem, url: ca.delegated.url, timeoutMs: 5000 }), /unknown/);
});

test('a response signed by a key the issuer never delegated is refused', async () => {
  await rejectsWithOcsp(fetchOcspResponse({ certPem: ca.good.certPem, url: ca.rogue.url, timeoutMs: 5000 }), /not signed by the certificate's issuer/);
});

test('an answer is judged by the clock: one whose nextUpdate has passed is refused', async () => {
  await rejectsWithOcsp(fetchOcspResponse({ certPem: ca.good.certPem, url: ca.direct.url, timeoutMs: 5000, now: () => Date.now() + 2 * DAY }), /expired/);
});

test('no responder at the URL, or no issuer in the chain: BERTH_E_OCSP', async () => {
  const port = await deadPort();
  await rejectsWithOcsp(fetchOcspResponse({ certPem: ca.good.certPem, url: `http://127.0.0.1:${port}`, timeoutMs: 1000 }), /failed|no answer/);
  const leafOnly = ca.good.certPem.slice(0, ca.good.certPem.indexOf('-----END CERTIFICATE-----') + 26);
  await rejectsWithOcsp(fetchOcspResponse({ certPem: leafOnly, url: ca.delegated.url }), /no issuer/);
});

// ---------------------------------------------------------------- the stapler

function stapler(t: TestContext, options: { now?: () => number; policy?: Partial<typeof DEFAULT_OCSP_POLICY> } = {}) {
  const logs: string[] = [];
  let changes = 0;
  const instance = new OcspStapler({ onChange: () => changes++, log: (line) => logs.push(line), ...options });
  t.after(() => instance.close());
  return { stapler: instance, logs, changes: () => changes };
}

test('the stapler fetches a staple for certificates naming a responder, none for the others, and forgets dropped ones', async (t) => {
  const { stapler: ocsp, changes } = stapler(t);
  ocsp.track([
    { name: 'stapled.test', certPem: ca.good.certPem },
    { name: 'plain.test', certPem: ca.plain.certPem },
  ]);
  assert.equal(ocsp.timers, 1, 'one timer: the certificate without a responder has none');
  const staple = await waitFor('a staple', () => ocsp.stapleFor(ca.good.certPem) ?? undefined, 8000);
  assert.equal(changes(), 1);
  assert.equal(ocsp.stapleFor(ca.plain.certPem), null);
  assert.equal(ocsp.timers, 1, 'the refresh timer');
  assert.equal(staple[0], 0x30);
  // The host is dropped (or its certificate replaced): timer and staple go.
  ocsp.track([{ name: 'plain.test', certPem: ca.plain.certPem }]);
  assert.equal(ocsp.timers, 0);
  assert.equal(ocsp.stapleFor(ca.good.certPem), null);
});

test('the stapler drops a staple past its nextUpdate, and refreshes on time', async (t) => {
  let skew = 0;
  const { stapler: ocsp, changes } = stapler(t, { now: () => Date.now() + skew, policy: { refreshMinMs: 0, refreshMaxMs: 150, retryMinMs: 50 } });
  ocsp.track([{ name: 'stapled.test', certPem: ca.good.certPem }]);
  await waitFor('a staple', () => ocsp.stapleFor(ca.good.certPem) ?? undefined, 8000);
  await waitFor('a refreshed staple', () => changes() >= 2, 8000);
  skew = DAY + MINUTE;
  assert.equal(ocsp.stapleFor(ca.good.certPem), null, 'past nextUpdate the staple is not served');
  await ocsp.close();
  assert.equal(ocsp.timers, 0);
});

test('a failing certificate is retried with backoff and never gets a staple; close() clears its timer', async (t) => {
  const { stapler: ocsp, logs } = stapler(t, { policy: { retryMinMs: 50, retryMaxMs: 100 } });
  ocsp.track([{ name: 'revoked.test', certPem: ca.revoked.certPem }]);
  await waitFor('two failed attempts', () => logs.filter((line) => line.startsWith('no OCSP staple for revoked.test:')).length >= 2, 8000);
  assert.match(logs[0]!, /revoked/);
  assert.equal(ocsp.stapleFor(ca.revoked.certPem), null);
  assert.equal(ocsp.timers, 1);
  await ocsp.close();
  assert.equal(ocsp.timers, 0);
  ocsp.track([{ name: 'revoked.test', certPem: ca.revoked.certPem }]);
  assert.equal(ocsp.timers, 0, 'a closed stapler tracks nothing');
});

test('EdgeCertificates pushes ACME certificates again with their staple, and drops it with the host', async (t) => {
  // Stored certificates, still far from renewal: the manager serves them
  // without asking the (unreachable) ACME directory anything.
  const stateDir = await mkdtemp(join(tmpdir(), 'berth-ocsp-state-'));
  t.after(() => rm(stateDir, { recursive: true, force: true }));
  writePairFiles(certificateDir(stateDir, 'stapled.test'), ca.good);
  writePairFiles(certificateDir(stateDir, 'plain.test'), ca.plain);
  const pushed: EdgeTls[] = [];
  const logs: string[] = [];
  const certificates = await EdgeCertificates.open({
    stateDir,
    acme: { directoryUrl: `https://127.0.0.1:${await deadPort()}/directory` },
    apply: (tls) => pushed.push(tls),
    applyChallenges: () => {},
    log: (line) => logs.push(line),
  });
  t.after(() => certificates.close());
  const find = (tls: EdgeTls | undefined, host: string) => tls?.certificates.find((certificate) => certificate.hosts.includes(host));
  await certificates.setHosts(['stapled.test', 'plain.test']);
  const stapled = await waitFor('a push with the staple', () => find(pushed.at(-1), 'stapled.test')?.ocsp ?? undefined, 8000);
  const last = pushed.at(-1)!;
  assert.equal(find(last, 'stapled.test')?.certPem, ca.good.certPem);
  assert.equal(find(last, 'plain.test')?.ocsp ?? null, null, 'no OCSP URL, no staple');
  // The very bytes the responder signs for this certificate.
  const file = join(stateDir, 'staple.der');
  await writeFile(file, stapled);
  const { stdout } = await run('openssl', ['ocsp', '-respin', file, '-resp_text', '-noverify'], { timeout: 10_000 });
  assert.match(stdout, /Serial Number: 2001\n\s+Cert Status: good/);
  await certificates.setHosts(['plain.test']);
  assert.equal(find(pushed.at(-1), 'stapled.test'), undefined);
  assert.ok(!logs.some((line) => /OCSP/.test(line)), logs.join('\n'));
});

// ------------------------------------------------------------------ the edge

test('TlsState keeps a staple per leaf; a new staple alone keeps the secure context', async () => {
  const response = await fetchOcspResponse({ certPem: ca.good.certPem, url: ca.delegated.url, timeoutMs: 5000 });
  const tls = new TlsState();
  const certificate = { hosts: ['stapled.test'], certPem: ca.good.certPem, keyPem: ca.good.keyPem, trusted: true };
  tls.update({ certificates: [certificate], fallback: null });
  const leafDer = Buffer.from(/-----BEGIN CERTIFICATE-----([^-]+)-----END/.exec(ca.good.certPem)![1]!, 'base64');
  assert.equal(tls.ocspFor(leafDer), null);
  const context = tls.contextFor('stapled.test');
  tls.update({ certificates: [{ ...certificate, ocsp: new Uint8Array(response.der) }], fallback: null });
  assert.deepEqual(tls.ocspFor(leafDer), response.der);
  assert.equal(tls.contextFor('stapled.test'), context);
  assert.equal(tls.ocspFor(Buffer.from('another certificate')), null);
  assert.equal(tls.ocspFor(null), null);
  tls.update({ certificates: [certificate], fallback: null });
  assert.equal(tls.ocspFor(leafDer), null, 'a staple not sent again is gone');
});

interface Handshake {
  readonly authorized: boolean;
  /** What 'OCSPResponse' delivered; undefined when it never fired. */
  readonly ocsp: Buffer | null | undefined;
  readonly protocol: string | null;
}

async function handshake(port: number, servername: string, options: ConnectionOptions): Promise<Handshake> {
  const socket = tlsConnect({ host: '127.0.0.1', port, servername, ca: ca.rootPem, ...options });
  let ocsp: Buffer | null | undefined;
  socket.on('OCSPResponse', (response: Buffer | null) => (ocsp = response));
  try {
    await once(socket, 'secureConnect');
    return { authorized: socket.authorized, ocsp, protocol: socket.getProtocol() };
  } finally {
    socket.destroy();
  }
}

async function stapledEdge(t: TestContext): Promise<{ port: number; staple: OcspResponse }> {
  const staple = await fetchOcspResponse({ certPem: ca.good.certPem, url: ca.delegated.url, timeoutMs: 5000 });
  const tls = new TlsState();
  tls.update({
    certificates: [
      { hosts: ['stapled.test'], certPem: ca.good.certPem, keyPem: ca.good.keyPem, trusted: true, ocsp: staple.der },
      { hosts: ['plain.test'], certPem: ca.plain.certPem, keyPem: ca.plain.keyPem, trusted: true, ocsp: null },
    ],
    fallback: { certPem: ca.plain.certPem, keyPem: ca.plain.keyPem },
  });
  const routes = RouteBuilder.apply(await new RouteBuilder().prepare({ hosts: {}, fallback: null }));
  const engine = new Engine({ routes, tls });
  const address = await engine.listen({ host: '127.0.0.1', port: 0, secure: true });
  t.after(() => engine.close(200));
  return { port: address.port, staple };
}

test('the edge staples the response for a client that asks (TLS 1.3 and 1.2), the same DER bytes', async (t) => {
  const { port, staple } = await stapledEdge(t);
  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    const answer = await handshake(port, 'stapled.test', { requestOCSP: true, minVersion: version, maxVersion: version });
    assert.equal(answer.authorized, true, version);
    assert.equal(answer.protocol, version);
    assert.ok(Buffer.isBuffer(answer.ocsp), `${version}: a staple`);
    assert.deepEqual(answer.ocsp, staple.der, version);
  }
});

test('a client that does not ask gets no staple and connects as before', async (t) => {
  const { port } = await stapledEdge(t);
  const answer = await handshake(port, 'stapled.test', {});
  assert.equal(answer.authorized, true);
  assert.equal(answer.ocsp, undefined);
});

test('a certificate without an OCSP URL (and the fallback) gets no staple, the handshake goes on', async (t) => {
  const { port } = await stapledEdge(t);
  for (const servername of ['plain.test', 'nobody.test']) {
    const answer = await handshake(port, servername, { requestOCSP: true, checkServerIdentity: () => undefined });
    assert.equal(answer.authorized, true, servername);
    assert.ok(answer.ocsp === null || answer.ocsp === undefined, `${servername}: no staple`);
  }
});
