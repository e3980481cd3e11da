// The labels and annotations berth puts on what it makes. The first two are
// the recommended ones (app.kubernetes.io/…), so other tools see whose
// objects they are; prune relies on both before it deletes anything.

export const LABEL_APP = 'app.kubernetes.io/name';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'berth';
export const LABEL_RELEASE = 'berth.dev/release';
export const LABEL_PROCESS = 'berth.dev/process';
/** On a CronJob and on the Jobs and pods it makes: which [cron] job. */
export const LABEL_CRON = 'berth.dev/cron';

/** The release's id (the label has its version). */
export const ANNOTATION_RELEASE_ID = 'berth.dev/release-id';
/** The process type or cron job name as berth.toml and the Procfile spell it (labels hold the mapped form). */
export const ANNOTATION_NAME = 'berth.dev/name';
/** On pod templates: a hash of the config vars, so a config change alone rolls the pods. */
export const ANNOTATION_CONFIG_HASH = 'berth.dev/config-hash';

/** On pod templates: when `berth restart` asked for fresh pods (absent until the first restart). */
export const ANNOTATION_RESTARTED_AT = 'berth.dev/restarted-at';

export type Labels = Readonly<Record<string, string>>;

/** What every object of the app carries. */
export function appLabels(app: string, version: number): Record<string, string> {
  return { [LABEL_APP]: app, [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_RELEASE]: `v${version}` };
}

/** What selects one process type's pods: never the release, since a selector cannot change. */
export function processSelector(app: string, type: string): Record<string, string> {
  return { [LABEL_APP]: app, [LABEL_PROCESS]: type };
}
