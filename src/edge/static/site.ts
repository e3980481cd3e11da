// A static site: a root folder resolved once, its options with defaults
// defined in one place, and the in-memory caches that belong to it.

import { realpath, stat } from 'node:fs/promises';
import { brotliCompress, constants as zlib, gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { BerthError } from '../../errors.ts';
import { ByteLru } from './lru.ts';
import { BodyCache, type CachedBody } from './body-cache.ts';
import type { Encoding } from './negotiate-encoding.ts';
import { resolveCandidate, type Resolved } from './resolve-path.ts';

export type StaticSiteOptions = {
  /** The folder to serve. Resolved with realpath once, at creation. */
  root: string;
  /** File names tried, in order, for a directory request. */
  index?: string[];
  /** Paths that name fingerprinted assets, cached for a year as immutable. */
  immutable?: RegExp;
  /** Memory for compressed bodies, shared by br and gzip; 0 turns on-the-fly compression off. */
  compressCacheBytes?: number;
  /** Memory for bodies of files up to 256 KiB served from memory; 0 turns it off. */
  smallFileCacheBytes?: number;
  /**
   * How long what a path names (its realpath and stat) is trusted before it
   * is looked up again, as nginx's open_file_cache_valid; 0 looks up on
   * every request. A changed file is served fresh after at most this long.
   */
  fileInfoValidMs?: number;
};

export const STATIC_DEFAULTS = Object.freeze({
  index: Object.freeze(['index.html']) as readonly string[],
  // A '.' or '-' then 8+ hex digits then one extension: app.3f2a9c1b.js,
  // app-3F2A9C1B.css. At least one digit must be a letter, so a date-stamped
  // name such as photo-20240101.jpg is not cached for a year by mistake.
  immutable: /[.-](?=[0-9]*[a-fA-F])[0-9a-fA-F]{8,}\.[A-Za-z0-9]+$/,
  compressCacheBytes: 32 * 1024 * 1024,
  smallFileCacheBytes: 16 * 1024 * 1024,
  // Two filesystem round trips per request cost more than everything else
  // a small file needs; one second of trust removes them from the hot path.
  fileInfoValidMs: 1_000,
});

/** Paths whose lookups are remembered, at most; the oldest go first. */
const MAX_REMEMBERED_PATHS = 10_000;

/** Files up to this size are served from memory (one read, then no fd per request). */
export const SMALL_FILE_BYTES = 256 * 1024;
/** Below this, compression saves less than the headers it adds. */
export const MIN_COMPRESS_BYTES = 1024;
/**
 * Above this we do not compress on the fly: the whole file would sit in
 * memory and the first request would wait too long. Precompress such files
 * (file.js.br, file.js.gz) at build time instead.
 */
export const MAX_ON_THE_FLY_BYTES = 16 * 1024 * 1024;

// Compression runs once per file version and the result is cached, but the
// first request waits for it and an eviction repeats it. Measured on a 1.9 MB
// text file: brotli 6 takes ~40 ms for 220 KB, brotli 11 ~3 s for 193 KB.
// Quality 6 costs about what gzip 6 costs and beats it by ~15%; whoever wants
// quality 11 can ship precompressed siblings, which we prefer anyway.
const BROTLI_QUALITY = 6;
const GZIP_LEVEL = 6;

const brotliAsync = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

// Request-independent facts about one version of one file, so the hot path
// does not rebuild the same strings (ETag, Last-Modified) on every request.
export type FileFacts = {
  size: number;
  mtimeMs: number;
  etag: string;
  lastModified: string;
  lastModifiedSec: number;
};

export class StaticSite {
  /** The root's realpath. */
  readonly root: string;
  readonly index: readonly string[];
  readonly immutable: RegExp;
  readonly compressCacheBytes: number;
  readonly smallFileCacheBytes: number;
  readonly fileInfoValidMs: number;
  readonly #lookups = new Map<string, { at: number; result: Promise<Resolved> }>();

  /** @internal caches used by planStaticResponse */
  readonly smallFiles: BodyCache;
  readonly compressed: Readonly<Record<Exclude<Encoding, 'identity'>, BodyCache>>;
  readonly facts = new ByteLru<string, FileFacts>(4096);
  readonly encodings = new Map<string, Encoding>();

  /** What an absolute path under the root names, looked up at most once per `fileInfoValidMs`. */
  lookup(candidate: string, now = Date.now()): Promise<Resolved> {
    if (this.fileInfoValidMs === 0) return resolveCandidate(this.root, candidate);
    const lookups = this.#lookups;
    const hit = lookups.get(candidate);
    if (hit !== undefined && now - hit.at < this.fileInfoValidMs) return hit.result;
    const result = resolveCandidate(this.root, candidate);
    lookups.delete(candidate);
    if (lookups.size >= MAX_REMEMBERED_PATHS) lookups.delete(lookups.keys().next().value!);
    lookups.set(candidate, { at: now, result });
    // A failed lookup (EMFILE, EIO) is a fault of the moment, never remembered.
    result.catch(() => lookups.delete(candidate));
    return result;
  }

  /** Use createStaticSite: the root must be resolved (async) first. */
  constructor(root: string, options: Omit<StaticSiteOptions, 'root'>) {
    this.root = root;
    this.index = options.index ?? STATIC_DEFAULTS.index;
    this.immutable = options.immutable ?? STATIC_DEFAULTS.immutable;
    this.compressCacheBytes = options.compressCacheBytes ?? STATIC_DEFAULTS.compressCacheBytes;
    this.smallFileCacheBytes = options.smallFileCacheBytes ?? STATIC_DEFAULTS.smallFileCacheBytes;
    this.fileInfoValidMs = options.fileInfoValidMs ?? STATIC_DEFAULTS.fileInfoValidMs;

    this.smallFiles = new BodyCache(new ByteLru<string, CachedBody>(this.smallFileCacheBytes), '', null);
    const compressedLru = new ByteLru<string, CachedBody>(this.compressCacheBytes);
    this.compressed = {
      br: new BodyCache(compressedLru, 'br\0', (raw) =>
        brotliAsync(raw, {
          params: { [zlib.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [zlib.BROTLI_PARAM_SIZE_HINT]: raw.length },
        }),
      ),
      gzip: new BodyCache(compressedLru, 'gzip\0', (raw) => gzipAsync(raw, { level: GZIP_LEVEL })),
    };
  }
}

export async function createStaticSite(options: StaticSiteOptions): Promise<StaticSite> {
  validateOptions(options);
  let root: string;
  try {
    root = await realpath(options.root);
  } catch (err) {
    throw new BerthError('BERTH_E_STATIC_ROOT', `static root ${options.root} does not exist`, {
      hint: 'create the folder or pass the path of an existing one',
      cause: err,
    });
  }
  const st = await stat(root);
  if (!st.isDirectory()) {
    throw new BerthError('BERTH_E_STATIC_ROOT', `static root ${options.root} is not a folder`, {
      hint: 'pass the folder that contains the files, not a file',
    });
  }
  return new StaticSite(root, options);
}

function validateOptions(options: StaticSiteOptions): void {
  for (const name of options.index ?? []) {
    // An index name is appended to a resolved directory path: it must be a
    // plain name, never a path, and not hidden (hidden files are never served).
    if (name === '' || name.startsWith('.') || name.includes('/') || name.includes('\\') || name.includes('\0')) {
      throw new BerthError('BERTH_E_USAGE', `index name ${JSON.stringify(name)} is not a plain file name`, {
        hint: "use names such as 'index.html'",
      });
    }
  }
  for (const key of ['compressCacheBytes', 'smallFileCacheBytes'] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) {
      throw new BerthError('BERTH_E_USAGE', `${key} must be a whole number of bytes >= 0, got ${value}`, {
        hint: 'use 0 to turn the cache off',
      });
    }
  }
}
