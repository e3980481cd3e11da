import { z } from 'zod';
import { BerthError } from '../errors.ts';
import { isDigest, type Digest } from './digest.ts';
import { DOCKER_CONFIG, OCI_CONFIG, OCI_MANIFEST, isIndexType, isManifestType, ociLayerType } from './media-types.ts';

/**
 * The JSON documents of an image — index, manifest, config — read from
 * registries (leniently: unknown fields are ignored, the fields berth uses
 * are checked) and written by berth (strictly: fixed key order, no
 * whitespace, nothing that varies between two builds of the same input).
 */

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
}

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string | undefined;
}

export interface ImageIndex {
  readonly kind: 'index';
  readonly manifests: readonly (Descriptor & { readonly platform: Platform | undefined })[];
}

export interface ImageManifest {
  readonly kind: 'manifest';
  readonly mediaType: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
}

/** What berth keeps of a base image's config. */
export interface BaseConfig {
  readonly architecture: string;
  readonly os: string;
  readonly variant: string | undefined;
  readonly env: readonly string[];
  readonly diffIds: readonly Digest[];
  readonly history: readonly HistoryEntry[] | undefined;
}

export interface HistoryEntry {
  readonly created?: string | undefined;
  readonly created_by?: string | undefined;
  readonly comment?: string | undefined;
  readonly empty_layer?: boolean | undefined;
}

/** Most layers an image may have: overlayfs stacks at most about 128. */
export const MAX_LAYERS = 120;
/** Registries refuse manifests above 4 MiB; berth reads none larger. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
export const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

const digest = z.string().refine(isDigest, 'a sha256 digest');
const size = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const descriptor = z.object({ mediaType: z.string().max(255), digest, size, urls: z.array(z.string()).optional() });
const platform = z.object({ os: z.string().max(64), architecture: z.string().max(64), variant: z.string().max(64).optional() });
const indexSchema = z.object({ schemaVersion: z.literal(2), mediaType: z.string().optional(), manifests: z.array(descriptor.extend({ platform: platform.optional() })).max(1000) });
const manifestSchema = z.object({ schemaVersion: z.literal(2), mediaType: z.string().optional(), config: descriptor, layers: z.array(descriptor).max(MAX_LAYERS) });
const historySchema = z.object({ created: z.string().max(64).optional(), created_by: z.string().max(65536).optional(), comment: z.string().max(65536).optional(), empty_layer: z.boolean().optional() });
const configSchema = z.object({
  architecture: z.string().max(64),
  os: z.string().max(64),
  variant: z.string().max(64).optional(),
  config: z.object({ Env: z.array(z.string().max(131072)).max(1000).nullish() }).nullish(),
  rootfs: z.object({ type: z.literal('layers'), diff_ids: z.array(digest).max(MAX_LAYERS) }),
  history: z.array(historySchema).max(1000).optional(),
});

function malformed(what: string, why: string): BerthError {
  return new BerthError('BERTH_E_IMAGE_FORMAT', `${what} is not one berth can use: ${why}`, { status: 502, hint: 'use an OCI or Docker schema 2 image (docker buildx, podman and registries today all make them)' });
}

function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw malformed(what, 'it is not UTF-8 JSON');
  }
}

function explain(error: z.ZodError): string {
  const issue = error.issues[0]!;
  return `${issue.path.join('.') || 'the document'}: ${issue.message}`;
}

/** A manifest or an index, by the media type the registry named (or the document's own). */
export function parseManifestDocument(bytes: Uint8Array, headerType: string | undefined, what: string): ImageIndex | ImageManifest {
  const json = parseJson(bytes, what) as { mediaType?: unknown; manifests?: unknown };
  const declared = typeof json?.mediaType === 'string' ? json.mediaType : undefined;
  const mediaType = declared ?? headerType ?? (Array.isArray(json?.manifests) ? 'application/vnd.oci.image.index.v1+json' : OCI_MANIFEST);
  if (isIndexType(mediaType)) {
    const parsed = indexSchema.safeParse(json);
    if (!parsed.success) throw malformed(what, explain(parsed.error));
    return { kind: 'index', manifests: parsed.data.manifests.map((m) => ({ mediaType: m.mediaType, digest: m.digest as Digest, size: m.size, platform: m.platform })) };
  }
  if (!isManifestType(mediaType)) throw malformed(what, `its media type is ${JSON.stringify(mediaType.slice(0, 100))}`);
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) throw malformed(what, explain(parsed.error));
  const { config, layers } = parsed.data;
  if (config.mediaType !== OCI_CONFIG && config.mediaType !== DOCKER_CONFIG) throw malformed(what, `its config is a ${JSON.stringify(config.mediaType)}, not an image config`);
  for (const layer of layers) {
    if (layer.urls !== undefined || ociLayerType(layer.mediaType) === undefined) throw malformed(what, `layer ${layer.digest} is a ${JSON.stringify(layer.mediaType)}${layer.urls ? ' kept outside the registry' : ''}`);
  }
  return {
    kind: 'manifest',
    mediaType,
    config: { mediaType: config.mediaType, digest: config.digest as Digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest as Digest, size: l.size })),
  };
}

export function parseBaseConfig(bytes: Uint8Array, layerCount: number, what: string): BaseConfig {
  const parsed = configSchema.safeParse(parseJson(bytes, what));
  if (!parsed.success) throw malformed(what, explain(parsed.error));
  const { data } = parsed;
  if (data.rootfs.diff_ids.length !== layerCount) throw malformed(what, `it lists ${data.rootfs.diff_ids.length} layers, its manifest ${layerCount}`);
  return {
    architecture: data.architecture,
    os: data.os,
    variant: data.variant,
    env: data.config?.Env ?? [],
    diffIds: data.rootfs.diff_ids as Digest[],
    history: data.history,
  };
}

/** The platform berth runs images on by default: this machine's. */
export function hostPlatform(arch: string = process.arch): Platform {
  const names: Record<string, Platform> = {
    x64: { os: 'linux', architecture: 'amd64' },
    arm64: { os: 'linux', architecture: 'arm64' },
    arm: { os: 'linux', architecture: 'arm', variant: 'v7' },
    ppc64: { os: 'linux', architecture: 'ppc64le' },
    s390x: { os: 'linux', architecture: 's390x' },
    riscv64: { os: 'linux', architecture: 'riscv64' },
  };
  return names[arch] ?? { os: 'linux', architecture: arch };
}

function platformName(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** The index entry for `wanted`; arm64's variant v8 is the same as none. */
export function selectPlatform(index: ImageIndex, wanted: Platform, what: string): Descriptor {
  const variant = (p: Platform) => (p.architecture === 'arm64' && p.variant === 'v8' ? undefined : p.variant);
  const found = index.manifests.find((m) => m.platform !== undefined && isManifestType(m.mediaType) && m.platform.os === wanted.os && m.platform.architecture === wanted.architecture && (wanted.variant === undefined || variant(m.platform) === variant(wanted)));
  if (found === undefined) {
    const offered = index.manifests.flatMap((m) => (m.platform ? [platformName(m.platform)] : [])).filter((name) => name !== 'unknown/unknown');
    throw new BerthError('BERTH_E_IMAGE_PLATFORM', `${what} has no image for ${platformName(wanted)}; it has ${offered.length > 0 ? offered.join(', ') : 'none with a platform'}`, { hint: 'pick a base image built for this platform, or pass the platform your cluster runs' });
  }
  return { mediaType: found.mediaType, digest: found.digest, size: found.size };
}

// ------------------------------------------------------------------- writing

export interface ImageConfigInput {
  readonly base: BaseConfig;
  /** Ours, in order (dependencies first). */
  readonly layers: readonly { readonly diffId: Digest; readonly createdBy: string }[];
  readonly created: string;
  readonly user: string;
  readonly workingDir: string;
  readonly env: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

export function imageConfigJson(input: ImageConfigInput): string {
  const { base } = input;
  const history = base.history === undefined ? undefined : [...base.history.map(cleanHistory), ...input.layers.map((l) => ({ created: input.created, created_by: l.createdBy }))];
  // Entrypoint and Cmd stay unset: each process type's command comes from the Procfile.
  return JSON.stringify({
    created: input.created,
    architecture: base.architecture,
    os: base.os,
    ...(base.variant === undefined ? {} : { variant: base.variant }),
    config: { User: input.user, Env: input.env, WorkingDir: input.workingDir, Labels: input.labels },
    rootfs: { type: 'layers', diff_ids: [...base.diffIds, ...input.layers.map((l) => l.diffId)] },
    ...(history === undefined ? {} : { history }),
  });
}

function cleanHistory(entry: HistoryEntry): HistoryEntry {
  return {
    ...(entry.created === undefined ? {} : { created: entry.created }),
    ...(entry.created_by === undefined ? {} : { created_by: entry.created_by }),
    ...(entry.comment === undefined ? {} : { comment: entry.comment }),
    ...(entry.empty_layer === undefined ? {} : { empty_layer: entry.empty_layer }),
  };
}

export function imageManifestJson(config: Descriptor, layers: readonly Descriptor[], annotations: Readonly<Record<string, string>>): string {
  const plain = (d: Descriptor) => ({ mediaType: d.mediaType, digest: d.digest, size: d.size });
  return JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: plain(config), layers: layers.map(plain), annotations });
}

/**
 * The environment: the base's, with PATH led by the app's own folders and
 * the caller's variables set (replacing the base's in place, new ones sorted).
 */
export function imageEnv(baseEnv: readonly string[], appPath: readonly string[], extra: Readonly<Record<string, string>>): string[] {
  const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  const basePath = baseEnv.find((e) => e.startsWith('PATH='))?.slice(5) || DEFAULT_PATH;
  const wanted = new Map<string, string>([...Object.entries(extra), ['PATH', [...appPath, basePath].join(':')]]);
  const env: string[] = [];
  for (const entry of baseEnv) {
    const name = entry.slice(0, Math.max(0, entry.indexOf('=')));
    if (name === '' ) continue;
    if (wanted.has(name)) {
      env.push(`${name}=${wanted.get(name)}`);
      wanted.delete(name);
    } else env.push(entry);
  }
  for (const name of [...wanted.keys()].sort()) env.push(`${name}=${wanted.get(name)}`);
  return env;
}
