// What the edge's response cache may store, and how old a stored response
// is (RFC 9111). Pure: every time is passed in as ms since the epoch.
//
// The edge is a shared cache and errs on the side of not storing, like nginx
// and CDNs: freshness must be explicit (no heuristic freshness), and anything
// that hints at per-user content is passed through.
//
// Request directives are deliberately ignored for lookups: a client's
// `Cache-Control: no-cache` or `max-age=0` (a browser's reload button) would
// otherwise let any client force every request through to the app, which is
// what the cache is there to prevent. nginx and CDNs do the same. Only a
// request's `no-store` is honoured, and only for storing its own response.

import { parseHttpDate } from '../static/http-date.ts';

/** RFC 9111 §1.2.2: a delta-seconds too large to represent is taken as 2^31. */
const MAX_DELTA_SECONDS = 2147483648;

const STORABLE_STATUS: ReadonlySet<number> = new Set([200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]);

export type CacheDirectives = {
  noStore: boolean;
  /** Any form, including the qualified `no-cache="field"`. */
  noCache: boolean;
  /** Any form, including the qualified `private="field"`. */
  private: boolean;
  public: boolean;
  mustRevalidate: boolean;
  proxyRevalidate: boolean;
  /** Seconds; null when absent or invalid. */
  maxAge: number | null;
  /** The first max-age was present but not a delta-seconds. */
  maxAgeInvalid: boolean;
  sMaxAge: number | null;
  staleWhileRevalidate: number | null;
  staleIfError: number | null;
};

/**
 * Parses Cache-Control leniently: names case-insensitive, values as tokens
 * or quoted strings, and for a repeated directive the first occurrence
 * decides. A numeric directive whose value is not 1*DIGIT is absent.
 */
export function parseCacheControl(value: string | undefined): CacheDirectives {
  const d: CacheDirectives = {
    noStore: false, noCache: false, private: false, public: false, mustRevalidate: false, proxyRevalidate: false,
    maxAge: null, maxAgeInvalid: false, sMaxAge: null, staleWhileRevalidate: null, staleIfError: null,
  };
  if (value === undefined) return d;
  const seen = new Set<string>();
  for (const item of splitDirectives(value)) {
    const eq = item.indexOf('=');
    const name = (eq === -1 ? item : item.slice(0, eq)).trim().toLowerCase();
    if (name === '' || seen.has(name)) continue;
    seen.add(name);
    const raw = eq === -1 ? null : unquote(item.slice(eq + 1).trim());
    switch (name) {
      case 'no-store': d.noStore = true; break;
      case 'no-cache': d.noCache = true; break;
      case 'private': d.private = true; break;
      case 'public': d.public = true; break;
      case 'must-revalidate': d.mustRevalidate = true; break;
      case 'proxy-revalidate': d.proxyRevalidate = true; break;
      case 'max-age':
        d.maxAge = deltaSeconds(raw);
        d.maxAgeInvalid = d.maxAge === null;
        break;
      case 's-maxage': d.sMaxAge = deltaSeconds(raw); break;
      case 'stale-while-revalidate': d.staleWhileRevalidate = deltaSeconds(raw); break;
      case 'stale-if-error': d.staleIfError = deltaSeconds(raw); break;
    }
  }
  return d;
}

/** Splits on commas outside quoted strings; empty members are dropped. */
function splitDirectives(value: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (quoted) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22) quoted = false;
    } else if (c === 0x22) {
      quoted = true;
    } else if (c === 0x2c) {
      out.push(value.slice(start, i));
      start = i + 1;
    }
  }
  out.push(value.slice(start));
  return out.filter((s) => s.trim() !== '');
}

/** A quoted-string's content, unescaped; null for an unterminated one. */
function unquote(v: string): string | null {
  if (!v.startsWith('"')) return v;
  if (v.length < 2 || !v.endsWith('"')) return null;
  return v.slice(1, -1).replace(/\\(.)/g, '$1');
}

function deltaSeconds(v: string | null): number | null {
  if (v === null || !/^\d+$/.test(v)) return null;
  const n = Number(v);
  return n > MAX_DELTA_SECONDS ? MAX_DELTA_SECONDS : n;
}

/** What later decisions about a stored response need. Times in ms. */
export type CacheMeta = {
  freshnessLifetimeMs: number;
  staleWhileRevalidateMs: number;
  staleIfErrorMs: number;
  /** When the request that produced the response was sent upstream. */
  requestTime: number;
  /** When the response head arrived. */
  responseTime: number;
  /** The response's Date in ms, or responseTime when it had none (RFC 9110 §6.6.1). */
  dateValue: number;
  /** The response's Age header in ms (0 when absent or invalid). */
  ageValue: number;
  /** Lower-cased, sorted, deduplicated names from Vary. */
  varyNames: string[];
  /** must-revalidate or proxy-revalidate: never served stale. */
  mustRevalidate: boolean;
};

export type CacheExchange = {
  method: string;
  /** Flat [name, value, ...] with lower-case names. */
  requestHeaders: readonly string[];
  status: number;
  responseHeaders: readonly string[];
  requestTime: number;
  responseTime: number;
};

export type NotStorableReason =
  | 'method' | 'status' | 'request-no-store' | 'no-store' | 'private' | 'no-cache' | 'set-cookie'
  | 'vary-star' | 'authorization' | 'invalid-max-age' | 'no-freshness' | 'already-stale';

export type StoreDecision = { store: false; reason: NotStorableReason } | { store: true; meta: CacheMeta };

/**
 * Whether a response may be stored (RFC 9111 §3), and its metadata if so.
 * `now` rules out responses that arrive already unusable (e.g. max-age=0
 * without a stale window): storing them would only evict useful entries.
 */
export function storeDecision(x: CacheExchange, now: number): StoreDecision {
  // HEAD is answered from GET entries by the caller; a HEAD response has no body to store.
  if (x.method !== 'GET') return { store: false, reason: 'method' };
  if (!STORABLE_STATUS.has(x.status)) return { store: false, reason: 'status' };
  if (parseCacheControl(combinedField(x.requestHeaders, 'cache-control')).noStore) return { store: false, reason: 'request-no-store' };

  const cc = parseCacheControl(combinedField(x.responseHeaders, 'cache-control'));
  if (cc.noStore) return { store: false, reason: 'no-store' };
  if (cc.private) return { store: false, reason: 'private' };
  // no-cache allows storing if every use is revalidated; the edge does not
  // revalidate before serving, so it simply does not store such responses.
  if (cc.noCache) return { store: false, reason: 'no-cache' };
  if (fieldValues(x.responseHeaders, 'set-cookie').length > 0) return { store: false, reason: 'set-cookie' };

  const varyNames = parseVary(combinedField(x.responseHeaders, 'vary'));
  if (varyNames === null) return { store: false, reason: 'vary-star' };

  // RFC 9111 §3.5: a response to an authenticated request is for that user
  // unless the response explicitly allows a shared cache to keep it.
  if (fieldValues(x.requestHeaders, 'authorization').length > 0 && !cc.public && cc.sMaxAge === null && !cc.mustRevalidate) {
    return { store: false, reason: 'authorization' };
  }

  const date = firstDate(x.responseHeaders, 'date');
  const dateValue = date ?? x.responseTime;
  let freshnessLifetimeMs: number;
  if (cc.sMaxAge !== null) {
    freshnessLifetimeMs = cc.sMaxAge * 1000;
  } else if (cc.maxAgeInvalid) {
    // Falling back to Expires would let a broken max-age make a response fresh.
    return { store: false, reason: 'invalid-max-age' };
  } else if (cc.maxAge !== null) {
    freshnessLifetimeMs = cc.maxAge * 1000;
  } else {
    const expires = fieldValues(x.responseHeaders, 'expires');
    if (expires.length === 0) return { store: false, reason: 'no-freshness' };
    // RFC 9111 §5.3: an invalid Expires (e.g. "0") means already expired.
    const expiresSec = parseHttpDate(expires[0]!.trim());
    freshnessLifetimeMs = expiresSec === null ? 0 : Math.max(0, expiresSec * 1000 - dateValue);
  }

  const age = deltaSeconds(fieldValues(x.responseHeaders, 'age')[0]?.trim() ?? null);
  // s-maxage implies proxy-revalidate (RFC 9111 §5.2.2.10), but an explicit
  // stale-while-revalidate/stale-if-error in the same response is the
  // origin's later, narrower permission; CDNs honour it and so does the edge.
  const meta: CacheMeta = {
    freshnessLifetimeMs,
    staleWhileRevalidateMs: (cc.staleWhileRevalidate ?? 0) * 1000,
    staleIfErrorMs: (cc.staleIfError ?? 0) * 1000,
    requestTime: x.requestTime,
    responseTime: x.responseTime,
    dateValue,
    ageValue: (age ?? 0) * 1000,
    varyNames,
    mustRevalidate: cc.mustRevalidate || cc.proxyRevalidate,
  };
  if (judgeEntry(meta, now) === 'stale') return { store: false, reason: 'already-stale' };
  return { store: true, meta };
}

/** Vary's field names, or null for `Vary: *` (never matches a later request). */
function parseVary(value: string | undefined): string[] | null {
  if (value === undefined) return [];
  const names = new Set<string>();
  for (const part of value.split(',')) {
    const name = part.trim().toLowerCase();
    if (name === '*') return null;
    if (name !== '') names.add(name);
  }
  return [...names].sort();
}

function firstDate(headers: readonly string[], name: string): number | null {
  const v = fieldValues(headers, name)[0];
  if (v === undefined) return null;
  const sec = parseHttpDate(v.trim());
  return sec === null ? null : sec * 1000;
}

/** RFC 9111 §4.2.3, in ms. */
export function currentAgeMs(meta: CacheMeta, now: number): number {
  const apparentAge = Math.max(0, meta.responseTime - meta.dateValue);
  const responseDelay = meta.responseTime - meta.requestTime;
  const correctedAgeValue = meta.ageValue + responseDelay;
  const correctedInitialAge = Math.max(apparentAge, correctedAgeValue);
  const residentTime = now - meta.responseTime;
  return correctedInitialAge + residentTime;
}

/** The Age header's value: whole seconds, never negative, capped as RFC 9111 §5.1 says. */
export function ageSeconds(meta: CacheMeta, now: number): number {
  const s = Math.floor(currentAgeMs(meta, now) / 1000);
  return s < 0 ? 0 : s > MAX_DELTA_SECONDS ? MAX_DELTA_SECONDS : s;
}

/**
 * - 'fresh': serve it.
 * - 'stale-while-revalidate': serve it and refresh it in the background.
 * - 'stale-if-error': go upstream; serve it if the upstream fails (5xx or
 *   unreachable).
 * - 'stale': go upstream; it must not be served.
 * The windows are half-open: fresh while age < lifetime, then each stale
 * window lasts while (age − lifetime) < its length, SWR checked first.
 */
export type EntryState = 'fresh' | 'stale-while-revalidate' | 'stale-if-error' | 'stale';

export function judgeEntry(meta: CacheMeta, now: number): EntryState {
  const age = currentAgeMs(meta, now);
  if (age < meta.freshnessLifetimeMs) return 'fresh';
  if (meta.mustRevalidate) return 'stale';
  const staleness = age - meta.freshnessLifetimeMs;
  if (staleness < meta.staleWhileRevalidateMs) return 'stale-while-revalidate';
  if (staleness < meta.staleIfErrorMs) return 'stale-if-error';
  return 'stale';
}

/**
 * The request's values for the fields a response varies on, normalised so
 * that equivalent requests compare equal (RFC 9111 §4.1): field lines are
 * combined, list members trimmed and joined with ", ", inner whitespace runs
 * collapsed. An absent field and an empty one both give ''.
 */
export function varyValues(varyNames: readonly string[], requestHeaders: readonly string[]): string[] {
  return varyNames.map((name) => {
    const members: string[] = [];
    for (const v of fieldValues(requestHeaders, name)) {
      for (const m of v.split(',')) {
        const t = m.trim().replace(/[ \t]+/g, ' ');
        if (t !== '') members.push(t);
      }
    }
    return members.join(', ');
  });
}

export function varyValuesEqual(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Every value of a field in a flat, lower-cased header array, in order. */
export function fieldValues(headers: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < headers.length; i += 2) if (headers[i] === name) out.push(headers[i + 1]!);
  return out;
}

/** A list field's lines combined as RFC 9110 §5.3 allows; undefined when absent. */
export function combinedField(headers: readonly string[], name: string): string | undefined {
  const values = fieldValues(headers, name);
  return values.length === 0 ? undefined : values.join(', ');
}
