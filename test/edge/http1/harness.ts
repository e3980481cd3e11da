// Test helper: run a whole request (head + body) through the parsers, in
// one piece or a byte at a time, and say what came out.

import {
  ChunkedDecoder, parseRequestHead,
  type Http1ErrorCode, type Http1Limits, type RequestHead,
} from '../../../src/edge/http1/index.ts';

export type Outcome =
  | { readonly kind: 'accepted'; readonly head: RequestHead; readonly body: Buffer; readonly consumed: number }
  | { readonly kind: 'refused'; readonly status: number; readonly code: Http1ErrorCode }
  | { readonly kind: 'incomplete' };

const INCOMPLETE: Outcome = { kind: 'incomplete' };

/** Parses the first request in `buf`, all bytes available at once. */
export function parseWhole(buf: Buffer, limits: Http1Limits): Outcome {
  const r = parseRequestHead(buf, 0, limits);
  if (r.kind === 'incomplete') return INCOMPLETE;
  if (r.kind === 'error') return { kind: 'refused', status: r.status, code: r.code };
  return readBody(r.head, r.consumed, [buf.subarray(r.consumed)], limits);
}

/**
 * Parses the first request in `buf` as if it arrived one byte per read: the
 * head parser sees a growing buffer, the chunked decoder single bytes.
 */
export function parseByteByByte(buf: Buffer, limits: Http1Limits): Outcome {
  for (let n = 1; n <= buf.length; n++) {
    const r = parseRequestHead(buf.subarray(0, n), 0, limits);
    if (r.kind === 'incomplete') continue;
    if (r.kind === 'error') return { kind: 'refused', status: r.status, code: r.code };
    const rest: Buffer[] = [];
    for (let i = r.consumed; i < buf.length; i++) rest.push(buf.subarray(i, i + 1));
    return readBody(r.head, r.consumed, rest, limits);
  }
  return INCOMPLETE;
}

function readBody(head: RequestHead, headBytes: number, pieces: Buffer[], limits: Http1Limits): Outcome {
  if (head.bodyKind === 'none') return { kind: 'accepted', head, body: Buffer.alloc(0), consumed: headBytes };
  if (head.bodyKind === 'length') {
    const all = Buffer.concat(pieces);
    if (all.length < head.contentLength) return INCOMPLETE;
    return { kind: 'accepted', head, body: all.subarray(0, head.contentLength), consumed: headBytes + head.contentLength };
  }
  const decoder = new ChunkedDecoder(limits);
  const data: Buffer[] = [];
  let consumed = headBytes;
  for (const piece of pieces) {
    const r = decoder.feed(piece, 0);
    if (r.error !== null) return { kind: 'refused', status: r.error.status, code: r.error.code };
    data.push(...r.data);
    consumed += r.consumed;
    if (r.done) return { kind: 'accepted', head, body: Buffer.concat(data), consumed };
  }
  return INCOMPLETE;
}

/** A raw message written in a test as a string, one char per byte. */
export function bytes(raw: string): Buffer {
  return Buffer.from(raw, 'latin1');
}
