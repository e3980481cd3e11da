import { createHash, createPublicKey } from 'node:crypto';
import ssh2 from 'ssh2';
import { BerthError } from '../errors.ts';

/** A public key as berth stores it. */
export interface PublicKeyInfo {
  /** "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa", … */
  readonly algorithm: string;
  /** The key in OpenSSH's one-line form without its comment: "ssh-ed25519 AAAA…". */
  readonly publicKey: string;
  /** "SHA256:…", exactly as `ssh-keygen -lf` prints it. */
  readonly fingerprint: string;
  /** The comment after the key ("alice@laptop"), or "". */
  readonly comment: string;
}

const ALGORITHMS = new Set(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa']);
const MIN_RSA_BITS = 2048;
/** No public key line is this long (a 16384-bit RSA key is about 2.8 KB). */
export const MAX_PUBLIC_KEY_BYTES = 16 * 1024;

function refuse(message: string, hint = 'Give the .pub file, e.g. ~/.ssh/id_ed25519.pub (create one with ssh-keygen -t ed25519).'): BerthError {
  return new BerthError('BERTH_E_SSH_KEY', message, { status: 400, hint });
}

/** The SHA-256 fingerprint of a key's wire form, as OpenSSH prints it: "SHA256:" and unpadded base64. */
export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * Parses and checks one OpenSSH public key line ("TYPE BASE64 [COMMENT]").
 * Refused with BERTH_E_SSH_KEY (400): a private key (said so, and never
 * echoed), options before the key (authorized_keys syntax), more than one
 * key, malformed data, DSA and other unsupported types, RSA under 2048 bits.
 * Messages never contain the key material.
 */
export function parsePublicKey(text: string): PublicKeyInfo {
  if (typeof text !== 'string' || text.trim() === '') throw refuse('the public key is empty');
  if (Buffer.byteLength(text) > MAX_PUBLIC_KEY_BYTES) throw refuse(`the public key is longer than ${MAX_PUBLIC_KEY_BYTES} bytes`);
  if (/PRIVATE KEY/.test(text)) {
    throw refuse('this is a private key; it must never leave your machine', 'Give the matching .pub file instead (e.g. ~/.ssh/id_ed25519.pub).');
  }
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '' && !line.trim().startsWith('#'));
  if (lines.length !== 1) throw refuse(lines.length === 0 ? 'the public key is empty' : `expected one public key, found ${lines.length} lines`);
  const line = lines[0]!.trim();
  const match = /^(\S+) ([A-Za-z0-9+/]+={0,2})(?: +(.*))?$/.exec(line);
  if (match === null) throw refuse('this is not an OpenSSH public key line ("TYPE BASE64 [COMMENT]"); options before the key are not accepted');
  const [, type, base64, comment] = match as unknown as [string, string, string, string | undefined];
  if (!ALGORITHMS.has(type)) {
    const known = [...ALGORITHMS].join(', ');
    throw refuse(`keys of type ${JSON.stringify(type.slice(0, 40))} are not accepted (accepted: ${known})`, 'Use an ed25519 key: ssh-keygen -t ed25519.');
  }
  const parsed = ssh2.utils.parseKey(`${type} ${base64}`);
  if (parsed instanceof Error || Array.isArray(parsed)) throw refuse('the public key data is malformed');
  if (parsed.isPrivateKey()) throw refuse('this is a private key; it must never leave your machine');
  if (parsed.type !== type) throw refuse(`the key data is a ${parsed.type} key, but the line says ${type}`);
  const blob = parsed.getPublicSSH();
  if (!blob.equals(Buffer.from(base64, 'base64'))) throw refuse('the public key data is malformed');
  if (type === 'ssh-rsa') {
    const bits = createPublicKey(parsed.getPublicPEM()).asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) throw refuse(`this RSA key has ${bits} bits; at least ${MIN_RSA_BITS} are required`, 'Use an ed25519 key: ssh-keygen -t ed25519.');
  }
  return { algorithm: type, publicKey: `${type} ${blob.toString('base64')}`, fingerprint: fingerprintOf(blob), comment: (comment ?? '').trim() };
}

/**
 * A key name made from a key's comment: lowercase, runs of characters a
 * name cannot hold become "-", "alice@Laptop" → "alice-laptop". Returns
 * null when nothing usable is left.
 */
export function keyNameFromComment(comment: string): string | null {
  const name = comment
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 63)
    .replace(/[._-]+$/, '');
  return name === '' ? null : name;
}
