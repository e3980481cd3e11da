// When to renew a certificate, how long to wait after a failed order, and
// what state a host's certificate is in: pure decisions over plain data
// (times are epoch milliseconds; "now" is always passed in), so every case is
// a table row in a unit test and the certificate manager only does the I/O.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export interface RenewalPolicy {
  /** Renew once this fraction of the lifetime has passed (2/3: day 60 of a 90-day certificate)... */
  readonly renewAtFraction: number;
  /** ...or this long before expiry, whichever comes first... */
  readonly renewBeforeExpiryMs: number;
  /** ...but never before this fraction of the lifetime (see `renewalTime`). */
  readonly earliestFraction: number;
  /** The wait after the first failed order; each further failure doubles it... */
  readonly retryMinMs: number;
  /** ...up to this. */
  readonly retryMaxMs: number;
  /** Each wait is shortened by up to this fraction, at random, so hosts that failed together do not retry together. */
  readonly retryJitter: number;
}

/** Defaults defined once; the manager, the local CA and the tests all use these. */
export const DEFAULT_RENEWAL_POLICY: RenewalPolicy = {
  renewAtFraction: 2 / 3,
  renewBeforeExpiryMs: 30 * DAY,
  earliestFraction: 1 / 2,
  retryMinMs: MINUTE,
  retryMaxMs: 6 * HOUR,
  retryJitter: 0.1,
};

/** A certificate's validity period, in epoch milliseconds. */
export interface Lifetime {
  readonly notBefore: number;
  readonly notAfter: number;
}

/**
 * When a certificate should be renewed: at 2/3 of its lifetime or 30 days
 * before it expires, whichever is earlier — day 60 of a 90-day certificate,
 * day 243 of a year-long one. Taken literally, "30 days before expiry" is in
 * the past for any certificate shorter than 30 days (Let's Encrypt's 6-day
 * ones, a test CA's), which would renew it the moment it arrives, forever;
 * so the time is never earlier than half the lifetime (day 3 of 6).
 */
export function renewalTime(lifetime: Lifetime, policy: RenewalPolicy = DEFAULT_RENEWAL_POLICY): number {
  const life = Math.max(0, lifetime.notAfter - lifetime.notBefore);
  const byFraction = lifetime.notBefore + life * policy.renewAtFraction;
  const byExpiry = lifetime.notAfter - policy.renewBeforeExpiryMs;
  const earliest = lifetime.notBefore + life * policy.earliestFraction;
  return Math.round(Math.max(earliest, Math.min(byFraction, byExpiry)));
}

/** True once `now` has reached the certificate's renewal time. */
export function needsRenewal(lifetime: Lifetime, now: number, policy: RenewalPolicy = DEFAULT_RENEWAL_POLICY): boolean {
  return now >= renewalTime(lifetime, policy);
}

/**
 * True while the certificate may be served: until it expires. One whose
 * notBefore is still ahead (a clock a little behind the CA's) is served too:
 * clients judge that with their own clocks.
 */
export function isUsable(lifetime: Lifetime, now: number): boolean {
  return now < lifetime.notAfter;
}

/**
 * How long to wait before the next order after `failures` failed ones in a
 * row (1 → 1 min, 2 → 2 min, 3 → 4 min … capped at 6 h), shortened by up to
 * `retryJitter` of itself with `random` in [0, 1) (0: no jitter).
 */
export function retryDelay(failures: number, random = 0, policy: RenewalPolicy = DEFAULT_RENEWAL_POLICY): number {
  if (!(failures >= 1)) return 0;
  // 2 ** 60 is far past any cap; bounding the exponent keeps the number finite.
  const exponent = Math.min(Math.floor(failures) - 1, 60);
  const full = Math.min(policy.retryMinMs * 2 ** exponent, policy.retryMaxMs);
  const shortened = full * (1 - policy.retryJitter * Math.min(Math.max(random, 0), 1));
  return Math.max(0, Math.round(shortened));
}

/** What the manager knows about one host's certificate, as plain data. */
export interface HostCertificateFacts {
  /** The certificate on hand (loaded or issued), or null. */
  readonly certificate: Lifetime | null;
  /** Failed orders in a row since the last success. */
  readonly failures: number;
  /** When the last failure happened (epoch ms), or null. */
  readonly lastFailureAt: number | null;
  /** The wait chosen after that failure (`retryDelay`), so the jitter drawn once stays put. */
  readonly retryAfterMs: number;
  /** An order is under way right now. */
  readonly ordering: boolean;
}

/**
 * When the next order for a host should start (epoch ms; a time at or before
 * `now` means "now"). After failures: the last failure plus its backoff,
 * whatever the certificate on hand. Else: with no certificate (or an expired
 * one), at once; with one, at its renewal time.
 */
export function nextOrderTime(facts: HostCertificateFacts, policy: RenewalPolicy = DEFAULT_RENEWAL_POLICY): number {
  if (facts.failures > 0 && facts.lastFailureAt !== null) return facts.lastFailureAt + facts.retryAfterMs;
  if (facts.certificate === null) return Number.NEGATIVE_INFINITY;
  return renewalTime(facts.certificate, policy);
}

/** Why the last order failed, as `berth domains list` shows it. */
export interface CertificateError {
  readonly code: string;
  readonly message: string;
}

/**
 * A host's certificate state for `berth domains list`:
 * - `pending`: no usable certificate yet; the first order is due or under way.
 * - `valid`: a usable certificate, renewed at `renewAt`.
 * - `renewing`: a usable certificate is served while a new order runs.
 * - `failed`: the last order failed; the next one starts at `nextAttempt`.
 *   `notAfter` is set when an older certificate is still being served.
 */
export type CertificateState =
  | { readonly state: 'pending' }
  | { readonly state: 'valid'; readonly notAfter: number; readonly renewAt: number }
  | { readonly state: 'renewing'; readonly notAfter: number }
  | { readonly state: 'failed'; readonly error: CertificateError; readonly nextAttempt: number; readonly failures: number; readonly notAfter: number | null };

/** The state `berth domains list` reports for a host, from the facts and the time. */
export function certificateState(
  facts: HostCertificateFacts & { readonly lastError: CertificateError | null },
  now: number,
  policy: RenewalPolicy = DEFAULT_RENEWAL_POLICY,
): CertificateState {
  const usable = facts.certificate !== null && isUsable(facts.certificate, now) ? facts.certificate : null;
  if (facts.ordering) return usable === null ? { state: 'pending' } : { state: 'renewing', notAfter: usable.notAfter };
  if (facts.failures > 0 && facts.lastError !== null) {
    return {
      state: 'failed',
      error: facts.lastError,
      nextAttempt: nextOrderTime(facts, policy),
      failures: facts.failures,
      notAfter: usable === null ? null : usable.notAfter,
    };
  }
  if (usable === null) return { state: 'pending' };
  return { state: 'valid', notAfter: usable.notAfter, renewAt: renewalTime(usable, policy) };
}
