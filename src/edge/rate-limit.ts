/**
 * Per-client limits of an app: a request rate (token bucket) and a number of
 * requests in flight. Every engine thread sees the same counts, through one
 * SharedArrayBuffer that the main thread creates and hands to each worker.
 *
 * The bucket decision is pure (`takeToken`, the time passed in); the table
 * only stores its state per (site, client) and serialises updates to a slot.
 */

export interface RateLimit {
  /** Tokens added per second; finite and > 0 (0.5 is one request every two seconds). */
  readonly ratePerSecond: number;
  /** Bucket capacity. Below 1 (0 or absent) means max(1, ratePerSecond): one second's worth. */
  readonly burst?: number;
}

export interface BucketState {
  readonly tokens: number;
  /** Time (ms) up to which `tokens` accounts for refill. */
  readonly updatedAt: number;
}

export interface TakeResult {
  readonly allowed: boolean;
  readonly state: BucketState;
  /** 0 when allowed; otherwise whole ms until one token is available. */
  readonly retryAfterMs: number;
}

// Float sums of refill fractions land a hair under whole numbers (0.7 + 0.3);
// a billionth of a token is no gift to a client, a spurious 429 would be a bug.
const ALLOW_SLACK = 2e-9;
const RETRY_SLACK = 1e-9;

/**
 * A backwards step larger than this is the clock being set back, not two
 * threads reading it a moment apart (a thread waiting on a slot lock carries
 * a slightly older `now` than the one that just wrote). For small steps refill
 * simply pauses until the clock catches up; after a real step back we restart
 * refill from the new time, so a client is not locked out for as long as the
 * clock jumped. Neither grants tokens at the step.
 */
const CLOCK_STEP_MS = 1000;

export function bucketCapacity(limit: RateLimit): number {
  const burst = limit.burst ?? 0;
  return burst >= 1 ? burst : Math.max(1, limit.ratePerSecond);
}

/** Throws a RangeError for a limit that would make the bucket meaningless (config parsing should refuse these first). */
export function checkLimit(limit: RateLimit): void {
  if (!(limit.ratePerSecond > 0) || !Number.isFinite(limit.ratePerSecond)) {
    throw new RangeError(`rate limit must be a positive number of requests per second, not ${limit.ratePerSecond}`);
  }
  const burst = limit.burst ?? 0;
  if (!(burst >= 0) || !Number.isFinite(burst)) throw new RangeError(`rate limit burst must be 0 or more, not ${burst}`);
}

/** One request against a token bucket at time `now` (ms). Pure. */
export function takeToken(state: BucketState, now: number, limit: RateLimit): TakeResult {
  checkLimit(limit);
  const rate = limit.ratePerSecond;
  const capacity = bucketCapacity(limit);
  let tokens = state.tokens;
  let updatedAt = state.updatedAt;
  if (now > updatedAt) {
    tokens += ((now - updatedAt) * rate) / 1000;
    updatedAt = now;
  } else if (updatedAt - now > CLOCK_STEP_MS) {
    updatedAt = now;
  }
  // Also caps a bucket carried over from a larger burst (the limit was lowered).
  tokens = Math.min(capacity, tokens);
  if (tokens >= 1 - ALLOW_SLACK) return { allowed: true, state: { tokens: Math.max(0, tokens - 1), updatedAt }, retryAfterMs: 0 };
  const retryAfterMs = Math.max(1, Math.ceil(((1 - RETRY_SLACK - tokens) * 1000) / rate));
  return { allowed: false, state: { tokens, updatedAt }, retryAfterMs };
}

/** The time (ms) at which this bucket will be full again if nobody takes from it. */
function fullAt(state: BucketState, limit: RateLimit): number {
  return state.updatedAt + ((bucketCapacity(limit) - state.tokens) * 1000) / limit.ratePerSecond;
}

export type Admission = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

const ALLOWED: Admission = Object.freeze({ allowed: true });

// Buffer layout. Int32 header, then per slot Int32s (locks, key hash, count),
// then per slot Float64s (bucket). Floats are only touched under the slot's
// lock, whose Atomics operations order them between threads.
const MAGIC = 0x42524c31; // 'BRL1'
const H_MAGIC = 0;
const H_SLOTS = 1;
const H_SEED = 2;
const HEADER_INTS = 4;

const I_LOCK = 0; // guards everything in the slot
const I_INSERT = 1; // serialises inserting the keys whose probe starts here
const I_H1 = 2;
const I_H2 = 3;
const I_IN_FLIGHT = 4;
const INTS_PER_SLOT = 6; // even, so the float region stays 8-byte aligned

const F_TOKENS = 0;
const F_UPDATED_AT = 1;
const F_FULL_AT = 2;
const FLOATS_PER_SLOT = 3;

const PROBE = 8;
const MAX_SLOTS = 1 << 24;
export const DEFAULT_LIMITER_SLOTS = 16384;

/**
 * (site, client) → bucket and in-flight count, shared by every thread that
 * constructs one over the same buffer. 48 bytes a slot: the default 16384
 * slots take 768 KiB. Probe windows start to overflow at about half full, but
 * only clients whose bucket is not yet full again (or with requests in flight)
 * need a slot: with rate 10 and burst 20, the ones seen in the last 2 s. So
 * the default follows some 8,000 such clients at once without losing state.
 *
 * A key lives in one of the 8 slots after its hash's home slot. When all 8
 * hold other keys, one is evicted, preferring, in order: a slot with nothing
 * in flight whose bucket is (or will be soonest) full again, then the same
 * among the busy ones. Evicting a full, idle bucket loses nothing (the client
 * would start full anyway). When the table is saturated with active clients
 * eviction does lose state, and we pick that over the alternatives: failing
 * closed would turn a flood from many addresses into 429s for everyone, and
 * failing open (not tracking the newcomer) would exempt any client that can
 * keep the table full. The cost is bounded: an evicted client gets at most a
 * fresh bucket (`burst` extra requests), or its in-flight count restarts from
 * zero. The hash is seeded per table at random, so nobody outside can aim
 * keys at one probe window. Size the table above the number of clients (and,
 * for IPv6, key clients by prefix, or one host can fill it).
 */
export class SharedLimiterTable {
  readonly buffer: SharedArrayBuffer;
  readonly #ints: Int32Array;
  readonly #floats: Float64Array;
  readonly #slots: number;
  readonly #probe: number;
  readonly #seed: number;
  // The last key's hash, kept on the instance so that hashing allocates nothing.
  #h1 = 0;
  #h2 = 0;
  #victimH1 = 0;
  #victimH2 = 0;

  static create(slots: number = DEFAULT_LIMITER_SLOTS): SharedArrayBuffer {
    if (!Number.isSafeInteger(slots) || slots < 1 || slots > MAX_SLOTS) throw new RangeError(`limiter slots must be an integer from 1 to ${MAX_SLOTS}, not ${slots}`);
    const buffer = new SharedArrayBuffer(byteLength(slots));
    const header = new Int32Array(buffer, 0, HEADER_INTS);
    header[H_MAGIC] = MAGIC;
    header[H_SLOTS] = slots;
    header[H_SEED] = crypto.getRandomValues(new Int32Array(1))[0]!;
    return buffer;
  }

  constructor(buffer: SharedArrayBuffer) {
    const header = new Int32Array(buffer, 0, HEADER_INTS);
    const slots = header[H_SLOTS]!;
    if (header[H_MAGIC] !== MAGIC || slots < 1 || slots > MAX_SLOTS || buffer.byteLength !== byteLength(slots)) {
      throw new TypeError('not a buffer made by SharedLimiterTable.create()');
    }
    this.buffer = buffer;
    this.#slots = slots;
    this.#probe = Math.min(PROBE, slots);
    this.#seed = header[H_SEED]!;
    this.#ints = new Int32Array(buffer, 0, HEADER_INTS + slots * INTS_PER_SLOT);
    this.#floats = new Float64Array(buffer, this.#ints.byteLength, slots * FLOATS_PER_SLOT);
  }

  /** Takes one token from the client's bucket for this site. */
  admit(siteKey: string, client: string, now: number, limit: RateLimit): Admission {
    checkLimit(limit);
    const slot = this.#find(siteKey, client, true);
    let result: TakeResult;
    try {
      const f = slot * FLOATS_PER_SLOT;
      const floats = this.#floats;
      result = takeToken({ tokens: floats[f + F_TOKENS]!, updatedAt: floats[f + F_UPDATED_AT]! }, now, limit);
      floats[f + F_TOKENS] = result.state.tokens;
      floats[f + F_UPDATED_AT] = result.state.updatedAt;
      floats[f + F_FULL_AT] = fullAt(result.state, limit);
    } finally {
      unlock(this.#ints, lockIndex(slot));
    }
    if (result.allowed) return ALLOWED;
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(result.retryAfterMs / 1000)) };
  }

  /** Counts a request in flight unless the client already has `maxInFlight`. Pair every true with one `leave`. */
  enter(siteKey: string, client: string, maxInFlight: number): boolean {
    const slot = this.#find(siteKey, client, true);
    const ints = this.#ints;
    const at = lockIndex(slot);
    try {
      const count = ints[at + I_IN_FLIGHT]!;
      if (count >= maxInFlight) return false;
      ints[at + I_IN_FLIGHT] = count + 1;
      return true;
    } finally {
      unlock(ints, at);
    }
  }

  /**
   * Counts one more in flight when `admit(inFlight)` agrees; `admit` runs
   * under the slot's lock, so the check and the count are one step. Pair
   * every true with one `leave`.
   */
  enterIf(siteKey: string, client: string, admit: (inFlight: number) => boolean): boolean {
    const slot = this.#find(siteKey, client, true);
    const ints = this.#ints;
    const at = lockIndex(slot);
    try {
      const count = ints[at + I_IN_FLIGHT]!;
      if (!admit(count)) return false;
      ints[at + I_IN_FLIGHT] = count + 1;
      return true;
    } finally {
      unlock(ints, at);
    }
  }

  leave(siteKey: string, client: string): void {
    const slot = this.#find(siteKey, client, false);
    if (slot === -1) return; // never entered, or evicted since: nothing to give back
    const ints = this.#ints;
    const at = lockIndex(slot);
    const count = ints[at + I_IN_FLIGHT]!;
    if (count > 0) ints[at + I_IN_FLIGHT] = count - 1;
    unlock(ints, at);
  }

  /** The key's slot, locked; -1 when absent and not `create`. */
  #find(siteKey: string, client: string, create: boolean): number {
    this.#hash(siteKey, client);
    const home = (this.#h1 >>> 0) % this.#slots;
    const hit = this.#lockMatch(home);
    if (hit !== -1 || !create) return hit;
    // Two threads inserting the same new key must not claim two slots; its
    // home slot's insert lock makes them take turns. Insert locks are always
    // taken before slot locks and never while holding one, so no deadlock.
    const ints = this.#ints;
    const insert = lockIndex(home) + I_INSERT;
    lock(ints, insert);
    try {
      for (;;) {
        const again = this.#lockMatch(home);
        if (again !== -1) return again;
        const victim = this.#pickVictim(home);
        const at = lockIndex(victim);
        lock(ints, at);
        // Another inserter (of a key with another home) may have claimed it
        // between our look and our lock: look again.
        if (Atomics.load(ints, at + I_H1) !== this.#victimH1 || Atomics.load(ints, at + I_H2) !== this.#victimH2) {
          unlock(ints, at);
          continue;
        }
        Atomics.store(ints, at + I_H1, this.#h1);
        Atomics.store(ints, at + I_H2, this.#h2);
        ints[at + I_IN_FLIGHT] = 0;
        const f = victim * FLOATS_PER_SLOT;
        // A fresh bucket is full whatever the limit: the first take clamps to capacity.
        this.#floats[f + F_TOKENS] = Infinity;
        this.#floats[f + F_UPDATED_AT] = -Infinity;
        this.#floats[f + F_FULL_AT] = -Infinity;
        return victim;
      }
    } finally {
      unlock(ints, insert);
    }
  }

  /** Locks and returns the slot holding the current key within the probe window, or -1. */
  #lockMatch(home: number): number {
    const ints = this.#ints;
    for (let k = 0; k < this.#probe; k++) {
      const slot = (home + k) % this.#slots;
      const at = lockIndex(slot);
      if (Atomics.load(ints, at + I_H1) !== this.#h1 || Atomics.load(ints, at + I_H2) !== this.#h2) continue;
      lock(ints, at);
      // The hash is only rewritten under the lock, so this second look is the truth.
      if (Atomics.load(ints, at + I_H1) === this.#h1 && Atomics.load(ints, at + I_H2) === this.#h2) return slot;
      unlock(ints, at);
    }
    return -1;
  }

  /**
   * The first empty slot of the window, else the cheapest to evict (see the
   * class comment); its key hash as seen goes to #victimH1/#victimH2.
   */
  #pickVictim(home: number): number {
    const ints = this.#ints;
    let best = -1;
    let bestBusy = true;
    let bestFullAt = Infinity;
    for (let k = 0; k < this.#probe; k++) {
      const slot = (home + k) % this.#slots;
      const at = lockIndex(slot);
      const h1 = Atomics.load(ints, at + I_H1);
      const h2 = Atomics.load(ints, at + I_H2);
      if (h1 === 0 && h2 === 0) {
        this.#victimH1 = 0;
        this.#victimH2 = 0;
        return slot;
      }
      // Read without the lock: a racing update only makes the choice a little less good.
      const busy = Atomics.load(ints, at + I_IN_FLIGHT) > 0;
      const full = this.#floats[slot * FLOATS_PER_SLOT + F_FULL_AT]!;
      if (best === -1 || (bestBusy && !busy) || (busy === bestBusy && full < bestFullAt)) {
        best = slot;
        bestBusy = busy;
        bestFullAt = full;
        this.#victimH1 = h1;
        this.#victimH2 = h2;
      }
    }
    return best;
  }

  /**
   * Two 32-bit lanes over site, a separator no UTF-16 unit can equal, and
   * client (cyrb53's mixing, kept at 64 bits): better avalanche than FNV-1a
   * for short, similar keys like addresses, and cheap in JS with Math.imul.
   */
  #hash(siteKey: string, client: string): void {
    let a = 0xdeadbeef ^ this.#seed;
    let b = 0x41c6ce57 ^ this.#seed;
    for (let i = 0; i < siteKey.length; i++) {
      const c = siteKey.charCodeAt(i);
      a = Math.imul(a ^ c, 2654435761);
      b = Math.imul(b ^ c, 1597334677);
    }
    a = Math.imul(a ^ 0x10000, 2654435761);
    b = Math.imul(b ^ 0x10000, 1597334677);
    for (let i = 0; i < client.length; i++) {
      const c = client.charCodeAt(i);
      a = Math.imul(a ^ c, 2654435761);
      b = Math.imul(b ^ c, 1597334677);
    }
    a = Math.imul(a ^ (a >>> 16), 2246822507) ^ Math.imul(b ^ (b >>> 13), 3266489909);
    b = Math.imul(b ^ (b >>> 16), 2246822507) ^ Math.imul(a ^ (a >>> 13), 3266489909);
    // (0, 0) marks an empty slot.
    if (a === 0 && b === 0) b = 1;
    this.#h1 = a;
    this.#h2 = b;
  }
}

function byteLength(slots: number): number {
  return (HEADER_INTS + slots * INTS_PER_SLOT) * 4 + slots * FLOATS_PER_SLOT * 8;
}

function lockIndex(slot: number): number {
  return HEADER_INTS + slot * INTS_PER_SLOT + I_LOCK;
}

// A futex-style mutex (Drepper, "Futexes Are Tricky", mutex 3):
// 0 free, 1 held, 2 held with sleepers. Held for a few loads and stores, so a
// short spin almost always wins before sleeping.
const SPINS = 64;
const WAIT_SLICE_MS = 10;
/**
 * A lock held this long is taken to be abandoned: the only way to stop
 * holding one without releasing it is the holder's thread being terminated
 * mid-update. Taking it over risks one slot's numbers; never taking it
 * would hang every request from that client in every engine.
 */
const ABANDONED_AFTER_SLICES = 10;

function lock(ints: Int32Array, at: number): void {
  let c = Atomics.compareExchange(ints, at, 0, 1);
  for (let spin = 0; c !== 0 && spin < SPINS; spin++) c = Atomics.compareExchange(ints, at, 0, 1);
  if (c === 0) return;
  if (c !== 2) c = Atomics.exchange(ints, at, 2);
  let timedOut = 0;
  while (c !== 0) {
    if (Atomics.wait(ints, at, 2, WAIT_SLICE_MS) === 'timed-out' && ++timedOut >= ABANDONED_AFTER_SLICES) {
      Atomics.store(ints, at, 2);
      return;
    }
    c = Atomics.exchange(ints, at, 2);
  }
}

function unlock(ints: Int32Array, at: number): void {
  if (Atomics.exchange(ints, at, 0) === 2) Atomics.notify(ints, at, 1);
}
