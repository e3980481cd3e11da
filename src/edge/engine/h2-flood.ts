// The HTTP/2 rapid-reset guard (CVE-2023-44487), as a pure decision: a
// client that opens streams and cancels them at once makes the edge start
// work (route, plan, connect upstream) for requests nobody waits for, at a
// rate no concurrency limit bounds, since a cancelled stream no longer
// counts as open. The session counts the streams its client cancelled and
// closes with GOAWAY ENHANCE_YOUR_CALM past the limit.

/** How many cancelled streams a session may have within a window. */
export interface ResetPolicy {
  /** More than this many within `windowMs` closes the session. */
  readonly limit: number;
  readonly windowMs: number;
}

/**
 * 200 per 10 s: a browser cancels streams when a page is left or a video is
 * sought, a few dozen at most; an attack cancels thousands per second.
 */
export const RAPID_RESET: ResetPolicy = Object.freeze({ limit: 200, windowMs: 10_000 });

/**
 * Cancellations counted in fixed windows: the current one (from
 * `windowStart`) and the one before it, which together estimate the count
 * over the last `windowMs` as a sliding window does, in constant space.
 */
export interface ResetCount {
  readonly windowStart: number;
  readonly current: number;
  readonly previous: number;
}

export const NO_RESETS: ResetCount = Object.freeze({ windowStart: Number.NEGATIVE_INFINITY, current: 0, previous: 0 });

export interface ResetJudgement {
  readonly count: ResetCount;
  /** The estimate over the last window, this cancellation included. */
  readonly recent: number;
  /** True when the session must be closed: over the limit. */
  readonly calm: boolean;
}

/**
 * Records one cancelled stream at `now` (monotonic ms) and judges the
 * session. The previous window weighs by how much of it still overlaps the
 * last `windowMs` (Cloudflare's sliding-window counter): a burst just
 * before a window boundary is not forgotten at the boundary.
 */
export function judgeResets(count: ResetCount, now: number, policy: ResetPolicy = RAPID_RESET): ResetJudgement {
  let { windowStart, current, previous } = count;
  if (!(now < windowStart + policy.windowMs)) {
    // The first cancellation, or the window has passed: move it forward.
    const elapsed = Number.isFinite(windowStart) ? Math.floor((now - windowStart) / policy.windowMs) : Number.POSITIVE_INFINITY;
    previous = elapsed === 1 ? current : 0;
    current = 0;
    windowStart = Number.isFinite(elapsed) ? windowStart + elapsed * policy.windowMs : now;
  }
  current++;
  // A clock that went backwards counts as the start of the window.
  const into = Math.min(Math.max((now - windowStart) / policy.windowMs, 0), 1);
  const recent = previous * (1 - into) + current;
  return { count: { windowStart, current, previous }, recent, calm: recent > policy.limit };
}
