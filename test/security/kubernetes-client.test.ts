// The Kubernetes client against a hostile API server (or one behind a
// hostile proxy) and a hostile app's output: redirects are not followed
// with the token, oversized answers are cut off, the server's text and the
// app's log cannot drive a terminal, malformed names never reach a URL, and
// the token is in no error.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BerthError } from '../../src/errors.ts';
import { KubeClient, applyObjects, waitForJob, type KubeConnection } from '../../src/kubernetes/client/index.ts';

const TOKEN = 'sekrit-token-0123456789';

async function hostileServer(t: { after(fn: () => unknown): void }, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; ca: string; requests: { url: string; authorization: string | undefined }[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-kube-hostile-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore', timeout: 15_000 });
  const ca = await readFile(join(dir, 'cert.pem'), 'utf8');
  const requests: { url: string; authorization: string | undefined }[] = [];
  const server: Server = createServer({ key: await readFile(join(dir, 'key.pem')), cert: ca }, (req, res) => {
    requests.push({ url: req.url ?? '', authorization: req.headers.authorization });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return { url: `https://127.0.0.1:${(server.address() as { port: number }).port}`, ca, requests };
}

function connection(server: string, ca: string): KubeConnection {
  return { server, namespace: undefined, ca, insecureSkipTlsVerify: false, token: TOKEN, clientCert: undefined };
}

function noSecrets(err: unknown): void {
  assert.ok(err instanceof BerthError);
  assert.ok(!`${err.message}\n${err.hint ?? ''}`.includes(TOKEN), 'the token leaked into an error');
  assert.ok(!/[\x00-\x08\x0b-\x1f\x7f\u202e]/.test(`${err.message}${err.hint ?? ''}`), `raw control characters in ${JSON.stringify(err.message)} / ${JSON.stringify(err.hint)}`);
}

test('a redirect is not followed: the token goes to no other server', async (t) => {
  const elsewhere = await hostileServer(t, (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"versions":["v1"]}'));
  const api = await hostileServer(t, (req, res) => res.writeHead(302, { location: `${elsewhere.url}${req.url}` }).end());
  const client = new KubeClient(connection(api.url, api.ca));
  t.after(() => client.close());
  await assert.rejects(client.servedKinds(), (err: unknown) => {
    noSecrets(err);
    assert.equal((err as BerthError).code, 'BERTH_E_KUBE_API');
    return true;
  });
  assert.deepEqual(elsewhere.requests, []);
  assert.equal(api.requests[0]!.authorization, `Bearer ${TOKEN}`);
});

test('an answer over the size limit is refused, not buffered whole', async (t) => {
  const chunk = Buffer.alloc(64 * 1024, 'x');
  let sent = 0;
  const api = await hostileServer(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    // Endless: only the client's cut-off ends it (bounded here too, at 64 MiB).
    const write = () => {
      while (sent < 64 * 1024 * 1024 && res.write(chunk)) sent += chunk.length;
      if (sent >= 64 * 1024 * 1024) res.end();
    };
    res.on('drain', write);
    res.on('close', () => res.off('drain', write));
    write();
  });
  const client = new KubeClient(connection(api.url, api.ca), { maxResponseBytes: 1024 * 1024 });
  t.after(() => client.close());
  await assert.rejects(client.get('apps/v1', 'Deployment', 'shop', 'web'), (err: unknown) => {
    noSecrets(err);
    assert.equal((err as BerthError).code, 'BERTH_E_KUBE_API');
    assert.match((err as BerthError).message, /over 1048576 bytes/);
    return true;
  });
  assert.ok(sent < 64 * 1024 * 1024);
});

test('the server\'s messages and a failed Job\'s log cannot drive a terminal', async (t) => {
  const hostile = 'boom\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\rberth | all good\u202e';
  const api = await hostileServer(t, (req, res) => {
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const url = req.url ?? '';
    if (req.method === 'PATCH') return json(422, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Invalid', code: 422, message: `Secret "s" is invalid: ${hostile}`, details: { causes: [{ field: 'data', message: hostile }] } });
    if (url.startsWith('/apis/batch/v1/namespaces/shop/jobs/release')) return json(200, { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'release', namespace: 'shop' }, status: { failed: 1, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: hostile }] } });
    if (url.startsWith('/api/v1/namespaces/shop/pods?')) return json(200, { kind: 'PodList', items: [{ metadata: { name: 'release-x', namespace: 'shop', creationTimestamp: '2026-01-01T00:00:00Z' } }] });
    if (url.startsWith('/api/v1/namespaces/shop/pods/release-x/log')) return res.writeHead(200, { 'content-type': 'text/plain' }).end(`migrating\n${hostile}\n`);
    return json(404, { kind: 'Status', reason: 'NotFound', message: 'not found' });
  });
  const client = new KubeClient(connection(api.url, api.ca));
  t.after(() => client.close());
  await assert.rejects(applyObjects(client, [{ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'shop' } }]), (err: unknown) => {
    noSecrets(err);
    assert.equal((err as BerthError).code, 'BERTH_E_KUBE_INVALID');
    assert.match((err as BerthError).message, /boom\\x1b\]52;c;/);
    return true;
  });
  await assert.rejects(waitForJob(client, 'shop', 'release', { timeoutMs: 5000, intervalMs: 100 }), (err: unknown) => {
    noSecrets(err);
    assert.equal((err as BerthError).code, 'BERTH_E_KUBE_JOB_FAILED');
    // Lines stay lines; what is in them is shown, escaped.
    assert.match((err as BerthError).hint ?? '', /^its last lines:\nmigrating\nboom\\x1b\]52/);
    return true;
  });
});

test('malformed names and namespaces are refused before any request is made', async (t) => {
  const api = await hostileServer(t, (_req, res) => res.writeHead(500).end());
  const client = new KubeClient(connection(api.url, api.ca));
  t.after(() => client.close());
  for (const [namespace, name] of [['shop', '../../../api/v1/secrets'], ['shop', 'web?watch=true'], ['..', 'web'], ['shop/x', 'web'], ['shop', '']]) {
    await assert.rejects(client.get('v1', 'Secret', namespace, name!), { code: 'BERTH_E_NAME' });
  }
  await assert.rejects(client.podLog('shop', 'p%2f..'), { code: 'BERTH_E_NAME' });
  await assert.rejects(client.list('v1', 'Secret', 'shop', { 'app.kubernetes.io/name': 'shop,x!=y' }), { code: 'BERTH_E_NAME' });
  await assert.rejects(applyObjects(client, [{ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'take-over' } }]), { code: 'BERTH_E_KUBE_UNSUPPORTED' });
  assert.deepEqual(api.requests, []);
});

test('the kubeconfig\'s CA is the only one trusted: a server it did not sign is unreachable, and gets no token', async (t) => {
  const impostor = await hostileServer(t, (_req, res) => res.writeHead(200).end('{}'));
  const real = await hostileServer(t, (_req, res) => res.writeHead(200).end('{}'));
  const client = new KubeClient(connection(impostor.url, real.ca));
  t.after(() => client.close());
  await assert.rejects(client.servedKinds(), (err: unknown) => {
    noSecrets(err);
    assert.equal((err as BerthError).code, 'BERTH_E_KUBE_UNREACHABLE');
    return true;
  });
  assert.deepEqual(impostor.requests, []);
});
