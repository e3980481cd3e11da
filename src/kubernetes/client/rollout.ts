import { BerthError } from '../../errors.ts';
import { escapeControls } from '../../terminal-text.ts';
import type { KubeClient } from './client.ts';
import type { KubeObject } from './resources.ts';

export type RolloutState =
  | { state: 'progressing'; reason: string }
  | { state: 'complete' }
  | { state: 'failed'; reason: string };

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

interface DeploymentLike {
  metadata: { generation?: number };
  spec?: { replicas?: number };
  status?: { observedGeneration?: number; replicas?: number; updatedReplicas?: number; readyReplicas?: number; availableReplicas?: number; conditions?: Condition[] };
}

/**
 * Where a Deployment's rollout stands, from its object alone (kubectl
 * rollout status's rules, plus every replica ready): complete when the
 * controller has seen the newest spec and every wanted replica is updated,
 * ready and available with no old one left; failed when the controller
 * reports ProgressDeadlineExceeded for the newest spec.
 */
export function rolloutStatus(deployment: DeploymentLike): RolloutState {
  const generation = deployment.metadata.generation ?? 0;
  const status = deployment.status ?? {};
  const observed = status.observedGeneration ?? 0;
  if (observed < generation) return { state: 'progressing', reason: 'waiting for the controller to see the newest spec' };
  const progressing = (status.conditions ?? []).find((condition) => condition.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') return { state: 'failed', reason: `progress deadline exceeded${progressing.message === undefined ? '' : `: ${progressing.message}`}` };
  const wanted = deployment.spec?.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  const total = status.replicas ?? 0;
  const ready = status.readyReplicas ?? 0;
  const available = status.availableReplicas ?? 0;
  if (updated < wanted) return { state: 'progressing', reason: `${updated} of ${wanted} replicas updated` };
  if (total > updated) return { state: 'progressing', reason: `${total - updated} old replicas still to stop` };
  if (ready < wanted) return { state: 'progressing', reason: `${ready} of ${wanted} replicas ready` };
  if (available < updated) return { state: 'progressing', reason: `${available} of ${updated} updated replicas available` };
  return { state: 'complete' };
}

/** Time for a waiter: real in berth, driven by the test in unit tests. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface WaitOptions {
  /** How long to wait in all, in ms. */
  timeoutMs: number;
  /** Between two reads (default 1 s). */
  intervalMs?: number;
  /**
   * The first pause, doubled after each read up to `intervalMs` (default:
   * `intervalMs` from the start). What berth waits for after an apply is
   * often done within a fraction of a second; a whole interval first made
   * every Job and rollout wait take one.
   */
  firstIntervalMs?: number;
  clock?: Clock;
  /** Called with each state that differs from the last, for progress output. */
  onProgress?: (reason: string) => void;
}

/**
 * Reads the object with `read` until `decide` says it is done, bounded by
 * the deadline (and a count, so a clock that does not move cannot loop
 * forever).
 */
export async function pollUntil<T>(read: () => Promise<T>, decide: (value: T) => { done: true } | { done: false; reason: string }, options: WaitOptions): Promise<{ done: true; value: T } | { done: false; value: T; reason: string }> {
  const clock = options.clock ?? realClock;
  const interval = Math.max(1, options.intervalMs ?? 1000);
  let pause = Math.min(interval, Math.max(1, options.firstIntervalMs ?? interval));
  let ramp = 0;
  for (let p = pause; p < interval; p *= 2) ramp++;
  const deadline = clock.now() + options.timeoutMs;
  const maxReads = Math.ceil(options.timeoutMs / interval) + 2 + ramp;
  let last = '';
  for (let reads = 1; ; reads++) {
    const value = await read();
    const decision = decide(value);
    if (decision.done) return { done: true, value };
    if (decision.reason !== last) options.onProgress?.(decision.reason);
    last = decision.reason;
    if (clock.now() >= deadline || reads >= maxReads) return { done: false, value, reason: decision.reason };
    await clock.sleep(Math.min(pause, Math.max(0, deadline - clock.now())));
    pause = Math.min(interval, pause * 2);
  }
}

export type WaitOutcome = { outcome: 'done'; value: KubeObject } | { outcome: 'failed'; reason: string } | { outcome: 'timeout'; reason: string };

/**
 * Reads an object until `judge` says it is done or failed, or the deadline
 * passes; the waits for rollouts and Jobs differ only in what they read
 * and how they judge it. `missing` is thrown when the object is gone.
 */
export async function waitForObject(
  read: () => Promise<KubeObject | undefined>,
  missing: () => BerthError,
  judge: (object: KubeObject) => { state: 'done' } | { state: 'failed' | 'pending'; reason: string },
  options: WaitOptions,
): Promise<WaitOutcome> {
  let failed: string | undefined;
  const result = await pollUntil(
    async () => {
      const object = await read();
      if (object === undefined) throw missing();
      return object;
    },
    (object) => {
      const verdict = judge(object);
      if (verdict.state === 'pending') return { done: false, reason: verdict.reason };
      if (verdict.state === 'failed') failed = verdict.reason;
      return { done: true };
    },
    options,
  );
  if (failed !== undefined) return { outcome: 'failed', reason: failed };
  return result.done ? { outcome: 'done', value: result.value } : { outcome: 'timeout', reason: result.reason };
}

/**
 * Waits for a Deployment's rollout to complete; throws
 * BERTH_E_KUBE_ROLLOUT_FAILED when it fails or the deadline passes.
 */
export async function waitForRollout(client: KubeClient, namespace: string, name: string, options: WaitOptions): Promise<KubeObject> {
  const waited = await waitForObject(
    () => client.get('apps/v1', 'Deployment', namespace, name),
    () => new BerthError('BERTH_E_KUBE_ROLLOUT_FAILED', `Deployment ${namespace}/${name} does not exist`, { status: 502, hint: 'it was deleted while berth waited for its rollout' }),
    (deployment) => {
      const state = rolloutStatus(deployment as DeploymentLike);
      return state.state === 'complete' ? { state: 'done' } : { state: state.state === 'failed' ? 'failed' : 'pending', reason: state.reason };
    },
    options,
  );
  if (waited.outcome === 'failed') throw new BerthError('BERTH_E_KUBE_ROLLOUT_FAILED', `the rollout of Deployment ${namespace}/${name} failed: ${escapeControls(waited.reason, { keepTabs: false })}`, { status: 502, hint: 'the previous ReplicaSet keeps serving; berth ps shows the pods that are not ready' });
  if (waited.outcome === 'timeout') throw new BerthError('BERTH_E_KUBE_ROLLOUT_FAILED', `the rollout of Deployment ${namespace}/${name} did not complete in ${Math.round(options.timeoutMs / 1000)} s: ${escapeControls(waited.reason, { keepTabs: false })}`, { status: 504, hint: 'the previous ReplicaSet keeps serving; berth ps shows the pods that are not ready' });
  return waited.value;
}
