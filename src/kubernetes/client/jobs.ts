import { BerthError } from '../../errors.ts';
import { escapeControls } from '../../terminal-text.ts';
import type { KubeClient } from './client.ts';
import { waitForObject, type WaitOptions } from './rollout.ts';
import type { KubeObject } from './resources.ts';

export type JobState =
  | { state: 'running'; reason: string }
  | { state: 'succeeded' }
  | { state: 'failed'; reason: string };

interface JobLike {
  spec?: { backoffLimit?: number; completions?: number };
  status?: { succeeded?: number; failed?: number; active?: number; conditions?: { type?: string; status?: string; reason?: string; message?: string }[] };
}

/**
 * Where a Job stands, from its object alone. The controller's conditions
 * decide (Complete, Failed with BackoffLimitExceeded or DeadlineExceeded);
 * failed pods beyond backoffLimit count as failed even before the
 * controller has written its condition.
 */
export function jobStatus(job: JobLike): JobState {
  const status = job.status ?? {};
  const conditions = (status.conditions ?? []).filter((condition) => condition.status === 'True');
  const failedCondition = conditions.find((condition) => condition.type === 'Failed');
  if (failedCondition !== undefined) return { state: 'failed', reason: [failedCondition.reason, failedCondition.message].filter((part) => part !== undefined && part !== '').join(': ') || 'the Job failed' };
  if (conditions.some((condition) => condition.type === 'Complete')) return { state: 'succeeded' };
  const failed = status.failed ?? 0;
  const backoffLimit = job.spec?.backoffLimit ?? 6;
  if (failed > backoffLimit) return { state: 'failed', reason: `BackoffLimitExceeded: ${failed} pods failed (backoffLimit ${backoffLimit})` };
  const completions = job.spec?.completions ?? 1;
  if ((status.succeeded ?? 0) >= completions && (status.active ?? 0) === 0) return { state: 'succeeded' };
  return { state: 'running', reason: `${status.active ?? 0} active, ${status.succeeded ?? 0} succeeded, ${failed} failed` };
}

/** The pods a Job made (the controller labels them job-name=NAME). */
export async function jobPods(client: KubeClient, namespace: string, job: string): Promise<KubeObject[]> {
  return client.list('v1', 'Pod', namespace, { 'job-name': job });
}

/** The last lines the Job's newest pod printed: what a failed release shows. */
export async function jobLog(client: KubeClient, namespace: string, job: string, options: { tailLines?: number; limitBytes?: number } = {}): Promise<string> {
  const pods = await jobPods(client, namespace, job);
  const newest = pods.sort((a, b) => String(a.metadata.creationTimestamp ?? '').localeCompare(String(b.metadata.creationTimestamp ?? ''))).at(-1);
  if (newest === undefined) return '';
  return client.podLog(namespace, newest.metadata.name, { tailLines: options.tailLines ?? 50, limitBytes: options.limitBytes });
}

/**
 * Waits for a Job to succeed; throws BERTH_E_KUBE_JOB_FAILED when it fails
 * or the deadline passes, with its last log lines in the hint when they can
 * be read.
 */
export async function waitForJob(client: KubeClient, namespace: string, name: string, options: WaitOptions): Promise<KubeObject> {
  const waited = await waitForObject(
    () => client.get('batch/v1', 'Job', namespace, name),
    () => new BerthError('BERTH_E_KUBE_JOB_FAILED', `Job ${namespace}/${name} does not exist`, { status: 502, hint: 'it was deleted while berth waited for it' }),
    (job) => {
      const state = jobStatus(job as JobLike);
      return state.state === 'succeeded' ? { state: 'done' } : { state: state.state === 'failed' ? 'failed' : 'pending', reason: state.reason };
    },
    options,
  );
  if (waited.outcome === 'done') return waited.value;
  // The controller's message may quote the app (a pod's termination message): escaped like any server text.
  const why = waited.outcome === 'failed' ? escapeControls(waited.reason, { keepTabs: false }) : `did not finish in ${Math.round(options.timeoutMs / 1000)} s (${escapeControls(waited.reason, { keepTabs: false })})`;
  let log = '';
  try {
    // The app's own output: escaped, so it cannot drive the terminal that shows the hint.
    log = escapeControls((await jobLog(client, namespace, name, { tailLines: 20, limitBytes: 8192 })).trimEnd(), { keepNewlines: true });
  } catch {
    // The log is a courtesy: a node that cannot be reached must not hide why the Job failed.
  }
  throw new BerthError('BERTH_E_KUBE_JOB_FAILED', `Job ${namespace}/${name} ${waited.outcome === 'failed' ? `failed: ${why}` : why}`, { status: 502, hint: log === '' ? 'its pods\' logs are not available; berth logs --app NAME shows what reached berth' : `its last lines:\n${log}` });
}
