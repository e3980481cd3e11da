// berth server --runtime kubernetes against a real Kubernetes 1.20 control
// plane (../shared/k8s/, the test playing the kubelet) and a real registry
// (Debian's docker-registry): deploys, config changes, scale, rollback, a
// failing release Job, an object the API server refuses, a daemon killed
// mid-rollout, logs, manifests and destroy, each seen through berth's API
// and checked on the cluster behind its back.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { RegistryClient } from '../../src/oci/index.ts';
import { apiCall, deployDir, deployRequest, startDaemon, type Daemon } from '../helpers/daemon.ts';
import { startCluster, startNode, type TestCluster } from '../helpers/k8s-cluster.ts';
import { pushNodeBase } from '../helpers/oci-host-bases.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { runBerth } from '../helpers/berth-process.ts';

const undo: (() => unknown)[] = [];
const cleanups = { after: (fn: () => unknown) => void undo.push(fn) };
after(async () => {
  for (const fn of undo.reverse()) await fn();
});

const NS = 'apps';
let cluster: TestCluster;
let registry: TestRegistry;
let stateDir: string;
let daemon: Daemon;
let source: string;
let credentialsFile: string;
let nodeBase: string;
/** Releases ("shop/v5") whose release Job pods fail, and whose web pods never become ready. */
const failingReleases = new Set<string>();
const stuckReleases = new Set<string>();

async function serverArgs(): Promise<string[]> {
  return ['--runtime', 'kubernetes', '--kubeconfig', cluster.kubeconfig, '--namespace', NS, '--registry', `${registry.host}/apps`, '--registry-ca', registry.caFile!, '--registry-credentials-file', credentialsFile, '--base-image', `node=${registry.host}/base/node:latest`, '--rollout-timeout', '90s', '--tls-cert', join(stateDir, '..', 'tls.pem'), '--tls-key', join(stateDir, '..', 'tls-key.pem')];
}

async function start(): Promise<Daemon> {
  const d = await startDaemon(stateDir, 1, await serverArgs());
  cleanups.after(() => d.berth.stop());
  return d;
}

before(async () => {
  cluster = await startCluster(cleanups);
  await startNode(cleanups, cluster, {
    fateOf: (pod) => {
      const release = `${pod.metadata.labels?.['app.kubernetes.io/name'] ?? ''}/${pod.metadata.labels?.['berth.dev/release'] ?? ''}`;
      if (pod.metadata.labels?.['berth.dev/process'] === 'release') return failingReleases.has(release) ? 'fail' : 'succeed';
      return stuckReleases.has(release) ? 'pending' : 'ready';
    },
    logs: (_ns, pod) => `${new Date().toISOString()} hello from ${pod}\n`,
  });
  assert.equal((await cluster.call('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } })).status, 201);
  // A private registry: TLS with its own CA, a user and password.
  registry = await startRegistry(cleanups, { tls: true, users: { robot: 'pull-and-push' } });
  const client = await RegistryClient.open({ registry: registry.host, caFile: registry.caFile, credentials: { username: 'robot', password: 'pull-and-push' } });
  cleanups.after(() => client.close());
  // A Node base made from this machine's own Node (not berth's Node 24): builds of Node apps run inside it.
  nodeBase = (await pushNodeBase(cleanups, client, 'base/node')).manifestDigest;
  const root = await mkdtemp(join(tmpdir(), 'berth-kube-runtime-'));
  cleanups.after(() => rm(root, { recursive: true, force: true }));
  stateDir = join(root, 'state');
  credentialsFile = join(root, 'registry-credentials');
  await writeFile(credentialsFile, 'robot:pull-and-push\n', { mode: 0o600 });
  // The operator's own wildcard certificate, for the domains it covers.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(root, 'tls-key.pem'), '-out', join(root, 'tls.pem'), '-days', '2', '-subj', '/CN=*.example.test', '-addext', 'subjectAltName=DNS:*.example.test'], { stdio: 'ignore', timeout: 15_000 });
  source = join(root, 'src');
  await mkdir(source);
  await writeFile(join(source, 'Procfile'), 'web: node server.js --port $PORT\nrelease: node migrate.js\n');
  await writeFile(join(source, 'server.js'), 'require("http").createServer((q, s) => s.end("hi")).listen(process.env.PORT);\n');
  await writeFile(join(source, 'migrate.js'), 'console.log("migrated");\n');
  await writeFile(join(source, 'berth.toml'), '[health]\npath = "/health"\n\n[cron.nightly]\nschedule = "0 3 * * *"\ncommand = "node migrate.js"\n');
  daemon = await start();
  assert.equal((await apiCall(daemon, 'POST', '/apps', { name: 'shop' })).status, 201);
});

async function deployment(name = 'shop--web'): Promise<any> {
  const got = await cluster.call('GET', `/apis/apps/v1/namespaces/${NS}/deployments/${name}`);
  return got.status === 200 ? got.json : null;
}

async function names(path: string): Promise<string[]> {
  return ((await cluster.call('GET', `${path}?labelSelector=${encodeURIComponent('app.kubernetes.io/name=shop')}`)).json.items as any[]).map((item) => item.metadata.name).sort();
}

test('a deploy builds an image, pushes it, runs the release Job, applies the objects and waits for the rollout', async () => {
  const { lines, last } = await deployDir(daemon, 'shop', source);
  assert.equal(last.release?.version, 1, lines.join('\n'));
  assert.ok(lines.some((line) => line.includes('running the release command as Job shop--release-v1')), lines.join('\n'));
  assert.ok(lines.some((line) => /image [0-9a-f]{12} pushed to/.test(line)), lines.join('\n'));

  const releases = (await apiCall(daemon, 'GET', '/apps/shop/releases')).json.releases;
  const image: string = releases[0].image;
  assert.match(image, new RegExp(`^${registry.host.replace(/\./g, '\\.')}/apps/shop@sha256:[0-9a-f]{64}$`), 'the release records its image by digest');

  const web = await deployment();
  assert.equal(web.spec.template.spec.containers[0].image, image);
  assert.deepEqual(web.spec.template.spec.containers[0].command, ['node', 'server.js', '--port', '$(PORT)'], 'variables are left to the kubelet: no value is written into the spec');
  assert.equal(web.spec.template.metadata.labels['berth.dev/release'], 'v1');
  assert.equal(web.status.updatedReplicas, 1);
  assert.deepEqual(await names(`/apis/batch/v1/namespaces/${NS}/jobs`), ['shop--release-v1']);
  assert.deepEqual(await names(`/apis/batch/v1beta1/namespaces/${NS}/cronjobs`), ['shop--cron-nightly'], 'a CronJob at the version 1.20 serves');
  assert.deepEqual(await names(`/apis/policy/v1beta1/namespaces/${NS}/poddisruptionbudgets`), ['shop--web']);
  assert.deepEqual(await names(`/api/v1/namespaces/${NS}/secrets`), ['shop--config-v1', 'shop--registry']);
  assert.deepEqual(web.spec.template.spec.imagePullSecrets, [{ name: 'shop--registry' }], 'the pods pull from the private registry with its credentials');
  const pull = (await cluster.call('GET', `/api/v1/namespaces/${NS}/secrets/shop--registry`)).json;
  assert.equal(pull.type, 'kubernetes.io/dockerconfigjson');
  assert.equal(JSON.parse(Buffer.from(pull.data['.dockerconfigjson'], 'base64').toString()).auths[registry.host].username, 'robot');

  const ps = (await apiCall(daemon, 'GET', '/apps/shop/ps')).json;
  const instances = ps.instances ?? ps;
  assert.ok(Array.isArray(instances) && instances.length === 1 && instances[0].state === 'ready' && instances[0].release === 'v1', JSON.stringify(ps));
  const cron = (await apiCall(daemon, 'GET', '/apps/shop/cron')).json.jobs;
  assert.equal(cron.length, 1);
  assert.equal(cron[0].name, 'nightly');
  assert.match(cron[0].nextRun, /T03:00:00\.000Z$/, 'the next slot, as the CronJob controller will run it (UTC)');
});

test('a config change is a new release: a new Secret, the pods rolled for it, the old Secret pruned', async () => {
  const before = await deployment();
  const changed = await apiCall(daemon, 'PATCH', '/apps/shop/config', { set: { GREETING: 'hello' } });
  assert.equal(changed.status, 200, JSON.stringify(changed.json));
  const after = await deployment();
  assert.notEqual(after.spec.template.metadata.annotations['berth.dev/config-hash'], before.spec.template.metadata.annotations['berth.dev/config-hash']);
  assert.equal(after.spec.template.spec.containers[0].envFrom[0].secretRef.name, 'shop--config-v2');
  assert.deepEqual(await names(`/api/v1/namespaces/${NS}/secrets`), ['shop--config-v2', 'shop--registry']);
  const secret = (await cluster.call('GET', `/api/v1/namespaces/${NS}/secrets/shop--config-v2`)).json;
  assert.equal(Buffer.from(secret.data.GREETING, 'base64').toString(), 'hello');
  // The release phase ran for it too (as on Heroku and on one machine); the image was not made again.
  assert.deepEqual(await names(`/apis/batch/v1/namespaces/${NS}/jobs`), ['shop--release-v2']);
  const releases = (await apiCall(daemon, 'GET', '/apps/shop/releases')).json.releases;
  assert.equal(releases[0].image, releases[1].image);
});

test('scale sets the replicas without a release and without running the release command again', async () => {
  const scaled = await apiCall(daemon, 'PUT', '/apps/shop/formation', { web: 3 });
  assert.equal(scaled.status, 200, JSON.stringify(scaled.json));
  const web = await deployment();
  assert.equal(web.spec.replicas, 3);
  assert.equal(web.status.readyReplicas, 3);
  assert.equal((await apiCall(daemon, 'GET', '/apps/shop/releases')).json.releases.length, 2);
  assert.deepEqual(await names(`/apis/batch/v1/namespaces/${NS}/jobs`), ['shop--release-v2']);
});

test('restart rolls every pod and keeps doing so only when asked again', async () => {
  assert.equal((await apiCall(daemon, 'POST', '/apps/shop/restart')).status, 200);
  const stamped = (await deployment()).spec.template.metadata.annotations['berth.dev/restarted-at'];
  assert.match(stamped, /^\d{4}-\d\d-\d\dT/);
  assert.equal((await apiCall(daemon, 'PUT', '/apps/shop/formation', { web: 2 })).status, 200);
  assert.equal((await deployment()).spec.template.metadata.annotations['berth.dev/restarted-at'], stamped, 'a later apply carries the stamp (dropping it would roll the pods)');
});

test('a failing release Job fails the deploy and leaves the serving release and its objects as they were', async () => {
  failingReleases.add('shop/v3');
  const before = await deployment();
  const changed = await apiCall(daemon, 'PATCH', '/apps/shop/config', { set: { GREETING: 'broken' } });
  assert.equal(changed.status, 422, JSON.stringify(changed.json));
  assert.equal(changed.json.code, 'BERTH_E_RELEASE_FAILED');
  const after = await deployment();
  assert.equal(after.spec.template.metadata.labels['berth.dev/release'], 'v2');
  assert.equal(after.metadata.generation, before.metadata.generation, 'the Deployment was never changed');
  const releases = (await apiCall(daemon, 'GET', '/apps/shop/releases')).json.releases;
  assert.equal(releases[0].status, 'failed');
  assert.equal(releases.find((r: any) => r.current).version, 2);
  assert.equal((await apiCall(daemon, 'GET', '/apps/shop/config?reveal=1')).json.config.GREETING, 'hello', 'the config goes back to what serves');
});

test('an object the API server refuses (a Secret over 1 MiB) fails at the dry run: nothing is applied', async () => {
  const big = 'x'.repeat(30 * 1024);
  const first: Record<string, string> = {};
  for (let i = 0; i < 20; i++) first[`BIG_${i}`] = big;
  assert.equal((await apiCall(daemon, 'PATCH', '/apps/shop/config', { set: first })).status, 200);
  const before = await deployment();
  const secrets = await names(`/api/v1/namespaces/${NS}/secrets`);
  const second: Record<string, string> = {};
  for (let i = 20; i < 40; i++) second[`BIG_${i}`] = big;
  const refused = await apiCall(daemon, 'PATCH', '/apps/shop/config', { set: second });
  assert.equal(refused.status, 422, JSON.stringify(refused.json));
  assert.equal(refused.json.code, 'BERTH_E_KUBE_INVALID');
  assert.match(refused.json.message, /Secret/);
  assert.deepEqual(await names(`/api/v1/namespaces/${NS}/secrets`), secrets, 'no Secret of the refused release');
  assert.equal((await deployment()).metadata.generation, before.metadata.generation);
});

test('rollback applies an earlier release: its image, its config', async () => {
  const rolled = await apiCall(daemon, 'POST', '/apps/shop/rollback', { version: 1 });
  assert.equal(rolled.status, 200, JSON.stringify(rolled.json));
  const web = await deployment();
  const version = rolled.json.release.version;
  assert.equal(web.spec.template.metadata.labels['berth.dev/release'], `v${version}`);
  const secret = (await cluster.call('GET', `/api/v1/namespaces/${NS}/secrets/shop--config-v${version}`)).json;
  assert.equal(secret.data.GREETING, undefined, "v1's config had no GREETING");
  assert.equal(secret.data.BIG_0, undefined);
});

test('domains are Ingresses: TLS from the operator\'s certificate where it covers the name, none elsewhere; a removed domain is pruned', async () => {
  assert.equal((await apiCall(daemon, 'POST', '/apps/shop/domains', { hostname: 'shop.example.test' })).status, 201);
  assert.equal((await apiCall(daemon, 'POST', '/apps/shop/domains', { hostname: 'shop.elsewhere.test' })).status, 201);
  const covered = (await cluster.call('GET', `/apis/networking.k8s.io/v1/namespaces/${NS}/ingresses/shop--shop-example-test`)).json;
  assert.deepEqual(covered.spec.tls, [{ hosts: ['shop.example.test'], secretName: 'shop--tls' }]);
  assert.equal(covered.spec.rules[0].http.paths[0].backend.service.name, 'shop--web');
  const other = (await cluster.call('GET', `/apis/networking.k8s.io/v1/namespaces/${NS}/ingresses/shop--shop-elsewhere-test`)).json;
  assert.equal(other.spec.tls, undefined, 'a name the certificate does not cover gets no TLS');
  const secret = (await cluster.call('GET', `/api/v1/namespaces/${NS}/secrets/shop--tls`)).json;
  assert.equal(secret.type, 'kubernetes.io/tls');
  assert.match(Buffer.from(secret.data['tls.crt'], 'base64').toString(), /BEGIN CERTIFICATE/);
  assert.ok((await apiCall(daemon, 'DELETE', '/apps/shop/domains/shop.example.test')).status < 300);
  assert.equal((await cluster.call('GET', `/apis/networking.k8s.io/v1/namespaces/${NS}/ingresses/shop--shop-example-test`)).status, 404);
  assert.equal((await cluster.call('GET', `/api/v1/namespaces/${NS}/secrets/shop--tls`)).status, 404, 'no domain needs it any more');
  assert.ok((await apiCall(daemon, 'DELETE', '/apps/shop/domains/shop.elsewhere.test')).status < 300);
});

test('logs read the pods; manifests print the release as YAML without secret values; run and local add-ons are refused', async () => {
  const logs = await apiCall(daemon, 'GET', '/apps/shop/logs?lines=50');
  assert.match(typeof logs.json === 'string' ? logs.json : JSON.stringify(logs.json), /hello from shop--web-/);
  // Following: berth's lines and, every few seconds, the pods' new ones.
  const abort = new AbortController();
  const followed = await fetch(`${daemon.api}/apps/shop/logs?follow=1&lines=1`, { headers: { authorization: `Bearer ${daemon.token}` }, signal: abort.signal });
  const reader = followed.body!.getReader();
  let text = '';
  for (let i = 0; i < 100 && !/web\.[a-z0-9]+ \| hello from shop--web-/.test(text); i++) text += new TextDecoder().decode((await reader.read()).value ?? new Uint8Array());
  abort.abort();
  assert.match(text, /web\.[a-z0-9]+ \| hello from shop--web-/, 'a pod line arrives while following, its source the type and pod');

  const home = await mkdtemp(join(tmpdir(), 'berth-kube-cli-'));
  cleanups.after(() => rm(home, { recursive: true, force: true }));
  const cli = await runBerth(['k8s', 'manifests', '--app', 'shop'], { env: { HOME: home, BERTH_SERVER: daemon.api, BERTH_TOKEN: daemon.token } });
  assert.equal(cli.code, 0, cli.output);
  assert.match(cli.output, /kind: Deployment/);
  assert.match(cli.output, /@sha256:[0-9a-f]{64}/);
  assert.doesNotMatch(cli.output, /kind: Secret/);

  const run = await apiCall(daemon, 'POST', '/apps/shop/runs', { command: ['node', '-v'], detach: true });
  assert.equal(run.json.code, 'BERTH_E_KUBE_UNSUPPORTED', JSON.stringify(run.json));
  const sqlite = await apiCall(daemon, 'POST', '/apps/shop/addons', { kind: 'sqlite' });
  assert.equal(sqlite.json.code, 'BERTH_E_KUBE_UNSUPPORTED', JSON.stringify(sqlite.json));
});

test('a daemon killed mid-rollout: the next one marks the release failed and applies the serving one again', async () => {
  const current = (await apiCall(daemon, 'GET', '/apps/shop/releases')).json.releases.find((r: any) => r.current).version;
  const next = `v${(await apiCall(daemon, 'GET', '/apps/shop/releases')).json.releases[0].version + 1}`;
  stuckReleases.add(`shop/${next}`);
  const pending = deployRequest(daemon, 'shop', source).then((res) => res.text()).catch(() => '');
  // Until the new template is on the Deployment (its pods then never become ready).
  for (let i = 0; i < 600; i++) {
    if ((await deployment())?.spec.template.metadata.labels['berth.dev/release'] === next) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal((await deployment()).spec.template.metadata.labels['berth.dev/release'], next);
  await daemon.berth.kill();
  await pending;
  daemon = await start();
  const releases = (await apiCall(daemon, 'GET', '/apps/shop/releases')).json.releases;
  assert.equal(releases[0].name, next);
  assert.equal(releases[0].status, 'failed');
  assert.equal(releases.find((r: any) => r.current).version, current);
  for (let i = 0; i < 600; i++) {
    const web = await deployment();
    if (web.spec.template.metadata.labels['berth.dev/release'] === `v${current}` && web.status.updatedReplicas === web.spec.replicas) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal((await deployment()).spec.template.metadata.labels['berth.dev/release'], `v${current}`);
});

test('a Node app is built inside the node base image and its image is written over that very base', async () => {
  assert.equal((await apiCall(daemon, 'POST', '/apps', { name: 'notes' })).status, 201);
  const app = join(source, '..', 'notes');
  await mkdir(app);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'notes', version: '1.0.0', scripts: { start: 'node server.js', build: 'node -e "require(\'fs\').writeFileSync(\'built.txt\', process.version + \' \' + process.execPath)"' } }));
  await writeFile(join(app, 'server.js'), 'require("http").createServer((q, s) => s.end("notes")).listen(process.env.PORT);\n');
  const { lines, last } = await deployDir(daemon, 'notes', app);
  assert.equal(last.release?.version, 1, lines.join('\n'));
  assert.ok(lines.some((line) => line.includes(`building inside the node base image ${registry.host}/base/node:latest@${nodeBase}`)), lines.join('\n'));
  const build = readFileSync(join(stateDir, 'apps', 'notes', 'builds', readdirSync(join(stateDir, 'apps', 'notes', 'builds'))[0]!, 'built.txt'), 'utf8');
  assert.match(build, /^v20\.\d+\.\d+ \/opt\/basenode\//, "the build ran on the image's Node, not berth's");
  const image: string = (await apiCall(daemon, 'GET', '/apps/notes/releases')).json.releases[0].image;
  const client = await RegistryClient.open({ registry: registry.host, caFile: registry.caFile, credentials: { username: 'robot', password: 'pull-and-push' } });
  try {
    const manifest = JSON.parse((await client.getManifest('apps/notes', image.slice(image.indexOf('@') + 1))).bytes.toString());
    assert.equal(manifest.annotations['org.opencontainers.image.base.digest'], nodeBase, 'the image is written over the base the build ran in');
  } finally {
    await client.close();
  }
});

test("an app's first release that fails leaves nothing of it on the cluster", async () => {
  assert.equal((await apiCall(daemon, 'POST', '/apps', { name: 'blog' })).status, 201);
  failingReleases.add('blog/v1');
  const { last } = await deployDir(daemon, 'blog', source);
  assert.equal(last.error?.code, 'BERTH_E_RELEASE_FAILED', JSON.stringify(last));
  const left = ((await cluster.call('GET', `/api/v1/namespaces/${NS}/secrets?labelSelector=${encodeURIComponent('app.kubernetes.io/name=blog')}`)).json.items as any[]).map((item) => item.metadata.name);
  assert.deepEqual(left, []);
  assert.equal((await cluster.call('GET', `/apis/apps/v1/namespaces/${NS}/deployments/blog--web`)).status, 404);
  assert.ok((await deployment()) !== null, "another app's objects stay");
});

test('destroying the app removes every object berth made for it', async () => {
  const destroyed = await apiCall(daemon, 'DELETE', '/apps/shop?confirm=shop');
  assert.ok(destroyed.status < 300, JSON.stringify(destroyed.json));
  assert.deepEqual(await names(`/apis/apps/v1/namespaces/${NS}/deployments`), []);
  assert.deepEqual(await names(`/api/v1/namespaces/${NS}/secrets`), []);
  assert.deepEqual(await names(`/apis/batch/v1beta1/namespaces/${NS}/cronjobs`), []);
  assert.deepEqual(await names(`/api/v1/namespaces/${NS}/services`), []);
});
