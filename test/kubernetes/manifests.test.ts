// The Kubernetes objects berth makes for an app (src/kubernetes/manifests/):
// every field that matters, for a web-only app and a full one, each object
// checked against the Kubernetes API schemas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appObjects, configSecret, configHash, pullSecretName, registryPullSecret, type KubeObject } from '../../src/kubernetes/index.ts';
import { cpuQuantity, memoryQuantity } from '../../src/kubernetes/manifests/pod.ts';
import { assertAllValid, assertValidObject } from './schema.ts';
import { DIGEST, fullApp, VARS, webOnly } from './fixtures.ts';

// The objects are plain JSON; tests read them through `any`-free paths.
type J = Record<string, any>;
const byKind = (objects: readonly KubeObject[], kind: string) => objects.filter((o) => o.kind === kind) as unknown as J[];
const one = (objects: readonly KubeObject[], kind: string, name: string) => {
  const found = byKind(objects, kind).find((o) => o.metadata.name === name);
  assert.ok(found, `${kind} ${name} exists`);
  return found;
};

const SECURE_CONTAINER = {
  runAsNonRoot: true,
  runAsUser: 10001,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

function assertHardenedPod(pod: J, restartPolicy: string): J {
  assert.equal(pod.restartPolicy, restartPolicy);
  assert.equal(pod.automountServiceAccountToken, false);
  assert.equal(pod.enableServiceLinks, false);
  assert.deepEqual(pod.securityContext, { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } });
  assert.deepEqual(pod.volumes, [{ name: 'tmp', emptyDir: {} }]);
  assert.equal(pod.containers.length, 1);
  const container = pod.containers[0];
  assert.deepEqual(container.securityContext, SECURE_CONTAINER);
  assert.deepEqual(container.volumeMounts, [{ name: 'tmp', mountPath: '/tmp' }]);
  assert.match(container.image, /@sha256:[0-9a-f]{64}$/);
  assert.deepEqual(container.envFrom, [{ secretRef: { name: 'shop-config' } }]);
  return container;
}

function envOf(container: J): Record<string, unknown> {
  return Object.fromEntries(container.env.map((e: J) => [e.name, e.value ?? e.valueFrom]));
}

test('a web-only app: a Deployment, a Service and a PodDisruptionBudget, all valid by the API schemas', () => {
  const objects = appObjects(webOnly());
  assertAllValid(objects);
  assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`), ['Deployment/shop--web', 'Service/shop--web', 'PodDisruptionBudget/shop--web']);
  for (const o of objects) {
    assert.equal(o.metadata.namespace, 'berth-apps');
    assert.equal(o.metadata.labels['app.kubernetes.io/name'], 'shop');
    assert.equal(o.metadata.labels['app.kubernetes.io/managed-by'], 'berth');
    assert.equal(o.metadata.labels['berth.dev/release'], 'v3');
    assert.equal(o.metadata.labels['berth.dev/process'], 'web');
    assert.equal(o.metadata.annotations?.['berth.dev/release-id'], 'rel_3f9a');
  }

  const deployment = one(objects, 'Deployment', 'shop--web');
  assert.equal(deployment.spec.replicas, 1);
  assert.equal(deployment.spec.revisionHistoryLimit, 5);
  assert.deepEqual(deployment.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
  // The selector never names the release: a selector cannot change, and every release must match it.
  assert.deepEqual(deployment.spec.selector, { matchLabels: { 'app.kubernetes.io/name': 'shop', 'berth.dev/process': 'web' } });
  const template = deployment.spec.template;
  for (const [key, value] of Object.entries(deployment.spec.selector.matchLabels)) assert.equal(template.metadata.labels[key], value);
  assert.equal(template.metadata.labels['berth.dev/release'], 'v3');
  assert.equal(template.metadata.annotations['berth.dev/config-hash'], configHash(VARS));
  assert.equal(template.metadata.annotations['berth.dev/name'], 'web');
  const container = assertHardenedPod(template.spec, 'Always');
  assert.equal(container.name, 'web');
  assert.equal(container.image, `registry.example.com:5000/berth/shop@${DIGEST}`);
  assert.deepEqual(container.command, ['node', 'server.js']);
  assert.equal(container.args, undefined, 'the Procfile command is the whole argv');
  assert.deepEqual(container.ports, [{ name: 'http', containerPort: 5000, protocol: 'TCP' }]);
  assert.deepEqual(envOf(container), {
    DYNO: 'web', BERTH_PROCESS_TYPE: 'web', BERTH_RELEASE: 'v3', PORT: '5000', HOME: '/tmp',
    BERTH_INSTANCE: { fieldRef: { fieldPath: 'metadata.name' } },
  });
  assert.deepEqual(container.resources, {}, 'no [resources]: no requests or limits');
  // Without [health], every probe connects to the port.
  for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
    assert.deepEqual(container[probe].tcpSocket, { port: 'http' }, probe);
    assert.equal(container[probe].httpGet, undefined, probe);
  }

  const service = one(objects, 'Service', 'shop--web');
  assert.deepEqual(service.spec, {
    type: 'ClusterIP',
    selector: { 'app.kubernetes.io/name': 'shop', 'berth.dev/process': 'web' },
    ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
  });
  const budget = one(objects, 'PodDisruptionBudget', 'shop--web');
  assert.deepEqual(budget.spec, { maxUnavailable: 1, selector: { matchLabels: { 'app.kubernetes.io/name': 'shop', 'berth.dev/process': 'web' } } });
});

test('a full app: web and worker, the release Job, three Ingresses (cert-manager, a Secret, none) and two CronJobs, all valid', () => {
  const objects = appObjects(fullApp());
  assertAllValid(objects);
  assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`), [
    'Job/shop--release-v12',
    'Deployment/shop--web',
    'Deployment/shop--worker',
    'Service/shop--web',
    'PodDisruptionBudget/shop--web',
    'Ingress/shop--shop-example-com',
    'Ingress/shop--wildcard-shop-example-org',
    'Ingress/shop--plain-example-net',
    'CronJob/shop--cron-nightly',
    'CronJob/shop--cron-hourly-report',
  ]);
  for (const o of objects) {
    assert.equal(o.metadata.labels['app.kubernetes.io/managed-by'], 'berth');
    assert.equal(o.metadata.labels['app.kubernetes.io/name'], 'shop');
    assert.equal(o.metadata.labels['berth.dev/release'], 'v12');
  }

  const web = one(objects, 'Deployment', 'shop--web');
  assert.equal(web.spec.replicas, 3);
  const webContainer = assertHardenedPod(web.spec.template.spec, 'Always');
  assert.deepEqual(webContainer.resources, { requests: { cpu: '500m', memory: '512Mi' }, limits: { cpu: '500m', memory: '512Mi' } });
  assert.deepEqual(webContainer.readinessProbe.httpGet, { path: '/healthz', port: 'http', scheme: 'HTTP' });
  assert.deepEqual(webContainer.livenessProbe.httpGet, { path: '/healthz', port: 'http', scheme: 'HTTP' });
  assert.deepEqual(webContainer.startupProbe.httpGet, { path: '/healthz', port: 'http', scheme: 'HTTP' });

  const worker = one(objects, 'Deployment', 'shop--worker');
  assert.equal(worker.metadata.labels['berth.dev/process'], 'worker');
  assert.equal(worker.spec.replicas, 2);
  const workerContainer = assertHardenedPod(worker.spec.template.spec, 'Always');
  assert.deepEqual(workerContainer.resources.limits, { cpu: '250m', memory: '256Mi' });
  assert.equal(workerContainer.ports, undefined, 'only web listens');
  for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) assert.equal(workerContainer[probe], undefined);
  const workerEnv = envOf(workerContainer);
  assert.equal(workerEnv.DYNO, 'worker');
  assert.equal(workerEnv.PORT, undefined);

  const job = one(objects, 'Job', 'shop--release-v12');
  assert.equal(job.metadata.labels['berth.dev/process'], 'release');
  assert.equal(job.spec.backoffLimit, 0);
  assert.equal(job.spec.activeDeadlineSeconds, 900);
  assert.equal(job.spec.ttlSecondsAfterFinished, 86400);
  const jobContainer = assertHardenedPod(job.spec.template.spec, 'Never');
  assert.deepEqual(jobContainer.command, ['python', 'manage.py', 'migrate']);
  assert.equal(envOf(jobContainer).DYNO, 'release.1');
  assert.equal(job.spec.template.metadata.annotations['berth.dev/config-hash'], configHash(VARS));

  const certManager = one(objects, 'Ingress', 'shop--shop-example-com');
  assert.equal(certManager.metadata.annotations['cert-manager.io/cluster-issuer'], 'letsencrypt-prod');
  assert.equal(certManager.spec.ingressClassName, 'nginx');
  assert.deepEqual(certManager.spec.tls, [{ hosts: ['shop.example.com'], secretName: 'shop--shop-example-com-tls' }]);
  assert.deepEqual(certManager.spec.rules, [{
    host: 'shop.example.com',
    http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'shop--web', port: { number: 80 } } } }] },
  }]);
  const ownSecret = one(objects, 'Ingress', 'shop--wildcard-shop-example-org');
  assert.deepEqual(ownSecret.spec.tls, [{ hosts: ['*.shop.example.org'], secretName: 'shop-wildcard-cert' }]);
  assert.equal(Object.keys(ownSecret.metadata.annotations).some((k) => k.startsWith('cert-manager.io/')), false);
  const plain = one(objects, 'Ingress', 'shop--plain-example-net');
  assert.equal(plain.spec.tls, undefined);

  const nightly = one(objects, 'CronJob', 'shop--cron-nightly');
  assert.equal(nightly.spec.schedule, '0 3 * * *');
  assert.equal(nightly.spec.timeZone, 'Europe/Berlin');
  assert.equal(nightly.spec.concurrencyPolicy, 'Forbid');
  assert.equal(nightly.spec.jobTemplate.spec.backoffLimit, 0);
  assert.equal(nightly.spec.jobTemplate.spec.activeDeadlineSeconds, 600);
  assert.equal(nightly.metadata.labels['berth.dev/cron'], 'nightly');
  assert.equal(nightly.spec.jobTemplate.metadata.labels['berth.dev/cron'], 'nightly');
  const cronContainer = assertHardenedPod(nightly.spec.jobTemplate.spec.template.spec, 'Never');
  assert.deepEqual(cronContainer.command, ['python', 'manage.py', 'purge']);
  assert.equal(envOf(cronContainer).DYNO, 'scheduler.nightly');
  assert.equal(envOf(cronContainer).BERTH_CRON_JOB, 'nightly');

  const hourly = one(objects, 'CronJob', 'shop--cron-hourly-report');
  assert.equal(hourly.spec.schedule, '@hourly');
  assert.equal(hourly.spec.timeZone, undefined, 'UTC is the controller default: no field, so clusters without timeZone take it');
  assert.equal(hourly.spec.jobTemplate.spec.activeDeadlineSeconds, undefined);
  assert.equal(hourly.metadata.annotations['berth.dev/name'], 'hourly_report');
});

test('an Issuer (not a ClusterIssuer) gets the namespaced cert-manager annotation', () => {
  const objects = appObjects(webOnly({ domains: [{ host: 'a.example.com', tls: { mode: 'cert-manager', issuer: 'local-ca', issuerKind: 'Issuer' } }] }));
  assertAllValid(objects);
  const ingress = one(objects, 'Ingress', 'shop--a-example-com');
  assert.equal(ingress.metadata.annotations['cert-manager.io/issuer'], 'local-ca');
  assert.equal(ingress.metadata.annotations['cert-manager.io/cluster-issuer'], undefined);
  assert.equal(ingress.spec.ingressClassName, undefined, 'no class: the cluster default');
});

test('scaled to zero and a worker-only app still make valid objects; without web there is no Service, budget or Ingress', () => {
  assertAllValid(appObjects(webOnly({ processes: [{ name: 'web', argv: ['x'], replicas: 0, resources: { memoryBytes: null, cpu: null } }] })));
  const objects = appObjects(webOnly({ processes: [{ name: 'worker', argv: ['x'], replicas: 1, resources: { memoryBytes: 64 * 1024 * 1024, cpu: 0.001 } }] }));
  assertAllValid(objects);
  assert.deepEqual(objects.map((o) => o.kind), ['Deployment']);
  const container = (objects[0] as J).spec.template.spec.containers[0];
  assert.equal(container.resources.limits.cpu, '1m', 'the smallest CPU Kubernetes can express');
});

test('quantities in the form the API server prints them', () => {
  assert.deepEqual([1, 2, 0.5, 0.25, 1.5, 0.0001].map(cpuQuantity), ['1', '2', '500m', '250m', '1500m', '1m']);
  assert.deepEqual([16 * 2 ** 20, 2 ** 30, 3 * 2 ** 40, 1536, 2048, 1000, 2 ** 20 + 1].map(memoryQuantity), ['16Mi', '1Gi', '3Ti', '1536', '2Ki', '1000', '1048577']);
});

test('the config Secret: Opaque, base64 data in sorted key order, the hash annotated, valid', () => {
  const secret = configSecret(fullApp(), { ZED: 'last', DATABASE_URL: 'postgres://u:p@db/app', UNICODE: 'grüße ✓', EMPTY: '' });
  assertValidObject(secret);
  const s = secret as unknown as J;
  assert.equal(s.metadata.name, 'shop-config');
  assert.equal(s.type, 'Opaque');
  assert.equal(s.stringData, undefined);
  assert.deepEqual(Object.keys(s.data), ['DATABASE_URL', 'EMPTY', 'UNICODE', 'ZED']);
  assert.equal(Buffer.from(s.data.UNICODE, 'base64').toString('utf8'), 'grüße ✓');
  assert.equal(s.data.EMPTY, '');
  assert.equal(s.metadata.labels['app.kubernetes.io/managed-by'], 'berth');
  assert.equal(s.metadata.labels['berth.dev/release'], 'v12');
  assert.equal(s.metadata.annotations['berth.dev/config-hash'], configHash({ ZED: 'last', DATABASE_URL: 'postgres://u:p@db/app', UNICODE: 'grüße ✓', EMPTY: '' }));
  assert.ok(!JSON.stringify(appObjects(fullApp())).includes('s3cret'), 'no value reaches the other objects');
});

test('a private registry: one pull Secret per app (dockerconfigjson), named by every pod template, valid', () => {
  const spec = { ...fullApp(), imagePullSecret: pullSecretName('shop') };
  const secret = registryPullSecret(spec, 'registry.example.com:5000', { username: 'robot', password: 'pa:ss' });
  assertValidObject(secret);
  const s = secret as unknown as J;
  assert.equal(s.metadata.name, 'shop--registry');
  assert.equal(s.type, 'kubernetes.io/dockerconfigjson');
  const config = JSON.parse(Buffer.from(s.data['.dockerconfigjson'], 'base64').toString());
  assert.deepEqual(config.auths['registry.example.com:5000'], { username: 'robot', password: 'pa:ss', auth: Buffer.from('robot:pa:ss').toString('base64') });
  const objects = appObjects(spec);
  assertAllValid(objects);
  const templates = objects.flatMap((o) => {
    const spec = o.spec as J;
    return o.kind === 'Deployment' || o.kind === 'Job' ? [spec.template.spec] : o.kind === 'CronJob' ? [spec.jobTemplate.spec.template.spec] : [];
  });
  assert.ok(templates.length >= 4);
  for (const pod of templates) assert.deepEqual(pod.imagePullSecrets, [{ name: 'shop--registry' }]);
  assert.ok(!JSON.stringify(objects).includes('pa:ss'), 'the password is only in the pull Secret');
  assert.equal((appObjects(fullApp()).find((o) => o.kind === 'Deployment')!.spec as J).template.spec.imagePullSecrets, undefined, 'none without credentials');
});

test('the config hash: the same for the same vars in any order, different for any change of a key or a value', () => {
  assert.equal(configHash({ A: '1', B: '2' }), configHash({ B: '2', A: '1' }));
  const base = configHash(VARS);
  assert.match(base, /^[0-9a-f]{64}$/);
  const changes = [
    { ...VARS, SECRET_KEY_BASE: 's3cret2' },
    { ...VARS, NEW: '' },
    Object.fromEntries(Object.entries(VARS).filter(([k]) => k !== 'A_FIRST')),
    {},
  ];
  const hashes = new Set([base, ...changes.map(configHash)]);
  assert.equal(hashes.size, changes.length + 1);
  // Text moved across the key/value boundary is a different config.
  assert.notEqual(configHash({ AB: 'C' }), configHash({ A: 'BC' }));
  // So is a changed value a changed pod template, which rolls the pods.
  const before = appObjects(webOnly());
  const after = appObjects(webOnly({ configHash: configHash({ ...VARS, SECRET_KEY_BASE: 'rotated' }) }));
  const hash = (objects: KubeObject[]) => (objects[0] as J).spec.template.metadata.annotations['berth.dev/config-hash'];
  assert.notEqual(hash(before), hash(after));
});

test('the schema check bites: a broken object is refused', () => {
  const [deployment] = appObjects(webOnly()) as unknown as J[];
  const broken = structuredClone(deployment!);
  broken.spec.template.spec.containers[0].ports[0].containerPort = 'http';
  assert.throws(() => assertValidObject(broken as KubeObject));
  const noSelector = structuredClone(deployment!);
  delete noSelector.spec.selector;
  assert.throws(() => assertValidObject(noSelector as KubeObject));
  assert.throws(() => assertValidObject({ ...deployment!, apiVersion: 'extensions/v1beta1' } as KubeObject), /apiVersion/);
  // A misspelt field passes the schemas but not the field check.
  const misspelt = structuredClone(deployment!);
  misspelt.spec.template.spec.containers[0].readinesProbe = misspelt.spec.template.spec.containers[0].readinessProbe;
  misspelt.spec.template.metadata.labelz = {};
  assert.throws(() => assertValidObject(misspelt as KubeObject), /readinesProbe[^]*labelz|labelz[^]*readinesProbe/);
});
