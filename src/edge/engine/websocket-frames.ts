// Where WebSocket frames end in a stream (RFC 6455 §5.2), so that an edge
// ending a tunnel can put a close frame between two frames instead of
// inside one. Control frames may come between the fragments of a message
// (§5.4), so a frame boundary is enough. Pure: bytes in, positions out.

/** A close frame from the server side (unmasked), status 1001 "going away". */
export const GOING_AWAY_FRAME = Buffer.from([0x88, 0x02, 0x03, 0xe9]);

export class FrameBoundaries {
  /** Bytes of the current frame's header read so far (0 at a boundary). */
  #headerRead = 0;
  #header = Buffer.alloc(14);
  /** Payload bytes of the current frame still to come, once its header is whole. */
  #remaining = 0;
  /** The stream broke the framing (a length over 2^53): no boundary is trusted again. */
  #lost = false;

  /** Between two frames (or before the first). */
  get atBoundary(): boolean {
    return !this.#lost && this.#headerRead === 0 && this.#remaining === 0;
  }

  /**
   * Reads `chunk` as the next bytes of the stream. With `stopAtBoundary`,
   * stops just past the first frame that ends in it. Returns how many bytes
   * were read (all of them without `stopAtBoundary`).
   */
  consume(chunk: Uint8Array, stopAtBoundary = false): number {
    let at = 0;
    while (at < chunk.length && !this.#lost) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, chunk.length - at);
        this.#remaining -= take;
        at += take;
        if (this.#remaining === 0 && stopAtBoundary) return at;
        continue;
      }
      this.#header[this.#headerRead++] = chunk[at++]!;
      const need = headerLength(this.#header, this.#headerRead);
      if (need === null || this.#headerRead < need) continue;
      const payload = payloadLength(this.#header);
      this.#headerRead = 0;
      if (payload === null) {
        this.#lost = true;
        break;
      }
      this.#remaining = payload;
      if (payload === 0 && stopAtBoundary) return at;
    }
    return this.#lost ? chunk.length : at;
  }
}

/** The whole header's length once its first two bytes are known; null before. */
function headerLength(header: Uint8Array, read: number): number | null {
  if (read < 2) return null;
  const len7 = header[1]! & 0x7f;
  const masked = (header[1]! & 0x80) !== 0;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);
}

function payloadLength(header: Uint8Array): number | null {
  const len7 = header[1]! & 0x7f;
  if (len7 < 126) return len7;
  if (len7 === 126) return (header[2]! << 8) | header[3]!;
  const high = (header[2]! * 2 ** 24 + (header[3]! << 16) + (header[4]! << 8) + header[5]!) >>> 0;
  const low = (header[6]! * 2 ** 24 + (header[7]! << 16) + (header[8]! << 8) + header[9]!) >>> 0;
  if (high >= 2 ** 21) return null;
  return high * 2 ** 32 + low;
}
