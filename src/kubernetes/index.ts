// berth on Kubernetes (issue 17). The objects berth applies for an app are
// made here as pure functions of a plain spec (see docs/ARCHITECTURE.md,
// "Kubernetes: the objects").
export { appObjects } from './manifests/app-objects.ts';
export { resolveDeployment, kubernetesSchedule, type AppDeployment, type ProcessSpec, type Resources, type DomainSpec, type TlsMode, type CronSpec, type ResolvedDeployment } from './manifests/spec.ts';
export { configSecret, configHash } from './manifests/secret.ts';
export { renderManifests } from './manifests/yaml.ts';
export { objectsToPrune, PRUNABLE_KINDS, type FoundObject } from './manifests/prune.ts';
export { processDeployment, webService, webDisruptionBudget, SERVICE_PORT } from './manifests/workloads.ts';
export { releaseJob, cronJob } from './manifests/jobs.ts';
export { domainIngress } from './manifests/ingress.ts';
export { APP_UID } from './manifests/pod.ts';
export { LABEL_APP, LABEL_MANAGED_BY, LABEL_RELEASE, LABEL_PROCESS, LABEL_CRON, MANAGED_BY, ANNOTATION_CONFIG_HASH, ANNOTATION_RELEASE_ID, ANNOTATION_NAME } from './manifests/labels.ts';
export { appLabel, joinName, objectName, configSecretName, labelPart, MAX_LABEL, MAX_CRONJOB_NAME } from './manifests/names.ts';
export type { KubeObject, ObjectMeta, Json } from './manifests/object.ts';
