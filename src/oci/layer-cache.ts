import { randomBytes } from 'node:crypto';
import { constants, createReadStream, type ReadStream } from 'node:fs';
import { lstat, mkdir, open, readFile, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BerthError } from '../errors.ts';
import { DigestCounter, digestHex, digestOf, isDigest, mismatch, type Digest } from './digest.ts';

export interface StoredBlob {
  readonly digest: Digest;
  readonly size: number;
}

/**
 * Blobs by digest in a folder of berth's own (0700): base layers pulled
 * once, the layers berth built, configs and manifests. Beside them, which
 * compressed layer was made from which uncompressed one (diff_id → blob),
 * so a warm build hashes an unchanged layer and finds it, without
 * compressing it again.
 *
 *   ROOT/blobs/sha256/HEX      the blob (written whole to tmp/, then renamed)
 *   ROOT/layers/sha256/HEX     `sha256:… SIZE` of the blob made from diff_id HEX
 *   ROOT/tmp/                  blobs being written
 *
 * Blobs are verified when they come in (ingest) and are named by what they
 * hashed to; a cache another process could write would need more.
 */
export class LayerCache {
  readonly root: string;

  private constructor(root: string) {
    this.root = root;
  }

  static async open(root: string): Promise<LayerCache> {
    for (const dir of [root, join(root, 'blobs'), join(root, 'blobs', 'sha256'), join(root, 'layers'), join(root, 'layers', 'sha256'), join(root, 'tmp')]) await ownFolder(dir);
    return new LayerCache(root);
  }

  blobPath(digest: Digest): string {
    return join(this.root, 'blobs', 'sha256', digestHex(digest));
  }

  /** The blob's size when the cache has it. */
  async has(digest: Digest): Promise<number | undefined> {
    try {
      const facts = await lstat(this.blobPath(digest));
      return facts.isFile() ? facts.size : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw cacheError(`cannot look at ${this.blobPath(digest)}`, err);
    }
  }

  async openBlob(digest: Digest): Promise<ReadStream> {
    const handle = await open(this.blobPath(digest), constants.O_RDONLY | constants.O_NOFOLLOW);
    return createReadStream('', { fd: handle, highWaterMark: 256 * 1024 });
  }

  /** Bytes [start, end) of a blob. */
  async openRange(digest: Digest, start: number, end: number): Promise<Readable> {
    if (end <= start) return Readable.from([]);
    const handle = await open(this.blobPath(digest), constants.O_RDONLY | constants.O_NOFOLLOW);
    return createReadStream('', { fd: handle, start, end: end - 1, highWaterMark: 256 * 1024 });
  }

  /** A small blob (a config, a manifest) read whole and checked against its digest. */
  async readSmall(digest: Digest, maxBytes: number): Promise<Buffer> {
    const handle = await open(this.blobPath(digest), constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const { size } = await handle.stat();
      if (size > maxBytes) throw cacheError(`${digest} in the cache is ${size} bytes, more than the ${maxBytes} expected`);
      const bytes = await handle.readFile();
      const actual = digestOf(bytes);
      if (actual !== digest) {
        await rm(this.blobPath(digest), { force: true });
        throw mismatch(`the cached blob ${digest}`, digest, actual);
      }
      return bytes;
    } finally {
      await handle.close();
    }
  }

  async putBytes(bytes: Uint8Array): Promise<StoredBlob> {
    const digest = digestOf(bytes);
    if ((await this.has(digest)) === undefined) {
      const temp = this.#tempPath();
      await writeFile(temp, bytes, { flag: 'wx', mode: 0o600, flush: true });
      await this.commit(temp, digest);
    }
    return { digest, size: bytes.length };
  }

  /**
   * Streams a blob in. With `expected`, the bytes must hash to it (and have
   * its size) or nothing is kept: this is how pulled blobs are verified.
   */
  async ingest(source: Readable | AsyncIterable<Buffer>, expected?: { digest: Digest; size?: number | undefined }): Promise<StoredBlob> {
    const temp = this.#tempPath();
    const counter = new DigestCounter({ maxBytes: expected?.size, onTooLarge: () => new BerthError('BERTH_E_DIGEST_MISMATCH', `the blob ${expected!.digest} streamed in is longer than its ${expected!.size} bytes; nothing was kept`, { status: 502, hint: 'try again; if it repeats, the blob in the registry is corrupt' }) });
    try {
      await this.write(temp, source, [counter]);
      const digest = counter.digest();
      if (expected !== undefined && digest !== expected.digest) throw mismatch('the blob streamed in', expected.digest, digest);
      if (expected?.size !== undefined && counter.size !== expected.size) throw mismatch(`the blob streamed in (${counter.size} bytes, not ${expected.size})`, expected.digest, digest);
      await this.commit(temp, digest);
      return { digest, size: counter.size };
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  /** A fresh name in tmp/ for a blob being written. */
  stagePath(): string {
    return this.#tempPath();
  }

  /** Writes `source` through `stages` into a new file at `temp` (from stagePath), flushed to disk. */
  async write(temp: string, source: Readable | AsyncIterable<Buffer>, stages: readonly NodeJS.ReadWriteStream[]): Promise<void> {
    const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    // The stream owns the descriptor: flushed to disk (flush) and closed when it finishes or fails.
    const sink = handle.createWriteStream({ highWaterMark: 256 * 1024, flush: true });
    await pipeline([source instanceof Readable ? source : Readable.from(source), ...stages, sink]);
  }

  /** Moves a written temp file in under its digest (one rename: a reader sees all of it or nothing). */
  async commit(temp: string, digest: Digest): Promise<void> {
    await rename(temp, this.blobPath(digest));
  }

  async discard(temp: string): Promise<void> {
    await rm(temp, { force: true });
  }

  /** The compressed layer made from the uncompressed one `diffId`, when the cache has it. */
  async layerFor(diffId: Digest): Promise<StoredBlob | undefined> {
    let text: string;
    try {
      text = await readFile(join(this.root, 'layers', 'sha256', digestHex(diffId)), { encoding: 'utf8', flag: constants.O_RDONLY | constants.O_NOFOLLOW });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw cacheError('cannot read the layer index', err);
    }
    const [digest, sizeText] = text.trim().split(' ');
    if (digest === undefined || !isDigest(digest) || !/^\d+$/.test(sizeText ?? '')) return undefined;
    const size = Number(sizeText);
    return (await this.has(digest)) === size ? { digest, size } : undefined;
  }

  async recordLayer(diffId: Digest, blob: StoredBlob): Promise<void> {
    const temp = this.#tempPath();
    await writeFile(temp, `${blob.digest} ${blob.size}\n`, { flag: 'wx', mode: 0o600, flush: true });
    await rename(temp, join(this.root, 'layers', 'sha256', digestHex(diffId)));
  }

  #tempPath(): string {
    return join(this.root, 'tmp', `${process.pid}-${randomBytes(8).toString('hex')}`);
  }
}

function cacheError(message: string, cause?: unknown): BerthError {
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new BerthError('BERTH_E_LAYER_CACHE', `the layer cache ${message}${detail}`, { status: 500, hint: 'give berth a folder of its own (0700) for the layer cache, or remove the one in the way', cause });
}

/** A folder that is ours and 0700, made if missing; a link or another's folder is refused, never followed. */
async function ownFolder(path: string): Promise<void> {
  try {
    await mkdir(path, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw cacheError(`folder ${path} cannot be made`, err);
  }
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    throw cacheError(`folder ${path} is a link or not a folder`, err);
  }
  try {
    const facts = await handle.stat();
    if (facts.uid !== process.getuid!()) throw cacheError(`folder ${path} belongs to uid ${facts.uid}, not to berth's (${process.getuid!()})`);
    if ((facts.mode & 0o777) !== 0o700) await handle.chmod(0o700);
  } finally {
    await handle.close();
  }
}
