import type { InstanceState } from './instance.ts';

/** An instance of a release that is starting, as the rollout sees it. */
export interface RolloutInstance {
  readonly name: string;
  readonly type: string;
  readonly state: InstanceState;
  /** Times it exited since the release started (a crash before it was ever ready fails the release). */
  readonly exits: number;
  /** Why it last exited, for the failure message. */
  readonly lastExit: string | null;
}

export type RolloutVerdict =
  | { readonly kind: 'waiting' }
  | { readonly kind: 'ready' }
  | { readonly kind: 'failed'; readonly reason: string };

/**
 * Whether a new release may take traffic. It may once every web instance
 * is ready (and every other instance is running); it fails as soon as any
 * instance exits during the rollout (a release that crashes at boot never
 * takes traffic, however quickly the supervisor would restart it), or when
 * the deadline passes. Pure: the caller supplies the time.
 */
export function judgeRollout(instances: readonly RolloutInstance[], startedAt: number, now: number, deadlineMs: number): RolloutVerdict {
  for (const instance of instances) {
    if (instance.exits > 0) {
      return { kind: 'failed', reason: `${instance.name} exited (${instance.lastExit ?? 'unknown'}) before the release was ready` };
    }
  }
  const waiting = instances.filter((instance) => instance.state !== 'ready');
  if (waiting.length === 0) return { kind: 'ready' };
  if (now - startedAt >= deadlineMs) {
    const names = waiting.map((instance) => instance.name).join(', ');
    return { kind: 'failed', reason: `${names} not ready after ${Math.round(deadlineMs / 1000)}s` };
  }
  return { kind: 'waiting' };
}
