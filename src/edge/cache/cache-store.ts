// Stored responses in memory, bounded by bytes, least recently used first
// out. One primary key (host + ' ' + target) holds one variant per distinct
// set of Vary values; the LRU works on variants, so a popular variant stays
// while a rare one of the same URL goes.
//
// The static site's ByteLru is not reused: evictions here must also update
// the key → variants index, and ByteLru evicts silently inside set().

import { varyValues, varyValuesEqual, type CacheMeta } from './policy.ts';

export type CacheEntry = {
  /** cacheKey(host, target). */
  key: string;
  /** varyValues(meta.varyNames, requestHeaders) of the request that fetched it. */
  varyValues: string[];
  status: number;
  /** Flat [name, value, ...] as received from the upstream. */
  headers: string[];
  body: Buffer;
  meta: CacheMeta;
  etag?: string;
  lastModified?: string;
};

export type CacheStoreOptions = {
  maxBytes: number;
  /** A larger entry is never stored. */
  maxEntryBytes: number;
};

/** Covers the entry object, its meta and the index nodes pointing at it. */
export const ENTRY_OVERHEAD_BYTES = 512;

/** What an entry is charged against maxBytes. Header strings are latin1: one byte per char. */
export function entryBytes(entry: CacheEntry): number {
  let n = ENTRY_OVERHEAD_BYTES + entry.body.length + entry.key.length;
  for (const h of entry.headers) n += h.length + 2; // ": " or CRLF
  for (const v of entry.varyValues) n += v.length;
  return n;
}

/** The primary key. Hosts are case-insensitive; targets are kept as received. */
export function cacheKey(host: string, target: string): string {
  return `${host.toLowerCase()} ${target}`;
}

type Slot = { entry: CacheEntry; bytes: number };
type KeyVariants = { varyNames: string[]; ids: Set<string> };

export class CacheStore {
  readonly maxBytes: number;
  readonly maxEntryBytes: number;
  // Insertion order is recency order: a touch is delete + set.
  #lru = new Map<string, Slot>();
  #keys = new Map<string, KeyVariants>();
  #bytes = 0;

  constructor(options: CacheStoreOptions) {
    for (const [name, v] of Object.entries(options)) {
      if (!Number.isFinite(v) || v < 0) throw new RangeError(`${name} must be a finite number >= 0, got ${v}`);
    }
    this.maxBytes = options.maxBytes;
    this.maxEntryBytes = options.maxEntryBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Stored variants, over all keys. */
  get count(): number {
    return this.#lru.size;
  }

  /** Whether any variant of the key is stored: tells a vary-miss from a uri-miss. */
  has(key: string): boolean {
    return this.#keys.has(key);
  }

  /** The variant the request selects (RFC 9111 §4.1), now the most recently used; null if none. */
  get(key: string, requestHeaders: readonly string[]): CacheEntry | null {
    const variants = this.#keys.get(key);
    if (variants === undefined) return null;
    const id = variantId(key, varyValues(variants.varyNames, requestHeaders));
    const slot = this.#lru.get(id);
    if (slot === undefined) return null;
    this.#lru.delete(id);
    this.#lru.set(id, slot);
    return slot.entry;
  }

  /**
   * Stores the entry, replacing the variant with the same Vary values, or
   * every variant of the key when the response varies on other fields than
   * the stored ones (they could never be selected consistently). What it
   * replaces is removed even when the entry is too large to store, so an
   * older response never outlives a newer one. Returns whether it stored.
   */
  put(entry: CacheEntry): boolean {
    const variants = this.#keys.get(entry.key);
    if (variants !== undefined && !varyValuesEqual(variants.varyNames, entry.meta.varyNames)) this.delete(entry.key);
    const id = variantId(entry.key, entry.varyValues);
    this.#remove(id);
    const bytes = entryBytes(entry);
    if (bytes > this.maxEntryBytes || bytes > this.maxBytes) return false;
    while (this.#bytes + bytes > this.maxBytes) {
      const oldest = this.#lru.keys().next();
      if (oldest.done === true) break;
      this.#remove(oldest.value);
    }
    this.#lru.set(id, { entry, bytes });
    this.#bytes += bytes;
    let own = this.#keys.get(entry.key);
    if (own === undefined) {
      own = { varyNames: entry.meta.varyNames, ids: new Set() };
      this.#keys.set(entry.key, own);
    }
    own.ids.add(id);
    return true;
  }

  /** Removes every variant of the key; returns how many. */
  delete(key: string): number {
    const variants = this.#keys.get(key);
    if (variants === undefined) return 0;
    const n = variants.ids.size;
    for (const id of [...variants.ids]) this.#remove(id);
    return n;
  }

  /**
   * Removes the host's entries whose path is `pathPrefix` or lies below it
   * at a segment boundary, whatever their query: "/a" takes "/a", "/a?x=1"
   * and "/a/b" but not "/ab". No prefix takes all of the host; a prefix
   * with a '?' names one exact target. Returns how many variants went.
   * A scan over all keys: purges are rare next to lookups.
   */
  purge(host: string, pathPrefix?: string): number {
    const hostPart = host.toLowerCase() + ' ';
    let n = 0;
    for (const key of [...this.#keys.keys()]) {
      if (!key.startsWith(hostPart)) continue;
      if (pathPrefix === undefined || pathPrefix === '' || targetMatches(key.slice(hostPart.length), pathPrefix)) n += this.delete(key);
    }
    return n;
  }

  purgeAll(): number {
    const n = this.#lru.size;
    this.#lru.clear();
    this.#keys.clear();
    this.#bytes = 0;
    return n;
  }

  #remove(id: string): void {
    const slot = this.#lru.get(id);
    if (slot === undefined) return;
    this.#lru.delete(id);
    this.#bytes -= slot.bytes;
    const key = slot.entry.key;
    const variants = this.#keys.get(key);
    if (variants === undefined) return;
    variants.ids.delete(id);
    if (variants.ids.size === 0) this.#keys.delete(key);
  }
}

// Vary values cannot contain LF (the parser refuses it), so it separates them unambiguously.
function variantId(key: string, values: readonly string[]): string {
  return values.length === 0 ? key : `${key}\n${values.join('\n')}`;
}

function targetMatches(target: string, prefix: string): boolean {
  if (prefix.includes('?')) return target === prefix;
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || prefix.endsWith('/') || path.charCodeAt(prefix.length) === 0x2f;
}
