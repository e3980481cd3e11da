import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyNameFromComment, parsePublicKey } from '../../src/git/index.ts';
import { run, sshKeygen } from './git-helpers.ts';

async function keys(t: { after(fn: () => unknown): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'berth-keys-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('OpenSSH public keys parse, with the fingerprint ssh-keygen -lf prints', async (t) => {
  const dir = await keys(t);
  for (const [type, bits] of [['ed25519', undefined], ['ecdsa', 384], ['rsa', 3072]] as const) {
    const path = await sshKeygen(join(dir, `id_${type}`), `alice@Laptop ${type}`, type, bits);
    const text = await readFile(`${path}.pub`, 'utf8');
    const key = parsePublicKey(text);
    const listed = (await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${path}.pub`])).stdout.split(' ')[1];
    assert.equal(key.fingerprint, listed, type);
    assert.equal(key.comment, `alice@Laptop ${type}`);
    assert.equal(key.publicKey, text.split(' ').slice(0, 2).join(' '));
    assert.match(key.algorithm, type === 'ecdsa' ? /^ecdsa-sha2-nistp384$/ : new RegExp(`^ssh-${type}$`));
  }
});

test('private keys, weak RSA, options, several keys and garbage are refused without echoing the key', async (t) => {
  const dir = await keys(t);
  const ed = await sshKeygen(join(dir, 'id_ed25519'), 'me');
  const privateText = await readFile(ed, 'utf8');
  const publicText = await readFile(`${ed}.pub`, 'utf8');
  const weak = await sshKeygen(join(dir, 'id_rsa'), 'weak', 'rsa', 1024);
  const body = publicText.split(' ')[1]!;
  const cases: Array<[string, RegExp]> = [
    [privateText, /private key/],
    [await readFile(`${weak}.pub`, 'utf8'), /1024 bits; at least 2048/],
    [`command="id" ${publicText}`, /not an OpenSSH public key line/],
    [`${publicText}${publicText}`, /one public key, found 2/],
    ['', /empty/],
    ['ssh-dss AAAAB3NzaC1kc3MAAACBAP== x', /not accepted/],
    [`ssh-ed25519 ${body.slice(0, 20)}`, /malformed/],
    [`ssh-rsa ${body} me`, /malformed|says ssh-rsa/],
    ['-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----', /not an OpenSSH public key line|one public key/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parsePublicKey(text),
      (err: { code?: string; status?: number; message: string; hint?: string }) => {
        assert.equal(err.code, 'BERTH_E_SSH_KEY');
        assert.equal(err.status, 400);
        assert.match(err.message, message);
        assert.ok(!`${err.message} ${err.hint ?? ''}`.includes(body.slice(20, 40)), 'the key material is never echoed');
        return true;
      },
    );
  }
});

test('a key name is made from the comment, or none', () => {
  assert.equal(keyNameFromComment('alice@Laptop'), 'alice-laptop');
  assert.equal(keyNameFromComment('  ci key #2 '), 'ci-key-2');
  assert.equal(keyNameFromComment('bob.smith_2'), 'bob.smith_2');
  assert.equal(keyNameFromComment('__x'), 'x');
  assert.equal(keyNameFromComment('a'.repeat(100)), 'a'.repeat(63));
  assert.equal(keyNameFromComment(''), null);
  assert.equal(keyNameFromComment('@@@'), null);
  assert.equal(keyNameFromComment('Ключ'), null);
});
