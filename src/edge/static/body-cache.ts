// Bodies kept in memory: small files as they are, and compressed forms of
// compressible files. An entry is valid only for the (size, mtime) it was
// made from, so a file changed on disk is never answered from memory: the
// caller stats the file on every request and passes what it saw. Every
// byte kept here was read through the site's checked open (openVerified):
// the cache never holds what a path led to outside the root.

import type { FileHandle } from 'node:fs/promises';
import type { ByteLru } from './lru.ts';

/** Opens a file for reading through the site's checks; null when it may not be read. */
export type FileOpener = (path: string) => Promise<FileHandle | null>;

export type CachedBody = {
  size: number;
  mtimeMs: number;
  /** null: the transform did not pay off (output not smaller); serve the file as is. */
  data: Buffer | null;
};

// Map and key overhead, so a cache of many empty entries is still bounded.
const ENTRY_OVERHEAD = 128;

export class BodyCache {
  readonly #lru: ByteLru<string, CachedBody>;
  readonly #tag: string;
  readonly #transform: ((raw: Buffer) => Promise<Buffer>) | null;
  readonly #open: FileOpener;
  readonly #inflight = new Map<string, Promise<Buffer | null>>();

  /**
   * Several caches may share one LRU (br and gzip share one budget); `tag`
   * keeps their keys apart. Without a transform the body is the file itself.
   * Files are read only through `open`.
   */
  constructor(lru: ByteLru<string, CachedBody>, tag: string, transform: ((raw: Buffer) => Promise<Buffer>) | null, open: FileOpener) {
    this.#lru = lru;
    this.#tag = tag;
    this.#transform = transform;
    this.#open = open;
  }

  /**
   * The body for the file at `path` as it was when stat'ed with `size` and
   * `mtimeMs`, or null when it cannot be had from memory (the file changed
   * meanwhile, vanished, or does not compress): the caller then streams the
   * file. Concurrent calls for the same version share one read and transform.
   */
  load(path: string, size: number, mtimeMs: number): Promise<Buffer | null> {
    const key = this.#tag + path;
    const hit = this.#lru.get(key);
    if (hit !== undefined && hit.size === size && hit.mtimeMs === mtimeMs) return Promise.resolve(hit.data);

    const flightKey = key + '\0' + size + '\0' + mtimeMs;
    let flight = this.#inflight.get(flightKey);
    if (flight === undefined) {
      flight = this.#produce(key, path, size, mtimeMs).finally(() => this.#inflight.delete(flightKey));
      this.#inflight.set(flightKey, flight);
    }
    return flight;
  }

  async #produce(key: string, path: string, size: number, mtimeMs: number): Promise<Buffer | null> {
    let raw: Buffer | null;
    try {
      const handle = await this.#open(path);
      if (handle === null) return null;
      try {
        raw = await readIfUnchanged(handle, size, mtimeMs);
      } finally {
        await handle.close();
      }
    } catch (err) {
      // The file went away or became unreadable between stat and read; the
      // streaming path will report that properly.
      if (typeof (err as NodeJS.ErrnoException).code === 'string') return null;
      throw err;
    }
    if (raw === null) return null;
    let data: Buffer | null = raw;
    if (this.#transform !== null) {
      const out = await this.#transform(raw);
      data = out.length < raw.length ? out : null;
    }
    this.#lru.set(key, { size, mtimeMs, data }, (data?.length ?? 0) + ENTRY_OVERHEAD);
    return data;
  }
}

/**
 * Reads a whole open file, but only if it is still the version the caller
 * stat'ed: otherwise we would cache new bytes under the old validators
 * (ETag, Content-Length) for as long as the entry lives. The caller closes it.
 */
export async function readIfUnchanged(fh: FileHandle, size: number, mtimeMs: number): Promise<Buffer | null> {
  const st = await fh.stat();
  if (!st.isFile() || st.size !== size || st.mtimeMs !== mtimeMs) return null;
  // allocUnsafeSlow: a pooled slice would pin a shared 8 KiB slab in the cache.
  const buf = Buffer.allocUnsafeSlow(size);
  let filled = 0;
  while (filled < size) {
    const { bytesRead } = await fh.read(buf, filled, size - filled, filled);
    if (bytesRead === 0) return null; // truncated under us
    filled += bytesRead;
  }
  // A write that raced the read changes mtime: check again after reading.
  const after = await fh.stat();
  if (after.size !== size || after.mtimeMs !== mtimeMs) return null;
  return buf;
}
