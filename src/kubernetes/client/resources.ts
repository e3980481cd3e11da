import { BerthError } from '../../errors.ts';

/** A Kubernetes object as JSON: what berth applies and reads back. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; resourceVersion?: string; generation?: number; uid?: string; deletionTimestamp?: string; [key: string]: unknown };
  [key: string]: unknown;
}

interface KindInfo {
  plural: string;
  namespaced: boolean;
  /** The group/versions berth can use, newest first. */
  versions: readonly string[];
}

/**
 * The kinds berth manages (and Pod, which it reads). A table rather than
 * discovery of every resource: berth only ever names these, and a typo in a
 * kind must be refused before anything reaches the cluster.
 */
export const KINDS: Readonly<Record<string, KindInfo>> = {
  Namespace: { plural: 'namespaces', namespaced: false, versions: ['v1'] },
  Secret: { plural: 'secrets', namespaced: true, versions: ['v1'] },
  ConfigMap: { plural: 'configmaps', namespaced: true, versions: ['v1'] },
  Service: { plural: 'services', namespaced: true, versions: ['v1'] },
  Pod: { plural: 'pods', namespaced: true, versions: ['v1'] },
  Deployment: { plural: 'deployments', namespaced: true, versions: ['apps/v1'] },
  Job: { plural: 'jobs', namespaced: true, versions: ['batch/v1'] },
  // batch/v1 from Kubernetes 1.21; 1.20 serves only v1beta1.
  CronJob: { plural: 'cronjobs', namespaced: true, versions: ['batch/v1', 'batch/v1beta1'] },
  Ingress: { plural: 'ingresses', namespaced: true, versions: ['networking.k8s.io/v1'] },
  // policy/v1 from Kubernetes 1.21.
  PodDisruptionBudget: { plural: 'poddisruptionbudgets', namespaced: true, versions: ['policy/v1', 'policy/v1beta1'] },
};

/** The kinds a prune looks at, in the order they are deleted: what runs first, what it uses last. */

export type ManagedKind = keyof typeof KINDS;

export function kindInfo(kind: string): KindInfo {
  const info = Object.hasOwn(KINDS, kind) ? KINDS[kind] : undefined;
  if (info === undefined) throw new BerthError('BERTH_E_KUBE_UNSUPPORTED', `berth does not manage objects of kind ${JSON.stringify(kind)}`, { hint: `berth applies ${Object.keys(KINDS).join(', ')}` });
  return info;
}

/**
 * The apiVersion to use for a kind, given what the cluster serves
 * ("apiVersion Kind" keys from KubeClient.servedKinds): the newest berth
 * knows that the cluster has.
 */
export function pickApiVersion(kind: string, served: ReadonlySet<string>): string {
  const info = kindInfo(kind);
  const version = info.versions.find((candidate) => served.has(`${candidate} ${kind}`));
  if (version === undefined) throw new BerthError('BERTH_E_KUBE_UNSUPPORTED', `the cluster serves none of ${info.versions.join(', ')} for ${kind}`, { hint: 'berth needs Kubernetes 1.20 or newer' });
  return version;
}

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const GROUP_VERSION = /^([a-z0-9.-]+\/)?v[0-9]+((alpha|beta)[0-9]+)?$/;

export function checkName(name: unknown, what: string): string {
  if (typeof name !== 'string' || !NAME.test(name)) throw new BerthError('BERTH_E_NAME', `${what} ${JSON.stringify(name)} is not a Kubernetes object name`, { hint: 'lower-case letters, digits, - and ., starting and ending with a letter or digit' });
  return name;
}

function prefix(apiVersion: string): string {
  if (!GROUP_VERSION.test(apiVersion)) throw new BerthError('BERTH_E_KUBE_UNSUPPORTED', `${JSON.stringify(apiVersion)} is not an apiVersion`);
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

/** The collection path of a kind: /apis/apps/v1/namespaces/NS/deployments. */
export function collectionPath(apiVersion: string, kind: string, namespace: string | undefined): string {
  const info = kindInfo(kind);
  if (!info.versions.includes(apiVersion)) throw new BerthError('BERTH_E_KUBE_UNSUPPORTED', `berth does not use ${kind} at ${apiVersion}`, { hint: `berth uses ${kind} at ${info.versions.join(' or ')}` });
  if (!info.namespaced) return `${prefix(apiVersion)}/${info.plural}`;
  if (namespace === undefined) return `${prefix(apiVersion)}/${info.plural}`;
  return `${prefix(apiVersion)}/namespaces/${checkName(namespace, 'the namespace')}/${info.plural}`;
}

/** The path of one object, checked: a namespaced kind needs its namespace, a cluster-wide one must have none. */
export function objectPath(object: KubeObject): string {
  if (typeof object !== 'object' || object === null || typeof object.metadata !== 'object' || object.metadata === null) throw new BerthError('BERTH_E_KUBE_INVALID', 'an object has no metadata');
  const info = kindInfo(object.kind);
  const name = checkName(object.metadata.name, `the ${object.kind} name`);
  const namespace = object.metadata.namespace;
  if (info.namespaced && namespace === undefined) throw new BerthError('BERTH_E_KUBE_INVALID', `${object.kind} ${name} has no namespace`);
  if (!info.namespaced && namespace !== undefined) throw new BerthError('BERTH_E_KUBE_INVALID', `${object.kind} ${name} is cluster-wide but names a namespace`);
  return `${collectionPath(object.apiVersion, object.kind, namespace)}/${name}`;
}

/** How an object is named in messages: Deployment shop/web. */
export function describe(object: Pick<KubeObject, 'kind' | 'metadata'>): string {
  const ns = object.metadata?.namespace;
  return `${object.kind} ${ns === undefined ? '' : `${ns}/`}${object.metadata?.name}`;
}

/** The RBAC resource and API group of a kind, for a 403's hint. */
export function rbacOf(apiVersion: string, kind: string): { group: string; resource: string } {
  const info = kindInfo(kind);
  return { group: apiVersion.includes('/') ? apiVersion.split('/')[0]! : '', resource: info.plural };
}

/** A label selector from exact matches: app.kubernetes.io/name=shop,app.kubernetes.io/managed-by=berth. */
export function labelSelector(labels: Readonly<Record<string, string>>): string {
  const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
  const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
  const parts = Object.entries(labels).map(([key, value]) => {
    if (!LABEL_KEY.test(key) || !LABEL_VALUE.test(value)) throw new BerthError('BERTH_E_NAME', `${JSON.stringify(`${key}=${value}`)} is not a label`);
    return `${key}=${value}`;
  });
  if (parts.length === 0) throw new BerthError('BERTH_E_USAGE', 'a label selector needs at least one label: berth never lists or prunes everything');
  return parts.join(',');
}

/**
 * The object as berth sends it to server-side apply. A Secret's stringData
 * becomes base64 data: stringData is write-only (the API server folds it
 * into data and never stores it), so applying it would change the Secret on
 * every apply, bumping its resourceVersion and restarting nothing but
 * confusing every "did anything change" check.
 */
export function forApply(object: KubeObject): KubeObject {
  if (object.kind !== 'Secret' || object.stringData === undefined) return object;
  const { stringData, ...rest } = object;
  const data: Record<string, string> = { ...(rest.data as Record<string, string> | undefined) };
  for (const [key, value] of Object.entries(stringData as Record<string, string>)) data[key] = Buffer.from(value, 'utf8').toString('base64');
  return { ...rest, data };
}
