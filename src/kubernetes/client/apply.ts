import { BerthError } from '../../errors.ts';
import type { KubeClient } from './client.ts';
import { LABEL_APP, LABEL_MANAGED_BY, MANAGED_BY } from '../manifests/labels.ts';
import { objectsToPrune, PRUNABLE_KINDS } from '../manifests/prune.ts';
import { describe, objectPath, pickApiVersion, type KubeObject } from './resources.ts';

export interface AppliedObject {
  object: string;
  resourceVersion: string | undefined;
}

/**
 * Applies a set of objects in order, all or nothing as far as the API
 * allows: every object is first checked locally (kind, name, namespace) and
 * then by the API server's dry run (validation, defaulting, admission), and
 * only when all pass is any applied. A Namespace is applied for real before
 * the dry run: objects in a namespace that does not exist yet fail their dry
 * run with 404, so an invalid object can leave at most an empty Namespace.
 * The first failure stops the set, naming the object.
 */
export async function applyObjects(client: KubeClient, objects: readonly KubeObject[]): Promise<AppliedObject[]> {
  for (const object of objects) objectPath(object);
  const seen = new Set<string>();
  for (const object of objects) {
    const key = objectPath(object);
    if (seen.has(key)) throw new BerthError('BERTH_E_KUBE_INVALID', `${describe(object)} appears twice in the set`, { hint: 'each object is applied once' });
    seen.add(key);
  }
  const namespaces = objects.filter((object) => object.kind === 'Namespace');
  const rest = objects.filter((object) => object.kind !== 'Namespace');
  for (const namespace of namespaces) await client.apply(namespace, { dryRun: true });
  const applied = new Map<KubeObject, KubeObject>();
  for (const namespace of namespaces) applied.set(namespace, await client.apply(namespace));
  for (const object of rest) await client.apply(object, { dryRun: true });
  for (const object of rest) applied.set(object, await client.apply(object));
  return objects.map((object) => ({ object: describe(object), resourceVersion: applied.get(object)?.metadata.resourceVersion }));
}

/** berth's labels on every object of an app (`app`: its label form, appLabel()): what a prune and `berth ps` select by. */
export function appLabels(app: string): Record<string, string> {
  return { [LABEL_APP]: app, [LABEL_MANAGED_BY]: MANAGED_BY };
}

/** Every object of the kinds berth prunes that carries the app's labels, in one namespace. */
export async function listAppObjects(client: KubeClient, namespace: string, app: string, served: ReadonlySet<string>): Promise<KubeObject[]> {
  const found: KubeObject[] = [];
  for (const kind of PRUNABLE_KINDS) {
    found.push(...await client.list(pickApiVersion(kind, served), kind, namespace, appLabels(app)));
  }
  return found;
}

/**
 * Deletes the app's objects (by berth's labels, in `namespace`) that are
 * not in `wanted`; returns what it deleted. Only objects labelled both with
 * the app's name and managed-by=berth are ever looked at, so another app's
 * objects, and objects someone else made for this app, stay.
 */
export async function pruneApp(client: KubeClient, options: { namespace: string; app: string; wanted: readonly Pick<KubeObject, 'kind' | 'metadata'>[]; served: ReadonlySet<string> }): Promise<string[]> {
  const found = (await listAppObjects(client, options.namespace, options.app, options.served)).filter((object) => object.metadata.deletionTimestamp === undefined);
  const byKey = new Map(found.map((object) => [`${object.kind}/${object.metadata.name}`, object]));
  // The manifests' rule decides (only berth's kinds and labels, never a CronJob's own Jobs).
  const doomed = objectsToPrune(options.app, options.wanted, found.map((object) => ({ kind: object.kind, name: object.metadata.name, labels: object.metadata.labels ?? {} })));
  const deleted: string[] = [];
  for (const { kind, name } of doomed) {
    const object = byKey.get(`${kind}/${name}`)!;
    if (await client.delete(object)) deleted.push(describe(object));
  }
  return deleted;
}
