import { createHash } from 'node:crypto';
import { constants, createGzip } from 'node:zlib';
import { DigestCounter, type Digest } from './digest.ts';
import type { LayerCache } from './layer-cache.ts';
import { sourceRefusal } from './layer-plan.ts';
import { OCI_LAYER_GZIP } from './media-types.ts';

export interface BuiltLayer {
  readonly mediaType: string;
  /** The compressed blob's digest (what manifests and registries name). */
  readonly digest: Digest;
  readonly size: number;
  /** The uncompressed tar's digest (the image config's rootfs.diff_ids). */
  readonly diffId: Digest;
  /** True when the cache already had it: nothing was compressed. */
  readonly reused: boolean;
}

/**
 * Fixed gzip settings: zlib gives the same bytes for the same input and
 * settings whatever the chunking (a test checks), so they are part of the
 * digest and never change without reason. No file name or time goes into
 * the gzip header (zlib writes mtime 0).
 */
export const GZIP_OPTIONS = { level: 6, memLevel: 8, strategy: constants.Z_DEFAULT_STRATEGY, chunkSize: 64 * 1024 } as const;

/**
 * A layer from its tar stream, into the cache. First the tar is hashed
 * (cheap: reading and SHA-256); when the cache already holds the blob made
 * from that diff_id, that is the layer. Otherwise the tar is made again,
 * hashed and compressed to a temp file; both passes must agree, or the
 * release changed meanwhile and the build is refused. Nothing is held in
 * memory beyond a chunk.
 */
export async function writeLayer(tar: () => AsyncIterable<Buffer>, cache: LayerCache): Promise<BuiltLayer> {
  const hash = createHash('sha256');
  for await (const chunk of tar()) hash.update(chunk);
  const diffId: Digest = `sha256:${hash.digest('hex')}`;
  const known = await cache.layerFor(diffId);
  if (known !== undefined) return { mediaType: OCI_LAYER_GZIP, ...known, diffId, reused: true };

  const uncompressed = new DigestCounter();
  const compressed = new DigestCounter();
  const temp = cache.stagePath();
  try {
    await cache.write(temp, tar(), [uncompressed, createGzip(GZIP_OPTIONS), compressed]);
    if (uncompressed.digest() !== diffId) throw sourceRefusal('the release changed while the image was being built (two reads of it differ)');
    const digest = compressed.digest();
    await cache.commit(temp, digest);
    const blob = { digest, size: compressed.size };
    await cache.recordLayer(diffId, blob);
    return { mediaType: OCI_LAYER_GZIP, ...blob, diffId, reused: false };
  } catch (err) {
    await cache.discard(temp);
    throw err;
  }
}
