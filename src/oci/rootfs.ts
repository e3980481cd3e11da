import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { BerthError } from '../errors.ts';
import type { Digest } from './digest.ts';
import type { BaseImage } from './image-builder.ts';
import type { LayerCache } from './layer-cache.ts';
import { OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_LAYER_ZSTD } from './media-types.ts';
import { baseLayerError, DEFAULT_ROOTFS_LIMITS, RootWriter, type MountPoints, type RootfsLimits } from './root-writer.ts';

export { entryParts, resolveInRoot, DEFAULT_ROOTFS_LIMITS, type MountPoints, type RootfsLimits } from './root-writer.ts';

// A base image's root filesystem on disk, for builds that run inside it.
//
// The layers are hostile input (they come from a registry over the
// network), and root applies them. The `tar` package parses the stream
// (pax, GNU long names); every entry is then placed by berth itself, not by
// tar's Unpack: tar's protections are aimed at "don't write outside cwd"
// for archives a user extracts, while a layer needs container semantics it
// has no notion of — whiteouts, opaque folders, a link made by an earlier
// layer that later entries go *through*, resolved as if the root were `/`.
//
// Why path-based calls are safe here: the root is unpacked into a folder of
// berth's own (0700 parent) that no other process writes while it is made,
// so the only adversary is the content of the layers, which acts strictly
// in order. Each entry's folder is resolved one name at a time with lstat;
// a link met on the way is read and followed *inside* the root (an
// absolute target starts again at the root, `..` stops at it), the way a
// container runtime resolves it (securejoin); the entry's own name is never
// followed (files are opened O_CREAT|O_EXCL|O_NOFOLLOW after whatever was
// there is removed). So `usr/lib -> /etc` then `usr/lib/passwd` writes the
// root's etc/passwd, never the host's.

export interface UnpackRootfsOptions {
  /** Where roots are kept (berth's own folder, say STATE/oci/rootfs): each in a folder named by the base's manifest digest. */
  readonly rootsDir: string;
  readonly mountPoints?: MountPoints | undefined;
  readonly limits?: Partial<RootfsLimits> | undefined;
}

export interface UnpackedRootfs {
  /** The root: read-only from now on, shared by every build on this base. */
  readonly path: string;
  /** Whether an earlier unpack made it. */
  readonly reused: boolean;
  /** Device nodes and FIFOs the layers held, not made. */
  readonly skipped: number;
}

/** The root's folder name: the manifest digest, plus the mount points when they are not none. Pure. */
export function rootName(manifestDigest: Digest, mountPoints: MountPoints | undefined): string {
  const hex = manifestDigest.slice(manifestDigest.indexOf(':') + 1);
  if (mountPoints === undefined || (mountPoints.dirs.length === 0 && mountPoints.files.length === 0)) return hex;
  return `${hex}-${createHash('sha256').update(JSON.stringify(mountPoints)).digest('hex').slice(0, 12)}`;
}

function decompressor(mediaType: string): NodeJS.ReadWriteStream | null {
  if (mediaType === OCI_LAYER_GZIP) return createGunzip();
  if (mediaType === OCI_LAYER_ZSTD) return createZstdDecompress();
  if (mediaType === OCI_LAYER_TAR) return null;
  throw baseLayerError(`a layer of the base image has the media type ${mediaType}, which berth does not unpack`);
}

/** One layer from the cache into the root: decompressed, checked against its diff_id, each entry placed. */
async function applyLayer(writer: RootWriter, blob: Readable, mediaType: string, diffId: Digest, index: number): Promise<void> {
  writer.startLayer();
  const unzip = decompressor(mediaType);
  const stream: AsyncIterable<Buffer> = unzip === null ? blob : blob.pipe(unzip as unknown as NodeJS.WritableStream & AsyncIterable<Buffer>);
  if (unzip !== null) blob.on('error', (err) => (unzip as unknown as Readable).destroy(err));
  const hash = createHash('sha256');
  let failure: unknown = null;
  let sink: { write(chunk: Buffer): void; end(): void } | null = null;
  const fail = (err: unknown) => {
    failure ??= err;
  };
  // Never its own decompression: only what the media type says is undone (and counted).
  const parser = new Parser({ strict: true, brotli: false, zstd: false });
  let first = true;
  parser.on('entry', (entry: ReadEntry) => {
    if (failure !== null) return entry.resume();
    try {
      const current = writer.entry(entry);
      sink = current;
      entry.on('data', (chunk: Buffer) => {
        if (failure !== null || current === null) return;
        try {
          current.write(chunk);
        } catch (err) {
          fail(err);
        }
      });
      entry.on('end', () => {
        if (current === null) return;
        sink = null;
        try {
          current.end();
        } catch (err) {
          fail(err);
        }
      });
    } catch (err) {
      fail(err);
      entry.resume();
    }
  });
  parser.on('error', (err: Error) => fail(baseLayerError(`layer ${index + 1} of the base image is not a tar archive berth can read: ${err.message}`, err)));
  parser.on('warn', (code: string, message: string | Error) => {
    if (code !== 'TAR_ENTRY_INFO') fail(baseLayerError(`layer ${index + 1} of the base image: ${typeof message === 'string' ? message : message.message}`));
  });
  try {
    for await (const chunk of stream) {
      writer.countBytes(chunk.length, index);
      if (first && chunk[0] === 0x1f && chunk[1] === 0x8b) throw baseLayerError(`layer ${index + 1} of the base image is compressed twice`);
      first = false;
      hash.update(chunk);
      parser.write(chunk);
      if (failure !== null) throw failure;
    }
    await new Promise<void>((resolve) => parser.end(resolve));
    if (failure !== null) throw failure;
  } catch (err) {
    try {
      (sink as { end(): void } | null)?.end();
    } catch {
      // the layer failed already
    }
    blob.destroy();
    throw err instanceof BerthError ? err : baseLayerError(`layer ${index + 1} of the base image could not be unpacked: ${(err as Error).message}`, err);
  }
  const got = `sha256:${hash.digest('hex')}`;
  if (got !== diffId) throw new BerthError('BERTH_E_DIGEST_MISMATCH', `layer ${index + 1} of the base image unpacks to ${got}, but its config says ${diffId}`, { status: 502, hint: 'pull the base image again; if it persists, its registry serves a broken image' });
}

/** An unpack older than this was interrupted (a daemon killed mid-way): no unpack takes a day. */
const ABANDONED_MS = 24 * 3600_000;

/** Removes what interrupted unpacks left (never a root: those were never renamed into place). */
async function removeAbandoned(rootsDir: string): Promise<void> {
  for (const name of await readdir(rootsDir)) {
    if (!name.startsWith('.unpacking-')) continue;
    const found = await lstat(join(rootsDir, name)).catch(() => null);
    if (found !== null && Date.now() - found.mtimeMs > ABANDONED_MS) await rm(join(rootsDir, name), { recursive: true, force: true });
  }
}

/**
 * The base image's root filesystem, unpacked once into `rootsDir` and
 * reused: the layers applied in order (whiteouts honoured, every path
 * resolved inside the root, links followed only inside it, hard links only
 * to files already in it, devices and FIFOs not made, set-id bits dropped,
 * everything owned by root), each checked against its diff_id, the mount
 * points made real. Made under a temporary name and renamed into place
 * whole, so an interrupted unpack never becomes a root.
 */
export async function unpackRootfs(base: BaseImage, cache: LayerCache, options: UnpackRootfsOptions): Promise<UnpackedRootfs> {
  const limits: RootfsLimits = { ...DEFAULT_ROOTFS_LIMITS, ...options.limits };
  const final = join(options.rootsDir, rootName(base.manifestDigest, options.mountPoints));
  await mkdir(options.rootsDir, { recursive: true, mode: 0o700 });
  await chmod(options.rootsDir, 0o700);
  if ((await lstat(final).catch(() => null))?.isDirectory()) return { path: final, reused: true, skipped: 0 };
  await removeAbandoned(options.rootsDir);
  const temp = await mkdtemp(join(options.rootsDir, '.unpacking-'));
  try {
    await chmod(temp, 0o755);
    const writer = new RootWriter(temp, limits);
    for (const [index, layer] of base.layers.entries()) {
      const diffId = base.config.diffIds[index];
      if (diffId === undefined) throw baseLayerError(`the base image's config names no diff_id for layer ${index + 1}`);
      await applyLayer(writer, await cache.openBlob(layer.digest), layer.mediaType, diffId, index);
    }
    if (options.mountPoints !== undefined) writer.makeMountPoints(options.mountPoints);
    try {
      await rename(temp, final);
    } catch (err) {
      // Another build unpacked the same base meanwhile: theirs is as good.
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await lstat(final).catch(() => null))?.isDirectory()) {
        await rm(temp, { recursive: true, force: true });
        return { path: final, reused: true, skipped: writer.skipped };
      }
      throw err;
    }
    return { path: final, reused: false, skipped: writer.skipped };
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw err;
  }
}
