import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../platform/atomic-file.ts';
import { ensureDirectory } from '../safe-fs/index.ts';
import type { CertificatePair } from '../tls/index.ts';
import type { AddonUser } from './types.ts';

// TLS for the PostgreSQL cluster berth runs, so that frameworks' production
// settings (sslmode=require, dj-database-url's ssl_require=True) connect.
// Its certificate comes from berth's local CA and names every address apps
// reach the server at: localhost and 127.0.0.1 on the host, and the
// service address inside sandboxes (the relay there passes TLS through
// untouched). Its files, in STATE/addons/postgres/tls/ (root's, 0755):
//
//   root.crt     the local CA's root (0644): PGSSLROOTCERT, for verify-full
//   server.crt   the server's certificate (0644)
//   server.key   its key: 0640 root:postgres as root (PostgreSQL's rule for
//                a key it does not own), else 0600 berth's own
//
// A certificate is issued again when it no longer covers the names, is not
// the current root's, or is due for renewal: at each start, and twice a day
// while the server runs (then it re-reads its files on SIGHUP).

/** What the local CA does for the server (LocalCa, or a test's stand-in). */
export interface ServiceCertificateIssuer {
  readonly rootPem: string;
  issueServiceCertificate(names: readonly string[]): Promise<CertificatePair>;
  serviceCertificateIsCurrent(pair: { certPem: string; keyPem: string }, names: readonly string[]): boolean;
}

export interface PostgresTlsOptions {
  /** Opens the local CA (once, when the server first starts). */
  readonly issuer: () => Promise<ServiceCertificateIssuer>;
  /** The sandboxes' service address, when apps run in sandboxes. */
  readonly serviceAddress: string | null;
}

/** How often a running server's certificate is looked at. */
export const TLS_CHECK_INTERVAL_MS = 12 * 3_600_000;

/** The names the server's certificate must cover. Pure. */
export function postgresCertificateNames(serviceAddress: string | null): string[] {
  const names = ['localhost', '127.0.0.1'];
  if (serviceAddress !== null && !names.includes(serviceAddress)) names.push(serviceAddress);
  return names;
}

export interface PostgresTlsFiles {
  readonly dir: string;
  readonly rootCert: string;
  readonly cert: string;
  readonly key: string;
}

/** The files, under the cluster's folder (STATE/addons/postgres). Pure. */
export function postgresTlsFiles(clusterDir: string): PostgresTlsFiles {
  const dir = join(clusterDir, 'tls');
  return { dir, rootCert: join(dir, 'root.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
}

/** The postmaster's settings that turn TLS on with those files (given as -c, so nothing in the data folder can turn it off). Pure. */
export function postgresTlsArgs(files: PostgresTlsFiles): string[] {
  return ['-c', 'ssl=on', '-c', `ssl_cert_file=${files.cert}`, '-c', `ssl_key_file=${files.key}`, '-c', 'ssl_min_protocol_version=TLSv1.2'];
}

async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

/**
 * Makes the files current: the root as the CA has it now, and a server
 * certificate issued again unless the stored one is still good. True when
 * the server certificate changed (a running server must re-read it).
 */
export async function ensurePostgresTls(files: PostgresTlsFiles, issuer: ServiceCertificateIssuer, names: readonly string[], server: AddonUser | null): Promise<boolean> {
  const self = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  // Root's own folder (through a descriptor; a link in its place is replaced): the server only reads in it.
  await ensureDirectory(files.dir, self, 0o755);
  if ((await readText(files.rootCert)) !== issuer.rootPem) writeFileAtomic(files.rootCert, issuer.rootPem, 0o644);
  const certPem = await readText(files.cert);
  const keyPem = await readText(files.key);
  if (certPem !== null && keyPem !== null && issuer.serviceCertificateIsCurrent({ certPem, keyPem }, names)) return false;
  const pair = await issuer.issueServiceCertificate(names);
  // Key first, then the certificate: a crash between them leaves a pair that does not match, which is issued again.
  writeFileAtomic(files.key, pair.keyPem, server === null ? 0o600 : 0o640, server === null ? undefined : { uid: self.uid, gid: server.gid });
  writeFileAtomic(files.cert, pair.certPem, 0o644);
  return true;
}
