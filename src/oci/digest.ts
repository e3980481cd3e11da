import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { BerthError } from '../errors.ts';

/** A content digest as the OCI specs write it. berth makes and accepts sha256 only. */
export type Digest = `sha256:${string}`;

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function isDigest(value: string): value is Digest {
  return DIGEST.test(value);
}

export function parseDigest(value: string, what = 'digest'): Digest {
  if (!isDigest(value)) throw new BerthError('BERTH_E_IMAGE_REFERENCE', `the ${what} ${JSON.stringify(value.slice(0, 100))} is not a sha256 digest (sha256: and 64 lowercase hex digits)`, { hint: 'berth reads and writes sha256 digests only' });
  return value;
}

export function digestOf(bytes: Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** The hex part, for file names. */
export function digestHex(digest: Digest): string {
  return digest.slice('sha256:'.length);
}

export function mismatch(what: string, expected: Digest, actual: Digest): BerthError {
  return new BerthError('BERTH_E_DIGEST_MISMATCH', `${what} has digest ${actual}, not the ${expected} it was asked for`, { status: 502, hint: 'the registry, the network or the layer cache gave other bytes than the digest names; nothing was used. Try again; if it repeats, the blob in the registry is corrupt' });
}

/** Passes bytes through while counting and hashing them. */
export class DigestCounter extends Transform {
  #hash: Hash = createHash('sha256');
  #size = 0;
  readonly #maxBytes: number;
  readonly #onTooLarge: (() => Error) | undefined;

  constructor(options: { maxBytes?: number; onTooLarge?: () => Error } = {}) {
    super();
    this.#maxBytes = options.maxBytes ?? Number.MAX_SAFE_INTEGER;
    this.#onTooLarge = options.onTooLarge;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#size += chunk.length;
    if (this.#size > this.#maxBytes) {
      done(this.#onTooLarge?.() ?? new Error(`more than ${this.#maxBytes} bytes`));
      return;
    }
    this.#hash.update(chunk);
    done(null, chunk);
  }

  get size(): number {
    return this.#size;
  }

  /** Only once the stream has ended. */
  digest(): Digest {
    return `sha256:${this.#hash.digest('hex')}`;
  }
}
