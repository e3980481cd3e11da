// One certificate for the whole run, made with the openssl CLI in the run's
// temp folder and handed as the same two files to every server that serves
// HTTPS, so that no server gets a cheaper key or a shorter chain.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChildProcesses } from './child-processes.ts';
import type { Workspace } from './fixtures.ts';

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** The certificate itself (PEM): self-signed, so also the only CA the harness's own probes trust. */
  readonly certPem: string;
}

/** The openssl arguments: a self-signed P-256 certificate for 127.0.0.1 and localhost, valid two days. */
export function opensslArgs(certFile: string, keyFile: string): string[] {
  return [
    'req', '-x509',
    '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-nodes', '-keyout', keyFile, '-out', certFile,
    '-days', '2',
    '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ];
}

export async function makeCertificate(children: ChildProcesses, workspace: Workspace): Promise<TlsFiles> {
  const dir = await workspace.subdir('tls');
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  await children.run({ name: 'openssl req', command: 'openssl', args: opensslArgs(certFile, keyFile), timeoutMs: 15_000 });
  return { certFile, keyFile, certPem: await readFile(certFile, 'utf8') };
}
