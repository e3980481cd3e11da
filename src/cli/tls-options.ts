import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { BerthError } from '../errors.ts';
import type { TlsConfig } from '../edge/index.ts';

// The HTTPS options the commands share: an operator's own certificate
// (--tls-cert/--tls-key), or else one from berth's local CA.

/** The operator's certificate chain and key, read and checked to belong together. Throws BERTH_E_TLS_CERT. */
export async function readOwnCertificate(certFile: string, keyFile: string): Promise<{ certPem: string; keyPem: string }> {
  let certPem: string;
  let keyPem: string;
  try {
    [certPem, keyPem] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  } catch (err) {
    throw new BerthError('BERTH_E_TLS_CERT', `cannot read the certificate or its key: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      hint: 'Give PEM files with --tls-cert (the certificate, then its chain) and --tls-key (its private key).',
    });
  }
  try {
    createSecureContext({ cert: certPem, key: keyPem });
  } catch (err) {
    throw new BerthError('BERTH_E_TLS_CERT', `the certificate and key cannot be used together: ${(err as Error).message}`, {
      hint: '--tls-key must be the private key of the first certificate in --tls-cert, both PEM.',
    });
  }
  return { certPem, keyPem };
}

/**
 * What a single-site command (`up`, `file-server`, `reverse-proxy`) serves
 * HTTPS with: the operator's certificate for every name, or the local CA's
 * "localhost" certificate (its root lives in `stateDir`; `berth tls ca`
 * prints it from a server using the same state).
 */
export async function singleSiteTls(options: { certFile?: string | undefined; keyFile?: string | undefined; stateDir: string }): Promise<TlsConfig> {
  if ((options.certFile === undefined) !== (options.keyFile === undefined)) {
    throw new BerthError('BERTH_E_USAGE', '--tls-cert and --tls-key go together', { hint: 'Give both, or neither to use a certificate from berth\'s local CA.' });
  }
  if (options.certFile !== undefined && options.keyFile !== undefined) {
    return { certificates: [], fallback: await readOwnCertificate(options.certFile, options.keyFile) };
  }
  const { LocalCa } = await import('../tls/index.ts');
  const ca = await LocalCa.open({ stateDir: options.stateDir });
  const pair = await ca.certificateFor('localhost');
  return { certificates: [], fallback: { certPem: pair.certPem, keyPem: pair.keyPem } };
}
