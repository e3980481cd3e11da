// The edge's HTTP response cache (RFC 9111): the only public door of this
// folder. The proxy path uses it roughly like this:
//
//   const key = cacheKey(host, target);
//   const entry = method is GET or HEAD ? store.get(key, reqHeaders) : null;
//   entry → judgeEntry(entry.meta, now): 'fresh' → answer from the entry
//     (notModified → 304) with hitHeaders(entry, now, statusHit());
//     'stale-while-revalidate' → the same, statusStaleWhileRevalidate(), and
//     refresh in the background; 'stale-if-error' → forward, and on a 5xx or
//     no upstream answer from the entry with statusStaleIfError(status).
//   miss → collapser.join(key): the leader forwards, then
//     storeDecision({...}, now) → store.put({ key, varyValues:
//     varyValues(meta.varyNames, reqHeaders), ... }) and settle(entry | null);
//     followers await wait and go upstream themselves on null.

export {
  ageSeconds, currentAgeMs, judgeEntry, parseCacheControl, storeDecision, varyValues, varyValuesEqual,
  type CacheDirectives, type CacheExchange, type CacheMeta, type EntryState, type NotStorableReason, type StoreDecision,
} from './policy.ts';
export {
  CacheStore, cacheKey, entryBytes, ENTRY_OVERHEAD_BYTES, type CacheEntry, type CacheStoreOptions,
} from './cache-store.ts';
export { Collapser, type CollapseTicket, type CollapserOptions, type CollapserTimers } from './collapser.ts';
export {
  hitHeaders, notModified, statusForward, statusHit, statusStaleIfError, statusStaleWhileRevalidate,
  type ForwardReason,
} from './headers.ts';
