import { LABEL_APP, LABEL_CRON, LABEL_MANAGED_BY, MANAGED_BY } from './labels.ts';
import { appLabel } from './names.ts';

/** An object as a cluster listing shows it: enough to decide, nothing more. */
export interface FoundObject {
  readonly kind: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** The kinds berth applies, in the order to delete them: what routes traffic goes before what serves it. */
export const PRUNABLE_KINDS = ['Ingress', 'PodDisruptionBudget', 'Service', 'CronJob', 'Deployment', 'Job', 'Secret'] as const;

/**
 * Which found objects to delete after `wanted` was applied: only kinds
 * berth applies, only objects labelled managed-by=berth and with this app's
 * name label, and never one that is wanted. A Job carrying the cron label
 * was made by a CronJob (whose template carries berth's labels), not by
 * berth: it is the CronJob's to clean up, and deleting it would kill a
 * running job. Pure; the result in PRUNABLE_KINDS order, then by name.
 */
export function objectsToPrune(app: string, wanted: ReadonlyArray<{ readonly kind: string; readonly metadata: { readonly name: string } }>, found: readonly FoundObject[]): FoundObject[] {
  const appName = appLabel(app);
  const keep = new Set(wanted.map((o) => `${o.kind}/${o.metadata.name}`));
  const order = (kind: string) => (PRUNABLE_KINDS as readonly string[]).indexOf(kind);
  return found
    .filter((o) => order(o.kind) >= 0
      && o.labels[LABEL_MANAGED_BY] === MANAGED_BY
      && o.labels[LABEL_APP] === appName
      && !(o.kind === 'Job' && o.labels[LABEL_CRON] !== undefined)
      && !keep.has(`${o.kind}/${o.name}`))
    .sort((a, b) => order(a.kind) - order(b.kind) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
