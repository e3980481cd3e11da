import { ANNOTATION_CONFIG_HASH, ANNOTATION_NAME, ANNOTATION_RELEASE_ID, appLabels, LABEL_CRON, LABEL_PROCESS } from './labels.ts';
import type { KubeObject } from './object.ts';
import { podSpec } from './pod.ts';
import type { ResolvedDeployment } from './spec.ts';
import { objectMeta } from './workloads.ts';

/** A finished release Job (and its pod, with its log) is kept a day for `berth logs`, then the cluster removes it. */
const RELEASE_JOB_TTL_SECONDS = 86_400;
/** A CronJob that missed its slot by more than this (controller down) skips it rather than running late. */
const CRON_STARTING_DEADLINE_SECONDS = 300;

/**
 * The release phase as a Job of its own per release (the version is in its
 * name, so a new release never meets an old Job's immutable template). One
 * attempt (backoffLimit 0): a failing release command fails the deploy, as
 * on one machine, rather than running a migration twice.
 */
export function releaseJob(resolved: ResolvedDeployment): KubeObject | null {
  const { spec, app, releaseJob: name } = resolved;
  if (spec.releaseCommand === null || name === null) return null;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: objectMeta(resolved, name, { [LABEL_PROCESS]: 'release' }),
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: spec.releaseCommand.timeoutSeconds,
      ttlSecondsAfterFinished: RELEASE_JOB_TTL_SECONDS,
      template: {
        metadata: {
          labels: { ...appLabels(app, spec.release.version), [LABEL_PROCESS]: 'release' },
          annotations: { [ANNOTATION_RELEASE_ID]: spec.release.id, [ANNOTATION_CONFIG_HASH]: spec.configHash },
        },
        spec: podSpec(resolved, {
          name: 'release',
          argv: spec.releaseCommand.argv,
          env: { DYNO: 'release.1', BERTH_PROCESS_TYPE: 'release', BERTH_RELEASE: `v${spec.release.version}` },
          resources: spec.releaseCommand.resources,
        }, 'Never'),
      },
    },
  };
}

/**
 * One [cron] job. concurrencyPolicy Forbid: a slot never starts while the
 * previous run goes on, and one attempt per slot (backoffLimit 0), as
 * berth's own scheduler. timeZone is set only for a zone other than UTC:
 * clusters before 1.25 lack the field (1.20 has no batch/v1 CronJob at
 * all), and there a job that needs a zone must fail to apply rather than
 * run at the controller's hour; a UTC job needs no field, UTC being what
 * the controller uses.
 */
export function cronJob(resolved: ResolvedDeployment, job: ResolvedDeployment['cron'][number]): KubeObject {
  const { spec, app } = resolved;
  const labels = { ...appLabels(app, spec.release.version), [LABEL_CRON]: job.label };
  const annotations = { [ANNOTATION_RELEASE_ID]: spec.release.id, [ANNOTATION_NAME]: job.spec.name };
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { ...objectMeta(resolved, job.name, { [LABEL_CRON]: job.label }), annotations },
    spec: {
      schedule: job.spec.schedule.trim(),
      ...(job.spec.timezone === 'UTC' ? {} : { timeZone: job.spec.timezone }),
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: CRON_STARTING_DEADLINE_SECONDS,
      successfulJobsHistoryLimit: 1,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        metadata: { labels, annotations },
        spec: {
          backoffLimit: 0,
          ...(job.spec.timeoutSeconds === null ? {} : { activeDeadlineSeconds: job.spec.timeoutSeconds }),
          template: {
            metadata: { labels, annotations: { ...annotations, [ANNOTATION_CONFIG_HASH]: spec.configHash } },
            spec: podSpec(resolved, {
              name: 'cron',
              argv: job.spec.argv,
              env: { DYNO: `scheduler.${job.spec.name}`, BERTH_PROCESS_TYPE: 'scheduler', BERTH_CRON_JOB: job.spec.name, BERTH_RELEASE: `v${spec.release.version}` },
              resources: job.spec.resources,
            }, 'Never'),
          },
        },
      },
    },
  };
}
