// Authentication and TLS against the real registry: htpasswd (Basic) over
// HTTPS with a private CA, and Bearer tokens from a token service.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { digestOf, RegistryClient, mediaTypes, type RegistryOptions } from '../../src/oci/index.ts';
import { isBerthError } from '../../src/errors.ts';
import { startRegistry } from '../helpers/registry.ts';
import { startTokenService } from '../helpers/token-service.ts';

const PASSWORD = 'correct horse battery staple';

/** A blob and a tiny manifest naming it as its config: enough to push and pull back. */
async function roundTrip(client: RegistryClient, repository: string): Promise<void> {
  const blob = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const digest = digestOf(blob);
  assert.equal(await client.pushBlob(repository, { digest, size: blob.length, open: async (s, e) => Readable.from([blob.subarray(s, e)]) }), 'uploaded');
  assert.equal(await client.pushBlob(repository, { digest, size: blob.length, open: async () => Readable.from([blob]) }), 'exists', 'HEAD finds it the second time');
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: mediaTypes.OCI_MANIFEST, config: { mediaType: mediaTypes.OCI_CONFIG, digest, size: blob.length }, layers: [] }));
  const pushed = await client.putManifest(repository, 'v1', mediaTypes.OCI_MANIFEST, manifest);
  assert.deepEqual((await client.getManifest(repository, pushed)).bytes, manifest);
  assert.equal((await client.getManifest(repository, 'v1')).digest, pushed);
}

async function clientFor(t: { after(fn: () => Promise<void>): void }, options: RegistryOptions): Promise<RegistryClient> {
  const client = await RegistryClient.open(options);
  t.after(() => client.close());
  return client;
}

test('htpasswd over HTTPS: the private CA is needed, no or wrong credentials are refused without showing them, the right ones push and pull', async (t) => {
  const registry = await startRegistry(t, { tls: true, users: { berth: PASSWORD } });
  const credentials = { username: 'berth', password: PASSWORD };

  const untrusting = await clientFor(t, { registry: registry.host, credentials });
  await assert.rejects(untrusting.getManifest('apps/x', 'v1'), (err) => isBerthError(err) && err.code === 'BERTH_E_REGISTRY_UNREACHABLE' && /certificate/i.test(err.message));

  const anonymous = await clientFor(t, { registry: registry.host, caFile: registry.caFile });
  await assert.rejects(anonymous.getManifest('apps/x', 'v1'), (err) => isBerthError(err) && err.code === 'BERTH_E_REGISTRY_AUTH' && /has none/.test(err.message));

  const wrong = await clientFor(t, { registry: registry.host, caFile: registry.caFile, credentials: { username: 'berth', password: 'not the password' } });
  await assert.rejects(wrong.hasBlob('apps/x', digestOf(Buffer.from('x'))), (err) => {
    assert.ok(isBerthError(err) && err.code === 'BERTH_E_REGISTRY_AUTH', String(err));
    assert.ok(!`${err.message} ${err.hint} ${err.stack}`.includes('not the password'), 'the password is never in the error');
    return true;
  });

  const right = await clientFor(t, { registry: registry.host, caFile: registry.caFile, credentials });
  await roundTrip(right, 'apps/hello');
});

test('Bearer tokens: the challenge leads to the token service with the credentials and the repository scope', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-token-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const tokens = await startTokenService(t, dir, { berth: PASSWORD });
  const registry = await startRegistry(t, { token: tokens });

  const anonymous = await clientFor(t, { registry: registry.host, plainHttp: true });
  await assert.rejects(anonymous.getManifest('apps/hello', 'v1'), (err) => isBerthError(err) && err.code === 'BERTH_E_REGISTRY_AUTH' && /token service/.test(err.message));

  const client = await clientFor(t, { registry: registry.host, plainHttp: true, credentials: { username: 'berth', password: PASSWORD } });
  await roundTrip(client, 'apps/hello');
  const granted = tokens.requests.filter((r) => r.authorized);
  assert.ok(granted.some((r) => r.scopes.includes('repository:apps/hello:pull,push')), JSON.stringify(tokens.requests));
  assert.ok(granted.length <= 3, `tokens are kept per scope, not fetched per request (${granted.length})`);
});
