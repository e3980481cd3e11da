// Heads for responses the cache had a hand in: a stored response's fields
// as they go out, the Cache-Status values (RFC 9211) the edge adds, and
// whether a client's conditional request lets a hit be answered with 304.

import { isHopByHop } from '../http1/index.ts';
import { etagListMatches } from '../static/conditional.ts';
import { parseHttpDate } from '../static/http-date.ts';
import type { CacheEntry } from './cache-store.ts';
import { ageSeconds, combinedField, fieldValues } from './policy.ts';

/** The cache's name in Cache-Status. */
const CACHE = 'berth';

/**
 * The fields to send with a stored response: as stored, minus hop-by-hop
 * fields (and those the stored Connection named), Content-Length (the edge
 * frames the body itself, as for proxied responses) and the stored Age,
 * plus the current Age and `cache-status: <cacheStatus>`. An upstream's own
 * Cache-Status is kept ahead of ours: the list runs origin-side first.
 */
export function hitHeaders(entry: CacheEntry, now: number, cacheStatus: string): string[] {
  const named = new Set<string>();
  for (const v of fieldValues(entry.headers, 'connection')) {
    for (const t of v.split(',')) named.add(t.trim().toLowerCase());
  }
  const out: string[] = [];
  const h = entry.headers;
  for (let i = 0; i + 1 < h.length; i += 2) {
    const name = h[i]!;
    if (name === 'age' || name === 'content-length' || isHopByHop(name) || named.has(name)) continue;
    out.push(name, h[i + 1]!);
  }
  out.push('age', String(ageSeconds(entry.meta, now)), 'cache-status', cacheStatus);
  return out;
}

// The Cache-Status values the edge sends. One function per case, so the
// set stays small and every place that answers names its case.

/** Served fresh from the cache. */
export function statusHit(): string {
  return `${CACHE}; hit`;
}

/** Served stale from the cache while a background request refreshes it. */
export function statusStaleWhileRevalidate(): string {
  return `${CACHE}; hit; detail=stale-while-revalidate`;
}

/**
 * Served stale because the upstream failed. Not a `hit`: the request did go
 * forward, for a stale entry. `upstreamStatus` is the 5xx it answered, or
 * null when it could not be reached.
 */
export function statusStaleIfError(upstreamStatus: number | null): string {
  const fwdStatus = upstreamStatus === null ? '' : `; fwd-status=${upstreamStatus}`;
  return `${CACHE}; fwd=stale${fwdStatus}; detail=stale-if-error`;
}

/**
 * Why a request went upstream (RFC 9211 §2.2):
 * - 'uri-miss': nothing stored for the URL;
 * - 'vary-miss': stored variants, none for this request's Vary values;
 * - 'stale': the stored response was too old to serve;
 * - 'method': the method is not served from the cache (POST, ...);
 * - 'bypass': the cache is not used for this request at all (off for the app).
 */
export type ForwardReason = 'uri-miss' | 'vary-miss' | 'stale' | 'method' | 'bypass';

/**
 * Forwarded upstream. `stored`: the response was stored. `collapsed`: this
 * request waited on another one for the same key (a collapsed miss) and is
 * answered with that one's response.
 */
export function statusForward(reason: ForwardReason, outcome: { stored?: boolean; collapsed?: boolean } = {}): string {
  let v = `${CACHE}; fwd=${reason}`;
  if (outcome.stored === true) v += '; stored';
  if (outcome.collapsed === true) v += '; collapsed';
  return v;
}

/**
 * Whether a request for a stored 2xx response may be answered 304 (RFC 9110
 * §13.2.2): If-None-Match against the entry's ETag with weak comparison
 * (`*` matches any stored representation), else If-Modified-Since at or
 * after Last-Modified. The caller only asks for GET and HEAD.
 */
export function notModified(entry: CacheEntry, requestHeaders: readonly string[]): boolean {
  // Preconditions apply only where the response would be 2xx (RFC 9110 §13.2.1).
  if (entry.status < 200 || entry.status > 299) return false;
  const ifNoneMatch = combinedField(requestHeaders, 'if-none-match');
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() === '*') return true;
    if (entry.etag === undefined) return false;
    // Weak comparison ignores W/ on both sides; etagListMatches ignores it on the request's side.
    const tag = entry.etag.startsWith('W/') ? entry.etag.slice(2) : entry.etag;
    return etagListMatches(ifNoneMatch, tag, false);
  }
  const ims = fieldValues(requestHeaders, 'if-modified-since');
  // More than one value makes it invalid (RFC 9110 §13.1.3).
  if (ims.length !== 1 || entry.lastModified === undefined) return false;
  const since = parseHttpDate(ims[0]!.trim());
  const modified = parseHttpDate(entry.lastModified.trim());
  return since !== null && modified !== null && modified <= since;
}
