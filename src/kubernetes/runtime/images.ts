import { BerthError } from '../../errors.ts';
import { buildImage, formatReference, parseImageReference, pullBase, pushImage, registryEndpoint, RegistryClient, type BaseImage, type ImageReference, type LayerCache, type RegistryCredentials } from '../../oci/index.ts';

// The release images of the Kubernetes runtime: a build's folder written
// over its language's base image and pushed to the operator's registry,
// once per build (the digest is recorded and reused by every release of
// the build: config changes, scales, rollbacks).

/** Where berth pushes (`--registry HOST[:PORT]/PREFIX`) and how it talks to that registry. */
export interface PushRegistry {
  /** host[:port]. */
  readonly host: string;
  /** The repository prefix; an app's images go to PREFIX/APP. */
  readonly prefix: string;
  readonly plainHttp: boolean;
  readonly caFile: string | undefined;
  readonly credentials: RegistryCredentials | undefined;
}

export type BaseLanguage = 'node' | 'python';

/** The official slim images (Debian 12, like the build machine), pinned by digest; `--base-image node=REF` replaces one. */
export const DEFAULT_BASE_IMAGES: Readonly<Record<BaseLanguage, string>> = {
  node: 'docker.io/library/node:24-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d',
  python: 'docker.io/library/python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b',
};

const REGISTRY_PREFIX = /^([a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?)\/([a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*)$/;

/** `HOST[:PORT]/PREFIX` (lowercase, as image references are) → host and prefix, or a BerthError saying what is wrong. */
export function parseRegistryPrefix(text: string): { host: string; prefix: string } {
  const match = REGISTRY_PREFIX.exec(text);
  if (match === null) {
    throw new BerthError('BERTH_E_USAGE', `--registry ${JSON.stringify(text)} is not HOST[:PORT]/PREFIX`, { hint: 'e.g. --registry registry.example.com/berth or --registry 127.0.0.1:5000/apps (lowercase; the apps are pushed to PREFIX/APP)' });
  }
  return { host: match[1]!, prefix: match[4]! };
}

/** A base image reference from `--base-image LANG=REF`, checked; a tag is allowed (the pulled digest is what the build records). */
export function parseBaseImages(pairs: readonly string[]): Record<BaseLanguage, ImageReference> {
  const chosen: Record<string, string> = { ...DEFAULT_BASE_IMAGES };
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    const language = pair.slice(0, Math.max(0, at));
    if (at === -1 || !(language in DEFAULT_BASE_IMAGES)) {
      throw new BerthError('BERTH_E_USAGE', `--base-image ${JSON.stringify(pair)} is not LANGUAGE=IMAGE`, { hint: 'e.g. --base-image node=registry.example.com/base/node:24 (languages: node, python)' });
    }
    chosen[language] = pair.slice(at + 1);
  }
  return { node: parseImageReference(chosen.node!), python: parseImageReference(chosen.python!) };
}

export interface ImageMakerOptions {
  readonly registry: PushRegistry;
  readonly bases: Readonly<Record<BaseLanguage, ImageReference>>;
  readonly cache: LayerCache;
}

/** One build to make an image of. */
export interface ImageRequest {
  readonly app: string;
  readonly buildId: number;
  /** The built folder (hostile: read without following links). */
  readonly dir: string;
  /** The upload's hash: the image's release label, so the same source and base give the same digest. */
  readonly sourceDigest: string;
  readonly language: BaseLanguage;
  /** The plan's PATH folders inside the release (the virtualenv's bin). */
  readonly path: readonly string[];
  /** The base the build ran in (the plan's baseImage): the image goes over that very base, whatever the language's base is now. */
  readonly base?: { readonly reference: string; readonly manifestDigest: string } | undefined;
}

export class ImageMaker {
  readonly #options: ImageMakerOptions;
  readonly #clients = new Map<string, Promise<RegistryClient>>();
  readonly #bases = new Map<string, BaseImage>();

  constructor(options: ImageMakerOptions) {
    this.#options = options;
  }

  /** The repository an app's images go to. */
  repository(app: string): string {
    return `${this.#options.registry.prefix}/${app}`;
  }

  /** Builds and pushes the build's image; its reference by digest. */
  async make(request: ImageRequest, log: (line: string) => void): Promise<string> {
    const base = request.base === undefined ? await this.base(request.language, log) : await this.#pinned(request.base, log);
    const started = Date.now();
    const image = await buildImage({
      base,
      releaseDir: request.dir,
      cache: this.#options.cache,
      app: request.app,
      release: request.sourceDigest,
      path: request.path,
    });
    const push = await this.#client(this.#options.registry.host);
    const repository = this.repository(request.app);
    const sameRegistry = registryEndpoint(base.reference.registry) === this.#options.registry.host;
    const pushed = await pushImage(push, repository, `build-${request.buildId}`, image, this.#options.cache, sameRegistry ? { mountFrom: base.reference.repository } : {});
    const sent = pushed.blobs.filter((blob) => blob.outcome === 'uploaded').length;
    log(`image ${pushed.digest.slice(7, 19)} pushed to ${this.#options.registry.host}/${repository} in ${((Date.now() - started) / 1000).toFixed(1)} s (${sent} of ${pushed.blobs.length} blobs uploaded, the rest already there)`);
    return `${this.#options.registry.host}/${repository}@${pushed.digest}`;
  }

  /** The base for a language, pulled once per daemon (by digest when pinned; a tag is read again at the next start). */
  async base(language: BaseLanguage, log: (line: string) => void): Promise<BaseImage> {
    return this.#pull(this.#options.bases[language], `the ${language} base image`, log);
  }

  /** The very base a build ran in, by its manifest's digest (pulled again only when this daemon has not seen it). */
  async #pinned(base: { readonly reference: string; readonly manifestDigest: string }, log: (line: string) => void): Promise<BaseImage> {
    for (const known of this.#bases.values()) if (known.manifestDigest === base.manifestDigest) return known;
    const reference = parseImageReference(base.reference);
    return this.#pull({ ...reference, tag: undefined, digest: base.manifestDigest as ImageReference['digest'] }, 'the base image the build ran in', log);
  }

  async #pull(reference: ImageReference, what: string, log: (line: string) => void): Promise<BaseImage> {
    const key = formatReference(reference);
    const known = this.#bases.get(key);
    if (known !== undefined) return known;
    log(`pulling ${what} ${key}`);
    const client = await this.#client(registryEndpoint(reference.registry));
    const base = await pullBase(client, reference, this.#options.cache);
    this.#bases.set(key, base);
    return base;
  }

  /** One client per registry; the push registry's settings (plain HTTP, CA, credentials) only for that registry. */
  #client(host: string): Promise<RegistryClient> {
    let client = this.#clients.get(host);
    if (client === undefined) {
      const own = this.#options.registry;
      client = RegistryClient.open(host === own.host ? { registry: host, plainHttp: own.plainHttp, caFile: own.caFile, credentials: own.credentials } : { registry: host });
      client.catch(() => this.#clients.delete(host));
      this.#clients.set(host, client);
    }
    return client;
  }

  async close(): Promise<void> {
    for (const client of this.#clients.values()) await (await client.catch(() => null))?.close();
  }
}
