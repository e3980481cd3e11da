import { BerthError } from '../errors.ts';
import { parsePublicKey } from '../git/index.ts';
import { keyName } from '../platform/names.ts';
import type { SshKeyInfo } from '../platform/records.ts';
import type { Store } from '../platform/store.ts';
import type { ApiServer } from './api-server.ts';

function keyJson(key: SshKeyInfo) {
  return { name: key.name, fingerprint: key.fingerprint, algorithm: key.algorithm, publicKey: key.publicKey, createdAt: key.createdAt, lastUsedAt: key.lastUsedAt, revokedAt: key.revokedAt };
}

/** SSH keys for git push (docs/API.md): list, add, remove. Changes are audited, failed ones too. */
export function registerKeyRoutes(api: ApiServer, store: Store): void {
  function audited<T>(actor: string, action: string, target: string, work: () => T, detail: Record<string, string> = {}): T {
    try {
      const result = work();
      store.audit({ actor, action, target, result: 'ok', detail });
      return result;
    } catch (err) {
      store.audit({ actor, action, target, result: 'error', detail: { ...detail, error: err instanceof BerthError ? err.code : 'error' } });
      throw err;
    }
  }

  api.router
    .add('GET', '/keys', async () => ({ body: { keys: store.listSshKeys().map(keyJson) } }))
    .add('POST', '/keys', async (req) => {
      const body = await req.json();
      if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new BerthError('BERTH_E_BAD_JSON', 'the request body must be a JSON object', { status: 400 });
      const { name, publicKey } = body as Record<string, unknown>;
      if (typeof name !== 'string') throw new BerthError('BERTH_E_NAME', 'a key needs a "name"', { status: 400, hint: 'berth keys add ~/.ssh/id_ed25519.pub --name laptop' });
      if (typeof publicKey !== 'string') throw new BerthError('BERTH_E_SSH_KEY', 'a key needs a "publicKey": one OpenSSH public key line', { status: 400 });
      const valid = keyName(name);
      const key = audited(req.actor, 'keys.add', valid, () => {
        const parsed = parsePublicKey(publicKey);
        return store.addSshKey(valid, { fingerprint: parsed.fingerprint, algorithm: parsed.algorithm, publicKey: parsed.publicKey });
      });
      return { status: 201, body: { key: keyJson(key) } };
    })
    .add('DELETE', '/keys/:name', async (req) => {
      const valid = keyName(req.params.name ?? '');
      const key = audited(req.actor, 'keys.remove', valid, () => store.revokeSshKey(valid));
      return { body: { removed: key.name } };
    });
}
