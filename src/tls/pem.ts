import { createPrivateKey, createPublicKey, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { BerthError } from '../errors.ts';

// Keys and certificates as berth keeps them: ECDSA P-256 keys in PKCS#8
// PEM, certificates in PEM with the leaf first and its chain after it, and
// the facts the rest of the module needs read back out of them.

/** The WebCrypto provider, passed explicitly to @peculiar/x509 (no global registration). */
export const webCrypto = webcrypto;

export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** ECDSA over P-256 signing with SHA-256: every key berth makes. */
export const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A certificate with its private key: what the edge loads into a TLS context. */
export interface CertificatePair {
  /** The leaf certificate then its chain (intermediates), PEM. */
  readonly certPem: string;
  /** The leaf's private key, PKCS#8 PEM. Never logged. */
  readonly keyPem: string;
  /** Epoch milliseconds. */
  readonly notBefore: number;
  /** Epoch milliseconds. */
  readonly notAfter: number;
}

/** A new ECDSA P-256 key pair (extractable, so the private key can be stored). */
export async function newKeyPair(): Promise<CryptoKeyPair> {
  return webCrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify']);
}

/** A private key as PKCS#8 PEM. */
export async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webCrypto.subtle.exportKey('pkcs8', key));
  return toPem('PRIVATE KEY', der);
}

/** A stored ECDSA P-256 private key, back as a WebCrypto signing key and its public key. */
export function importKeyPair(keyPem: string): CryptoKeyPair {
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new BerthError('BERTH_E_CERTIFICATE', 'a stored private key cannot be read', { cause: err, status: 500 });
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new BerthError('BERTH_E_CERTIFICATE', 'a stored private key is not an ECDSA P-256 key', { status: 500 });
  }
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256' };
  return {
    privateKey: key.toCryptoKey(algorithm, false, ['sign']),
    publicKey: createPublicKey(key).toCryptoKey(algorithm, true, ['verify']),
  };
}

function toPem(label: string, der: Uint8Array): string {
  const body = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM text, in order, each as its own PEM block (other blocks ignored). */
export function splitCertificates(pem: string): string[] {
  return (pem.match(CERTIFICATE_BLOCK) ?? []).map((block) => `${block.replace(/\r\n/g, '\n')}\n`);
}

/** A PEM certificate parsed, or BERTH_E_CERTIFICATE naming `what`. */
export function parseCertificate(pem: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new BerthError('BERTH_E_CERTIFICATE', `${what} is not a valid certificate`, { cause: err, status: 500 });
  }
}

/**
 * A certificate chain and key read back and checked: the chain holds at
 * least one certificate, the key is the leaf's, and (when `name` is given)
 * the leaf covers that name (DNS name or IP address). Throws
 * BERTH_E_CERTIFICATE otherwise; the key never appears in the error.
 */
export function readPair(certPem: string, keyPem: string, what: string, name?: string): CertificatePair {
  const blocks = splitCertificates(certPem);
  if (blocks.length === 0) throw new BerthError('BERTH_E_CERTIFICATE', `${what} holds no PEM certificate`, { status: 500 });
  const leaf = parseCertificate(blocks[0]!, what);
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new BerthError('BERTH_E_CERTIFICATE', `the private key of ${what} cannot be read`, { cause: err, status: 500 });
  }
  if (!leaf.checkPrivateKey(key)) throw new BerthError('BERTH_E_CERTIFICATE', `the private key of ${what} does not belong to its certificate`, { status: 500 });
  if (name !== undefined && !covers(leaf, name)) throw new BerthError('BERTH_E_CERTIFICATE', `${what} does not cover ${name}`, { status: 500 });
  return { certPem: blocks.join(''), keyPem, notBefore: leaf.validFromDate.getTime(), notAfter: leaf.validToDate.getTime() };
}

/** True when the certificate's subject alternative names cover `name` exactly (no wildcard, no CN fallback). */
export function covers(cert: X509Certificate, name: string): boolean {
  if (isIP(name) !== 0) return cert.checkIP(name) !== undefined;
  return cert.checkHost(name, { subject: 'never', wildcards: false }) !== undefined;
}
