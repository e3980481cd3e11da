import {
  CacheStore,
  Collapser,
  cacheKey,
  hitHeaders,
  judgeEntry,
  notModified,
  statusForward,
  statusHit,
  statusStaleIfError,
  statusStaleWhileRevalidate,
  storeDecision,
  varyValues,
  type CacheEntry,
  type ForwardReason,
} from '../cache/index.ts';
import { chooseCompression, compressedHeaders, compressWhole, createCompressor, type Compression } from '../compression.ts';
import type { ResponseHead } from '../http1/index.ts';
import { STATUS_CODES } from '../http1/status-codes.ts';
import { clientKey } from '../client-key.ts';
import { SharedLimiterTable } from '../rate-limit.ts';
import type { SiteRoutes } from '../router.ts';
import type { UpstreamGroup } from '../upstream-group.ts';
import { forward, type ForwardOutcome, type ForwardTrace, type ResponseSink, type UpstreamFlow } from './exchange.ts';
import type { EdgeLimits } from './limits.ts';
import type { SpillBuffer } from './spill-buffer.ts';

// What happens to a proxied request between the client's protocol engine
// (HTTP/1.1 or HTTP/2) and `forward()`: per-client limits, the response
// cache (RFC 9111: hits, Vary, stale-while-revalidate, stale-if-error,
// collapsed misses), and compression of what the app sent uncompressed.
// The response flows up through sinks: upstream → cache recorder →
// compressor → the client's sink, each a ResponseSink.

/** What one engine thread holds for every site: its share of the cache, and the limit table every thread shares. */
export interface EdgeServices {
  readonly cache: CacheStore | null;
  readonly collapser: Collapser<CacheEntry>;
  readonly limiter: SharedLimiterTable | null;
  /**
   * URLs whose last answer could not be stored, until when (epoch ms): their
   * requests go straight to the app, neither collapsed nor recorded — what
   * Varnish calls hit-for-miss. Without it, concurrent requests for an
   * uncacheable page would queue behind one another's misses.
   */
  readonly uncacheable: Map<string, number>;
}

/** How long a URL that answered uncacheable is passed straight through (Varnish's hit-for-miss default). */
const UNCACHEABLE_MS = 120_000;
/** URLs remembered as uncacheable at most (oldest forgotten first). */
const MAX_UNCACHEABLE = 20_000;

function markUncacheable(services: EdgeServices, key: string, now: number): void {
  const map = services.uncacheable;
  map.delete(key);
  map.set(key, now + UNCACHEABLE_MS);
  if (map.size > MAX_UNCACHEABLE) map.delete(map.keys().next().value!);
}

function isUncacheable(services: EdgeServices, key: string, now: number): boolean {
  const until = services.uncacheable.get(key);
  if (until === undefined) return false;
  if (until > now) return true;
  services.uncacheable.delete(key);
  return false;
}

/** How long followers of a collapsed miss wait for the leader before going upstream themselves. */
const COLLAPSE_WAIT_MS = 5_000;

export function createEdgeServices(options: { cacheBytes: number; cacheEntryBytes: number; limiter: SharedArrayBuffer | null }): EdgeServices {
  return {
    cache: options.cacheBytes > 0 ? new CacheStore({ maxBytes: options.cacheBytes, maxEntryBytes: Math.min(options.cacheEntryBytes, options.cacheBytes) }) : null,
    collapser: new Collapser<CacheEntry>({ lockTimeoutMs: COLLAPSE_WAIT_MS, maxKeys: 10_000 }),
    limiter: options.limiter === null ? null : new SharedLimiterTable(options.limiter),
    uncacheable: new Map(),
  };
}

/**
 * Drops cached responses of these hosts (both schemes), all of them or
 * those under `path` (a path prefix on a segment boundary, or one exact
 * target when it has a query). Returns how many went.
 */
export function purgeCache(services: EdgeServices, hosts: readonly string[], path: string | null): number {
  const cache = services.cache;
  if (cache === null) return 0;
  let count = 0;
  for (const host of hosts) {
    for (const proto of ['http', 'https']) count += path === null ? cache.purge(`${proto}://${host}`) : cache.purge(`${proto}://${host}`, path);
  }
  return count;
}

/**
 * The rate limit for one request of `site` from `client`: null when
 * admitted, else the seconds the client should wait (429 + Retry-After).
 */
export function admitRequest(services: EdgeServices, site: SiteRoutes, client: string, now: number): number | null {
  const rate = site.rateLimit;
  if (!rate || services.limiter === null) return null;
  const admission = services.limiter.admit(site.key ?? '', clientKey(client), now, { ratePerSecond: rate.perSecond, burst: rate.burst });
  return admission.allowed ? null : admission.retryAfterSeconds;
}

/**
 * Counts a request in flight for the site's per-client limit; false when the
 * client already has as many as allowed. Every true must be paired with one
 * `leaveRequest`.
 */
export function enterRequest(services: EdgeServices, site: SiteRoutes, client: string): boolean {
  const max = site.connectionsPerClient;
  if (!max || services.limiter === null) return true;
  return services.limiter.enter(site.key ?? '', clientKey(client), max);
}

export function leaveRequest(services: EdgeServices, site: SiteRoutes, client: string): void {
  if (!site.connectionsPerClient || services.limiter === null) return;
  services.limiter.leave(site.key ?? '', clientKey(client));
}

// A background refresh asks without the client's conditionals: it must get
// a full response to store, not a 304 meant for one client.
const CONDITIONAL = new Set(['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range']);

/** A request on its way to an app, whatever protocol it came in on. */
export interface ProxyRequest {
  readonly method: string;
  /** Path and query as received. */
  readonly target: string;
  /** The host name, lower-case, no port. */
  readonly host: string;
  readonly proto: 'http' | 'https';
  /** The client's header fields, flat, lower-case names. */
  readonly fields: readonly string[];
  /** The upstream head; `omit` names client fields to leave out of it. */
  head(omit?: ReadonlySet<string>): string;
  readonly body: SpillBuffer | null;
  /** Filled in on the way: the instance asked, the attempts, the cache's part (for metrics and the access log). */
  readonly trace: ProxyTrace;
}

export interface ProxyTrace extends ForwardTrace {
  cache: 'hit' | 'stale' | 'miss' | null;
}

/** A fresh trace for one request. */
export function newTrace(): ProxyTrace {
  return { upstream: null, attempts: 0, cache: null };
}

/** The value of a request field, repeated ones joined (RFC 9110 §5.3); undefined when absent. */
export function fieldValue(fields: readonly string[], name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) value = value === undefined ? fields[i + 1]! : `${value}, ${fields[i + 1]}`;
  return value;
}

/**
 * Forwards `request` to the site's upstreams through the cache and the
 * compressor, answering into `sink`. Resolves as `forward()` does; 'done'
 * also when the answer came from the cache.
 */
export async function proxyRequest(request: ProxyRequest, site: SiteRoutes, upstreams: UpstreamGroup, services: EdgeServices, limits: EdgeLimits, sink: ResponseSink): Promise<ForwardOutcome> {
  const acceptEncoding = fieldValue(request.fields, 'accept-encoding');
  const client = new CompressingSink(sink, request.method, acceptEncoding);
  const cache = services.cache;
  const method = request.method;
  const cacheable = cache !== null && site.cache !== false && (method === 'GET' || method === 'HEAD') && request.body === null && fieldValue(request.fields, 'range') === undefined;
  const trace = request.trace;
  if (!cacheable) return forward({ method, head: request.head(), body: request.body }, upstreams, limits, client, trace);

  const now = Date.now();
  const key = cacheKey(`${request.proto}://${request.host}`, request.target);
  const entry = cache.get(key, request.fields);
  let reason: ForwardReason = cache.has(key) ? 'vary-miss' : 'uri-miss';
  let staleFallback: CacheEntry | null = null;
  if (entry !== null) {
    const state = judgeEntry(entry.meta, now);
    if (state === 'fresh') {
      trace.cache = 'hit';
      return serveEntry(entry, request, statusHit(), sink, acceptEncoding);
    }
    if (state === 'stale-while-revalidate') {
      trace.cache = 'stale';
      if (method === 'GET') revalidate(key, request, upstreams, services, limits);
      return serveEntry(entry, request, statusStaleWhileRevalidate(), sink, acceptEncoding);
    }
    reason = 'stale';
    if (state === 'stale-if-error') staleFallback = entry;
  }
  trace.cache = 'miss';
  if (entry === null && isUncacheable(services, key, now)) {
    return forward({ method, head: request.head(), body: null }, upstreams, limits, client, trace);
  }
  // A HEAD never fills the cache: it has no body to store.
  if (method === 'HEAD') return forward({ method, head: request.head(), body: null }, upstreams, limits, withCacheStatus(client, statusForward(reason, {})), trace);

  const ticket = services.collapser.join(key);
  if (!ticket.leader) {
    const filled = await ticket.wait;
    if (filled !== null && notStale(filled)) {
      trace.cache = 'hit';
      return serveEntry(filled, request, statusForward(reason, { collapsed: true }), sink, acceptEncoding);
    }
    return forward({ method, head: request.head(), body: null }, upstreams, limits, withCacheStatus(client, statusForward(reason, {})), trace);
  }
  const recorder = new CacheRecorder(client, { key, request, cache, reason, staleFallback, acceptEncoding, raw: sink });
  let outcome: ForwardOutcome;
  try {
    // The client's own conditionals go along: an app that answers 304
    // itself keeps doing so (the 304 is not stored; the next full answer is).
    outcome = await forward({ method, head: request.head(), body: null }, upstreams, limits, recorder, trace);
  } finally {
    ticket.settle(recorder.stored);
  }
  if (recorder.uncacheable) markUncacheable(services, key, Date.now());
  if (recorder.diverted) trace.cache = 'stale';
  if (outcome !== 'done' && outcome !== 'aborted' && staleFallback !== null && !recorder.started) {
    trace.cache = 'stale';
    return serveEntry(staleFallback, request, statusStaleIfError(null), sink, acceptEncoding);
  }
  return outcome;
}

function notStale(entry: CacheEntry): boolean {
  return judgeEntry(entry.meta, Date.now()) === 'fresh';
}

/** Refreshes a stale entry in the background, once however many requests ask (the collapser keys it). */
function revalidate(key: string, request: ProxyRequest, upstreams: UpstreamGroup, services: EdgeServices, limits: EdgeLimits): void {
  const ticket = services.collapser.join(key);
  if (!ticket.leader) return;
  const recorder = new CacheRecorder(DISCARD, { key, request, cache: services.cache!, reason: 'stale', staleFallback: null, acceptEncoding: undefined, raw: DISCARD });
  forward({ method: 'GET', head: request.head(CONDITIONAL), body: null }, upstreams, limits, recorder).then(
    () => ticket.settle(recorder.stored),
    () => ticket.settle(null),
  );
}

const NO_FLOW: UpstreamFlow = { pause() {}, resume() {} };
const DISCARD: ResponseSink = { start() {}, data() {}, end() {}, abort() {} };

/** Compressed bodies of stored entries, made once per entry and coding. */
const compressedBodies = new WeakMap<CacheEntry, Map<Compression, Promise<Buffer>>>();

/** Answers from a stored entry: 304 when the client's validators match, else the body (compressed once per coding). */
async function serveEntry(entry: CacheEntry, request: ProxyRequest, cacheStatus: string, sink: ResponseSink, acceptEncoding: string | undefined): Promise<ForwardOutcome> {
  const now = Date.now();
  let headers = hitHeaders(entry, now, cacheStatus);
  if (notModified(entry, request.fields)) {
    sink.start(syntheticHead(304, withoutBodyFields(headers), 'none', -1), NO_FLOW);
    sink.end();
    return 'done';
  }
  let body = entry.body;
  const coding = chooseCompression({
    method: request.method,
    status: entry.status,
    acceptEncoding,
    contentType: fieldValue(headers, 'content-type'),
    contentEncoding: fieldValue(headers, 'content-encoding'),
    contentLength: body.length,
    cacheControl: fieldValue(headers, 'cache-control'),
    contentRange: fieldValue(headers, 'content-range'),
  });
  if (coding !== null) {
    let byCoding = compressedBodies.get(entry);
    if (byCoding === undefined) compressedBodies.set(entry, (byCoding = new Map()));
    let compressed = byCoding.get(coding);
    if (compressed === undefined) byCoding.set(coding, (compressed = compressWhole(coding, body)));
    body = await compressed;
    headers = compressedHeaders(headers, coding);
  }
  if (request.method === 'HEAD' || entry.status === 204) {
    sink.start(syntheticHead(entry.status, headers, 'none', entry.status === 204 ? -1 : body.length), NO_FLOW);
  } else {
    sink.start(syntheticHead(entry.status, headers, 'length', body.length), NO_FLOW);
    sink.data(body);
  }
  sink.end();
  return 'done';
}

// A 304 carries the validators and caching fields, not the body's description.
const BODY_FIELDS = new Set(['content-type', 'content-length', 'content-encoding', 'content-language', 'content-range']);

function withoutBodyFields(headers: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (!BODY_FIELDS.has(headers[i]!)) out.push(headers[i]!, headers[i + 1]!);
  return out;
}

function syntheticHead(status: number, headers: string[], bodyKind: 'none' | 'length', contentLength: number): ResponseHead {
  return {
    version: 11,
    status,
    reason: STATUS_CODES[status] ?? 'Unknown',
    headers,
    contentLength,
    chunked: false,
    bodyKind,
    keepAlive: true,
    upgrade: null,
    connectionTokens: [],
  };
}

/** Adds a Cache-Status field to the response head on its way to `inner`. */
function withCacheStatus(inner: ResponseSink, cacheStatus: string): ResponseSink {
  return {
    start: (head, flow) => inner.start({ ...head, headers: [...head.headers, 'cache-status', cacheStatus] }, flow),
    data: (chunk) => inner.data(chunk),
    end: () => inner.end(),
    abort: () => inner.abort(),
  };
}

interface RecorderOptions {
  readonly key: string;
  readonly request: ProxyRequest;
  readonly cache: CacheStore;
  readonly reason: ForwardReason;
  /** A stale entry allowed to answer instead of an upstream error (stale-if-error). */
  readonly staleFallback: CacheEntry | null;
  readonly acceptEncoding: string | undefined;
  /** The client's own sink, for answering from the stale entry (the compressor is bypassed: the entry compresses itself). */
  readonly raw: ResponseSink;
}

/**
 * Passes the upstream's response on while keeping a copy of its body, and
 * stores it when the response is storable and fits. A 5xx while a
 * stale-if-error entry exists is swallowed and the entry answers instead.
 */
class CacheRecorder implements ResponseSink {
  readonly #inner: ResponseSink;
  readonly #options: RecorderOptions;
  readonly #requestTime = Date.now();
  #head: ResponseHead | null = null;
  #chunks: Buffer[] | null = null;
  #size = 0;
  #diverted = false;
  started = false;
  /** The answer could not be stored (its headers said so): the URL is passed straight through for a while. */
  uncacheable = false;

  /** The upstream failed and the stale entry answered instead. */
  get diverted(): boolean {
    return this.#diverted;
  }
  stored: CacheEntry | null = null;

  constructor(inner: ResponseSink, options: RecorderOptions) {
    this.#inner = inner;
    this.#options = options;
  }

  start(head: ResponseHead, flow: UpstreamFlow): void {
    this.started = true;
    const options = this.#options;
    if (options.staleFallback !== null && head.status >= 500) {
      this.#diverted = true;
      return;
    }
    this.#head = head;
    const decision = storeDecision(
      { method: 'GET', requestHeaders: options.request.fields, status: head.status, responseHeaders: head.headers, requestTime: this.#requestTime, responseTime: Date.now() },
      Date.now(),
    );
    const fits = head.contentLength < 0 || head.contentLength <= options.cache.maxEntryBytes;
    if (decision.store && fits) this.#chunks = [];
    else this.uncacheable = true;
    this.#inner.start({ ...head, headers: [...head.headers, 'cache-status', statusForward(options.reason, { stored: decision.store && fits })] }, flow);
  }

  data(chunk: Buffer): void {
    if (this.#diverted) return;
    if (this.#chunks !== null) {
      this.#size += chunk.length;
      if (this.#size > this.#options.cache.maxEntryBytes) this.#chunks = null;
      else this.#chunks.push(Buffer.from(chunk));
    }
    this.#inner.data(chunk);
  }

  end(): void {
    if (this.#diverted) {
      this.#answerStale();
      return;
    }
    this.#store();
    this.#inner.end();
  }

  abort(): void {
    this.#chunks = null;
    if (this.#diverted) {
      this.#answerStale();
      return;
    }
    this.#inner.abort();
  }

  #answerStale(): void {
    const options = this.#options;
    void serveEntry(options.staleFallback!, options.request, statusStaleIfError(null), options.raw, options.acceptEncoding).catch(() => options.raw.abort());
  }

  #store(): void {
    const head = this.#head;
    const chunks = this.#chunks;
    if (head === null || chunks === null) return;
    const now = Date.now();
    const options = this.#options;
    // Decided again with the body complete: a slow body may have aged the response out.
    const decision = storeDecision(
      { method: 'GET', requestHeaders: options.request.fields, status: head.status, responseHeaders: head.headers, requestTime: this.#requestTime, responseTime: now },
      now,
    );
    if (!decision.store) return;
    const etag = fieldValue(head.headers, 'etag');
    const lastModified = fieldValue(head.headers, 'last-modified');
    const entry: CacheEntry = {
      key: options.key,
      varyValues: varyValues(decision.meta.varyNames, options.request.fields),
      status: head.status,
      headers: head.headers,
      body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks),
      meta: decision.meta,
      ...(etag === undefined ? {} : { etag }),
      ...(lastModified === undefined ? {} : { lastModified }),
    };
    if (options.cache.put(entry)) this.stored = entry;
  }
}

/**
 * Compresses the upstream's response for the client when it accepts gzip or
 * br and the app sent an uncompressed, compressible body. The compressed
 * body goes out chunked (its length is unknown until the end).
 */
class CompressingSink implements ResponseSink {
  readonly #inner: ResponseSink;
  readonly #method: string;
  readonly #acceptEncoding: string | undefined;
  #compressor: ReturnType<typeof createCompressor> | null = null;
  #ended = false;

  constructor(inner: ResponseSink, method: string, acceptEncoding: string | undefined) {
    this.#inner = inner;
    this.#method = method;
    this.#acceptEncoding = acceptEncoding;
  }

  start(head: ResponseHead, flow: UpstreamFlow): void {
    const headers = head.headers;
    const coding =
      this.#acceptEncoding === undefined
        ? null
        : chooseCompression({
            method: this.#method,
            status: head.status,
            acceptEncoding: this.#acceptEncoding,
            contentType: fieldValue(headers, 'content-type'),
            contentEncoding: fieldValue(headers, 'content-encoding'),
            contentLength: head.bodyKind === 'length' ? head.contentLength : -1,
            cacheControl: fieldValue(headers, 'cache-control'),
            contentRange: fieldValue(headers, 'content-range'),
          });
    if (coding === null || head.bodyKind === 'none') {
      this.#inner.start(head, flow);
      return;
    }
    const compressor = createCompressor(coding, head.bodyKind === 'length' ? head.contentLength : -1);
    this.#compressor = compressor;
    compressor.on('data', (chunk: Buffer) => this.#inner.data(chunk));
    compressor.once('end', () => this.#inner.end());
    compressor.once('error', () => this.#inner.abort());
    // The compressor may hold data: pause the upstream while it is behind.
    compressor.on('drain', () => flow.resume());
    this.#inner.start({ ...head, headers: compressedHeaders(headers, coding), bodyKind: 'chunked', chunked: true, contentLength: -1 }, flow);
    this.#flow = flow;
  }

  #flow: UpstreamFlow | null = null;

  data(chunk: Buffer): void {
    const compressor = this.#compressor;
    if (compressor === null) {
      this.#inner.data(chunk);
      return;
    }
    // The chunk is only valid during this call; zlib keeps it past the call.
    if (!compressor.write(Buffer.from(chunk))) this.#flow?.pause();
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#compressor === null) this.#inner.end();
    else this.#compressor.end();
  }

  abort(): void {
    this.#compressor?.destroy();
    this.#inner.abort();
  }
}
