// planStaticResponse: from a request to a StaticResponse. The order of the
// decisions is the order of RFC 9110: method, target, resource, selected
// representation (content coding), preconditions, then range.

import { lstatSync, type Stats } from 'node:fs';
import { contentTypeFor, isCompressible } from './content-type.ts';
import { evaluatePreconditions, makeEtag } from './conditional.ts';
import { formatHttpDate } from './http-date.ts';
import { negotiateEncoding, type Encoding } from './negotiate-encoding.ts';
import { contentRange, ifRangeAllows, parseRange, unsatisfiedRange, type RangeDecision } from './range.ts';
import { parseTarget } from './resolve-path.ts';
import { NO_BODY, textResponse, type StaticBody, type StaticResponse } from './response.ts';
import { MAX_ON_THE_FLY_BYTES, MIN_COMPRESS_BYTES, SMALL_FILE_BYTES, type FileFacts, type StaticSite } from './site.ts';

export type StaticRequest = {
  method: string;
  /** The raw request-target, path and query: '/a%20b/c.css?v=1'. */
  target: string;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
};

const CACHE_IMMUTABLE = 'public, max-age=31536000, immutable';
const CACHE_REVALIDATE = 'public, max-age=0, must-revalidate';
const EMPTY = Buffer.alloc(0);
const IGNORE_RANGE: RangeDecision = Object.freeze({ kind: 'ignore' });
const SIBLING_SUFFIX: Readonly<Record<Exclude<Encoding, 'identity'>, string>> = { br: '.br', gzip: '.gz' };
const MAX_MEMO_ENCODINGS = 256;

export async function planStaticResponse(site: StaticSite, request: StaticRequest): Promise<StaticResponse> {
  const method = request.method;
  if (site.unavailable !== null) return textResponse(404, method);
  if (method !== 'GET' && method !== 'HEAD') return textResponse(405, method, [['Allow', 'GET, HEAD']]);

  const target = parseTarget(request.target);
  if (!target.ok) return textResponse(target.status, method);

  const found = await site.lookup(site.root.endsWith('/') ? site.root + target.path.slice(1) : site.root + target.path);
  if (found.kind === 'absent') return textResponse(found.status, method);
  if (found.kind === 'file') return planFile(site, request, target.path, found.realPath, found.stats);

  if (!target.path.endsWith('/')) {
    // Relative, so it stays right when a mount prefix was stripped before
    // we saw the target: './css/' from '/static/css' is '/static/css/'.
    const last = target.rawPath.slice(target.rawPath.lastIndexOf('/') + 1);
    return textResponse(301, method, [['Location', './' + last + '/' + target.query]]);
  }
  for (const name of site.index) {
    const index = await site.lookup(found.realPath + '/' + name);
    if (index.kind === 'file') return planFile(site, request, target.path + name, index.realPath, index.stats);
  }
  return textResponse(404, method); // no directory listings
}

/** One representation of the file: identity, or one content coding of it. */
type Representation = {
  encoding: Encoding;
  etag: string;
  lastModified: string;
  lastModifiedSec: number;
  length: number;
  /** For encoded forms; identity bodies are chosen later, by range. */
  body: StaticBody | null;
};

async function planFile(site: StaticSite, request: StaticRequest, urlPath: string, real: string, st: Stats): Promise<StaticResponse> {
  const { method, headers: h } = request;
  const facts = factsFor(site, real, st);
  const type = contentTypeFor(urlPath);
  const negotiable = facts.size >= MIN_COMPRESS_BYTES && isCompressible(type);
  site.immutable.lastIndex = 0; // a /g or /y regex would otherwise remember the last match
  const cacheControl = site.immutable.test(urlPath) ? CACHE_IMMUTABLE : CACHE_REVALIDATE;

  // A range names bytes of the identity form, so a request whose Range
  // applies is never compressed (and compressed bodies are never sliced).
  let range = IGNORE_RANGE;
  if (method === 'GET' && h.range !== undefined) {
    const decision = parseRange(h.range, facts.size);
    if (decision.kind !== 'ignore' && ifRangeAllows(h['if-range'], facts.etag, facts.lastModifiedSec)) range = decision;
  }

  let rep: Representation = {
    encoding: 'identity',
    etag: facts.etag,
    lastModified: facts.lastModified,
    lastModifiedSec: facts.lastModifiedSec,
    length: facts.size,
    body: null,
  };
  if (negotiable && range.kind === 'ignore') {
    const encoding = negotiate(site, h['accept-encoding']);
    if (encoding !== 'identity') rep = (await encodedRepresentation(site, real, facts, encoding, method)) ?? rep;
  }

  const outcome = evaluatePreconditions(method, h, rep);
  if (outcome === 'precondition-failed') return textResponse(412, method);

  const headers: Array<[string, string]> = [];
  if (outcome === 'not-modified') {
    pushValidators(headers, rep, cacheControl, negotiable);
    return { status: 304, headers, body: NO_BODY };
  }

  if (range.kind === 'unsatisfiable') {
    return textResponse(416, method, [['Content-Range', unsatisfiedRange(facts.size)], ['Accept-Ranges', 'bytes']]);
  }

  if (range.kind === 'partial') {
    headers.push(
      ['Content-Type', type],
      ['Content-Length', String(range.end - range.start + 1)],
      ['Content-Range', contentRange(range.start, range.end, facts.size)],
      ['Accept-Ranges', 'bytes'],
      ['X-Content-Type-Options', 'nosniff'],
    );
    pushValidators(headers, rep, cacheControl, negotiable);
    return { status: 206, headers, body: await identityBody(site, real, facts, range.start, range.end) };
  }

  headers.push(['Content-Type', type], ['Content-Length', String(rep.length)]);
  if (rep.encoding !== 'identity') headers.push(['Content-Encoding', rep.encoding]);
  headers.push(['Accept-Ranges', 'bytes'], ['X-Content-Type-Options', 'nosniff']);
  pushValidators(headers, rep, cacheControl, negotiable);
  if (method === 'HEAD') return { status: 200, headers, body: NO_BODY };
  const body = rep.body ?? (await identityBody(site, real, facts, 0, facts.size - 1));
  return { status: 200, headers, body };
}

function pushValidators(headers: Array<[string, string]>, rep: Representation, cacheControl: string, negotiable: boolean): void {
  headers.push(['ETag', rep.etag], ['Last-Modified', rep.lastModified], ['Cache-Control', cacheControl]);
  // Caches must key on Accept-Encoding whenever it could have changed the
  // answer, identity answers included.
  if (negotiable) headers.push(['Vary', 'Accept-Encoding']);
}

/**
 * The file encoded with `encoding`: a precompressed sibling (file.css.br) if
 * one exists and is not older than the file, else compressed here and
 * cached. null when neither is possible or worth it.
 */
async function encodedRepresentation(
  site: StaticSite,
  real: string,
  facts: FileFacts,
  encoding: Exclude<Encoding, 'identity'>,
  method: string,
): Promise<Representation | null> {
  const sibling = await precompressedSibling(site, real + SIBLING_SUFFIX[encoding], facts.mtimeMs);
  if (sibling !== null) {
    const lastModifiedSec = Math.floor(sibling.mtimeMs / 1000);
    return {
      encoding,
      // Its own tag: a sibling's bytes differ from what we would compress,
      // and a strong tag promises identical bytes.
      etag: makeEtag(sibling.size, sibling.mtimeMs, 'pre-' + encoding),
      lastModified: formatHttpDate(lastModifiedSec * 1000),
      lastModifiedSec,
      length: sibling.size,
      body: method === 'HEAD' || sibling.size === 0 ? NO_BODY : { kind: 'file', file: site.file(sibling.path), start: 0, end: sibling.size - 1 },
    };
  }

  if (facts.size > MAX_ON_THE_FLY_BYTES || facts.size > site.compressCacheBytes) return null;
  // HEAD compresses too: its Content-Length must be the one GET would send.
  const data = await site.compressed[encoding].load(real, facts.size, facts.mtimeMs);
  if (data === null) return null;
  return {
    encoding,
    etag: makeEtag(facts.size, facts.mtimeMs, encoding),
    lastModified: facts.lastModified,
    lastModifiedSec: facts.lastModifiedSec,
    length: data.length,
    body: { kind: 'buffer', data },
  };
}

type Sibling = { path: string; size: number; mtimeMs: number };

async function precompressedSibling(site: StaticSite, candidate: string, notBefore: number): Promise<Sibling | null> {
  // The one synchronous call on the hot path, on purpose: the usual answer
  // is "no such file", and the async form pays a threadpool hop plus a
  // thrown ENOENT for it (measured: 14k -> 35-50k plans/s for a compressible
  // file). The lookup is in a directory we looked at a moment ago, so the
  // kernel answers it from its dentry cache without touching the disk. It
  // only says whether to look: what is served is what the site's lookup
  // finds inside the root (trusted as long as any lookup), opened through
  // its checks.
  let present;
  try {
    present = lstatSync(candidate, { throwIfNoEntry: false });
  } catch {
    return null; // unreadable: compress on the fly instead
  }
  if (present === undefined) return null;
  const found = await site.lookup(candidate).catch(() => null);
  if (found === null || found.kind !== 'file' || found.stats.mtimeMs < notBefore) return null;
  return { path: found.realPath, size: found.stats.size, mtimeMs: found.stats.mtimeMs };
}

async function identityBody(site: StaticSite, real: string, facts: FileFacts, start: number, end: number): Promise<StaticBody> {
  if (facts.size === 0) return { kind: 'buffer', data: EMPTY };
  if (facts.size <= SMALL_FILE_BYTES && site.smallFileCacheBytes > 0) {
    const data = await site.smallFiles.load(real, facts.size, facts.mtimeMs);
    if (data !== null) return { kind: 'buffer', data: start === 0 && end === data.length - 1 ? data : data.subarray(start, end + 1) };
  }
  return { kind: 'file', file: site.file(real), start, end };
}

function factsFor(site: StaticSite, real: string, st: Stats): FileFacts {
  let facts = site.facts.get(real);
  if (facts === undefined || facts.size !== st.size || facts.mtimeMs !== st.mtimeMs) {
    // Last-Modified has whole seconds; comparisons use what the client saw.
    const lastModifiedSec = Math.floor(st.mtimeMs / 1000);
    facts = {
      size: st.size,
      mtimeMs: st.mtimeMs,
      etag: makeEtag(st.size, st.mtimeMs),
      lastModified: formatHttpDate(lastModifiedSec * 1000),
      lastModifiedSec,
    };
    site.facts.set(real, facts, 1);
  }
  return facts;
}

// Clients send a handful of distinct Accept-Encoding strings; parse each once.
function negotiate(site: StaticSite, header: string | undefined): Encoding {
  if (header === undefined) return 'identity';
  let encoding = site.encodings.get(header);
  if (encoding === undefined) {
    encoding = negotiateEncoding(header);
    if (site.encodings.size >= MAX_MEMO_ENCODINGS) site.encodings.clear();
    site.encodings.set(header, encoding);
  }
  return encoding;
}
