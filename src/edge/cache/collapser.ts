// Collapsed misses, like nginx's proxy_cache_lock: while one request for a
// key is upstream, the others for that key wait for its response instead of
// stampeding the app. The lock is bounded twice: in time, so a leader that
// never settles cannot wedge a key, and in keys, so a flood of distinct URLs
// cannot grow the table without limit.

export type CollapserTimers = {
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
};

export type CollapserOptions = {
  /** How long followers wait for a leader before going upstream themselves. */
  lockTimeoutMs: number;
  /** Keys in flight at most; callers beyond it are neither tracked nor collapsed. */
  maxKeys: number;
  timers?: CollapserTimers;
};

/**
 * A leader goes upstream and must call settle() once: with the value for
 * its followers, or null for "not cacheable, go upstream yourselves".
 * Settling twice, or after the lock timed out, does nothing.
 * A follower awaits `wait`; it never rejects.
 */
export type CollapseTicket<T> =
  | { leader: true; tracked: boolean; settle(value: T | null): void }
  | { leader: false; wait: Promise<T | null> };

type Flight<T> = { followers: Array<(value: T | null) => void>; timer: unknown };

const DEFAULT_TIMERS: CollapserTimers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // A waiting follower is held by its client connection; the timer alone should not keep the process up.
    t.unref();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

const UNTRACKED = Object.freeze({ leader: true as const, tracked: false, settle(): void {} });

export class Collapser<T> {
  readonly lockTimeoutMs: number;
  readonly maxKeys: number;
  #timers: CollapserTimers;
  #flights = new Map<string, Flight<T>>();

  constructor(options: CollapserOptions) {
    if (!Number.isFinite(options.lockTimeoutMs) || options.lockTimeoutMs < 0) throw new RangeError(`lockTimeoutMs must be a finite number >= 0, got ${options.lockTimeoutMs}`);
    if (!Number.isInteger(options.maxKeys) || options.maxKeys < 0) throw new RangeError(`maxKeys must be an integer >= 0, got ${options.maxKeys}`);
    this.lockTimeoutMs = options.lockTimeoutMs;
    this.maxKeys = options.maxKeys;
    this.#timers = options.timers ?? DEFAULT_TIMERS;
  }

  /** Keys with a leader in flight. */
  get size(): number {
    return this.#flights.size;
  }

  join(key: string): CollapseTicket<T> {
    const existing = this.#flights.get(key);
    if (existing !== undefined) {
      return { leader: false, wait: new Promise<T | null>((resolve) => existing.followers.push(resolve)) };
    }
    if (this.#flights.size >= this.maxKeys) return UNTRACKED;
    const flight: Flight<T> = { followers: [], timer: undefined };
    this.#flights.set(key, flight);
    // Ending a flight is guarded by identity: after a timeout a new leader
    // may own the key, and the old leader's late settle must not end its flight.
    const end = (value: T | null): void => {
      if (this.#flights.get(key) !== flight) return;
      this.#flights.delete(key);
      this.#timers.clearTimeout(flight.timer);
      for (const resolve of flight.followers) resolve(value);
    };
    flight.timer = this.#timers.setTimeout(() => end(null), this.lockTimeoutMs);
    return { leader: true, tracked: true, settle: end };
  }
}
