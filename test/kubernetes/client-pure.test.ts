// The Kubernetes client's pure parts: kubeconfig, paths, errors, rollout
// and Job states, pods, what a prune deletes, the waiter's deadline.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BerthError } from '../../src/errors.ts';
import { apiError, collectionPath, jobStatus, labelSelector, loadKubeconfig, objectPath, parseKubeconfig, pickApiVersion, podSummary, pollUntil, rolloutStatus, type Clock, type KubeObject, type RequestContext } from '../../src/kubernetes/client/index.ts';
import { forApply } from '../../src/kubernetes/client/resources.ts';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const PEM64 = Buffer.from(PEM).toString('base64');

function kubeconfig(user: string, cluster = `server: https://k8s.example:6443\n      certificate-authority-data: ${PEM64}`, extra = ''): string {
  return `apiVersion: v1
kind: Config
current-context: prod
clusters:
  - name: c1
    cluster:
      ${cluster}
users:
  - name: u1
    user:
${user.split('\n').map((line) => `      ${line}`).join('\n')}
contexts:
  - name: prod
    context: {cluster: c1, user: u1, namespace: apps}
  - name: other
    context: {cluster: missing, user: u1}
${extra}`;
}

function configError(pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof BerthError);
    assert.equal(err.code, 'BERTH_E_KUBE_CONFIG');
    assert.match(err.message, pattern);
    return true;
  };
}

test('kubeconfig: the current context gives the server, namespace, embedded CA and token', () => {
  const spec = parseKubeconfig(kubeconfig('token: abc.def-123'), '/etc/berth');
  assert.deepEqual(spec, { context: 'prod', server: 'https://k8s.example:6443', namespace: 'apps', ca: { pem: PEM }, insecureSkipTlsVerify: false, auth: { kind: 'token', token: 'abc.def-123' } });
});

test('kubeconfig: files are resolved against the kubeconfig\'s folder; client certificates and token files', () => {
  const spec = parseKubeconfig(kubeconfig('client-certificate: certs/me.crt\nclient-key: /abs/me.key', 'server: https://k8s.example\n      certificate-authority: ca.crt'), '/etc/berth');
  assert.deepEqual(spec.ca, { file: '/etc/berth/ca.crt' });
  assert.deepEqual(spec.auth, { kind: 'client-certificate', cert: { file: '/etc/berth/certs/me.crt' }, key: { file: '/abs/me.key' } });
  assert.deepEqual(parseKubeconfig(kubeconfig('tokenFile: ../token'), '/etc/berth').auth, { kind: 'token-file', file: '/etc/token' });
  assert.equal(parseKubeconfig(kubeconfig('token: t', 'server: https://k8s.example/\n      insecure-skip-tls-verify: true'), '/x').insecureSkipTlsVerify, true);
});

test('kubeconfig: exec plugins and auth providers are refused with what to use instead', () => {
  for (const user of ['exec:\n  apiVersion: client.authentication.k8s.io/v1beta1\n  command: aws', 'auth-provider:\n  name: gcp']) {
    assert.throws(() => parseKubeconfig(kubeconfig(user), '/x'), (err: unknown) => {
      assert.ok(err instanceof BerthError);
      assert.equal(err.code, 'BERTH_E_KUBE_CONFIG');
      assert.match(err.message, /exec plugin|auth-provider/);
      assert.match(err.hint ?? '', /token.*service account|service account token/);
      return true;
    });
  }
});

test('kubeconfig: what cannot be used is refused, naming what is wrong', () => {
  assert.throws(() => parseKubeconfig('{', '/x'), configError(/not valid YAML/));
  assert.throws(() => parseKubeconfig('- a\n- b\n', '/x'), configError(/not a YAML mapping/));
  assert.throws(() => parseKubeconfig(kubeconfig('token: t').replace('current-context: prod', ''), '/x'), configError(/no current-context/));
  assert.throws(() => parseKubeconfig(kubeconfig('token: t'), '/x', { context: 'nope' }), configError(/no context named "nope"/));
  assert.throws(() => parseKubeconfig(kubeconfig('token: t'), '/x', { context: 'other' }), configError(/no cluster named "missing"/));
  assert.throws(() => parseKubeconfig(kubeconfig('token: t', 'server: http://k8s.example'), '/x'), configError(/not https/));
  assert.throws(() => parseKubeconfig(kubeconfig('token: t', 'server: https://u:p@k8s.example'), '/x'), configError(/carries credentials/));
  assert.throws(() => parseKubeconfig(kubeconfig('token: t', 'certificate-authority-data: x'), '/x'), configError(/has no server/));
  assert.throws(() => parseKubeconfig(kubeconfig('token: t', `server: https://k\n      certificate-authority-data: ${Buffer.from('nope').toString('base64')}`), '/x'), configError(/not base64 of a PEM/));
  assert.throws(() => parseKubeconfig(kubeconfig('username: a\npassword: b'), '/x'), configError(/username and password/));
  assert.throws(() => parseKubeconfig(kubeconfig('client-certificate: a.crt'), '/x'), configError(/without its key/));
  assert.throws(() => parseKubeconfig(kubeconfig('{}'), '/x'), configError(/no token and no client certificate/));
  assert.throws(() => parseKubeconfig(kubeconfig('token: "a b"'), '/x'), configError(/not a valid bearer token/));
  // Aliases that expand exponentially (a "billion laughs") are cut off, not expanded.
  const bomb = ['l0: &l0 [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, i) => `l${i + 1}: &l${i + 1} [${Array(10).fill(`*l${i}`).join(', ')}]`)].join('\n');
  assert.throws(() => parseKubeconfig(`${kubeconfig('token: t')}${bomb}\n`, '/x'), configError(/not valid YAML/));
});

test('kubeconfig: loading reads the files it names, and says which one cannot be read', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-kubeconfig-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'ca.crt'), PEM);
  await writeFile(join(dir, 'token'), ' secret-token\n', { mode: 0o600 });
  await writeFile(join(dir, 'config'), kubeconfig('tokenFile: token', 'server: https://k8s.example\n      certificate-authority: ca.crt'));
  const connection = await loadKubeconfig(join(dir, 'config'));
  assert.deepEqual(connection, { server: 'https://k8s.example', namespace: 'apps', ca: PEM, insecureSkipTlsVerify: false, token: 'secret-token', tokenFile: join(dir, 'token'), clientCert: undefined });
  await writeFile(join(dir, 'config'), kubeconfig('tokenFile: gone', 'server: https://k8s.example'));
  await assert.rejects(loadKubeconfig(join(dir, 'config')), configError(/token file .*gone cannot be read: ENOENT/));
  await assert.rejects(loadKubeconfig(join(dir, 'nothing')), configError(/kubeconfig .*nothing cannot be read/));
  await writeFile(join(dir, 'ca.crt'), 'not a certificate');
  await writeFile(join(dir, 'config'), kubeconfig('token: t', 'server: https://k8s.example\n      certificate-authority: ca.crt'));
  await assert.rejects(loadKubeconfig(join(dir, 'config')), configError(/holds no PEM certificate/));
});

test('paths: each kind at its group/version, namespaced or cluster-wide, names checked', () => {
  const obj = (apiVersion: string, kind: string, name: string, namespace?: string): KubeObject => ({ apiVersion, kind, metadata: { name, ...(namespace === undefined ? {} : { namespace }) } });
  assert.equal(objectPath(obj('v1', 'Namespace', 'shop')), '/api/v1/namespaces/shop');
  assert.equal(objectPath(obj('v1', 'Secret', 'cfg', 'shop')), '/api/v1/namespaces/shop/secrets/cfg');
  assert.equal(objectPath(obj('apps/v1', 'Deployment', 'web', 'shop')), '/apis/apps/v1/namespaces/shop/deployments/web');
  assert.equal(objectPath(obj('batch/v1beta1', 'CronJob', 'nightly', 'shop')), '/apis/batch/v1beta1/namespaces/shop/cronjobs/nightly');
  assert.equal(objectPath(obj('networking.k8s.io/v1', 'Ingress', 'www.example.com', 'shop')), '/apis/networking.k8s.io/v1/namespaces/shop/ingresses/www.example.com');
  assert.equal(objectPath(obj('policy/v1beta1', 'PodDisruptionBudget', 'web', 'shop')), '/apis/policy/v1beta1/namespaces/shop/poddisruptionbudgets/web');
  assert.equal(collectionPath('v1', 'Pod', 'shop'), '/api/v1/namespaces/shop/pods');
  const refused = (object: KubeObject, code: string) => assert.throws(() => objectPath(object), { code });
  refused(obj('v1', 'Secret', 'cfg'), 'BERTH_E_KUBE_INVALID');
  refused(obj('v1', 'Namespace', 'shop', 'shop'), 'BERTH_E_KUBE_INVALID');
  refused(obj('v1', 'Secret', '../etc', 'shop'), 'BERTH_E_NAME');
  refused(obj('v1', 'Secret', 'Cfg', 'shop'), 'BERTH_E_NAME');
  refused(obj('v1', 'Secret', 'cfg', 'a/b'), 'BERTH_E_NAME');
  refused(obj('v1', 'ClusterRoleBinding', 'x'), 'BERTH_E_KUBE_UNSUPPORTED');
  refused(obj('v1', 'constructor', 'x'), 'BERTH_E_KUBE_UNSUPPORTED');
  refused(obj('apps/v1beta1', 'Deployment', 'web', 'shop'), 'BERTH_E_KUBE_UNSUPPORTED');
});

test('versions: the newest version berth knows that the cluster serves for the kind', () => {
  const v120 = new Set(['batch/v1 Job', 'batch/v1beta1 CronJob', 'policy/v1beta1 PodDisruptionBudget']);
  const v125 = new Set(['batch/v1 Job', 'batch/v1 CronJob', 'policy/v1 PodDisruptionBudget']);
  assert.equal(pickApiVersion('CronJob', v120), 'batch/v1beta1');
  assert.equal(pickApiVersion('CronJob', v125), 'batch/v1');
  assert.equal(pickApiVersion('PodDisruptionBudget', v120), 'policy/v1beta1');
  assert.equal(pickApiVersion('PodDisruptionBudget', v125), 'policy/v1');
  assert.throws(() => pickApiVersion('Ingress', v120), { code: 'BERTH_E_KUBE_UNSUPPORTED' });
});

test('label selectors: exact matches joined; malformed labels and an empty selector refused', () => {
  assert.equal(labelSelector({ 'app.kubernetes.io/name': 'shop', 'app.kubernetes.io/managed-by': 'berth' }), 'app.kubernetes.io/name=shop,app.kubernetes.io/managed-by=berth');
  assert.throws(() => labelSelector({}), { code: 'BERTH_E_USAGE' });
  assert.throws(() => labelSelector({ a: 'x,b=y' }), { code: 'BERTH_E_NAME' });
  assert.throws(() => labelSelector({ 'a!': 'x' }), { code: 'BERTH_E_NAME' });
});

test('a Secret\'s stringData is applied as base64 data, so applying it again is a no-op', () => {
  const secret: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'n' }, data: { A: 'eA==' }, stringData: { B: 'héllo' } };
  assert.deepEqual(forApply(secret), { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'n' }, data: { A: 'eA==', B: Buffer.from('héllo').toString('base64') } });
  const other: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'n' }, stringData: { x: 'y' } };
  assert.equal(forApply(other), other);
});

const ctx: RequestContext = { verb: 'patch', resource: 'deployments', group: 'apps', namespace: 'shop', object: 'Deployment shop/web' };
const status = (code: number, reason: string, message: string, causes?: unknown[]) => JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message, ...(causes === undefined ? {} : { details: { causes } }) });

test('API errors: each HTTP status gets its code, the object, the server\'s message, and what to do', () => {
  const invalid = apiError(422, status(422, 'Invalid', 'Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0'), { ...ctx, dryRun: true });
  assert.equal(invalid.code, 'BERTH_E_KUBE_INVALID');
  assert.match(invalid.message, /^the cluster refused dry run of Deployment shop\/web: .*spec\.replicas/);
  assert.match(invalid.hint ?? '', /nothing of this set/);
  const bad = apiError(400, status(400, 'BadRequest', 'error decoding patch'), ctx);
  assert.equal(bad.code, 'BERTH_E_KUBE_INVALID');
  const forbidden = apiError(403, status(403, 'Forbidden', 'deployments.apps "web" is forbidden: User "system:serviceaccount:shop:berth" cannot patch resource "deployments" in API group "apps" in the namespace "shop"'), ctx);
  assert.equal(forbidden.code, 'BERTH_E_KUBE_FORBIDDEN');
  assert.match(forbidden.hint ?? '', /the verb "patch" on "deployments" in API group apps in namespace shop/);
  const clusterWide = apiError(403, status(403, 'Forbidden', 'no'), { verb: 'get', resource: 'namespaces', group: '', namespace: undefined, object: undefined });
  assert.match(clusterWide.hint ?? '', /"get" on "namespaces" in the core API group \(""\) cluster-wide/);
  assert.equal(apiError(401, status(401, 'Unauthorized', 'Unauthorized'), ctx).code, 'BERTH_E_KUBE_UNAUTHORIZED');
  assert.equal(apiError(409, status(409, 'Conflict', 'being deleted'), ctx).code, 'BERTH_E_KUBE_CONFLICT');
  assert.equal(apiError(404, status(404, 'NotFound', 'the server could not find the requested resource'), ctx).code, 'BERTH_E_KUBE_UNSUPPORTED');
  const other = apiError(500, 'upstream connect error\x1b[31m', ctx);
  assert.equal(other.code, 'BERTH_E_KUBE_API');
  assert.match(other.message, /answered 500 to Deployment shop\/web: upstream connect error\\x1b\[31m$/);
  assert.ok(apiError(500, 'x'.repeat(10_000), ctx).message.length < 2200);
});

const dep = (generation: number, spec: number, status: Record<string, unknown>) => ({ metadata: { generation }, spec: { replicas: spec }, status });
const full = (n: number) => ({ observedGeneration: 2, replicas: n, updatedReplicas: n, readyReplicas: n, availableReplicas: n });

test('rollout status: complete only when the newest spec is seen and every replica is updated, ready and available', () => {
  assert.deepEqual(rolloutStatus(dep(2, 3, full(3))), { state: 'complete' });
  assert.deepEqual(rolloutStatus(dep(2, 0, { observedGeneration: 2 })), { state: 'complete' });
  assert.deepEqual(rolloutStatus({ metadata: {}, status: { replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 } }), { state: 'complete' });
  const progressing = (status: Record<string, unknown>, reason: RegExp, generation = 2, replicas = 3) => {
    const state = rolloutStatus(dep(generation, replicas, status));
    assert.equal(state.state, 'progressing', JSON.stringify(status));
    assert.match((state as { reason: string }).reason, reason);
  };
  progressing({ ...full(3), observedGeneration: 1 }, /controller to see the newest spec/);
  progressing({}, /controller to see/);
  progressing({ ...full(3), updatedReplicas: 2 }, /2 of 3 replicas updated/);
  progressing({ ...full(3), replicas: 4 }, /1 old replicas still to stop/);
  progressing({ ...full(3), readyReplicas: 2 }, /2 of 3 replicas ready/);
  progressing({ ...full(3), availableReplicas: 2 }, /2 of 3 updated replicas available/);
  // Spec replicas default to 1.
  assert.equal(rolloutStatus({ metadata: { generation: 1 }, spec: {}, status: { observedGeneration: 1 } }).state, 'progressing');
});

test('rollout status: ProgressDeadlineExceeded fails the newest spec, not an older one the controller has not moved past', () => {
  const deadline = { conditions: [{ type: 'Available', status: 'False' }, { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "web-1" has timed out progressing.' }] };
  assert.deepEqual(rolloutStatus(dep(2, 3, { ...full(3), updatedReplicas: 1, ...deadline })), { state: 'failed', reason: 'progress deadline exceeded: ReplicaSet "web-1" has timed out progressing.' });
  assert.equal(rolloutStatus(dep(3, 3, { ...full(3), ...deadline })).state, 'progressing');
  assert.equal(rolloutStatus(dep(2, 3, { ...full(3), conditions: [{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }] })).state, 'complete');
});

test('job status: conditions decide, failed pods beyond backoffLimit fail it before the condition is written', () => {
  assert.deepEqual(jobStatus({ status: { conditions: [{ type: 'Complete', status: 'True' }], succeeded: 1 } }), { state: 'succeeded' });
  assert.deepEqual(jobStatus({ status: { conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }] } }), { state: 'failed', reason: 'BackoffLimitExceeded: Job has reached the specified backoff limit' });
  assert.deepEqual(jobStatus({ status: { conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded' }] } }), { state: 'failed', reason: 'DeadlineExceeded' });
  assert.deepEqual(jobStatus({ status: { conditions: [{ type: 'Failed', status: 'True' }] } }), { state: 'failed', reason: 'the Job failed' });
  assert.equal(jobStatus({ status: { conditions: [{ type: 'Failed', status: 'False' }], active: 1 } }).state, 'running');
  assert.deepEqual(jobStatus({ spec: { backoffLimit: 0 }, status: { failed: 1 } }), { state: 'failed', reason: 'BackoffLimitExceeded: 1 pods failed (backoffLimit 0)' });
  assert.equal(jobStatus({ spec: { backoffLimit: 2 }, status: { failed: 2, active: 1 } }).state, 'running');
  assert.equal(jobStatus({ status: { failed: 6 } }).state, 'running');
  assert.equal(jobStatus({ status: { failed: 7 } }).state, 'failed');
  assert.equal(jobStatus({ status: { succeeded: 1, active: 0 } }).state, 'succeeded');
  assert.equal(jobStatus({ spec: { completions: 2 }, status: { succeeded: 1, active: 1 } }).state, 'running');
  assert.deepEqual(jobStatus({}), { state: 'running', reason: '0 active, 0 succeeded, 0 failed' });
});

test('pods: phase, readiness, restarts summed, node, process type, why a container waits', () => {
  assert.deepEqual(podSummary({
    metadata: { name: 'web-abc', labels: { 'berth.dev/process': 'web', 'berth.dev/release': 'v3' } },
    spec: { nodeName: 'n1' },
    status: { phase: 'Running', startTime: '2026-01-01T00:00:00Z', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ restartCount: 2 }, { restartCount: 1 }] },
  }), { name: 'web-abc', process: 'web', release: 'v3', phase: 'Running', ready: true, restarts: 3, node: 'n1', startedAt: '2026-01-01T00:00:00Z', waiting: undefined });
  const crashing = podSummary({ metadata: { name: 'w' }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }], containerStatuses: [{ restartCount: 5, state: { waiting: { reason: 'CrashLoopBackOff' } } }] } });
  assert.equal(crashing.ready, false);
  assert.equal(crashing.waiting, 'CrashLoopBackOff');
  assert.equal(crashing.process, '');
  assert.equal(crashing.node, '');
  assert.equal(podSummary({ metadata: { name: 'w', deletionTimestamp: '2026-01-01T00:00:00Z' }, status: { phase: 'Running' } }).phase, 'Terminating');
  assert.equal(podSummary({ metadata: { name: 'w' } }).phase, 'Unknown');
  assert.equal(podSummary({ metadata: { name: 'w' }, status: { containerStatuses: [{ state: { terminated: { reason: 'OOMKilled' } } }] } }).waiting, 'OOMKilled');
  assert.equal(podSummary({ metadata: { name: 'c', labels: { 'berth.dev/cron': 'nightly' } } }).process, 'cron:nightly', "a cron job's pod says which job");
});


function fakeClock(): Clock & { slept: number[] } {
  let now = 1_000_000;
  const slept: number[] = [];
  return { slept, now: () => now, sleep: async (ms) => { slept.push(ms); now += ms; } };
}

test('waiting: polls until done, reports each new reason once, and stops at the deadline of the injected clock', async () => {
  const clock = fakeClock();
  const states = ['a', 'a', 'b', 'done'];
  const progress: string[] = [];
  let reads = 0;
  const result = await pollUntil(async () => states[reads++]!, (value) => (value === 'done' ? { done: true } : { done: false, reason: value }), { timeoutMs: 10_000, intervalMs: 1000, clock, onProgress: (reason) => progress.push(reason) });
  assert.deepEqual(result, { done: true, value: 'done' });
  assert.deepEqual(progress, ['a', 'b']);
  assert.deepEqual(clock.slept, [1000, 1000, 1000]);

  const late = fakeClock();
  const never = await pollUntil(async () => 'x', () => ({ done: false, reason: 'still x' }), { timeoutMs: 2500, intervalMs: 1000, clock: late });
  assert.deepEqual(never, { done: false, value: 'x', reason: 'still x' });
  assert.deepEqual(late.slept, [1000, 1000, 500]);

  // A clock that never moves still ends: the number of reads is bounded.
  let frozenReads = 0;
  const frozen: Clock = { now: () => 0, sleep: async () => undefined };
  const stuck = await pollUntil(async () => frozenReads++, () => ({ done: false, reason: 'r' }), { timeoutMs: 5000, intervalMs: 1000, clock: frozen });
  assert.equal(stuck.done, false);
  assert.equal(frozenReads, 7);

  // firstIntervalMs: the pauses start short and double up to the interval; the read count stays bounded.
  const ramped = fakeClock();
  const slow = await pollUntil(async () => 'x', () => ({ done: false, reason: 'x' }), { timeoutMs: 4000, intervalMs: 1000, firstIntervalMs: 100, clock: ramped });
  assert.equal(slow.done, false);
  assert.deepEqual(ramped.slept, [100, 200, 400, 800, 1000, 1000, 500]);
  let frozenRamped = 0;
  await pollUntil(async () => frozenRamped++, () => ({ done: false, reason: 'r' }), { timeoutMs: 5000, intervalMs: 1000, firstIntervalMs: 100, clock: frozen });
  assert.equal(frozenRamped, 11, 'the 4 short pauses add 4 reads to the bound');
});
