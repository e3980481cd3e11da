/**
 * Compressing proxied responses on the fly: whether to (a pure decision over
 * the request and response heads), the compressing stream, and the response
 * headers that change with it.
 */
import { constants, createBrotliCompress, createGzip, brotliCompress, gzip, type BrotliOptions, type ZlibOptions } from 'node:zlib';
import type { Transform } from 'node:stream';
import { isCompressible } from './static/content-type.ts';
import { negotiateEncoding } from './static/negotiate-encoding.ts';

export type Compression = 'br' | 'gzip';

/** Below this, the coding's framing and the CPU cost outweigh the bytes saved. */
export const MIN_COMPRESS_BYTES = 1024;

export interface CompressionInput {
  readonly method: string;
  readonly status: number;
  /** The request's Accept-Encoding. */
  readonly acceptEncoding?: string | undefined;
  readonly contentType?: string | undefined;
  readonly contentEncoding?: string | undefined;
  /** -1 when unknown (chunked or read until close). */
  readonly contentLength: number;
  readonly cacheControl?: string | undefined;
  readonly contentRange?: string | undefined;
}

/** The coding to compress this response with, or null to pass it through as it is. */
export function chooseCompression(input: CompressionInput): Compression | null {
  if (input.method === 'HEAD') return null;
  if (!hasBody(input.status)) return null;
  // A range is a slice of the identity bytes; compressing it would make a slice of nothing.
  if (input.contentRange !== undefined) return null;
  if (input.contentEncoding !== undefined && !isIdentity(input.contentEncoding)) return null;
  if (input.cacheControl !== undefined && hasNoTransform(input.cacheControl)) return null;
  if (input.contentType === undefined || !isCompressibleResponse(input.contentType)) return null;
  if (input.contentLength !== -1 && input.contentLength < MIN_COMPRESS_BYTES) return null;
  const encoding = negotiateEncoding(input.acceptEncoding);
  return encoding === 'identity' ? null : encoding;
}

// 205 has no body by definition; 206 is a range (above, but also by status).
function hasBody(status: number): boolean {
  return status >= 200 && status !== 204 && status !== 205 && status !== 206 && status !== 304;
}

function isIdentity(contentEncoding: string): boolean {
  for (const coding of contentEncoding.split(',')) {
    const name = coding.trim().toLowerCase();
    if (name !== '' && name !== 'identity') return false;
  }
  return true;
}

function hasNoTransform(cacheControl: string): boolean {
  for (const directive of cacheControl.split(',')) {
    const eq = directive.indexOf('=');
    if ((eq === -1 ? directive : directive.slice(0, eq)).trim().toLowerCase() === 'no-transform') return true;
  }
  return false;
}

/** The static side's list, plus NDJSON, which apps stream but files rarely are. */
function isCompressibleResponse(contentType: string): boolean {
  if (isCompressible(contentType)) return true;
  const semi = contentType.indexOf(';');
  const type = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  return type === 'application/x-ndjson' || type === 'application/ndjson';
}

// Brotli 4 compresses better than gzip 5 at about its speed; the higher
// levels cost far more CPU than they save on the wire for bodies made once.
const BROTLI_QUALITY = 4;
const GZIP_LEVEL = 5;

function brotliOptions(sizeHint: number): BrotliOptions {
  const params: Record<number, number> = {
    [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
    [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
  };
  // Lets brotli size its window and buffers to the body instead of the maximum.
  if (sizeHint >= 0) params[constants.BROTLI_PARAM_SIZE_HINT] = sizeHint;
  return { params };
}

const GZIP_OPTIONS: ZlibOptions = { level: GZIP_LEVEL };

/**
 * A stream that compresses a response body as it passes.
 *
 * The compressor holds input until it has enough to emit a block, so how a
 * chunk boundary is treated decides latency. With the length unknown (a
 * chunked response, which is how apps stream: server-sent events, progressive
 * HTML, NDJSON) every chunk written is flushed (a sync flush: the output so
 * far decodes completely, the dictionary carries on), so the client gets each
 * upstream read as soon as it arrived, at a cost of a few bytes per flush.
 * Write one chunk per upstream read, not per small piece of one. With the
 * length known the body is a document in transit, not a stream: chunks are
 * not flushed, and the compressor emits blocks as they fill and the rest at
 * the end.
 */
export function createCompressor(encoding: Compression, contentLength = -1): Transform {
  const streaming = contentLength < 0;
  if (encoding === 'br') {
    return createBrotliCompress({
      ...brotliOptions(contentLength),
      ...(streaming ? { flush: constants.BROTLI_OPERATION_FLUSH } : {}),
    });
  }
  return createGzip({ ...GZIP_OPTIONS, ...(streaming ? { flush: constants.Z_SYNC_FLUSH } : {}) });
}

/** A whole body compressed at once, for bodies held in a cache. */
export function compressWhole(encoding: Compression, body: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, out: Buffer) => (err === null ? resolve(out) : reject(err));
    if (encoding === 'br') brotliCompress(body, brotliOptions(body.length), done);
    else gzip(body, GZIP_OPTIONS, done);
  });
}

/**
 * The response headers (flat [name, value, …], names in lower case) for the
 * compressed body. Content-Length goes (the length is not known until the
 * end); Accept-Ranges goes (ranges would address the identity bytes, which
 * this response is not); a strong ETag becomes weak (the bytes differ from
 * the upstream's, though the content is the same); Vary gains
 * Accept-Encoding, since the response now depends on it.
 */
export function compressedHeaders(headers: readonly string[], encoding: Compression): string[] {
  const out: string[] = [];
  let vary = -1;
  let varies = false;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i]!;
    let value = headers[i + 1]!;
    switch (name) {
      case 'content-length':
      case 'content-encoding': // only ever identity here: chooseCompression refuses the rest
      case 'accept-ranges':
        continue;
      case 'etag':
        if (value.startsWith('"')) value = 'W/' + value;
        break;
      case 'vary':
        if (vary === -1) vary = out.length + 1;
        if (listsAcceptEncoding(value)) varies = true;
        break;
    }
    out.push(name, value);
  }
  if (!varies) {
    if (vary === -1) out.push('vary', 'Accept-Encoding');
    else out[vary] = out[vary]!.trim() === '' ? 'Accept-Encoding' : `${out[vary]}, Accept-Encoding`;
  }
  out.push('content-encoding', encoding);
  return out;
}

// `*` already says the response varies on everything, Accept-Encoding included.
function listsAcceptEncoding(vary: string): boolean {
  for (const token of vary.split(',')) {
    const name = token.trim().toLowerCase();
    if (name === 'accept-encoding' || name === '*') return true;
  }
  return false;
}
