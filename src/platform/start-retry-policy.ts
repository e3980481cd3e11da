// When an app that failed to come back at a daemon start is tried again.
// The restart policy's shape (runner/restart-policy.ts) for whole apps: a
// delay doubling from `initialDelayMs` to `maxDelayMs`, for as long as the
// app has a release to serve; the caller passes the time, so tests drive it
// with any clock.

export interface StartRetryPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly factor: number;
}

/** 2 s, 4 s, 8 s … up to 5 minutes between tries. */
export const DEFAULT_START_RETRY_POLICY: StartRetryPolicy = { initialDelayMs: 2_000, maxDelayMs: 300_000, factor: 2 };

export interface StartRetryDecision {
  /** Failed starts in a row, this one included. */
  readonly failures: number;
  readonly delayMs: number;
  /** When to try again (the clock's time). */
  readonly at: number;
}

/** After the `failures`-th failed start in a row (1 for the first) at `now`: when to try again. */
export function decideStartRetry(failures: number, now: number, policy: StartRetryPolicy = DEFAULT_START_RETRY_POLICY): StartRetryDecision {
  const n = Math.max(1, Math.floor(failures));
  const delayMs = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** Math.min(n - 1, 40));
  return { failures: n, delayMs, at: now + delayMs };
}
