/**
 * When a crashed instance may start again. Exponential backoff that forgets
 * past crashes once an instance has stayed up for a stable period, so a
 * process that crashes once a day restarts at once, while one that dies on
 * boot is slowed to one attempt per `maxDelayMs` and reported as a crash loop.
 */
export interface RestartPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly factor: number;
  /** Uptime after which the crash counter resets. */
  readonly stableAfterMs: number;
  /** Consecutive quick crashes from which the instance counts as crash-looping. */
  readonly crashLoopAfter: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  initialDelayMs: 250,
  maxDelayMs: 30_000,
  factor: 2,
  stableAfterMs: 30_000,
  crashLoopAfter: 5,
};

/** What the runner remembers about an instance's recent exits. */
export interface CrashHistory {
  /** Consecutive exits that came before the instance was stable. */
  readonly quickCrashes: number;
}

export const NO_CRASHES: CrashHistory = { quickCrashes: 0 };

export interface RestartDecision {
  readonly history: CrashHistory;
  readonly delayMs: number;
  readonly crashLoop: boolean;
}

/**
 * Decide the restart after an exit. `startedAt` and `exitedAt` come from the
 * injected clock, so the decision is the same in tests and in production.
 */
export function decideRestart(
  history: CrashHistory,
  startedAt: number,
  exitedAt: number,
  policy: RestartPolicy = DEFAULT_RESTART_POLICY,
): RestartDecision {
  const uptime = Math.max(0, exitedAt - startedAt);
  const quickCrashes = uptime >= policy.stableAfterMs ? 1 : history.quickCrashes + 1;
  // The first crash after a stable run restarts after the initial delay;
  // each further quick crash doubles it, up to the cap.
  const exponent = Math.min(quickCrashes - 1, 30);
  const delayMs = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** exponent);
  return { history: { quickCrashes }, delayMs, crashLoop: quickCrashes >= policy.crashLoopAfter };
}
