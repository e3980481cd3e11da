// The stream of an attached one-off run (`berth run`), after the API's
// `101 Switching Protocols` (Upgrade: berth-run): both directions carry
// frames of one type byte, a 4-byte big-endian length and that many bytes.
// Pure: encoding, and a decoder fed whatever the socket hands over.

/** The protocol name in `Upgrade:`. */
export const RUN_PROTOCOL = 'berth-run';

export const FRAME = {
  // client → server
  /** Bytes for the command's standard input. */
  stdin: 0x01,
  /** The client's standard input ended: the command's is closed. */
  stdinEnd: 0x02,
  /** A signal for the command, by name without SIG (INT, TERM, HUP, QUIT). */
  signal: 0x03,
  // server → client
  /** JSON `{name: "run.3"}`: the command runs. */
  started: 0x10,
  stdout: 0x11,
  stderr: 0x12,
  /** JSON `{code, signal, outOfMemory}`: the command ended; the last frame. */
  exit: 0x13,
  /** JSON `{code, message, hint}`: it could not start or the stream failed; the last frame. */
  error: 0x14,
} as const;

export type FrameType = (typeof FRAME)[keyof typeof FRAME];

/** The signals a client may send a run. */
export const RUN_SIGNALS = ['INT', 'TERM', 'HUP', 'QUIT'] as const;

/** A frame's payload beyond this is a broken or hostile peer. */
export const MAX_FRAME_BYTES = 1024 * 1024;

const HEADER_BYTES = 5;

export interface Frame {
  readonly type: number;
  readonly payload: Buffer;
}

export function encodeFrame(type: FrameType, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const header = Buffer.alloc(HEADER_BYTES);
  header[0] = type;
  header.writeUInt32BE(body.length, 1);
  return Buffer.concat([header, body]);
}

/** Frames out of a byte stream cut anywhere; a frame over MAX_FRAME_BYTES throws. */
export class FrameDecoder {
  #pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const frames: Frame[] = [];
    while (this.#pending.length >= HEADER_BYTES) {
      const length = this.#pending.readUInt32BE(1);
      if (length > MAX_FRAME_BYTES) throw new Error(`a frame of ${length} bytes is over the limit of ${MAX_FRAME_BYTES}`);
      if (this.#pending.length < HEADER_BYTES + length) break;
      frames.push({ type: this.#pending[0]!, payload: this.#pending.subarray(HEADER_BYTES, HEADER_BYTES + length) });
      this.#pending = this.#pending.subarray(HEADER_BYTES + length);
    }
    return frames;
  }

  /** Bytes of a frame not yet whole. */
  get buffered(): number {
    return this.#pending.length;
  }
}

/** The exit status a client reports for a run's end, as a shell does: the code, or 128 + the signal's number (1 when unknown). */
export function exitStatusOf(outcome: { readonly code: number | null; readonly signal: string | null }, signalNumber: (name: string) => number | undefined): number {
  if (outcome.code !== null) return outcome.code;
  const number = outcome.signal === null ? undefined : signalNumber(outcome.signal);
  return number === undefined ? 1 : 128 + number;
}
