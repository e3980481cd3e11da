/**
 * Whether a starting instance may take traffic. An instance is ready once its
 * port accepts connections and, when the app declares a health path, that
 * path answers 2xx. Probes repeat at a fixed interval until a deadline; what
 * to do at each step is decided here, the probing itself is I/O elsewhere.
 */
export interface ReadinessPolicy {
  readonly intervalMs: number;
  /** After this long without becoming ready the instance is reported, and probing slows. */
  readonly deadlineMs: number;
  readonly slowIntervalMs: number;
}

export const DEFAULT_READINESS_POLICY: ReadinessPolicy = { intervalMs: 100, deadlineMs: 60_000, slowIntervalMs: 1_000 };

/** What the last probe saw. */
export type ProbeResult =
  | { readonly kind: 'refused' }
  | { readonly kind: 'listening' }
  | { readonly kind: 'health'; readonly status: number }
  | { readonly kind: 'health-error' };

export type ReadinessVerdict =
  | { readonly kind: 'ready' }
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
  }
  const overdue = now - startedAt >= policy.deadlineMs;
  return { kind: 'probe-again', afterMs: overdue ? policy.slowIntervalMs : policy.intervalMs, overdue, reason };
}
