import type { KubeClient } from './client.ts';
import type { KubeObject } from './resources.ts';
import { LABEL_CRON, LABEL_PROCESS, LABEL_RELEASE } from '../manifests/labels.ts';
import { appLabels } from './apply.ts';

/** One pod as `berth ps` shows it. */
export interface PodSummary {
  name: string;
  /** The process type (berth.dev/process: "web", "release"), "cron:NAME" for a cron job's pod, '' when neither. */
  process: string;
  /** The release it runs ("v3", from berth.dev/release), '' when absent. */
  release: string;
  /** Pending, Running, Succeeded, Failed, Unknown, or Terminating once deleted. */
  phase: string;
  ready: boolean;
  restarts: number;
  node: string;
  startedAt: string | undefined;
  /** Why a container is not running, when the pod says: CrashLoopBackOff, ImagePullBackOff, OOMKilled, … */
  waiting: string | undefined;
}

interface PodLike {
  metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec?: { nodeName?: string };
  status?: {
    phase?: string;
    startTime?: string;
    conditions?: { type?: string; status?: string }[];
    containerStatuses?: { restartCount?: number; state?: { waiting?: { reason?: string }; terminated?: { reason?: string } } }[];
  };
}

export function podSummary(pod: PodLike): PodSummary {
  const status = pod.status ?? {};
  const containers = status.containerStatuses ?? [];
  const labels = pod.metadata.labels ?? {};
  const waiting = containers.map((container) => container.state?.waiting?.reason ?? container.state?.terminated?.reason).find((reason) => reason !== undefined && reason !== '');
  return {
    name: pod.metadata.name,
    process: labels[LABEL_PROCESS] ?? (labels[LABEL_CRON] === undefined ? '' : `cron:${labels[LABEL_CRON]}`),
    release: labels[LABEL_RELEASE] ?? '',
    phase: pod.metadata.deletionTimestamp !== undefined ? 'Terminating' : status.phase ?? 'Unknown',
    ready: (status.conditions ?? []).some((condition) => condition.type === 'Ready' && condition.status === 'True'),
    restarts: containers.reduce((sum, container) => sum + (container.restartCount ?? 0), 0),
    node: pod.spec?.nodeName ?? '',
    startedAt: status.startTime,
    waiting,
  };
}

/** The app's pods, by process type then name. */
export async function appPods(client: KubeClient, namespace: string, app: string): Promise<PodSummary[]> {
  const pods: KubeObject[] = await client.list('v1', 'Pod', namespace, appLabels(app));
  return pods.map((pod) => podSummary(pod as unknown as PodLike)).sort((a, b) => a.process.localeCompare(b.process) || a.name.localeCompare(b.name));
}
