// The attack: a registry (or whoever answers in its place) is hostile. It
// serves bytes other than the digest asked for, sends blob downloads to
// another host to collect the credentials, asks for them over plain HTTP,
// or answers with endless manifests. Nothing it sends may be used unverified
// and the credentials must never leave the registry's origin and its token
// service. A real HTTP server on port 0 plays the registry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestOf, LayerCache, RegistryClient } from '../../src/oci/index.ts';
import { isBerthError } from '../../src/errors.ts';

const PASSWORD = 'hunter2-registry-secret';

async function serve(t: { after(fn: () => Promise<void>): void }, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ host: string; seen: IncomingMessage[] }> {
  const seen: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    seen.push(req);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

test('a manifest or blob with other bytes than its digest is refused and nothing is kept', async (t) => {
  const asked = digestOf(Buffer.from('the real manifest'));
  const { host } = await serve(t, (req, res) => {
    if (req.url === `/v2/app/manifests/${asked}`) res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end('{"schemaVersion":2,"evil":true}');
    else if (req.url === '/v2/app/manifests/v1') res.writeHead(200, { 'docker-content-digest': asked }).end('{"schemaVersion":2}');
    else if (req.url?.startsWith('/v2/app/blobs/')) res.writeHead(200).end('not the layer');
    else res.writeHead(404).end();
  });
  const client = await RegistryClient.open({ registry: host, plainHttp: true });
  t.after(() => client.close());
  const mismatch = (err: unknown) => isBerthError(err) && err.code === 'BERTH_E_DIGEST_MISMATCH';
  await assert.rejects(client.getManifest('app', asked), mismatch);
  await assert.rejects(client.getManifest('app', 'v1'), mismatch, "a tag's bytes must match the digest the registry claims for them");
  const dir = await mkdtemp(join(tmpdir(), 'berth-oci-hostile-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const cache = await LayerCache.open(join(dir, 'cache'));
  const layer = digestOf(Buffer.from('the layer'));
  await assert.rejects(client.pullBlob('app', { digest: layer, size: 9 }, cache), mismatch);
  assert.equal(await cache.has(layer), undefined);
  assert.deepEqual(await readdir(join(dir, 'cache', 'tmp')), []);
});

test('credentials go to the registry only: a redirect to another host gets none, the token service gets Basic only', async (t) => {
  const collector = await serve(t, (_req, res) => res.writeHead(200).end('not the layer'));
  const registry = await serve(t, (req, res) => {
    if (req.headers.authorization === undefined) res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
    else res.writeHead(307, { location: `http://${collector.host}/collect` }).end();
  });
  const client = await RegistryClient.open({ registry: registry.host, plainHttp: true, credentials: { username: 'berth', password: PASSWORD } });
  t.after(() => client.close());
  const dir = await mkdtemp(join(tmpdir(), 'berth-oci-hostile-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const cache = await LayerCache.open(join(dir, 'cache'));
  await assert.rejects(client.pullBlob('app', { digest: digestOf(Buffer.from('x')), size: 1 }, cache), (err) => isBerthError(err) && err.code === 'BERTH_E_DIGEST_MISMATCH');
  assert.equal(collector.seen.length, 1, 'the redirect was followed');
  assert.equal(collector.seen[0]!.headers.authorization, undefined, 'without the credentials');
  assert.ok(registry.seen.some((r) => r.headers.authorization?.startsWith('Basic ')), 'the registry itself got them');

  // (A plain-http realm named by an https registry is refused before anything is sent: tokenUrl, test/oci/pure.test.ts.)
  const realm = await serve(t, (_req, res) => res.writeHead(200).end('{"token":"t"}'));
  const sneaky = await serve(t, (_req, res) => res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${realm.host}/token",service="s"` }).end());
  const over = await RegistryClient.open({ registry: sneaky.host, plainHttp: true, credentials: { username: 'berth', password: PASSWORD } });
  t.after(() => over.close());
  await assert.rejects(over.hasBlob('app', digestOf(Buffer.from('x'))), (err) => isBerthError(err) && err.code === 'BERTH_E_REGISTRY_AUTH');
  assert.equal(realm.seen.length, 1);
  assert.ok(realm.seen[0]!.headers.authorization?.startsWith('Basic '));
});

test('errors from a hostile registry never carry the password, and endless manifests are cut off', async (t) => {
  const { host } = await serve(t, (req, res) => {
    if (req.url?.includes('/manifests/big')) {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      const chunk = Buffer.alloc(1 << 20, 0x20);
      let sent = 0;
      const more = () => {
        while (sent < 64 && res.write(chunk)) sent++;
        if (sent < 64) res.once('drain', more);
        else res.end();
      };
      more();
      return;
    }
    if (req.headers.authorization === undefined) res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
    else res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'DENIED', message: `echoing ${req.headers.authorization}` }] }));
  });
  const client = await RegistryClient.open({ registry: host, plainHttp: true, credentials: { username: 'berth', password: PASSWORD } });
  t.after(() => client.close());
  await assert.rejects(client.getManifest('app', 'v1'), (err) => {
    assert.ok(isBerthError(err) && err.code === 'BERTH_E_REGISTRY_AUTH', String(err));
    const basic = Buffer.from(`berth:${PASSWORD}`).toString('base64');
    assert.ok(!err.message.includes(PASSWORD) && !err.message.includes(basic), err.message);
    return true;
  });
  await assert.rejects(client.getManifest('app', 'big'), (err) => isBerthError(err) && err.code === 'BERTH_E_IMAGE_FORMAT' && /larger than/.test(err.message));
});
