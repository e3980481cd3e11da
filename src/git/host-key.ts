import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { BerthError } from '../errors.ts';
import { writeFileAtomic } from '../platform/atomic-file.ts';
import { fingerprintOf } from './ssh-keys.ts';

export interface HostKey {
  /** The private key, OpenSSH format. */
  readonly privateKey: string;
  /** "ssh-ed25519 AAAA…" */
  readonly publicKey: string;
  /** "SHA256:…", what `ssh` shows on first connect. */
  readonly fingerprint: string;
  /** Whether it was made just now. */
  readonly created: boolean;
}

/**
 * The SSH server's host key: STATE/ssh/host_ed25519_key (0600, folder 0700),
 * made on first start and kept, so clients see the same host every time.
 * A key file readable by others is refused, as sshd does.
 */
export async function loadHostKey(stateDir: string): Promise<HostKey> {
  const dir = join(stateDir, 'ssh');
  const path = join(dir, 'host_ed25519_key');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  let text: string | null = null;
  try {
    const info = await stat(path);
    if ((info.mode & 0o077) !== 0) {
      throw new BerthError('BERTH_E_STATE', `the SSH host key ${path} is readable by others (mode ${(info.mode & 0o777).toString(8)})`, { hint: `chmod 600 ${path}` });
    }
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const created = text === null;
  if (text === null) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'berth host key' });
    writeFileAtomic(path, pair.private, 0o600);
    writeFileAtomic(`${path}.pub`, `${pair.public}\n`, 0o644);
    text = pair.private;
  }
  const key = ssh2.utils.parseKey(text);
  if (key instanceof Error || Array.isArray(key) || !key.isPrivateKey()) {
    throw new BerthError('BERTH_E_STATE', `the SSH host key ${path} cannot be read${key instanceof Error ? `: ${key.message}` : ''}`, { hint: 'Move it away; berth makes a new one on the next start (clients will then warn that the host key changed).' });
  }
  const blob = key.getPublicSSH();
  return { privateKey: text, publicKey: `${key.type} ${blob.toString('base64')}`, fingerprint: fingerprintOf(blob), created };
}
