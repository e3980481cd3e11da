import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiServer } from '../../src/api/api-server.ts';
import { registerKeyRoutes } from '../../src/api/key-routes.ts';
import { Store } from '../../src/platform/index.ts';
import { run, sshKeygen } from './git-helpers.ts';

test('keys: add, list, remove over the API, every change audited (failures too), private keys refused unseen', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-key-routes-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = Store.open(join(dir, 'state'));
  t.after(() => store.close());
  const api = new ApiServer({ authenticate: (token) => (token === 'good' ? 'admin' : null), log: () => {} });
  registerKeyRoutes(api, store);
  const { port } = await api.listen('127.0.0.1', 0);
  t.after(() => api.close());
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`http://127.0.0.1:${port}${path}`, { method, headers: { authorization: 'Bearer good', 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

  const path = await sshKeygen(join(dir, 'id_ed25519'), 'alice@laptop');
  const publicKey = await readFile(`${path}.pub`, 'utf8');
  const fingerprint = (await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${path}.pub`])).stdout.split(' ')[1];

  const created = await call('POST', '/keys', { name: 'alice', publicKey });
  assert.equal(created.status, 201);
  const { key } = (await created.json()) as { key: Record<string, unknown> };
  assert.equal(key.name, 'alice');
  assert.equal(key.fingerprint, fingerprint);
  assert.equal(key.algorithm, 'ssh-ed25519');
  assert.equal(key.publicKey, publicKey.split(' ').slice(0, 2).join(' '));

  const again = await call('POST', '/keys', { name: 'alice-2', publicKey });
  assert.equal(again.status, 409);
  assert.equal(((await again.json()) as { code: string }).code, 'BERTH_E_KEY_EXISTS');
  const privateKey = await readFile(path, 'utf8');
  const secret = await call('POST', '/keys', { name: 'oops', publicKey: privateKey });
  assert.equal(secret.status, 400);
  const secretText = await secret.text();
  assert.match(secretText, /BERTH_E_SSH_KEY/);
  assert.ok(!secretText.includes(privateKey.split('\n')[1]!));
  assert.equal((await call('POST', '/keys', { name: 'Bad Name', publicKey })).status, 400);
  assert.equal((await call('POST', '/keys', { name: 'x' })).status, 400);

  const listed = (await (await call('GET', '/keys')).json()) as { keys: Array<{ name: string; revokedAt: string | null }> };
  assert.deepEqual(listed.keys.map((k) => [k.name, k.revokedAt]), [['alice', null]]);
  assert.deepEqual(await (await call('DELETE', '/keys/alice')).json(), { removed: 'alice' });
  assert.equal((await call('DELETE', '/keys/nobody')).status, 404);
  assert.equal(store.findSshKey(fingerprint!), null, 'a removed key can no longer authenticate');

  const audit = store.listAudit(20).map((row) => [row.action, row.target, row.result, row.detail.error ?? null]).reverse();
  assert.deepEqual(audit, [
    ['keys.add', 'alice', 'ok', null],
    ['keys.add', 'alice-2', 'error', 'BERTH_E_KEY_EXISTS'],
    ['keys.add', 'oops', 'error', 'BERTH_E_SSH_KEY'],
    ['keys.remove', 'alice', 'ok', null],
    ['keys.remove', 'nobody', 'error', 'BERTH_E_KEY_NOT_FOUND'],
  ]);
  assert.ok(!JSON.stringify(store.listAudit(20)).includes(privateKey.split('\n')[1]!));
});
