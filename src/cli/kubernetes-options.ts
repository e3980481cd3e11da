import { lstat, readFile } from 'node:fs/promises';
import { BerthError } from '../errors.ts';
import { exactLabel, exactSubdomain, parseBaseImages, parseRegistryPrefix, type BaseLanguage, type PushRegistry } from '../kubernetes/index.ts';
import type { ImageReference } from '../oci/index.ts';
import { parseDuration } from '../units.ts';

// `berth server --runtime kubernetes` and the flags that go with it, read
// into what the KubeRuntime is opened with. The flags' text is checked
// here, before the daemon touches its state folder.

export interface KubernetesFlags {
  readonly runtime?: string;
  readonly kubeconfig?: string;
  readonly kubeContext?: string;
  readonly namespace?: string;
  readonly registry?: string;
  readonly registryCa?: string;
  readonly registryPlainHttp?: boolean;
  readonly registryCredentialsFile?: string;
  readonly baseImage?: readonly string[];
  readonly ingressClass?: string;
  readonly certIssuer?: string;
  readonly releaseTimeout?: string;
  readonly rolloutTimeout?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
}

export interface KubernetesSettings {
  readonly kubeconfig: string;
  readonly context: string | undefined;
  readonly namespace: string;
  readonly registry: Omit<PushRegistry, 'credentials'> & { readonly credentialsFile: string | undefined };
  readonly bases: Record<BaseLanguage, ImageReference>;
  readonly ingressClass: string | null;
  readonly certIssuer: { readonly name: string; readonly kind: 'ClusterIssuer' | 'Issuer' } | null;
  readonly releaseTimeoutSeconds: number;
  readonly rolloutTimeoutMs: number;
  /** The operator's certificate (`--tls-cert`/`--tls-key`) for the domains it covers; read by readClusterCertificate. */
  readonly certificate: { readonly certFile: string; readonly keyFile: string } | null;
}

const ONLY_WITH_KUBERNETES = ['kubeconfig', 'kubeContext', 'namespace', 'registry', 'registryCa', 'registryPlainHttp', 'registryCredentialsFile', 'ingressClass', 'certIssuer', 'releaseTimeout', 'rolloutTimeout'] as const;

function flag(name: string): string {
  return `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Null for `--runtime local` (the default); the cluster's settings for `--runtime kubernetes`; a BerthError for anything else. Pure. */
export function parseKubernetesFlags(flags: KubernetesFlags): KubernetesSettings | null {
  const runtime = flags.runtime ?? 'local';
  if (runtime !== 'local' && runtime !== 'kubernetes') throw new BerthError('BERTH_E_USAGE', `--runtime ${runtime} is not a runtime`, { hint: 'Use --runtime local (apps on this machine, the default) or --runtime kubernetes.' });
  if (runtime === 'local') {
    const stray = ONLY_WITH_KUBERNETES.find((name) => flags[name] !== undefined && flags[name] !== false);
    if (stray !== undefined || (flags.baseImage ?? []).length > 0) throw new BerthError('BERTH_E_USAGE', `${flag(stray ?? 'baseImage')} only means something with --runtime kubernetes`, { hint: 'Add --runtime kubernetes, or drop the flag.' });
    return null;
  }
  if (flags.kubeconfig === undefined) throw new BerthError('BERTH_E_USAGE', '--runtime kubernetes needs --kubeconfig FILE', { hint: "Give a kubeconfig whose user is berth's service account (README \"On Kubernetes\")." });
  if (flags.registry === undefined) throw new BerthError('BERTH_E_USAGE', '--runtime kubernetes needs --registry HOST[:PORT]/PREFIX', { hint: "The registry berth pushes each build's image to, which the cluster's nodes pull from." });
  const { host, prefix } = parseRegistryPrefix(flags.registry);
  let certIssuer: KubernetesSettings['certIssuer'] = null;
  if (flags.certIssuer !== undefined) {
    const match = /^(ClusterIssuer|Issuer)\/(.+)$/.exec(flags.certIssuer);
    if (match === null) throw new BerthError('BERTH_E_USAGE', `--cert-issuer ${flags.certIssuer} is not KIND/NAME`, { hint: 'e.g. --cert-issuer ClusterIssuer/letsencrypt (cert-manager issues each domain\'s certificate).' });
    certIssuer = { kind: match[1] as 'ClusterIssuer' | 'Issuer', name: exactSubdomain(match[2]!, 'cert-manager issuer') };
  }
  let certificate: KubernetesSettings['certificate'] = null;
  if (flags.tlsCert !== undefined || flags.tlsKey !== undefined) {
    if (flags.tlsCert === undefined || flags.tlsKey === undefined) throw new BerthError('BERTH_E_USAGE', '--tls-cert and --tls-key go together', { hint: 'Give both files.' });
    if (certIssuer !== null) throw new BerthError('BERTH_E_USAGE', '--cert-issuer and --tls-cert both say where the domains\' certificates come from', { hint: 'Use one: cert-manager (--cert-issuer) or your own certificate (--tls-cert and --tls-key).' });
    certificate = { certFile: flags.tlsCert, keyFile: flags.tlsKey };
  }
  const releaseTimeoutSeconds = Math.ceil(parseDuration(flags.releaseTimeout ?? '15m') / 1000);
  const rolloutTimeoutMs = parseDuration(flags.rolloutTimeout ?? '10m');
  if (releaseTimeoutSeconds < 1 || rolloutTimeoutMs < 1000) throw new BerthError('BERTH_E_USAGE', '--release-timeout and --rollout-timeout must be at least 1s', { hint: 'e.g. --release-timeout 15m --rollout-timeout 10m' });
  return {
    kubeconfig: flags.kubeconfig,
    context: flags.kubeContext,
    namespace: exactLabel(flags.namespace ?? 'berth', 'namespace'),
    registry: { host, prefix, plainHttp: flags.registryPlainHttp === true, caFile: flags.registryCa, credentialsFile: flags.registryCredentialsFile },
    bases: parseBaseImages(flags.baseImage ?? []),
    ingressClass: flags.ingressClass === undefined ? null : exactSubdomain(flags.ingressClass, 'ingress class'),
    certIssuer,
    releaseTimeoutSeconds,
    rolloutTimeoutMs,
    certificate,
  };
}

/** The DNS names of a certificate's subjectAltName as Node prints it ("DNS:a.example.com, DNS:*.example.com, IP Address:…"). Pure. */
export function certificateDnsNames(subjectAltName: string | undefined): string[] {
  return (subjectAltName ?? '').split(/,\s*/).filter((entry) => entry.startsWith('DNS:')).map((entry) => entry.slice(4).toLowerCase());
}

/** The operator's certificate for the cluster's Ingresses: read, checked with its key, and the names it covers. */
export async function readClusterCertificate(files: { certFile: string; keyFile: string }): Promise<{ certPem: string; keyPem: string; names: string[] }> {
  const { readOwnCertificate } = await import('./tls-options.ts');
  const { X509Certificate } = await import('node:crypto');
  const own = await readOwnCertificate(files.certFile, files.keyFile);
  const names = certificateDnsNames(new X509Certificate(own.certPem).subjectAltName);
  if (names.length === 0) throw new BerthError('BERTH_E_TLS_CERT', `${files.certFile} names no DNS name (subjectAltName)`, { hint: 'Give a certificate for your domains (a wildcard such as *.example.com covers one label below it).' });
  return { ...own, names };
}

/**
 * The registry's credentials: one line `USERNAME:PASSWORD` in a file only
 * its owner may read (never a flag: argv is visible to every user).
 */
export async function readRegistryCredentials(file: string): Promise<{ username: string; password: string }> {
  const stat = await lstat(file).catch((err: Error) => {
    throw new BerthError('BERTH_E_USAGE', `--registry-credentials-file ${file} cannot be read: ${err.message}`, { hint: 'Write USERNAME:PASSWORD on one line, mode 0600.' });
  });
  if (!stat.isFile()) throw new BerthError('BERTH_E_USAGE', `--registry-credentials-file ${file} is not a regular file`, { hint: 'Give the file itself, not a link to it.' });
  if ((stat.mode & 0o077) !== 0) throw new BerthError('BERTH_E_USAGE', `--registry-credentials-file ${file} may be read by others (mode ${(stat.mode & 0o777).toString(8)})`, { hint: `chmod 600 ${file}` });
  const text = (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
  const colon = text.indexOf(':');
  if (colon <= 0 || text.includes('\n')) throw new BerthError('BERTH_E_USAGE', `--registry-credentials-file ${file} is not one line USERNAME:PASSWORD`, { hint: 'e.g. printf "%s:%s\\n" robot "$TOKEN" > FILE; chmod 600 FILE' });
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}
