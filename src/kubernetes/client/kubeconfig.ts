import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { BerthError } from '../../errors.ts';

/**
 * What berth takes from a kubeconfig: one server and one way to prove who it
 * is. Files named by the kubeconfig are resolved against its folder (as
 * kubectl does) but not read here, so the parser stays pure.
 */
export interface KubeconfigSpec {
  context: string;
  server: string;
  /** The namespace the context names, if any. */
  namespace: string | undefined;
  ca: { pem: string } | { file: string } | undefined;
  insecureSkipTlsVerify: boolean;
  auth:
    | { kind: 'token'; token: string }
    | { kind: 'token-file'; file: string }
    | { kind: 'client-certificate'; cert: { pem: string } | { file: string }; key: { pem: string } | { file: string } };
}

/** A kubeconfig with its files read: what a client connects with. */
export interface KubeConnection {
  server: string;
  namespace: string | undefined;
  ca: string | undefined;
  insecureSkipTlsVerify: boolean;
  token: string | undefined;
  /** Where the token came from, when a file: read again as it ages (projected service-account tokens rotate). */
  tokenFile?: string;
  clientCert: { cert: string; key: string } | undefined;
}

const CREDENTIALS_HINT = 'give berth a kubeconfig whose user has a token (a service account token: kubectl create token berth, or a token Secret) or a client certificate and key';

function configError(message: string, hint = CREDENTIALS_HINT): BerthError {
  return new BerthError('BERTH_E_KUBE_CONFIG', message, { hint });
}

type Entry = Record<string, unknown>;

function isRecord(value: unknown): value is Entry {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function named(list: unknown, section: string, name: string): Entry {
  if (list !== undefined && !Array.isArray(list)) throw configError(`the kubeconfig's ${section} is not a list`);
  const found = (list ?? []).find((entry: unknown) => isRecord(entry) && entry.name === name);
  if (!isRecord(found)) throw configError(`the kubeconfig has no ${section.replace(/s$/, '')} named ${JSON.stringify(name)}`, 'fix the context, or pick another with --context');
  const body = found[section.replace(/s$/, '')];
  if (!isRecord(body)) throw configError(`the kubeconfig's ${section.replace(/s$/, '')} ${JSON.stringify(name)} is empty`);
  return body;
}

function optionalString(entry: Entry, key: string, where: string): string | undefined {
  const value = entry[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw configError(`${where}: ${key} is not a string`);
  return value;
}

function decodeBase64Pem(data: string, what: string): string {
  const text = Buffer.from(data, 'base64').toString('utf8');
  if (!text.includes('-----BEGIN ')) throw configError(`${what} is not base64 of a PEM block`);
  return text;
}

/** pem from *-data (base64), or a file relative to the kubeconfig's folder. */
function material(entry: Entry, key: string, baseDir: string, where: string): { pem: string } | { file: string } | undefined {
  const data = optionalString(entry, `${key}-data`, where);
  if (data !== undefined) return { pem: decodeBase64Pem(data, `${where}: ${key}-data`) };
  const file = optionalString(entry, key, where);
  if (file !== undefined) return { file: isAbsolute(file) ? file : resolve(baseDir, file) };
  return undefined;
}

/**
 * Parses a kubeconfig's YAML. `baseDir` is the folder relative file names
 * are resolved against (the kubeconfig's own). Exec plugins and auth
 * providers are refused: berth never runs a program to get credentials, and
 * a token that a cloud CLI refreshes every hour would fail a deploy halfway.
 */
export function parseKubeconfig(text: string, baseDir: string, options: { context?: string } = {}): KubeconfigSpec {
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw configError(`the kubeconfig is not valid YAML: ${(err as Error).message.split('\n')[0]}`, 'check the file; kubectl config view reads it');
  }
  if (!isRecord(doc)) throw configError('the kubeconfig is not a YAML mapping', 'check the file; kubectl config view reads it');
  const contextName = options.context ?? (typeof doc['current-context'] === 'string' ? doc['current-context'] : '');
  if (contextName === '') throw configError('the kubeconfig has no current-context', 'set one (kubectl config use-context NAME) or name it with --context');
  const context = named(doc.contexts, 'contexts', contextName);
  const clusterName = optionalString(context, 'cluster', `context ${contextName}`);
  const userName = optionalString(context, 'user', `context ${contextName}`);
  if (clusterName === undefined) throw configError(`the kubeconfig's context ${JSON.stringify(contextName)} names no cluster`);
  if (userName === undefined) throw configError(`the kubeconfig's context ${JSON.stringify(contextName)} names no user`);
  const cluster = named(doc.clusters, 'clusters', clusterName);
  const user = named(doc.users, 'users', userName);

  const where = `cluster ${clusterName}`;
  const server = optionalString(cluster, 'server', where);
  if (server === undefined) throw configError(`the kubeconfig's ${where} has no server`);
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw configError(`the kubeconfig's ${where} server ${JSON.stringify(server)} is not a URL`);
  }
  // Credentials never travel in the clear.
  if (url.protocol !== 'https:') throw configError(`the kubeconfig's ${where} server ${JSON.stringify(server)} is not https://`, 'point berth at the API server over HTTPS');
  if (url.username !== '' || url.password !== '') throw configError(`the kubeconfig's ${where} server URL carries credentials`);
  const insecure = cluster['insecure-skip-tls-verify'] === true;
  const ca = material(cluster, 'certificate-authority', baseDir, where);

  const userWhere = `user ${userName}`;
  if (user.exec !== undefined && user.exec !== null) {
    throw configError(`the kubeconfig's ${userWhere} gets its credentials from an exec plugin, which berth does not run`);
  }
  if (user['auth-provider'] !== undefined && user['auth-provider'] !== null) {
    throw configError(`the kubeconfig's ${userWhere} gets its credentials from an auth-provider, which berth does not support`);
  }
  if (user.username !== undefined || user.password !== undefined) {
    throw configError(`the kubeconfig's ${userWhere} uses a username and password (basic auth, removed in Kubernetes 1.19)`);
  }
  const token = optionalString(user, 'token', userWhere);
  const tokenFile = optionalString(user, 'tokenFile', userWhere);
  const cert = material(user, 'client-certificate', baseDir, userWhere);
  const key = material(user, 'client-key', baseDir, userWhere);
  let auth: KubeconfigSpec['auth'];
  if (token !== undefined) auth = { kind: 'token', token: checkToken(token, userWhere) };
  else if (tokenFile !== undefined) auth = { kind: 'token-file', file: isAbsolute(tokenFile) ? tokenFile : resolve(baseDir, tokenFile) };
  else if (cert !== undefined && key !== undefined) auth = { kind: 'client-certificate', cert, key };
  else if (cert !== undefined || key !== undefined) throw configError(`the kubeconfig's ${userWhere} has a client certificate without its key, or a key without its certificate`);
  else throw configError(`the kubeconfig's ${userWhere} has no token and no client certificate`);
  const namespace = optionalString(context, 'namespace', `context ${contextName}`);
  return { context: contextName, server: server.replace(/\/+$/, ''), namespace, ca, insecureSkipTlsVerify: insecure, auth };
}

function checkToken(token: string, where: string): string {
  const trimmed = token.trim();
  // A header value: no control characters, no spaces inside.
  if (trimmed === '' || !/^[\x21-\x7e]+$/.test(trimmed)) throw configError(`the kubeconfig's ${where} token is not a valid bearer token`);
  return trimmed;
}

async function readMaterial(source: { pem: string } | { file: string }, what: string): Promise<string> {
  if ('pem' in source) return source.pem;
  try {
    return await readFile(source.file, 'utf8');
  } catch (err) {
    throw configError(`the ${what} file ${source.file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'fix the path in the kubeconfig (relative paths are relative to the kubeconfig)');
  }
}

/** Reads a kubeconfig and the files it names. */
export async function loadKubeconfig(file: string, options: { context?: string } = {}): Promise<KubeConnection> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw configError(`the kubeconfig ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'give the path of a kubeconfig file with --kubeconfig');
  }
  return connectionFrom(parseKubeconfig(text, dirname(resolve(file)), options));
}

/** Reads the files a parsed kubeconfig names. */
export async function connectionFrom(spec: KubeconfigSpec): Promise<KubeConnection> {
  const ca = spec.ca === undefined ? undefined : await readMaterial(spec.ca, 'certificate-authority');
  if (ca !== undefined && !ca.includes('-----BEGIN CERTIFICATE-----')) throw configError('the kubeconfig\'s certificate authority holds no PEM certificate', 'give the CA that signed the API server\'s certificate');
  let token: string | undefined;
  let clientCert: KubeConnection['clientCert'];
  if (spec.auth.kind === 'token') token = spec.auth.token;
  else if (spec.auth.kind === 'token-file') token = await readTokenFile(spec.auth.file);
  else clientCert = { cert: await readMaterial(spec.auth.cert, 'client-certificate'), key: await readMaterial(spec.auth.key, 'client-key') };
  return { server: spec.server, namespace: spec.namespace, ca, insecureSkipTlsVerify: spec.insecureSkipTlsVerify, token, ...(spec.auth.kind === 'token-file' ? { tokenFile: spec.auth.file } : {}), clientCert };
}

/** A token from a file, checked. */
export async function readTokenFile(file: string): Promise<string> {
  return checkToken(await readMaterial({ file }, 'token'), 'tokenFile');
}
