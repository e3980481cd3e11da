import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { Agent, request, type Dispatcher } from 'undici';
import { BerthError } from '../errors.ts';
import { digestOf, isDigest, mismatch, type Digest } from './digest.ts';
import type { LayerCache, StoredBlob } from './layer-cache.ts';
import { MANIFEST_ACCEPT } from './media-types.ts';
import { isRegistryHost, isRepositoryName, isTag } from './reference.ts';
import { basicAuthorization, parseChallenge, repositoryScope, tokenUrl } from './registry-auth.ts';

export interface RegistryCredentials {
  readonly username: string;
  readonly password: string;
}

export interface RegistryOptions {
  /** host[:port] to connect to (Docker Hub's is registry-1.docker.io: see registryEndpoint). */
  readonly registry: string;
  /** Plain HTTP instead of HTTPS (a registry on localhost or a private network). */
  readonly plainHttp?: boolean | undefined;
  readonly credentials?: RegistryCredentials | undefined;
  /** A PEM file of CA certificates trusted besides the system's. */
  readonly caFile?: string | undefined;
  /** Blobs larger than this are uploaded in chunks of this size (PATCH); smaller ones in one PUT. */
  readonly chunkSize?: number | undefined;
  readonly timeoutMs?: number | undefined;
}

/** A blob to push: its digest, size, and its bytes from any offset (a retry or a chunk opens it again). */
export interface BlobSource {
  readonly digest: Digest;
  readonly size: number;
  open(start: number, end: number): Promise<Readable>;
}

export type PushOutcome = 'exists' | 'mounted' | 'uploaded';

interface Sent {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Dispatcher.ResponseData['body'];
  readonly url: URL;
}

interface Call {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH';
  readonly url: URL;
  readonly repository: string;
  readonly push: boolean;
  readonly headers?: Record<string, string>;
  /** A body made anew for each attempt (a 401 is answered, then the request is sent again). */
  readonly body?: () => Promise<Readable | Buffer>;
  readonly ok: readonly number[];
}

const DEFAULT_CHUNK = 32 * 1024 * 1024;
const MAX_REDIRECTS = 5;
const MAX_ERROR_BYTES = 64 * 1024;
const MAX_TOKEN_BYTES = 64 * 1024;

/**
 * A client of one registry's distribution API (OCI distribution spec v1.1,
 * which Docker's registry, Harbor, ECR, GCR/Artifact Registry, GHCR and
 * Docker Hub speak). Every manifest read is checked against its digest;
 * blobs are checked where they land (LayerCache.ingest). Credentials go only
 * to the registry's own origin and to its token service, never into an
 * error message or a log.
 */
export class RegistryClient {
  readonly registry: string;
  readonly #base: URL;
  readonly #dispatcher: Agent;
  readonly #credentials: RegistryCredentials | undefined;
  readonly #chunkSize: number;
  /** Authorization per scope ('' for Basic, which has none). */
  readonly #authorization = new Map<string, string>();
  #closed = false;

  private constructor(options: RegistryOptions, ca: string | undefined) {
    this.registry = options.registry;
    this.#base = new URL(`${options.plainHttp ? 'http' : 'https'}://${options.registry}/`);
    this.#credentials = options.credentials;
    this.#chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
    const timeout = options.timeoutMs ?? 120_000;
    this.#dispatcher = new Agent({ headersTimeout: timeout, bodyTimeout: timeout, connect: { timeout: Math.min(timeout, 30_000), ...(ca === undefined ? {} : { ca: [...rootCertificates, ca] }) } });
  }

  static async open(options: RegistryOptions): Promise<RegistryClient> {
    if (!isRegistryHost(options.registry)) throw new BerthError('BERTH_E_IMAGE_REFERENCE', `${JSON.stringify(options.registry)} is not a registry host[:port]`, { hint: 'e.g. registry.example.com or 127.0.0.1:5000' });
    if (options.chunkSize !== undefined && (!Number.isSafeInteger(options.chunkSize) || options.chunkSize < 1024)) throw new BerthError('BERTH_E_USAGE', 'the upload chunk size must be at least 1024 bytes');
    let ca: string | undefined;
    if (options.caFile !== undefined) {
      try {
        ca = await readFile(options.caFile, 'utf8');
      } catch (err) {
        throw new BerthError('BERTH_E_USAGE', `the registry CA file ${options.caFile} cannot be read: ${(err as Error).message}`, { hint: 'give a PEM file of the CA that signed the registry certificate' });
      }
      if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new BerthError('BERTH_E_USAGE', `the registry CA file ${options.caFile} holds no PEM certificate`, { hint: 'give a PEM file of the CA that signed the registry certificate' });
    }
    return new RegistryClient(options, ca);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#dispatcher.close();
  }

  /** A manifest or index by tag or digest: its bytes (checked against the digest), media type and digest. */
  async getManifest(repository: string, reference: string): Promise<{ bytes: Buffer; mediaType: string | undefined; digest: Digest }> {
    checkRepository(repository);
    if (!isDigest(reference) && !isTag(reference)) throw new BerthError('BERTH_E_IMAGE_REFERENCE', `${JSON.stringify(reference)} is neither a tag nor a sha256 digest`);
    const sent = await this.#send({ method: 'GET', url: this.#url(`${repository}/manifests/${reference}`), repository, push: false, headers: { accept: MANIFEST_ACCEPT }, ok: [200] });
    const bytes = await readCapped(sent, 4 * 1024 * 1024, `the manifest ${repository}:${reference}`);
    const digest = digestOf(bytes);
    if (isDigest(reference) && digest !== reference) throw mismatch(`the manifest ${repository}@${reference}`, reference, digest);
    const claimed = header(sent, 'docker-content-digest');
    if (claimed !== undefined && claimed.startsWith('sha256:') && claimed !== digest) throw mismatch(`the manifest ${repository}:${reference} (as the registry's Docker-Content-Digest names it)`, claimed as Digest, digest);
    return { bytes, mediaType: header(sent, 'content-type')?.split(';')[0]?.trim(), digest };
  }

  /** A blob streamed into the cache, verified there against its digest and size. */
  async pullBlob(repository: string, blob: StoredBlob, cache: LayerCache): Promise<StoredBlob> {
    checkRepository(repository);
    const sent = await this.#send({ method: 'GET', url: this.#url(`${repository}/blobs/${blob.digest}`), repository, push: false, ok: [200] });
    return cache.ingest(sent.body, blob);
  }

  /** The blob's size when the repository has it. */
  async hasBlob(repository: string, digest: Digest, push = false): Promise<number | undefined> {
    checkRepository(repository);
    const sent = await this.#send({ method: 'HEAD', url: this.#url(`${repository}/blobs/${digest}`), repository, push, ok: [200, 404] });
    await sent.body.dump();
    if (sent.status === 404) return undefined;
    const length = Number(header(sent, 'content-length'));
    return Number.isSafeInteger(length) ? length : 0;
  }

  /**
   * Pushes a blob unless the repository has it: mounted from `mountFrom`
   * (another repository of the same registry) when it can be, else
   * uploaded in one PUT, or in chunks when larger than the chunk size.
   */
  async pushBlob(repository: string, source: BlobSource, mountFrom?: string): Promise<PushOutcome> {
    checkRepository(repository);
    if ((await this.hasBlob(repository, source.digest, true)) === source.size) return 'exists';
    const uploads = this.#url(`${repository}/blobs/uploads/`);
    if (mountFrom !== undefined && mountFrom !== repository && isRepositoryName(mountFrom)) {
      uploads.searchParams.set('mount', source.digest);
      uploads.searchParams.set('from', mountFrom);
    }
    const started = await this.#send({ method: 'POST', url: uploads, repository, push: true, headers: { 'content-length': '0' }, ok: [201, 202] });
    await started.body.dump();
    if (started.status === 201) return 'mounted';
    let location = this.#location(started);
    if (source.size > this.#chunkSize) {
      for (let start = 0; start < source.size; start += this.#chunkSize) {
        const end = Math.min(source.size, start + this.#chunkSize);
        const chunk = await this.#send({
          method: 'PATCH',
          url: location,
          repository,
          push: true,
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(end - start), 'content-range': `${start}-${end - 1}` },
          body: () => source.open(start, end),
          ok: [202],
        });
        await chunk.body.dump();
        location = this.#location(chunk);
      }
      location.searchParams.set('digest', source.digest);
      const done = await this.#send({ method: 'PUT', url: location, repository, push: true, headers: { 'content-length': '0' }, ok: [201] });
      await done.body.dump();
    } else {
      location.searchParams.set('digest', source.digest);
      const done = await this.#send({
        method: 'PUT',
        url: location,
        repository,
        push: true,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(source.size) },
        body: () => source.open(0, source.size),
        ok: [201],
      });
      await done.body.dump();
    }
    return 'uploaded';
  }

  /** Pushes a manifest under a tag (or its digest) and returns its digest. */
  async putManifest(repository: string, reference: string, mediaType: string, bytes: Buffer): Promise<Digest> {
    checkRepository(repository);
    if (!isTag(reference) && !isDigest(reference)) throw new BerthError('BERTH_E_IMAGE_REFERENCE', `${JSON.stringify(reference)} is neither a tag nor a sha256 digest`);
    const digest = digestOf(bytes);
    const sent = await this.#send({
      method: 'PUT',
      url: this.#url(`${repository}/manifests/${reference}`),
      repository,
      push: true,
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
      body: async () => bytes,
      ok: [201],
    });
    await sent.body.dump();
    const claimed = header(sent, 'docker-content-digest');
    if (claimed !== undefined && claimed.startsWith('sha256:') && claimed !== digest) throw mismatch(`the manifest pushed to ${repository}:${reference}`, digest, claimed as Digest);
    return digest;
  }

  #url(path: string): URL {
    return new URL(`v2/${path}`, this.#base);
  }

  #location(sent: Sent): URL {
    const location = header(sent, 'location');
    if (location === undefined) throw registryError(sent, 'its answer has no Location for the upload');
    const url = new URL(location, sent.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw registryError(sent, 'its upload Location is not an http(s) URL');
    return url;
  }

  /**
   * One request, with authorization: a 401 is answered once (Basic, or a
   * token from the Bearer challenge's realm) and the request sent again.
   * GET and HEAD follow redirects (blob storage elsewhere), without our
   * Authorization once they leave the registry's origin.
   */
  async #send(call: Call): Promise<Sent> {
    const scope = repositoryScope(call.repository, call.push);
    let answered = false;
    for (;;) {
      const sent = await this.#follow(call, scope);
      if (sent.status === 401 && !answered) {
        answered = true;
        await sent.body.dump();
        await this.#answerChallenge(sent, scope);
        continue;
      }
      if (call.ok.includes(sent.status)) return sent;
      if (sent.status === 401 || sent.status === 403) {
        const detail = this.#redact(await errorDetail(sent));
        throw new BerthError('BERTH_E_REGISTRY_AUTH', `${this.registry} refused ${call.method} ${sent.url.pathname} (${sent.status}${detail})${this.#credentials === undefined ? ' and berth has no credentials for it' : ' with the credentials berth has'}`, { status: 401, hint: 'give berth a user and password (or token) the registry accepts, with the right to pull and push this repository' });
      }
      throw registryError(sent, `${sent.status}${this.#redact(await errorDetail(sent))}`, call.method);
    }
  }

  /** A registry may echo what it was sent: the password, the Basic value and tokens are cut out of its words. */
  #redact(text: string): string {
    const secrets = [...this.#authorization.values()].map((value) => value.replace(/^(Basic|Bearer) /, ''));
    if (this.#credentials !== undefined) secrets.push(this.#credentials.password, basicAuthorization(this.#credentials.username, this.#credentials.password).slice('Basic '.length));
    let redacted = text;
    for (const secret of secrets) if (secret.length >= 4) redacted = redacted.replaceAll(secret, '[redacted]');
    return redacted;
  }

  async #follow(call: Call, scope: string): Promise<Sent> {
    let url = call.url;
    for (let hop = 0; ; hop++) {
      const sameOrigin = url.origin === this.#base.origin;
      const authorization = sameOrigin ? (this.#authorization.get(scope) ?? this.#authorization.get('')) : undefined;
      const headers: Record<string, string> = { 'user-agent': 'berth', ...call.headers, ...(authorization === undefined ? {} : { authorization }) };
      let response: Dispatcher.ResponseData;
      try {
        response = await request(url, { dispatcher: this.#dispatcher, method: call.method, headers, body: call.body === undefined ? null : await call.body() });
      } catch (err) {
        throw unreachable(this.registry, call.method, url, err);
      }
      const sent: Sent = { status: response.statusCode, headers: response.headers, body: response.body, url };
      const location = header(sent, 'location');
      if ((call.method === 'GET' || call.method === 'HEAD') && [301, 302, 303, 307, 308].includes(sent.status) && location !== undefined) {
        await response.body.dump();
        if (hop >= MAX_REDIRECTS) throw registryError(sent, `more than ${MAX_REDIRECTS} redirects`, call.method);
        url = new URL(location, url);
        if (url.protocol !== 'https:' && url.protocol !== 'http:') throw registryError(sent, 'a redirect to something other than http(s)', call.method);
        continue;
      }
      return sent;
    }
  }

  async #answerChallenge(sent: Sent, scope: string): Promise<void> {
    const challenge = parseChallenge(header(sent, 'www-authenticate'));
    if (challenge === undefined) throw new BerthError('BERTH_E_REGISTRY_AUTH', `${this.registry} answered 401 to ${sent.url.pathname} without a Basic or Bearer challenge`, { status: 401, hint: 'check that this is a registry (distribution API v2)' });
    if (challenge.scheme === 'basic') {
      if (this.#credentials === undefined) throw new BerthError('BERTH_E_REGISTRY_AUTH', `${this.registry} wants a user and password (Basic), and berth has none for it`, { status: 401, hint: "give berth the registry's user and password" });
      this.#authorization.set('', basicAuthorization(this.#credentials.username, this.#credentials.password));
      return;
    }
    const url = tokenUrl(challenge, scope, this.#base.protocol === 'https:');
    if (typeof url === 'string') throw new BerthError('BERTH_E_REGISTRY_AUTH', `${this.registry} asked for a token, but ${url}`, { status: 401, hint: "check the registry's token service settings" });
    const headers: Record<string, string> = { 'user-agent': 'berth', ...(this.#credentials === undefined ? {} : { authorization: basicAuthorization(this.#credentials.username, this.#credentials.password) }) };
    let response: Dispatcher.ResponseData;
    try {
      response = await request(url, { dispatcher: this.#dispatcher, method: 'GET', headers });
    } catch (err) {
      throw unreachable(`${this.registry}'s token service`, 'GET', url, err);
    }
    const answer: Sent = { status: response.statusCode, headers: response.headers, body: response.body, url };
    if (answer.status !== 200) {
      await response.body.dump();
      throw new BerthError('BERTH_E_REGISTRY_AUTH', `${this.registry}'s token service (${url.origin}${url.pathname}) refused a token for ${scope} (${answer.status})${this.#credentials === undefined ? '; berth has no credentials for it' : ''}`, { status: 401, hint: 'give berth a user and password the registry accepts, with the right to pull and push this repository' });
    }
    let token: unknown;
    try {
      const parsed = JSON.parse((await readCapped(answer, MAX_TOKEN_BYTES, 'the token answer')).toString('utf8')) as { token?: unknown; access_token?: unknown };
      token = parsed.token ?? parsed.access_token;
    } catch {
      token = undefined;
    }
    if (typeof token !== 'string' || token.length === 0 || /[\r\n]/.test(token)) throw new BerthError('BERTH_E_REGISTRY_AUTH', `${this.registry}'s token service answered without a token`, { status: 401, hint: "check the registry's token service" });
    this.#authorization.set(scope, `Bearer ${token}`);
  }
}

function checkRepository(repository: string): void {
  if (!isRepositoryName(repository)) throw new BerthError('BERTH_E_IMAGE_REFERENCE', `${JSON.stringify(repository.slice(0, 300))} is not a repository name (lowercase components separated by /)`, { hint: 'e.g. team/app' });
}

function header(sent: Pick<Sent, 'headers'>, name: string): string | undefined {
  const value = sent.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readCapped(sent: Sent, maxBytes: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of sent.body) {
    total += (chunk as Buffer).length;
    if (total > maxBytes) {
      sent.body.destroy();
      throw new BerthError('BERTH_E_IMAGE_FORMAT', `${what} is larger than ${maxBytes} bytes`, { status: 502, hint: 'registries refuse manifests that large; check the reference' });
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The registry's own error codes and messages (distribution's `{"errors": [...]}`), shortened. */
async function errorDetail(sent: Sent): Promise<string> {
  let text = '';
  try {
    text = (await readCapped(sent, MAX_ERROR_BYTES, 'an error answer')).toString('utf8');
  } catch {
    return '';
  }
  try {
    const parsed = JSON.parse(text) as { errors?: { code?: unknown; message?: unknown }[] };
    const errors = (parsed.errors ?? []).slice(0, 3).map((e) => `${String(e.code ?? '')}: ${String(e.message ?? '')}`.slice(0, 200));
    return errors.length > 0 ? `; ${errors.join('; ')}` : '';
  } catch {
    return '';
  }
}

function registryError(sent: Sent, why: string, method = ''): BerthError {
  return new BerthError('BERTH_E_REGISTRY', `the registry at ${sent.url.host} failed ${method ? `${method} ` : ''}${sent.url.pathname}: ${why}`, { status: 502, hint: "read the registry's error above; NAME_UNKNOWN, DENIED and UNSUPPORTED usually mean a wrong repository, missing rights or an old registry" });
}

function unreachable(what: string, method: string, url: URL, err: unknown): BerthError {
  const code = (err as { code?: unknown }).code;
  return new BerthError('BERTH_E_REGISTRY_UNREACHABLE', `${what} cannot be reached (${method} ${url.origin}${url.pathname}): ${typeof code === 'string' ? `${code}, ` : ''}${(err as Error).message}`, {
    status: 502,
    hint: 'check the host and port; for a registry with a private CA give its CA file, for one without TLS use plain HTTP',
    cause: err,
  });
}
