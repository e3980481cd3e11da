import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError } from '../errors.ts';
import { writeFileAtomic } from '../platform/atomic-file.ts';

// Where certificates live in the state directory:
//
//   STATE/tls/                  0700
//     ca/ca-key.pem, ca.pem     the local CA's key and root
//     local/NAME/               the local CA's leaves (localhost names, IPs)
//     acme/account-key.pem      the ACME account key
//     certs/HOST/               ACME certificates
//
// Every file 0600, every folder 0700, every write atomic. A pair is written
// key first, then certificate: a crash between the two leaves a key that
// does not match, which the reader treats as "no certificate" and reissues.

export const KEY_FILE = 'key.pem';
export const CERT_FILE = 'cert.pem';

/** STATE/tls */
export function tlsDir(stateDir: string): string {
  return join(stateDir, 'tls');
}

/** Create `dir` (and its parents) as 0700, and make it 0700 if it already was there. */
export function ensurePrivateDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  } catch (err) {
    throw new BerthError('BERTH_E_STATE', `cannot create the folder ${dir}`, { cause: err, status: 500, hint: "Check the state folder's owner and permissions." });
  }
}

/** Write `content` to `path` as 0600, atomically, in a 0700 folder. */
export function writePrivateFile(path: string, content: string): void {
  try {
    writeFileAtomic(path, content, 0o600);
  } catch (err) {
    throw new BerthError('BERTH_E_STATE', `cannot write ${path}`, { cause: err, status: 500, hint: "Check the state folder's owner, permissions and free space." });
  }
}

/** A file's text, or null when it does not exist. */
export function readOptionalFile(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new BerthError('BERTH_E_STATE', `cannot read ${path}`, { cause: err, status: 500, hint: "Check the state folder's owner and permissions." });
  }
}

/** The files a pair is kept in, within its folder. */
export interface PairFileNames {
  readonly key: string;
  readonly cert: string;
}

const PAIR_FILES: PairFileNames = { key: KEY_FILE, cert: CERT_FILE };

/** The certificate and key text in `dir`, or null when either is missing. */
export function readPairFiles(dir: string, names: PairFileNames = PAIR_FILES): { certPem: string; keyPem: string } | null {
  const keyPem = readOptionalFile(join(dir, names.key));
  const certPem = readOptionalFile(join(dir, names.cert));
  return keyPem === null || certPem === null ? null : { certPem, keyPem };
}

/** Write a certificate and its key into `dir` (made 0700): key first, then the certificate. */
export function writePairFiles(dir: string, pair: { certPem: string; keyPem: string }, names: PairFileNames = PAIR_FILES): void {
  ensurePrivateDir(dir);
  writePrivateFile(join(dir, names.key), pair.keyPem);
  writePrivateFile(join(dir, names.cert), pair.certPem);
}
