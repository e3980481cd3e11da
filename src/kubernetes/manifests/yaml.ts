import { stringify } from 'yaml';
import type { Json, KubeObject } from './object.ts';

const HEAD = ['apiVersion', 'kind', 'metadata'];

function canonical(value: Json, top: boolean): Json {
  if (Array.isArray(value)) return value.map((item: Json) => canonical(item, false));
  if (value === null || typeof value !== 'object') return value;
  const record = value as { readonly [key: string]: Json };
  const keys = Object.keys(record).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const ordered = top ? [...HEAD.filter((k) => k in record), ...keys.filter((k) => !HEAD.includes(k))] : keys;
  const out: { [key: string]: Json } = {};
  for (const key of ordered) out[key] = canonical(record[key]!, false);
  return out;
}

/**
 * Objects as one multi-document YAML stream (`berth k8s manifests`), for
 * `kubectl apply -f -` or a GitOps repository. Keys are in a fixed order
 * (apiVersion, kind, metadata, then the rest sorted, at every depth, as
 * kubectl prints them) and lines are never folded, so the same objects
 * always give the same bytes and a diff shows only what changed.
 */
export function renderManifests(objects: readonly KubeObject[]): string {
  return objects.map((object) => `---\n${stringify(canonical(object as unknown as Json, true), { lineWidth: 0, minContentWidth: 0 })}`).join('');
}
