// Incremental decoder for the chunked transfer coding (RFC 9112 §7.1).
//
//   chunked-body = *chunk last-chunk trailer-section CRLF
//   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//
// Stricter than the grammar where parsers have disagreed in published
// smuggling research: no whitespace anywhere in a chunk-size line (the RFC
// allows BWS around ';' and '='), at most 16 hex digits, CRLF exactly (never
// bare LF or CR), and extensions must be token or quoted-string. Extensions
// and trailers are checked and then dropped.
//
// Data is returned as zero-copy slices of the fed buffers. Errors carry the
// status for a client request body; for an upstream body the edge answers
// 502 whatever the code.

import { CR, HEX_VALUE, LF, QDTEXT, QUOTED_PAIR_CHAR, TCHAR } from './chars.ts';
import { requestError, type Http1Error, type Http1ErrorCode } from './errors.ts';
import { FIELD_INCOMPLETE, FieldLine, readFieldLine } from './fields.ts';
import type { Http1Limits } from './limits.ts';

export type ChunkedLimits = Pick<Http1Limits, 'maxBodyBytes' | 'maxChunkLineBytes' | 'maxTrailerBytes'>;

export interface ChunkedFeedResult {
  /** Bytes of the fed buffer that belong to the chunked body; the rest is the next message. */
  readonly consumed: number;
  /** Chunk data found in this feed, as slices of the fed buffer. */
  readonly data: Buffer[];
  /** True once the last chunk and the trailer section have been read. */
  readonly done: boolean;
  readonly error: Http1Error | null;
}

// Decoder states.
const S = {
  SIZE_START: 0, // first hex digit of a chunk size
  SIZE: 1, // more hex digits, ';' or CR
  EXT_NAME_START: 2, // first tchar after ';'
  EXT_NAME: 3, // tchar, '=', ';' or CR
  EXT_VALUE_START: 4, // tchar or '"' after '='
  EXT_TOKEN: 5, // tchar, ';' or CR
  EXT_QUOTED: 6, // qdtext, '\' or '"'
  EXT_QUOTED_ESCAPE: 7, // the byte after '\'
  EXT_AFTER_QUOTED: 8, // ';' or CR
  SIZE_LF: 9, // LF ending the size line
  DATA: 10,
  DATA_CR: 11,
  DATA_LF: 12,
  TRAILER: 13, // trailer lines, read a line at a time
  DONE: 14,
  ERROR: 15,
} as const;

const MAX_SIZE_DIGITS = 16;
const NO_DATA: Buffer[] = [];

export class ChunkedDecoder {
  readonly #limits: ChunkedLimits;
  #state: number = S.SIZE_START;
  #size = 0;
  #digits = 0;
  #lineBytes = 0;
  #remaining = 0;
  #declared = 0;
  #received = 0;
  #trailerBytes = 0;
  #trailerPartial: Buffer | null = null;
  #line: FieldLine | null = null;
  #error: Http1Error | null = null;

  constructor(limits: ChunkedLimits) {
    this.#limits = limits;
  }

  /** Chunk-data bytes received so far. */
  get bodyBytes(): number {
    return this.#received;
  }

  get done(): boolean {
    return this.#state === S.DONE;
  }

  /** Feeds buf[start..]. After an error or when done, further feeds consume nothing. */
  feed(buf: Buffer, start = 0): ChunkedFeedResult {
    if (this.#state === S.ERROR) return { consumed: 0, data: NO_DATA, done: false, error: this.#error };
    if (this.#state === S.DONE) return { consumed: 0, data: NO_DATA, done: true, error: null };
    const len = buf.length;
    const data: Buffer[] = [];
    let p = start;
    let state = this.#state;
    const maxLine = this.#limits.maxChunkLineBytes;

    while (p < len) {
      if (state === S.DATA) {
        const n = Math.min(this.#remaining, len - p);
        data.push(buf.subarray(p, p + n));
        p += n;
        this.#received += n;
        this.#remaining -= n;
        if (this.#remaining === 0) state = S.DATA_CR;
        continue;
      }
      if (state === S.TRAILER) {
        this.#state = state;
        const r = this.#trailerLine(buf, p);
        if (r < 0) return this.#fail(this.#error!.code);
        p = r;
        if (this.#state === S.DONE) return { consumed: p - start, data, done: true, error: null };
        continue;
      }

      const c = buf[p]!;
      p++;
      if (state <= S.EXT_AFTER_QUOTED && ++this.#lineBytes > maxLine) return this.#fail('HTTP_CHUNK_LINE_TOO_LONG');
      switch (state) {
        case S.SIZE_START:
        case S.SIZE: {
          const d = HEX_VALUE[c]!;
          if (d >= 0) {
            this.#size = this.#size * 16 + d;
            if (++this.#digits > MAX_SIZE_DIGITS || this.#size > Number.MAX_SAFE_INTEGER) {
              return this.#fail('HTTP_CHUNK_SIZE_OVERFLOW');
            }
            state = S.SIZE;
          } else if (state === S.SIZE && c === CR) state = S.SIZE_LF;
          else if (state === S.SIZE && c === 0x3b) state = S.EXT_NAME_START;
          else return this.#fail(c === LF ? 'HTTP_BARE_LF' : 'HTTP_BAD_CHUNK_SIZE');
          break;
        }
        case S.EXT_NAME_START:
          if (TCHAR[c] !== 1) return this.#fail(c === LF ? 'HTTP_BARE_LF' : 'HTTP_BAD_CHUNK_EXT');
          state = S.EXT_NAME;
          break;
        case S.EXT_NAME:
        case S.EXT_TOKEN:
          if (TCHAR[c] === 1) break;
          if (c === 0x3d && state === S.EXT_NAME) state = S.EXT_VALUE_START;
          else if (c === 0x3b) state = S.EXT_NAME_START;
          else if (c === CR) state = S.SIZE_LF;
          else return this.#fail(c === LF ? 'HTTP_BARE_LF' : 'HTTP_BAD_CHUNK_EXT');
          break;
        case S.EXT_VALUE_START:
          if (TCHAR[c] === 1) state = S.EXT_TOKEN;
          else if (c === 0x22) state = S.EXT_QUOTED;
          else return this.#fail(c === LF ? 'HTTP_BARE_LF' : 'HTTP_BAD_CHUNK_EXT');
          break;
        case S.EXT_QUOTED:
          if (c === 0x22) state = S.EXT_AFTER_QUOTED;
          else if (c === 0x5c) state = S.EXT_QUOTED_ESCAPE;
          else if (QDTEXT[c] !== 1) return this.#fail('HTTP_BAD_CHUNK_EXT');
          break;
        case S.EXT_QUOTED_ESCAPE:
          if (QUOTED_PAIR_CHAR[c] !== 1) return this.#fail('HTTP_BAD_CHUNK_EXT');
          state = S.EXT_QUOTED;
          break;
        case S.EXT_AFTER_QUOTED:
          if (c === 0x3b) state = S.EXT_NAME_START;
          else if (c === CR) state = S.SIZE_LF;
          else return this.#fail(c === LF ? 'HTTP_BARE_LF' : 'HTTP_BAD_CHUNK_EXT');
          break;
        case S.SIZE_LF: {
          if (c !== LF) return this.#fail('HTTP_BARE_CR');
          const size = this.#size;
          this.#size = 0;
          this.#digits = 0;
          this.#lineBytes = 0;
          if (size === 0) {
            state = S.TRAILER;
            break;
          }
          // Refuse on the declared size: no need to receive data we will not accept.
          this.#declared += size;
          if (this.#declared > this.#limits.maxBodyBytes) return this.#fail('HTTP_BODY_TOO_LARGE');
          this.#remaining = size;
          state = S.DATA;
          break;
        }
        case S.DATA_CR:
          if (c !== CR) return this.#fail('HTTP_CHUNK_MISSING_CRLF');
          state = S.DATA_LF;
          break;
        case S.DATA_LF:
          if (c !== LF) return this.#fail('HTTP_CHUNK_MISSING_CRLF');
          state = S.SIZE_START;
          break;
      }
    }
    this.#state = state;
    return { consumed: p - start, data, done: false, error: null };
  }

  // Reads trailer bytes from buf[p..] up to and including the next LF (or
  // all of them, kept for the next feed). Validates a complete line with the
  // same field-line rules as headers. Returns the new position or -1.
  #trailerLine(buf: Buffer, p: number): number {
    // The common case: the final CRLF, in one piece.
    if (this.#trailerPartial === null && buf[p] === CR && p + 1 < buf.length && buf[p + 1] === LF) {
      this.#trailerBytes += 2;
      if (this.#trailerBytes > this.#limits.maxTrailerBytes) return this.#setError('HTTP_TRAILERS_TOO_LARGE');
      this.#state = S.DONE;
      return p + 2;
    }
    const lf = buf.indexOf(LF, p);
    const stop = lf === -1 ? buf.length : lf + 1;
    this.#trailerBytes += stop - p;
    if (this.#trailerBytes > this.#limits.maxTrailerBytes) return this.#setError('HTTP_TRAILERS_TOO_LARGE');
    const piece = buf.subarray(p, stop);
    if (lf === -1) {
      // Copied: the caller may reuse its buffer once feed returns.
      this.#trailerPartial = this.#trailerPartial === null ? Buffer.from(piece) : Buffer.concat([this.#trailerPartial, piece]);
      return stop;
    }
    const lineBuf = this.#trailerPartial === null ? piece : Buffer.concat([this.#trailerPartial, piece]);
    this.#trailerPartial = null;
    const s = lineBuf.toString('latin1');
    if (s.length === 2 && s.charCodeAt(0) === CR) {
      this.#state = S.DONE;
      return stop;
    }
    const line = (this.#line ??= new FieldLine());
    const r = readFieldLine(s, 0, s.length, line);
    // The line ends at its first LF, so a valid one ends exactly there.
    if (r < 0 || r !== s.length) return this.#setError(r === FIELD_INCOMPLETE ? 'HTTP_BAD_HEADER_NAME' : line.error);
    return stop;
  }

  #setError(code: Http1ErrorCode): number {
    this.#error = requestError(code);
    return -1;
  }

  // On error nothing of this feed is handed out: the message is void.
  #fail(code: Http1ErrorCode): ChunkedFeedResult {
    const error = requestError(code);
    this.#state = S.ERROR;
    this.#error = error;
    return { consumed: 0, data: NO_DATA, done: false, error };
  }
}
