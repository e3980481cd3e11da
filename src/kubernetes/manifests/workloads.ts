import { ANNOTATION_CONFIG_HASH, ANNOTATION_NAME, ANNOTATION_RELEASE_ID, ANNOTATION_RESTARTED_AT, appLabels, LABEL_PROCESS, processSelector } from './labels.ts';
import type { KubeObject } from './object.ts';
import { podSpec, webProbes } from './pod.ts';
import type { ResolvedDeployment } from './spec.ts';

type Process = ResolvedDeployment['processes'][number];

/** ReplicaSets kept for `kubectl rollout undo`; berth rolls back by applying an earlier release, so a few suffice. */
const REVISION_HISTORY = 5;
/** Past this the Deployment reports ProgressDeadlineExceeded, which berth reads as a failed rollout. */
const PROGRESS_DEADLINE_SECONDS = 600;
/** The Service's port; the Ingress sends to it, and it to the pods' named port `http`. */
export const SERVICE_PORT = 80;

function meta(resolved: ResolvedDeployment, name: string, extra: Record<string, string> = {}) {
  const { spec, app } = resolved;
  return {
    name,
    namespace: spec.namespace,
    labels: { ...appLabels(app, spec.release.version), ...extra },
    annotations: { [ANNOTATION_RELEASE_ID]: spec.release.id },
  };
}

/**
 * One process type's Deployment. Rolling updates never take a pod away
 * before its replacement is ready (maxUnavailable 0), as berth's local
 * rollout; the pod template carries the config hash so a config change
 * alone rolls the pods (envFrom is read only when a container starts).
 */
export function processDeployment(resolved: ResolvedDeployment, process: Process): KubeObject {
  const { spec, app } = resolved;
  const isWeb = process.spec.name === 'web';
  const env: Record<string, string> = { DYNO: process.spec.name, BERTH_PROCESS_TYPE: process.spec.name, BERTH_RELEASE: `v${spec.release.version}` };
  if (isWeb) env.PORT = String(spec.webPort);
  const selector = processSelector(app, process.label);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(resolved, process.name, { [LABEL_PROCESS]: process.label }),
    spec: {
      replicas: process.spec.replicas,
      revisionHistoryLimit: REVISION_HISTORY,
      progressDeadlineSeconds: PROGRESS_DEADLINE_SECONDS,
      selector: { matchLabels: selector },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: {
          labels: { ...appLabels(app, spec.release.version), [LABEL_PROCESS]: process.label },
          annotations: {
            [ANNOTATION_RELEASE_ID]: spec.release.id,
            [ANNOTATION_NAME]: process.spec.name,
            [ANNOTATION_CONFIG_HASH]: spec.configHash,
            ...(spec.restartedAt ? { [ANNOTATION_RESTARTED_AT]: spec.restartedAt } : {}),
          },
        },
        spec: podSpec(resolved, {
          name: process.label,
          argv: process.spec.argv,
          env,
          resources: process.spec.resources,
          ...(isWeb ? { port: spec.webPort, probes: webProbes(spec.health) } : {}),
        }, 'Always'),
      },
    },
  };
}

/** web's Service: a ClusterIP the Ingresses send to. */
export function webService(resolved: ResolvedDeployment, web: Process): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(resolved, web.name, { [LABEL_PROCESS]: web.label }),
    spec: {
      type: 'ClusterIP',
      selector: processSelector(resolved.app, web.label),
      ports: [{ name: 'http', port: SERVICE_PORT, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

/**
 * web's PodDisruptionBudget: maxUnavailable 1 at every scale. With two or
 * more pods a drain takes them one at a time, so all but one keep serving;
 * with one pod it lets a drain evict it (minAvailable 1 would block every
 * node drain forever, which cluster operators rightly hate), so a single
 * replica means a short gap, as it does anyway.
 */
export function webDisruptionBudget(resolved: ResolvedDeployment, web: Process): KubeObject {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(resolved, web.name, { [LABEL_PROCESS]: web.label }),
    spec: {
      maxUnavailable: 1,
      selector: { matchLabels: processSelector(resolved.app, web.label) },
    },
  };
}

export { meta as objectMeta };
