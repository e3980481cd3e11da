import { BerthError } from '../errors.ts';
import type { Digest } from './digest.ts';
import { hostPlatform, imageConfigJson, imageEnv, imageManifestJson, MAX_CONFIG_BYTES, parseBaseConfig, parseManifestDocument, selectPlatform, type BaseConfig, type Descriptor, type Platform } from './image-json.ts';
import type { LayerCache } from './layer-cache.ts';
import { DEFAULT_IMAGE_LIMITS, LayerBudget, layerOf, type ImageLimits } from './layer-plan.ts';
import { layerTar } from './layer-tar.ts';
import { writeLayer, type BuiltLayer } from './layer-writer.ts';
import { OCI_CONFIG, OCI_MANIFEST, ociLayerType } from './media-types.ts';
import { formatReference, type ImageReference } from './reference.ts';
import type { PushOutcome, RegistryClient } from './registry-client.ts';

/** A base image as berth uses it: one platform's manifest, its config, its layers in the cache. */
export interface BaseImage {
  readonly reference: ImageReference;
  /** The digest of the platform's manifest (what `…@sha256:` pins). */
  readonly manifestDigest: Digest;
  readonly config: BaseConfig;
  /** Its layers, media types in their OCI names. */
  readonly layers: readonly Descriptor[];
}

/**
 * Reads a base image from its registry — by digest or tag, the platform's
 * manifest from an index — and brings its config and layers into the cache
 * (each verified against its digest; ones the cache has are not fetched).
 */
export async function pullBase(client: RegistryClient, reference: ImageReference, cache: LayerCache, platform: Platform = hostPlatform()): Promise<BaseImage> {
  const name = formatReference(reference);
  let fetched = await client.getManifest(reference.repository, reference.digest ?? reference.tag!);
  let document = parseManifestDocument(fetched.bytes, fetched.mediaType, `the manifest of ${name}`);
  if (document.kind === 'index') {
    const chosen = selectPlatform(document, platform, name);
    fetched = await client.getManifest(reference.repository, chosen.digest);
    document = parseManifestDocument(fetched.bytes, fetched.mediaType, `the ${platform.os}/${platform.architecture} manifest of ${name}`);
    if (document.kind !== 'manifest') throw new BerthError('BERTH_E_IMAGE_FORMAT', `the ${platform.os}/${platform.architecture} entry of ${name} is another index`, { status: 502, hint: 'use an image whose index lists image manifests' });
  }
  const manifest = document;
  if ((await cache.has(manifest.config.digest)) !== manifest.config.size) await client.pullBlob(reference.repository, manifest.config, cache);
  const config = parseBaseConfig(await cache.readSmall(manifest.config.digest, MAX_CONFIG_BYTES), manifest.layers.length, `the image config of ${name}`);
  for (const layer of manifest.layers) {
    if ((await cache.has(layer.digest)) !== layer.size) await client.pullBlob(reference.repository, layer, cache);
  }
  return { reference, manifestDigest: fetched.digest, config, layers: manifest.layers.map((l) => ({ mediaType: ociLayerType(l.mediaType)!, digest: l.digest, size: l.size })) };
}

export interface BuildImageOptions {
  readonly base: BaseImage;
  /** The built release: hostile input, read without following its links. */
  readonly releaseDir: string;
  readonly cache: LayerCache;
  readonly app: string;
  /** Labelled as dev.berth.release; the same value gives the same digest (say, the build's source hash). */
  readonly release: string;
  /** Where the release is in the image (default /app; also the working directory). */
  readonly appDir?: string | undefined;
  /** The numeric uid (and gid) the processes run as; never 0 (default 10001). */
  readonly uid?: number | undefined;
  readonly gid?: number | undefined;
  /** Folders of the release put first on PATH, relative (e.g. .venv/bin, node_modules/.bin). */
  readonly path?: readonly string[] | undefined;
  /** More environment variables baked into the image (not secrets: config vars go in at run time). */
  readonly env?: Readonly<Record<string, string>> | undefined;
  /** Every file's mtime and the config's `created`, seconds since the epoch (default 0; a commit's time also works). */
  readonly mtime?: number | undefined;
  /** The uid that must own every entry of the release (default: the release folder's owner). */
  readonly owner?: number | undefined;
  readonly limits?: Partial<ImageLimits> | undefined;
}

export interface BuiltImage {
  readonly manifest: Buffer;
  readonly manifestDigest: Digest;
  readonly config: Descriptor;
  /** Every layer, the base's first. */
  readonly layers: readonly Descriptor[];
  /** The two berth made: dependencies, then the app. */
  readonly appLayers: readonly BuiltLayer[];
}

export const DEFAULT_APP_DIR = '/app';
export const DEFAULT_UID = 10001;

/**
 * An image of the release on the base: the base's layers, a layer of the
 * release's dependencies (top-level node_modules and .venv) and a layer of
 * the rest, a config and a manifest, all in the cache. The same release,
 * base and options give the same bytes, so the same digest.
 */
export async function buildImage(options: BuildImageOptions): Promise<BuiltImage> {
  const appDir = options.appDir ?? DEFAULT_APP_DIR;
  const uid = options.uid ?? DEFAULT_UID;
  const gid = options.gid ?? uid;
  for (const [what, id] of [['uid', uid], ['gid', gid]] as const) {
    if (!Number.isSafeInteger(id) || id < 1 || id > 2 ** 31 - 1) throw new BerthError('BERTH_E_USAGE', `the image's ${what} must be a number from 1 to 2147483647 (never root), not ${id}`);
  }
  const mtime = options.mtime ?? 0;
  if (!Number.isSafeInteger(mtime) || mtime < 0 || mtime > 8 ** 11 - 1) throw new BerthError('BERTH_E_USAGE', `the image's file time must be whole seconds from 0 to ${8 ** 11 - 1}, not ${mtime}`);
  const path = options.path ?? [];
  for (const entry of path) {
    if (entry === '' || entry.startsWith('/') || entry.split('/').some((part) => part === '..' || part === '') || /[:\0]/.test(entry)) throw new BerthError('BERTH_E_USAGE', `a PATH entry of the image must be a folder inside the release, not ${JSON.stringify(entry)}`);
  }
  const limits: ImageLimits = { ...DEFAULT_IMAGE_LIMITS, ...options.limits };
  const budget = new LayerBudget(limits);

  const layer = (include: (name: string) => boolean) => {
    let first = true;
    // The first read counts against the build's limits; the second (compressing) is bounded by its own.
    return () => {
      const counted = first ? budget : new LayerBudget(limits);
      first = false;
      return layerTar({ releaseDir: options.releaseDir, appDir, include, mtime, owner: options.owner, budget: counted });
    };
  };
  const dependencies = await writeLayer(layer((name) => layerOf(name) === 'dependencies'), options.cache);
  const app = await writeLayer(layer((name) => layerOf(name) === 'app'), options.cache);

  const created = new Date(mtime * 1000).toISOString();
  const configJson = imageConfigJson({
    base: options.base.config,
    layers: [
      { diffId: dependencies.diffId, createdBy: 'berth: the release\'s dependencies (node_modules, .venv)' },
      { diffId: app.diffId, createdBy: 'berth: the release' },
    ],
    created,
    user: `${uid}:${gid}`,
    workingDir: appDir,
    env: imageEnv(options.base.config.env, path.map((entry) => `${appDir}/${entry}`), options.env ?? {}),
    labels: { 'dev.berth.app': options.app, 'dev.berth.release': options.release },
  });
  const configBlob = await options.cache.putBytes(Buffer.from(configJson));
  const config: Descriptor = { mediaType: OCI_CONFIG, ...configBlob };
  const layers: Descriptor[] = [...options.base.layers, ...[dependencies, app].map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size }))];
  const baseName = formatReference({ ...options.base.reference, digest: undefined });
  const manifest = Buffer.from(imageManifestJson(config, layers, { 'org.opencontainers.image.base.digest': options.base.manifestDigest, 'org.opencontainers.image.base.name': baseName }));
  const stored = await options.cache.putBytes(manifest);
  return { manifest, manifestDigest: stored.digest, config, layers, appLayers: [dependencies, app] };
}

export interface PushedImage {
  readonly digest: Digest;
  /** What happened to each blob, the config last. */
  readonly blobs: readonly { readonly digest: Digest; readonly outcome: PushOutcome }[];
}

/**
 * Pushes a built image from the cache: each blob the repository lacks
 * (mounted from `mountFrom` when the registry can), then the manifest
 * under the tag. Returns the manifest's digest, which pins the image.
 */
export async function pushImage(client: RegistryClient, repository: string, tag: string, image: BuiltImage, cache: LayerCache, options: { mountFrom?: string } = {}): Promise<PushedImage> {
  const blobs: { digest: Digest; outcome: PushOutcome }[] = [];
  for (const blob of [...image.layers, image.config]) {
    if ((await cache.has(blob.digest)) !== blob.size) throw new BerthError('BERTH_E_LAYER_CACHE', `the layer cache lacks ${blob.digest}, which the image needs`, { status: 500, hint: 'build the image again (its base is pulled again into the cache)' });
    const outcome = await client.pushBlob(repository, { digest: blob.digest, size: blob.size, open: (start, end) => cache.openRange(blob.digest, start, end) }, options.mountFrom);
    blobs.push({ digest: blob.digest, outcome });
  }
  const digest = await client.putManifest(repository, tag, OCI_MANIFEST, image.manifest);
  return { digest, blobs };
}
