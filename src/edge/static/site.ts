// A static site: a root folder resolved once, its options with defaults
// defined in one place, and the in-memory caches that belong to it.

import type { FileHandle } from 'node:fs/promises';
import { brotliCompress, constants as zlib, gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { BerthError } from '../../errors.ts';
import { lookupPath, openVerified } from '../../safe-fs/index.ts';
import { ByteLru } from './lru.ts';
import { BodyCache, type CachedBody } from './body-cache.ts';
import type { Encoding } from './negotiate-encoding.ts';
import { isInsideRoot, resolveCandidate, type Resolved } from './resolve-path.ts';
import type { StaticFile } from './response.ts';

export type StaticSiteOptions = {
  /** The folder to serve. Resolved to its canonical path once, at creation. */
  root: string;
  /**
   * A folder the root must lie in, once resolved (an app's release folder):
   * a root that is, or became, a link to anywhere else is refused. Compared
   * as given, never resolved, so it must be canonical itself.
   */
  confine?: string | null;
  /** Serve only files owned by this uid, or readable by others (mode o+r); absent or null: any file. */
  owner?: number | null;
  /** File names tried, in order, for a directory request. */
  index?: string[];
  /** Paths that name fingerprinted assets, cached for a year as immutable. */
  immutable?: RegExp;
  /** Memory for compressed bodies, shared by br and gzip; 0 turns on-the-fly compression off. */
  compressCacheBytes?: number;
  /** Memory for bodies of files up to 256 KiB served from memory; 0 turns it off. */
  smallFileCacheBytes?: number;
  /**
   * How long what a path names (its canonical path and stats) is trusted
   * before it is looked up again, as nginx's open_file_cache_valid; 0 looks
   * up on every request. A changed file is served fresh after at most this
   * long. The trust only ever picks what to open: every open is checked
   * again on the descriptor (openFile), so it can make an answer stale,
   * never take it outside the root.
   */
  fileInfoValidMs?: number;
};

export const STATIC_DEFAULTS = Object.freeze({
  index: Object.freeze(['index.html']) as readonly string[],
  // A '.' or '-' then a content hash then one extension. Either 8+ hex
  // digits, at least one a letter (webpack, Parcel: app.3f2a9c1b.js,
  // app-3F2A9C1B.css; a date-stamped photo-20240101.jpg is no hash), or
  // exactly 8 of Rollup's, Vite's and esbuild's base64url/base32 characters
  // with a digit and a capital among them (index-BdT3xq9L.js,
  // chunk-ABCD2345.js): a word such as app-Settings.js or a version such as
  // lib-v2alpha1.js is no hash, and caching it for a year would be wrong.
  // A hash without a digit or a capital (a quarter of Vite's) just revalidates.
  immutable: /[.-](?:(?=[0-9]*[a-fA-F])[0-9a-fA-F]{8,}|(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Z])[A-Za-z0-9_-]{8})\.[A-Za-z0-9]+$/,
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
  /** The root's canonical path (as given, for a site that is not available). */
  readonly root: string;
  /** See StaticSiteOptions.owner. */
  readonly owner: number | null;
  /** Why the site serves nothing (every path 404); null for a site that serves its root. */
  readonly unavailable: string | null;
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
    if (this.fileInfoValidMs === 0) return resolveCandidate(this.root, candidate, this.owner);
    const lookups = this.#lookups;
    const hit = lookups.get(candidate);
    if (hit !== undefined && now - hit.at < this.fileInfoValidMs) return hit.result;
    const result = resolveCandidate(this.root, candidate, this.owner);
    lookups.delete(candidate);
    if (lookups.size >= MAX_REMEMBERED_PATHS) lookups.delete(lookups.keys().next().value!);
    lookups.set(candidate, { at: now, result });
    // A failed lookup (EMFILE, EIO) is a fault of the moment, never remembered.
    result.catch(() => lookups.delete(candidate));
    return result;
  }

  /**
   * Opens a file a lookup found (`path` is its canonical path, inside the
   * root) for reading, through openVerified: null when the path no longer
   * names that file, or it breaks the owner rule. Lookups are then forgotten,
   * so the next request looks again rather than trusting what changed.
   */
  async openFile(path: string): Promise<FileHandle | null> {
    const opened = await openVerified(path, { owner: this.owner });
    if (opened === null) {
      this.#lookups.clear();
      return null;
    }
    return opened.handle;
  }

  /** A file body's source, opened only through openFile. */
  file(path: string): StaticFile {
    return { path, open: () => this.openFile(path) };
  }

  /** Use createStaticSite: the root must be resolved (async) first. */
  constructor(root: string, options: Omit<StaticSiteOptions, 'root'>, unavailable: string | null = null) {
    this.root = root;
    this.owner = options.owner ?? null;
    this.unavailable = unavailable;
    this.index = options.index ?? STATIC_DEFAULTS.index;
    this.immutable = options.immutable ?? STATIC_DEFAULTS.immutable;
    this.compressCacheBytes = options.compressCacheBytes ?? STATIC_DEFAULTS.compressCacheBytes;
    this.smallFileCacheBytes = options.smallFileCacheBytes ?? STATIC_DEFAULTS.smallFileCacheBytes;
    this.fileInfoValidMs = options.fileInfoValidMs ?? STATIC_DEFAULTS.fileInfoValidMs;

    const open = (path: string) => this.openFile(path);
    this.smallFiles = new BodyCache(new ByteLru<string, CachedBody>(this.smallFileCacheBytes), '', null, open);
    const compressedLru = new ByteLru<string, CachedBody>(this.compressCacheBytes);
    this.compressed = {
      br: new BodyCache(
        compressedLru,
        'br\0',
        (raw) =>
          brotliAsync(raw, {
            params: { [zlib.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [zlib.BROTLI_PARAM_SIZE_HINT]: raw.length },
          }),
        open,
      ),
      gzip: new BodyCache(compressedLru, 'gzip\0', (raw) => gzipAsync(raw, { level: GZIP_LEVEL }), open),
    };
  }
}

export async function createStaticSite(options: StaticSiteOptions): Promise<StaticSite> {
  validateOptions(options);
  return new StaticSite(await resolveStaticRoot(options), options);
}

/**
 * A site that serves nothing, every path 404: for a root that cannot be
 * served (missing, not a folder, outside its confinement), so that one
 * app's folder never stops the routes of the others.
 */
export function unavailableSite(root: string, reason: string): StaticSite {
  return new StaticSite(root, { compressCacheBytes: 0, smallFileCacheBytes: 0 }, reason);
}

/**
 * The root's canonical path, once it is known to be a folder inside its
 * confinement; BERTH_E_STATIC_ROOT otherwise.
 */
export async function resolveStaticRoot(options: Pick<StaticSiteOptions, 'root' | 'confine'>): Promise<string> {
  let found;
  try {
    found = await lookupPath(options.root);
  } catch (err) {
    throw new BerthError('BERTH_E_STATIC_ROOT', `static root ${options.root} cannot be read: ${(err as Error).message}`, {
      hint: 'make the folder readable by berth',
      cause: err,
    });
  }
  if (found === null) {
    throw new BerthError('BERTH_E_STATIC_ROOT', `static root ${options.root} does not exist`, {
      hint: 'create the folder or pass the path of an existing one',
    });
  }
  if (!found.stats.isDirectory()) {
    throw new BerthError('BERTH_E_STATIC_ROOT', `static root ${options.root} is not a folder`, {
      hint: 'pass the folder that contains the files, not a file',
    });
  }
  const confine = options.confine ?? null;
  if (confine !== null && !isInsideRoot(confine, found.path)) {
    throw new BerthError('BERTH_E_STATIC_ROOT', `static root ${options.root} leads out of ${confine} (to ${found.path})`, {
      hint: "a static folder must be a folder of the app's release, not a link to anywhere else",
    });
  }
  return found.path;
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
