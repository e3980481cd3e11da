// The Kubernetes API client: kubeconfig, server-side apply, prune, rollout
// and Job waits, pods and their logs. Its only door.
export { parseKubeconfig, loadKubeconfig, connectionFrom, type KubeconfigSpec, type KubeConnection } from './kubeconfig.ts';
export { KubeClient, FIELD_MANAGER, type KubeClientOptions } from './client.ts';
export { KINDS, pickApiVersion, objectPath, collectionPath, describe, labelSelector, type KubeObject } from './resources.ts';
export { apiError, type RequestContext } from './api-errors.ts';
export { applyObjects, appLabels, listAppObjects, pruneApp, type AppliedObject } from './apply.ts';
export { rolloutStatus, waitForRollout, pollUntil, realClock, type RolloutState, type Clock, type WaitOptions } from './rollout.ts';
export { jobStatus, waitForJob, jobLog, jobPods, type JobState } from './jobs.ts';
export { podSummary, appPods, type PodSummary } from './pods.ts';
