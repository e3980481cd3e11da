/**
 * Whether a starting instance may take traffic. An instance is ready once its
 * port accepts connections, every listener that would take a connection to
 * 127.0.0.1 on that port is the instance's own, and, when the app declares
 * a health path, that path answers 2xx. A port held by anyone else is never
 * ready: the instance must start again on another port. Probes repeat until a deadline, often at first
 * (most apps listen within a few hundred milliseconds, and every step of waiting is added to a start),
 * then at `intervalMs`; what to do at each step is decided here, the probing itself is I/O elsewhere.
 */
export interface ReadinessPolicy {
  /** The first probes' interval: the wait grows with the time since the start (a quarter of it) up to `intervalMs`. */
  readonly firstIntervalMs?: number;
  readonly intervalMs: number;
  /** After this long without becoming ready the instance is reported, and probing slows. */
  readonly deadlineMs: number;
  readonly slowIntervalMs: number;
}

export const DEFAULT_READINESS_POLICY: ReadinessPolicy = { firstIntervalMs: 10, intervalMs: 100, deadlineMs: 60_000, slowIntervalMs: 1_000 };

/** What the last probe saw. */
export type ProbeResult =
  | { readonly kind: 'refused' }
  | { readonly kind: 'listening' }
  | { readonly kind: 'health'; readonly status: number }
  | { readonly kind: 'health-error' }
  /** Something that is not the instance listens on its port; `uid` owns that socket. */
  | { readonly kind: 'port-taken'; readonly uid: number };

export type ReadinessVerdict =
  | { readonly kind: 'ready' }
  /** The port is someone else's: never ready there; start the instance again on a new port. */
  | { readonly kind: 'port-taken'; readonly uid: number }
  | { readonly kind: 'probe-again'; readonly afterMs: number; readonly overdue: boolean; readonly reason: string };

export function judgeProbe(
  result: ProbeResult,
  healthPath: string | null,
  startedAt: number,
  now: number,
  policy: ReadinessPolicy = DEFAULT_READINESS_POLICY,
): ReadinessVerdict {
  let reason: string;
  switch (result.kind) {
    case 'refused':
      reason = 'port not accepting connections yet';
      break;
    case 'listening':
      if (healthPath === null) return { kind: 'ready' };
      reason = 'port open, health check not run yet';
      break;
    case 'health':
      if (result.status >= 200 && result.status < 300) return { kind: 'ready' };
      reason = `health check ${healthPath ?? ''} answered ${result.status}`;
      break;
    case 'health-error':
      reason = `health check ${healthPath ?? ''} failed to answer`;
      break;
    case 'port-taken':
      return { kind: 'port-taken', uid: result.uid };
  }
  const elapsed = now - startedAt;
  const overdue = elapsed >= policy.deadlineMs;
  const early = Math.max(policy.firstIntervalMs ?? policy.intervalMs, Math.min(policy.intervalMs, Math.round(elapsed / 4)));
  return { kind: 'probe-again', afterMs: overdue ? policy.slowIntervalMs : early, overdue, reason };
}
