// `berth k8s manifests` YAML (the same spec gives the same bytes, documents
// that parse back to the objects) and prune selection (never another app's
// objects, never ones berth does not manage).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { appObjects, configSecret, objectsToPrune, renderManifests, type FoundObject, type KubeObject } from '../../src/kubernetes/index.ts';
import { assertAllValid } from './schema.ts';
import { fullApp, VARS, webOnly } from './fixtures.ts';

test('the same spec gives byte-identical YAML, whatever order the spec lists its vars in', () => {
  const first = renderManifests([configSecret(fullApp(), VARS), ...appObjects(fullApp())]);
  const reordered = Object.fromEntries(Object.entries(VARS).reverse());
  const second = renderManifests([configSecret(fullApp(), reordered), ...appObjects(fullApp())]);
  assert.equal(first, second);
  assert.equal(renderManifests(appObjects(fullApp())), renderManifests(appObjects(fullApp())));
  assert.notEqual(renderManifests(appObjects(fullApp())), renderManifests(appObjects(fullApp({ release: { version: 13, id: 'rel_0c1d' } }))));
});

test('the YAML is one document per object, apiVersion, kind and metadata first, the rest sorted, and parses back to the objects', () => {
  const objects: KubeObject[] = [configSecret(fullApp(), VARS), ...appObjects(fullApp())];
  const text = renderManifests(objects);
  const documents = parseAllDocuments(text);
  assert.equal(documents.length, objects.length);
  const parsed = documents.map((d) => {
    assert.deepEqual(d.errors, []);
    return d.toJS() as KubeObject;
  });
  assert.deepEqual(parsed, objects);
  assertAllValid(parsed);
  for (const document of text.split(/^---\n/m).slice(1)) {
    assert.match(document, /^apiVersion: .+\nkind: .+\nmetadata:\n/);
  }
  // Keys sorted at every depth below the top.
  const assertSorted = (value: unknown, where: string): void => {
    if (Array.isArray(value)) value.forEach((item, i) => assertSorted(item, `${where}[${i}]`));
    else if (value !== null && typeof value === 'object') {
      const keys = Object.keys(value);
      assert.deepEqual(keys, [...keys].sort(), where);
      for (const [key, child] of Object.entries(value)) assertSorted(child, `${where}.${key}`);
    }
  };
  for (const object of parsed) {
    const { apiVersion, kind, metadata, ...rest } = object;
    assert.deepEqual(Object.keys(object).slice(0, 3), ['apiVersion', 'kind', 'metadata']);
    assertSorted(metadata, `${kind} ${apiVersion} metadata`);
    assertSorted(rest, `${kind} ${apiVersion}`);
  }
  // Strings that look like numbers stay strings (PORT, memory amounts).
  assert.match(text, /value: "5000"/);
  // No line is folded, however long.
  assert.ok(text.split('\n').some((line) => line.length > 80));
  assert.ok(text.endsWith('\n'));
  assert.equal(renderManifests([]), '');
});

const BERTH = { 'app.kubernetes.io/managed-by': 'berth' };
const found = (kind: string, name: string, labels: Record<string, string>): FoundObject => ({ kind, name, labels });

test('prune deletes only what this app no longer wants, of kinds berth applies, managed by berth and labelled with this app', () => {
  const wanted = [configSecret(webOnly(), VARS), ...appObjects(webOnly())];
  const mine = { ...BERTH, 'app.kubernetes.io/name': 'shop' };
  const cluster: FoundObject[] = [
    ...wanted.map((o) => found(o.kind, o.metadata.name, o.metadata.labels)),
    found('Deployment', 'shop--worker', { ...mine, 'berth.dev/process': 'worker' }),
    found('Ingress', 'shop--old-example-com', mine),
    found('Job', 'shop--release-v2', { ...mine, 'berth.dev/process': 'release' }),
    found('CronJob', 'shop--cron-gone', { ...mine, 'berth.dev/cron': 'gone' }),
    // Another app's objects, even with a name this app could have.
    found('Deployment', 'shop-web-2', { ...BERTH, 'app.kubernetes.io/name': 'shop--web' }),
    found('Service', 'blog-web', { ...BERTH, 'app.kubernetes.io/name': 'blog' }),
    // This app's name but not managed by berth (someone's own objects), or managed by another tool.
    found('Deployment', 'shop--sidecar', { 'app.kubernetes.io/name': 'shop' }),
    found('ConfigMap', 'shop-extra', { 'app.kubernetes.io/name': 'shop', 'app.kubernetes.io/managed-by': 'Helm' }),
    found('Service', 'shop--helm', { 'app.kubernetes.io/name': 'shop', 'app.kubernetes.io/managed-by': 'Helm' }),
    // Kinds berth never applies, even with berth's labels (a Deployment's ReplicaSets and pods carry them).
    found('ReplicaSet', 'shop--web-5d8f7', mine),
    found('Pod', 'shop--web-5d8f7-abcde', mine),
    // A Job a berth CronJob made: the CronJob's, and maybe running.
    found('Job', 'shop--cron-nightly-28012345', { ...mine, 'berth.dev/cron': 'nightly' }),
    // No labels at all.
    found('Secret', 'default-token', {}),
  ];
  const pruned = objectsToPrune('shop', wanted, cluster);
  assert.deepEqual(pruned.map((o) => `${o.kind}/${o.name}`), ['Ingress/shop--old-example-com', 'CronJob/shop--cron-gone', 'Deployment/shop--worker', 'Job/shop--release-v2']);
  for (const o of pruned) {
    assert.equal(o.labels['app.kubernetes.io/managed-by'], 'berth');
    assert.equal(o.labels['app.kubernetes.io/name'], 'shop');
  }
  assert.deepEqual(objectsToPrune('shop', wanted, wanted.map((o) => found(o.kind, o.metadata.name, o.metadata.labels))), [], 'nothing wanted is pruned');
  assert.deepEqual(objectsToPrune('blog', wanted, cluster).map((o) => o.name), ['blog-web'], 'another app prunes only its own');
});

test('prune compares with the app label as berth writes it: a hostile app name prunes its own objects and no one else\'s', () => {
  const spec = fullApp({ app: `Shop_${'x'.repeat(65)}` });
  const wanted = appObjects(spec);
  const label = wanted[0]!.metadata.labels['app.kubernetes.io/name']!;
  const cluster = [
    found('Deployment', 'gone', { ...BERTH, 'app.kubernetes.io/name': label }),
    found('Deployment', 'other', { ...BERTH, 'app.kubernetes.io/name': spec.app }),
    found('Deployment', 'other2', { ...BERTH, 'app.kubernetes.io/name': label.slice(0, 62) }),
  ];
  assert.deepEqual(objectsToPrune(spec.app, wanted, cluster).map((o) => o.name), ['gone']);
});

test('prune selection never picks another app\'s or an unmanaged object, over many generated clusters', () => {
  // A small deterministic generator: labels drawn from near-misses of the right ones.
  let seed = 42;
  const next = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const kinds = ['Deployment', 'Service', 'Ingress', 'Job', 'CronJob', 'Secret', 'PodDisruptionBudget', 'Pod', 'ReplicaSet', 'ConfigMap'];
  const apps = ['shop', 'shop-2', 'Shop', 'sho', 'blog', ''];
  const managers = ['berth', 'Berth', 'helm', ''];
  const wanted = appObjects(fullApp());
  for (let round = 0; round < 200; round++) {
    const cluster: FoundObject[] = [];
    for (let i = 0; i < 20; i++) {
      const labels: Record<string, string> = {};
      const app = apps[next(apps.length)]!;
      const manager = managers[next(managers.length)]!;
      if (app !== '') labels['app.kubernetes.io/name'] = app;
      if (manager !== '') labels['app.kubernetes.io/managed-by'] = manager;
      if (next(4) === 0) labels['berth.dev/cron'] = 'nightly';
      cluster.push(found(kinds[next(kinds.length)]!, next(2) === 0 ? wanted[next(wanted.length)]!.metadata.name : `obj-${i}`, labels));
    }
    for (const o of objectsToPrune('shop', wanted, cluster)) {
      assert.equal(o.labels['app.kubernetes.io/name'], 'shop');
      assert.equal(o.labels['app.kubernetes.io/managed-by'], 'berth');
      assert.ok(['Deployment', 'Service', 'Ingress', 'Job', 'CronJob', 'Secret', 'PodDisruptionBudget'].includes(o.kind));
      assert.ok(!wanted.some((w) => w.kind === o.kind && w.metadata.name === o.name));
      assert.ok(!(o.kind === 'Job' && o.labels['berth.dev/cron'] !== undefined));
    }
  }
});
