// berth on Kubernetes (issue 17). The objects berth applies for an app are
// made here as pure functions of a plain spec (see docs/ARCHITECTURE.md,
// "Kubernetes: the objects").
export { appObjects } from './manifests/app-objects.ts';
export { resolveDeployment, kubernetesSchedule, type AppDeployment, type ProcessSpec, type Resources, type DomainSpec, type TlsMode, type CronSpec, type ResolvedDeployment } from './manifests/spec.ts';
export { configSecret, configHash, registryPullSecret, pullSecretName, tlsSecret } from './manifests/secret.ts';
export { renderManifests } from './manifests/yaml.ts';
export { objectsToPrune, PRUNABLE_KINDS, type FoundObject } from './manifests/prune.ts';
export { processDeployment, webService, webDisruptionBudget, SERVICE_PORT } from './manifests/workloads.ts';
export { releaseJob, cronJob } from './manifests/jobs.ts';
export { domainIngress } from './manifests/ingress.ts';
export { APP_UID } from './manifests/pod.ts';
export { LABEL_APP, LABEL_MANAGED_BY, LABEL_RELEASE, LABEL_PROCESS, LABEL_CRON, MANAGED_BY, ANNOTATION_CONFIG_HASH, ANNOTATION_RELEASE_ID, ANNOTATION_NAME, ANNOTATION_RESTARTED_AT } from './manifests/labels.ts';
export { appLabel, joinName, objectName, configSecretName, labelPart, exactLabel, exactSubdomain, MAX_LABEL, MAX_CRONJOB_NAME } from './manifests/names.ts';
export type { KubeObject, ObjectMeta, Json } from './manifests/object.ts';
// The client that applies them, waits and prunes (see "Kubernetes: the
// client"); pruneApp decides with the manifests' objectsToPrune. One
// KubeObject: the manifests' objects are the client's input.
export { parseKubeconfig, loadKubeconfig, connectionFrom, type KubeconfigSpec, type KubeConnection } from './client/index.ts';
export { KubeClient, FIELD_MANAGER, type KubeClientOptions } from './client/index.ts';
export { KINDS, pickApiVersion, objectPath, collectionPath, describe, labelSelector } from './client/index.ts';
export { apiError, type RequestContext } from './client/index.ts';
export { applyObjects, appLabels, listAppObjects, pruneApp, type AppliedObject } from './client/index.ts';
export { rolloutStatus, waitForRollout, pollUntil, realClock, type RolloutState, type Clock, type WaitOptions } from './client/index.ts';
export { jobStatus, waitForJob, jobLog, jobPods, type JobState } from './client/index.ts';
export { podSummary, appPods, type PodSummary } from './client/index.ts';
// The runtime the platform runs apps through when `berth server --runtime kubernetes` (see "The runtime seam").
export { KubeRuntime, ImageMaker, parseRegistryPrefix, parseBaseImages, DEFAULT_BASE_IMAGES, deploymentOf, containerArgv, checkCronZones, releaseSecretName, tlsSecretName, certificateCovers, WEB_PORT } from './runtime/index.ts';
export type { KubeRuntimeOptions, ActivateOptions, PodLog, PushRegistry, BaseLanguage, ImageRequest, ClusterRelease, ClusterSettings } from './runtime/index.ts';
