/**
 * Passive health of one upstream, as the edge sees it from the requests it
 * sends. A failed connection marks the upstream down at once (the next
 * request goes elsewhere); it is probed with growing intervals and comes
 * back as soon as a probe connects. Pure: the caller supplies the time.
 */
export type UpstreamHealth =
  | { readonly state: 'up' }
  | { readonly state: 'down'; readonly since: number; readonly failedProbes: number; readonly nextProbeAt: number };

export interface HealthPolicy {
  readonly probeIntervalMs: number;
  readonly maxProbeIntervalMs: number;
}

export const DEFAULT_HEALTH_POLICY: HealthPolicy = { probeIntervalMs: 250, maxProbeIntervalMs: 5_000 };

export const HEALTHY: UpstreamHealth = { state: 'up' };

export function markFailed(health: UpstreamHealth, now: number, policy: HealthPolicy = DEFAULT_HEALTH_POLICY): UpstreamHealth {
  // A second failure reported while already down (requests that were in
  // flight together) must not push the next probe further away.
  if (health.state === 'down') return health;
  return { state: 'down', since: now, failedProbes: 0, nextProbeAt: now + policy.probeIntervalMs };
}

export function probeDue(health: UpstreamHealth, now: number): boolean {
  return health.state === 'down' && now >= health.nextProbeAt;
}

export function recordProbe(health: UpstreamHealth, ok: boolean, now: number, policy: HealthPolicy = DEFAULT_HEALTH_POLICY): UpstreamHealth {
  if (ok) return HEALTHY;
  if (health.state === 'up') return markFailed(health, now, policy);
  const failedProbes = health.failedProbes + 1;
  const interval = Math.min(policy.maxProbeIntervalMs, policy.probeIntervalMs * 2 ** Math.min(failedProbes, 20));
  return { state: 'down', since: health.since, failedProbes, nextProbeAt: now + interval };
}
