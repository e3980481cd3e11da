// How long a slow client may take to send a request body or to take a
// response. Pure: times are passed in.

export interface TransferPolicy {
  /** Longest silence (ms); also the allowance before the rate counts. */
  readonly idleMs: number;
  /** Bytes per second the client must average after that allowance. */
  readonly minBytesPerSecond: number;
}

export interface TransferProgress {
  /** When the edge started waiting on the client for this transfer (ms). */
  readonly startedAt: number;
  /** Bytes the client moved since then. */
  readonly bytes: number;
  /** When it last moved any (ms); `startedAt` if it has not. */
  readonly lastProgressAt: number;
}

/**
 * The time (ms) by which the transfer is too slow if nothing more moves:
 * the idle timeout after the last progress, or the time its bytes have
 * earned — the idle timeout from the start plus one second per
 * `minBytesPerSecond` bytes (Apache mod_reqtimeout's minrate) — whichever
 * comes first. A client that sends a byte now and then stays within the
 * idle timeout for ever; it falls behind the earned time instead.
 */
export function transferDeadline(progress: TransferProgress, policy: TransferPolicy): number {
  const idle = progress.lastProgressAt + policy.idleMs;
  const earned = progress.startedAt + policy.idleMs + Math.floor((progress.bytes * 1000) / policy.minBytesPerSecond);
  return idle < earned ? idle : earned;
}

/**
 * A request body's clock: the bytes received so far against the time
 * spent, stopped while the edge, not the client, holds the upload up (its
 * spill file catching up with the disk).
 */
export class BodyClock {
  readonly #policy: TransferPolicy;
  #startedAt: number;
  #bytes = 0;
  #stoppedAt = 0;

  constructor(now: number, policy: TransferPolicy) {
    this.#startedAt = now;
    this.#policy = policy;
  }

  get stopped(): boolean {
    return this.#stoppedAt !== 0;
  }

  /** `bytes` more arrived at `now`; the deadline that follows. */
  received(bytes: number, now: number): number {
    this.#bytes += bytes;
    return this.deadline(now);
  }

  /** When the body is too slow if nothing more arrives after `now` (the last arrival). */
  deadline(now: number): number {
    return transferDeadline({ startedAt: this.#startedAt, bytes: this.#bytes, lastProgressAt: now }, this.#policy);
  }

  /** The edge stopped reading at `now`. */
  stop(now: number): void {
    if (this.#stoppedAt === 0) this.#stoppedAt = now;
  }

  /** Reading again: the time stopped is not the client's. Returns the deadline from `now`. */
  resume(now: number): number {
    if (this.#stoppedAt !== 0) {
      this.#startedAt += now - this.#stoppedAt;
      this.#stoppedAt = 0;
    }
    return this.deadline(now);
  }
}
