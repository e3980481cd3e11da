// The Kubernetes client against a real Kubernetes 1.20 API server (one per
// file, ../shared/k8s/), with the test playing the kubelet.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BerthError } from '../../src/errors.ts';
import { KubeClient, appLabels, appPods, applyObjects, loadKubeconfig, pickApiVersion, pollUntil, pruneApp, rolloutStatus, waitForJob, waitForRollout, type KubeObject } from '../../src/kubernetes/client/index.ts';
import { startCluster, startNode, type TestCluster } from '../helpers/k8s-cluster.ts';

// Registered at the top level (an after() inside before() would run after the first test), undone last first.
const undo: (() => unknown)[] = [];
const cleanups = { after: (fn: () => unknown) => void undo.push(fn) };
after(async () => {
  for (const fn of undo.reverse()) await fn();
});
let cluster: TestCluster;
let client: KubeClient;
let served: Set<string>;
const NS = 'berth-shop';

before(async () => {
  cluster = await startCluster(cleanups);
  await startNode(cleanups, cluster, {
    // Jobs named fail-* fail, other Jobs succeed, everything else runs and is ready.
    fateOf: (pod) => {
      const job = pod.metadata.labels?.['job-name'];
      if (job === undefined) return pod.metadata.labels?.['berth.dev/process'] === 'stuck' ? 'pending' : 'ready';
      return job.startsWith('fail-') ? 'fail' : 'succeed';
    },
    logs: (_ns, pod) => `running migrations for ${pod}\nerror: relation "users" already exists\n`,
  });
  client = new KubeClient(await loadKubeconfig(cluster.kubeconfig));
  cleanups.after(() => client.close());
  served = await client.servedKinds();
});

function labels(app: string, component?: string): Record<string, string> {
  return { ...appLabels(app), ...(component === undefined ? {} : { 'berth.dev/process': component }) };
}

function deployment(app: string, name: string, replicas: number, image = 'registry.test/shop@sha256:' + 'a'.repeat(64)): KubeObject {
  const selector = { 'app.kubernetes.io/name': app, 'berth.dev/process': name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS, labels: labels(app, name) },
    spec: {
      replicas,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: labels(app, name) },
        spec: { containers: [{ name, image, ports: [{ containerPort: 8080 }], envFrom: [{ secretRef: { name: `${app}-config` } }] }] },
      },
    },
  };
}

function appSet(app: string, replicas: number, config: Record<string, string> = { GREETING: 'hello' }): KubeObject[] {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'app.kubernetes.io/managed-by': 'berth' } } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: `${app}-config`, namespace: NS, labels: labels(app) }, type: 'Opaque', stringData: config },
    deployment(app, 'web', replicas),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: NS, labels: labels(app, 'web') },
      spec: { selector: { 'app.kubernetes.io/name': app, 'berth.dev/process': 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
    },
  ];
}

function job(app: string, name: string): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: NS, labels: labels(app, 'release') },
    spec: {
      backoffLimit: 0,
      template: { metadata: { labels: labels(app, 'release') }, spec: { restartPolicy: 'Never', containers: [{ name: 'release', image: 'registry.test/shop:v1', command: ['python', 'manage.py', 'migrate'] }] } },
    },
  };
}

test('discovery: Kubernetes 1.20 serves CronJob only at batch/v1beta1 and PodDisruptionBudget at policy/v1beta1', () => {
  assert.ok(served.has('v1 Secret') && served.has('apps/v1 Deployment') && served.has('batch/v1 Job'));
  assert.ok(!served.has('batch/v1 CronJob') && served.has('batch/v1beta1 CronJob'));
  assert.equal(pickApiVersion('CronJob', served), 'batch/v1beta1');
  assert.equal(pickApiVersion('PodDisruptionBudget', served), 'policy/v1beta1');
  assert.equal(pickApiVersion('Ingress', served), 'networking.k8s.io/v1');
});

test('a namespace, secret, deployment and service are applied, owned by the field manager berth', async () => {
  const first = await applyObjects(client, appSet('shop', 2));
  assert.deepEqual(first.map((applied) => applied.object), ['Namespace berth-shop', 'Secret berth-shop/shop-config', 'Deployment berth-shop/web', 'Service berth-shop/web']);
  const secret = await client.get('v1', 'Secret', NS, 'shop-config');
  assert.equal(Buffer.from((secret as any).data.GREETING, 'base64').toString(), 'hello');
  const managers = (secret!.metadata as any).managedFields.map((field: { manager: string; operation: string }) => `${field.manager}/${field.operation}`);
  assert.deepEqual(managers, ['berth/Apply']);
});

test('the rollout completes once the node has made the pods ready, berth ps sees them, and applying the same set again changes no resourceVersion', async () => {
  const done = await waitForRollout(client, NS, 'web', { timeoutMs: 90_000, intervalMs: 250 });
  assert.deepEqual(rolloutStatus(done as any), { state: 'complete' });
  assert.equal((done as any).status.readyReplicas, 2);
  const pods = await appPods(client, NS, 'shop');
  assert.equal(pods.length, 2);
  for (const pod of pods) {
    assert.equal(pod.process, 'web');
    assert.equal(pod.phase, 'Running');
    assert.equal(pod.ready, true);
    assert.equal(pod.restarts, 0);
    assert.equal(pod.node, 'node-1');
  }
  // Once the controllers are done writing status (the Deployment's last write says NewReplicaSetAvailable), applying the same set again writes nothing.
  const settled = await pollUntil(
    async () => (await client.get('apps/v1', 'Deployment', NS, 'web')) as any,
    (d) => (d.status?.conditions ?? []).some((c: any) => c.type === 'Progressing' && c.reason === 'NewReplicaSetAvailable') ? { done: true } : { done: false, reason: 'not settled' },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  assert.ok(settled.done);
  const before = await Promise.all(appSet('shop', 2).map(async (object) => (await client.get(object.apiVersion, object.kind, object.metadata.namespace, object.metadata.name))!.metadata.resourceVersion));
  const again = await applyObjects(client, appSet('shop', 2));
  assert.deepEqual(again.map((applied) => applied.resourceVersion), before);
});

test('a scale change rolls out to the new number of ready replicas', async () => {
  await applyObjects(client, appSet('shop', 3));
  const done = await waitForRollout(client, NS, 'web', { timeoutMs: 90_000, intervalMs: 250 });
  assert.equal((done as any).status.readyReplicas, 3);
  assert.equal((await appPods(client, NS, 'shop')).filter((pod) => pod.ready && pod.phase === 'Running').length, 3);
});

test('an invalid object fails the dry run: the error names it and its field, and nothing of the set is applied', async () => {
  const bad = deployment('shop', 'broken', 1);
  (bad.spec as any).template.spec.containers[0].name = 'Not_A_Name';
  const set = [
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'shop-extra', namespace: NS, labels: labels('shop') }, stringData: { A: 'b' } },
    deployment('shop', 'worker', 1),
    bad,
  ];
  await assert.rejects(applyObjects(client, set), (err: unknown) => {
    assert.ok(err instanceof BerthError);
    assert.equal(err.code, 'BERTH_E_KUBE_INVALID');
    assert.match(err.message, /Deployment berth-shop\/broken/);
    assert.match(err.message, /spec\.template\.spec\.containers\[0\]\.name/);
    return true;
  });
  assert.equal(await client.get('v1', 'Secret', NS, 'shop-extra'), undefined);
  assert.equal(await client.get('apps/v1', 'Deployment', NS, 'worker'), undefined);
});

test('a new Namespace in a refused set is the only thing left: empty', async () => {
  const bad = deployment('shop', 'broken', 1);
  bad.metadata.namespace = 'berth-later';
  (bad.spec as any).replicas = -1;
  const set: KubeObject[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'berth-later' } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'shop-config', namespace: 'berth-later', labels: labels('shop') }, stringData: { A: 'b' } },
    bad,
  ];
  await assert.rejects(applyObjects(client, set), (err: unknown) => err instanceof BerthError && err.code === 'BERTH_E_KUBE_INVALID' && /Deployment berth-later\/broken.*spec\.replicas/.test(err.message));
  assert.notEqual(await client.get('v1', 'Namespace', undefined, 'berth-later'), undefined);
  assert.equal(await client.get('v1', 'Secret', 'berth-later', 'shop-config'), undefined);
});

test('a Deployment whose pods never become ready fails its rollout at its progress deadline', async () => {
  const stuck = deployment('shop', 'stuck', 1);
  (stuck.spec as any).progressDeadlineSeconds = 1;
  await applyObjects(client, [stuck]);
  await assert.rejects(waitForRollout(client, NS, 'stuck', { timeoutMs: 90_000, intervalMs: 250 }), (err: unknown) => {
    assert.ok(err instanceof BerthError);
    assert.equal(err.code, 'BERTH_E_KUBE_ROLLOUT_FAILED');
    assert.match(err.message, /Deployment berth-shop\/stuck failed: progress deadline exceeded/);
    return true;
  });
  // berth ps shows the pod that is not ready.
  const pods = (await appPods(client, NS, 'shop')).filter((pod) => pod.process === 'stuck');
  assert.equal(pods.length, 1);
  assert.equal(pods[0]!.ready, false);
  assert.equal(pods[0]!.phase, 'Pending');
});

test('a release Job the node fails is reported failed with its last log lines; one that succeeds resolves', async () => {
  await applyObjects(client, [job('shop', 'release-v2')]);
  const succeeded = await waitForJob(client, NS, 'release-v2', { timeoutMs: 90_000, intervalMs: 250 });
  assert.equal((succeeded as any).status.succeeded, 1);

  await applyObjects(client, [job('shop', 'fail-release-v3')]);
  await assert.rejects(waitForJob(client, NS, 'fail-release-v3', { timeoutMs: 90_000, intervalMs: 250 }), (err: unknown) => {
    assert.ok(err instanceof BerthError);
    assert.equal(err.code, 'BERTH_E_KUBE_JOB_FAILED');
    assert.match(err.message, /Job berth-shop\/fail-release-v3 failed: BackoffLimitExceeded/);
    // The log came from the API server's pods/log, which asked the stand-in kubelet.
    assert.match(err.hint ?? '', /error: relation "users" already exists/);
    return true;
  });
});

test('prune deletes the objects berth no longer wants, and only berth\'s objects of this app', async () => {
  const cronJob: KubeObject = {
    apiVersion: pickApiVersion('CronJob', served),
    kind: 'CronJob',
    metadata: { name: 'nightly', namespace: NS, labels: labels('shop', 'cron') },
    spec: { schedule: '0 3 * * *', concurrencyPolicy: 'Forbid', jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'nightly', image: 'registry.test/shop:v1' }] } } } } },
  };
  const otherApp: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'blog-config', namespace: NS, labels: labels('blog') }, stringData: { A: 'b' } };
  const notBerths: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'shop-hand-made', namespace: NS, labels: { 'app.kubernetes.io/name': 'shop' } }, stringData: { A: 'b' } };
  await applyObjects(client, [cronJob, otherApp, notBerths]);

  // The new release wants only the config Secret and the web Deployment.
  const wanted = appSet('shop', 3).filter((object) => object.kind === 'Secret' || object.kind === 'Deployment');
  const deleted = await pruneApp(client, { namespace: NS, app: 'shop', wanted, served });
  assert.deepEqual(deleted.sort(), ['CronJob berth-shop/nightly', 'Deployment berth-shop/stuck', 'Job berth-shop/fail-release-v3', 'Job berth-shop/release-v2', 'Service berth-shop/web']);
  assert.equal(await client.get('v1', 'Service', NS, 'web'), undefined);
  assert.notEqual(await client.get('v1', 'Secret', NS, 'blog-config'), undefined);
  assert.notEqual(await client.get('v1', 'Secret', NS, 'shop-hand-made'), undefined);
  assert.notEqual(await client.get('v1', 'Secret', NS, 'shop-config'), undefined);
  assert.notEqual(await client.get('apps/v1', 'Deployment', NS, 'web'), undefined);
  // A second prune finds nothing more to delete (the Jobs may linger while their pods go: they are not listed again).
  assert.deepEqual(await pruneApp(client, { namespace: NS, app: 'shop', wanted, served }), []);
});

test('a client certificate signed by the cluster\'s CA authenticates (kubeconfig with certificate and key files)', async () => {
  const pki = join(cluster.dir, 'pki');
  const key = join(cluster.dir, 'berth-client.key');
  const csr = join(cluster.dir, 'berth-client.csr');
  const cert = join(cluster.dir, 'berth-client.crt');
  const ext = join(cluster.dir, 'berth-client.ext');
  await writeFile(ext, 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n');
  execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', '/O=system:masters/CN=berth-test'], { stdio: 'ignore', timeout: 15_000 });
  execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', join(pki, 'ca.crt'), '-CAkey', join(pki, 'ca.key'), '-CAcreateserial', '-days', '1', '-extfile', ext, '-out', cert], { stdio: 'ignore', timeout: 15_000 });
  const kubeconfig = join(cluster.dir, 'cert.kubeconfig');
  await writeFile(kubeconfig, [
    'apiVersion: v1', 'kind: Config', 'current-context: c',
    `clusters: [{name: k, cluster: {server: "${cluster.server}", certificate-authority: ca.crt}}]`,
    'users: [{name: u, user: {client-certificate: berth-client.crt, client-key: berth-client.key}}]',
    'contexts: [{name: c, context: {cluster: k, user: u}}]', '',
  ].join('\n'));
  const connection = await loadKubeconfig(kubeconfig);
  assert.equal(connection.token, undefined);
  const certified = new KubeClient(connection);
  after(() => certified.close());
  assert.notEqual(await certified.get('v1', 'Secret', NS, 'shop-config'), undefined);
});

test('a bad token, an unreachable server, a CA that does not fit and a missing RBAC rule give typed errors', async () => {
  const connection = await loadKubeconfig(cluster.kubeconfig);
  const badToken = new KubeClient({ ...connection, token: 'not-a-token' });
  after(() => badToken.close());
  await assert.rejects(badToken.servedKinds(), { code: 'BERTH_E_KUBE_UNAUTHORIZED' });

  const closed = new KubeClient({ ...connection, server: 'https://127.0.0.1:1' }, { timeoutMs: 5000 });
  after(() => closed.close());
  await assert.rejects(closed.servedKinds(), (err: unknown) => {
    assert.ok(err instanceof BerthError);
    assert.equal(err.code, 'BERTH_E_KUBE_UNREACHABLE');
    assert.doesNotMatch(`${err.message} ${err.hint}`, new RegExp(connection.token!));
    return true;
  });

  const wrongCa = new KubeClient({ ...connection, ca: undefined });
  after(() => wrongCa.close());
  await assert.rejects(wrongCa.servedKinds(), (err: unknown) => {
    assert.ok(err instanceof BerthError);
    assert.equal(err.code, 'BERTH_E_KUBE_UNREACHABLE');
    assert.match(err.hint ?? '', /certificate-authority/);
    return true;
  });

  // A service account with no rights: the token controller gives it a token Secret (1.20).
  const sa = await cluster.call('POST', `/api/v1/namespaces/${NS}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'powerless' } });
  assert.equal(sa.status, 201);
  let token: string | undefined;
  for (let i = 0; i < 200 && token === undefined; i++) {
    const secrets = await cluster.call('GET', `/api/v1/namespaces/${NS}/secrets?fieldSelector=${encodeURIComponent('type=kubernetes.io/service-account-token')}`);
    const mine = (secrets.json.items ?? []).find((secret: any) => secret.metadata.annotations?.['kubernetes.io/service-account.name'] === 'powerless');
    if (mine !== undefined) token = Buffer.from(mine.data.token, 'base64').toString();
    else await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.ok(token !== undefined, 'the token controller made no token for the service account');
  const kubeconfig = join(cluster.dir, 'powerless.kubeconfig');
  await writeFile(kubeconfig, [
    'apiVersion: v1', 'kind: Config', 'current-context: c',
    `clusters: [{name: k, cluster: {server: "${cluster.server}", certificate-authority: ca.crt}}]`,
    'users: [{name: u, user: {tokenFile: powerless.token}}]',
    `contexts: [{name: c, context: {cluster: k, user: u, namespace: ${NS}}}]`, '',
  ].join('\n'));
  await writeFile(join(cluster.dir, 'powerless.token'), `${token}\n`, { mode: 0o600 });
  const powerless = new KubeClient(await loadKubeconfig(kubeconfig));
  after(() => powerless.close());
  await assert.rejects(applyObjects(powerless, [appSet('shop', 1)[1]!]), (err: unknown) => {
    assert.ok(err instanceof BerthError);
    assert.equal(err.code, 'BERTH_E_KUBE_FORBIDDEN');
    assert.match(err.message, /Secret berth-shop\/shop-config/);
    assert.match(err.hint ?? '', /"patch" on "secrets" in the core API group \(""\) in namespace berth-shop/);
    return true;
  });
});
