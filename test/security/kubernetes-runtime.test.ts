// Attack: tenants of one `berth server --runtime kubernetes` share a
// namespace on a real Kubernetes 1.20 control plane (../shared/k8s, the
// test playing the kubelet) with a real registry. What berth applies is
// read back from the API server, behind berth's back, after real deploys:
//   - names chosen to collide ("shop" with process type "a-web", "shop-a"
//     with "web"; "shop--x") never make one app's deploy, scale or destroy
//     touch the other's objects;
//   - config values (a secret token, a DATABASE_URL with a password) stay
//     in the app's own Secret: never in a workload, Service or Ingress, in
//     `berth k8s manifests`, the deploy stream, the API's answers or the
//     daemon's log;
//   - a hostile Procfile and berth.toml ("$(", "$$", "$(DATABASE_URL)" in
//     quotes, odd process type names) give container argv that the kubelet
//     expands to exactly what berth means on one machine, and envFrom only
//     ever names the app's own release Secret;
//   - the pods are hardened as stored by the cluster: non-root, no
//     privilege escalation, read-only root, no service-account token,
//     every capability dropped.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { commandToArgv } from '../../src/build/index.ts';
import { RegistryClient } from '../../src/oci/index.ts';
import { runBerth } from '../helpers/berth-process.ts';
import { apiCall, deployDir, startDaemon, type Daemon } from '../helpers/daemon.ts';
import { startCluster, startNode, type TestCluster } from '../helpers/k8s-cluster.ts';
import { pushBase } from '../helpers/oci-base.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';

const undo: (() => unknown)[] = [];
const cleanups = { after: (fn: () => unknown) => void undo.push(fn) };
after(async () => {
  for (const fn of undo.reverse()) await fn();
});

const NS = 'tenants';
const TOKEN = `tok-${randomBytes(12).toString('hex')}`;
const DB_PASSWORD = `pw${randomBytes(12).toString('hex')}`;
const DATABASE_URL = `postgres://shop_a:${DB_PASSWORD}@db.internal:5432/shop_a`;
/** Every stream line and API answer of the file, searched for the secrets at the end. */
const seen: string[] = [];

let cluster: TestCluster;
let registry: TestRegistry;
let daemon: Daemon;
let root: string;

/** The hostile app's Procfile: literal "$(" and "$$" in quotes, variables, odd type names. */
const HOSTILE_PROCFILE = [
  `web: node server.js --port $PORT --literal '$(DATABASE_URL)' '$$' "$$" '$$(SECRET_TOKEN)' a$ "\${HOME}x"`,
  `Worker_Q: sh -c 'echo $$ $((1+2)) $SECRET_TOKEN; exec sleep 1000'`,
  "release: node migrate.js '$(echo)' --token=$SECRET_TOKEN",
].join('\n');
const HOSTILE_TOML = `[health]
path = "/health"

[cron.Nightly_Report]
schedule = "0 3 * * *"
command = "sh -c 'curl -d $(DATABASE_URL) x; echo $$(SECRET_TOKEN)' \\"$DATABASE_URL\\""
`;

async function appFolder(name: string, procfile: string, toml = ''): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir);
  await writeFile(join(dir, 'Procfile'), `${procfile}\n`);
  await writeFile(join(dir, 'server.js'), 'require("http").createServer((q, s) => s.end("hi")).listen(process.env.PORT);\n');
  await writeFile(join(dir, 'migrate.js'), 'console.log("migrated");\n');
  if (toml !== '') await writeFile(join(dir, 'berth.toml'), toml);
  return dir;
}

async function deploy(app: string, dir: string): Promise<void> {
  const { lines, last } = await deployDir(daemon, app, dir);
  seen.push(...lines);
  assert.equal(last.result, 'ok', lines.join('\n'));
}

async function api(method: string, path: string, body?: unknown): Promise<any> {
  const answer = await apiCall(daemon, method, path, body);
  seen.push(JSON.stringify(answer.json));
  assert.ok(answer.status < 300, `${method} ${path}: ${answer.status} ${JSON.stringify(answer.json)}`);
  return answer.json;
}

const KINDS: Record<string, string> = {
  Deployment: '/apis/apps/v1/namespaces/NS/deployments',
  Job: '/apis/batch/v1/namespaces/NS/jobs',
  CronJob: '/apis/batch/v1beta1/namespaces/NS/cronjobs',
  Service: '/api/v1/namespaces/NS/services',
  Ingress: '/apis/networking.k8s.io/v1/namespaces/NS/ingresses',
  PodDisruptionBudget: '/apis/policy/v1beta1/namespaces/NS/poddisruptionbudgets',
  Secret: '/api/v1/namespaces/NS/secrets',
  Pod: '/api/v1/namespaces/NS/pods',
};

/** Every object of the kinds berth applies (and the pods), as the API server stores them, by "Kind/name". */
async function everything(kinds = Object.keys(KINDS)): Promise<Map<string, any>> {
  const all = new Map<string, any>();
  for (const kind of kinds) {
    const listed = await cluster.call('GET', KINDS[kind]!.replace('NS', NS));
    assert.equal(listed.status, 200, JSON.stringify(listed.json));
    for (const item of listed.json.items) all.set(`${kind}/${item.metadata.name}`, item);
  }
  return all;
}

/** The objects labelled as an app's, as "Kind/name" → resourceVersion. */
async function objectsOf(app: string): Promise<Map<string, string>> {
  const mine = new Map<string, string>();
  for (const [key, object] of await everything(Object.keys(KINDS).filter((k) => k !== 'Pod'))) {
    if (object.metadata.labels?.['app.kubernetes.io/name'] === app) mine.set(key, `${object.metadata.uid}@${object.metadata.resourceVersion}`);
  }
  return mine;
}

/** Every pod spec the app's workloads carry (Deployment and Job templates, CronJob job templates) and its live pods. */
async function podSpecsOf(app: string): Promise<Array<{ where: string; owner: string; spec: any; labels: any }>> {
  const specs: Array<{ where: string; owner: string; spec: any; labels: any }> = [];
  for (const [key, object] of await everything(['Deployment', 'Job', 'CronJob', 'Pod'])) {
    if (object.metadata.labels?.['app.kubernetes.io/name'] !== app) continue;
    const kind = key.split('/')[0];
    const template = kind === 'Pod' ? object : kind === 'CronJob' ? object.spec.jobTemplate.spec.template : object.spec.template;
    const owner = kind === 'Pod' ? `${key} of ${object.metadata.labels['berth.dev/process']}` : key;
    specs.push({ where: key, owner, spec: template.spec, labels: template.metadata.labels });
  }
  return specs;
}

/**
 * The kubelet's expansion of a container's command (Kubernetes'
 * third_party/forked/golang/expansion): "$$" is one "$", "$(NAME)" the
 * variable's value or, when the container has no NAME, left as written.
 */
function kubeletExpand(word: string, env: Readonly<Record<string, string>>): string {
  let out = '';
  for (let i = 0; i < word.length; i++) {
    if (word[i] !== '$' || i + 1 >= word.length) {
      out += word[i];
      continue;
    }
    const next = word[i + 1];
    if (next === '$') {
      out += '$';
      i++;
    } else if (next === '(') {
      const close = word.indexOf(')', i + 2);
      if (close === -1) {
        out += '$(';
        i++;
      } else {
        const name = word.slice(i + 2, close);
        out += name in env ? env[name] : `$(${name})`;
        i = close;
      }
    } else {
      out += `$${next}`;
      i++;
    }
  }
  return out;
}

before(async () => {
  cluster = await startCluster(cleanups);
  await startNode(cleanups, cluster, {
    fateOf: (pod) => (pod.metadata.labels?.['berth.dev/process'] === 'release' ? 'succeed' : 'ready'),
    logs: (_ns, pod) => `${new Date().toISOString()} hello from ${pod}\n`,
  });
  assert.equal((await cluster.call('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } })).status, 201);
  registry = await startRegistry(cleanups);
  const client = await RegistryClient.open({ registry: registry.host, plainHttp: true });
  cleanups.after(() => client.close());
  await pushBase(cleanups, client, 'base/busybox');
  root = await mkdtemp(join(tmpdir(), 'berth-kube-attack-'));
  cleanups.after(() => rm(root, { recursive: true, force: true }));
  const state = join(root, 'state');
  daemon = await startDaemon(state, 1, ['--runtime', 'kubernetes', '--kubeconfig', cluster.kubeconfig, '--namespace', NS, '--registry', `${registry.host}/apps`, '--registry-plain-http', '--base-image', `node=${registry.host}/base/busybox:latest`, '--rollout-timeout', '90s']);
  cleanups.after(() => daemon.berth.stop());
  for (const name of ['shop', 'shop-a']) await api('POST', '/apps', { name });
  await deploy('shop', await appFolder('shop', 'web: node server.js\na-web: node server.js --worker\nrelease: node migrate.js'));
  await deploy('shop-a', await appFolder('shop-a', HOSTILE_PROCFILE, HOSTILE_TOML));
  await api('POST', '/apps/shop-a/domains', { hostname: 'shop-a.example.com' });
  await api('PATCH', '/apps/shop-a/config', { set: { SECRET_TOKEN: TOKEN, DATABASE_URL } });
});

test('tenants whose names collide once joined ("shop" + "a-web", "shop-a" + "web") never touch each other: deploy, scale, destroy', async () => {
  const created = await apiCall(daemon, 'POST', '/apps', { name: 'shop--x' });
  assert.equal(created.status, 400, `an app name with "--" would end another app's part of a name: ${JSON.stringify(created.json)}`);

  const all = await everything(['Deployment']);
  assert.equal(all.get('Deployment/shop--a-web')?.metadata.labels['app.kubernetes.io/name'], 'shop');
  assert.equal(all.get('Deployment/shop-a--web')?.metadata.labels['app.kubernetes.io/name'], 'shop-a');
  for (const [key, d] of all) {
    const app = d.metadata.labels['app.kubernetes.io/name'];
    assert.ok(key.startsWith(`Deployment/${app}--`), `${key} is named after its own app (${app})`);
    assert.equal(d.spec.selector.matchLabels['app.kubernetes.io/name'], app, `${key} selects only its app's pods`);
  }
  const services = await everything(['Service']);
  for (const [key, s] of services) assert.equal(s.spec.selector['app.kubernetes.io/name'], s.metadata.labels['app.kubernetes.io/name'], `${key} routes to its own app only`);

  const other = await objectsOf('shop-a');
  assert.ok(other.size >= 6, JSON.stringify([...other.keys()]));
  await api('PUT', '/apps/shop/formation', { 'a-web': 2, web: 0 });
  const scaled = (await everything(['Deployment']));
  assert.equal(scaled.get('Deployment/shop--a-web').spec.replicas, 2);
  assert.equal(scaled.get('Deployment/shop--web').spec.replicas, 0);
  await api('POST', '/apps/shop/restart');
  await writeFile(join(root, 'shop', 'server.js'), 'require("http").createServer((q, s) => s.end("v2")).listen(process.env.PORT);\n');
  await deploy('shop', join(root, 'shop'));
  await api('PATCH', '/apps/shop/config', { set: { GREETING: 'hi' } });
  assert.deepEqual(await objectsOf('shop-a'), other, "shop's deploys, scale, restart and config change left every object of shop-a as it was (same uid and resourceVersion)");
  assert.deepEqual([...(await everything(['Pod'])).values()].filter((p) => p.metadata.labels['app.kubernetes.io/name'] === 'shop-a' && p.metadata.deletionTimestamp !== undefined).map((p) => p.metadata.name), [], "no pod of shop-a is being deleted");
});

test('the pods as the cluster stores them are hardened: non-root, no escalation, read-only root, no token, no capabilities, nothing of the host', async () => {
  for (const app of ['shop', 'shop-a']) {
    const specs = await podSpecsOf(app);
    assert.ok(specs.some((s) => s.where.startsWith('Pod/')) && specs.some((s) => s.where.startsWith('CronJob/') || app === 'shop'), specs.map((s) => s.where).join(', '));
    for (const { where, spec } of specs) {
      assert.equal(spec.automountServiceAccountToken, false, `${where}: no service-account token`);
      assert.equal(spec.securityContext?.runAsNonRoot, true, `${where}: pod runAsNonRoot`);
      assert.ok(spec.securityContext?.runAsUser > 0, `${where}: pod runs as a non-zero uid`);
      for (const field of ['hostNetwork', 'hostPID', 'hostIPC', 'shareProcessNamespace']) assert.ok(!spec[field], `${where}: no ${field}`);
      for (const volume of spec.volumes ?? []) assert.deepEqual(Object.keys(volume).sort(), ['emptyDir', 'name'], `${where}: volume ${volume.name} is an emptyDir, never a hostPath or another Secret`);
      assert.equal(spec.initContainers, undefined, `${where}: no init containers`);
      for (const container of spec.containers) {
        const sc = container.securityContext ?? {};
        assert.equal(sc.runAsNonRoot, true, `${where}/${container.name}: runAsNonRoot`);
        assert.equal(sc.allowPrivilegeEscalation, false, `${where}/${container.name}: no privilege escalation`);
        assert.equal(sc.readOnlyRootFilesystem, true, `${where}/${container.name}: read-only root`);
        assert.deepEqual(sc.capabilities, { drop: ['ALL'] }, `${where}/${container.name}: every capability dropped, none added`);
        assert.ok(!sc.privileged, `${where}/${container.name}: not privileged`);
        assert.match(container.image, /@sha256:[0-9a-f]{64}$/, `${where}/${container.name}: the image by digest`);
      }
    }
  }
});

test('a hostile Procfile and berth.toml: the argv the kubelet expands is what berth means on one machine, and envFrom names only the app\'s own release Secret', async () => {
  const releases = (await api('GET', '/apps/shop-a/releases')).releases;
  const current = releases.find((r: any) => r.current).version;
  const secrets = await everything(['Secret']);
  const own = secrets.get(`Secret/shop-a--config-v${current}`);
  assert.ok(own, `the release Secret shop-a--config-v${current} exists`);
  const secretEnv = Object.fromEntries(Object.entries(own.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
  assert.equal(secretEnv.SECRET_TOKEN, TOKEN, 'the token is in the Secret (where it should be)');

  const commands = new Map<string, string>([
    ['web', HOSTILE_PROCFILE.split('\n')[0]!.slice('web: '.length)],
    ['worker-q', HOSTILE_PROCFILE.split('\n')[1]!.slice('Worker_Q: '.length)],
    ['release', HOSTILE_PROCFILE.split('\n')[2]!.slice('release: '.length)],
    ['nightly-report', `sh -c 'curl -d $(DATABASE_URL) x; echo $$(SECRET_TOKEN)' "$DATABASE_URL"`],
  ]);
  const checked = new Set<string>();
  for (const { where, spec, labels } of await podSpecsOf('shop-a')) {
    if (labels['berth.dev/release'] !== `v${current}` && !where.startsWith('CronJob/')) continue;
    for (const container of spec.containers) {
      const refs = (container.envFrom ?? []).map((source: any) => source.secretRef?.name ?? JSON.stringify(source));
      assert.deepEqual(refs, [`shop-a--config-v${current}`], `${where}: envFrom is the app's own release Secret, nothing else`);
      for (const variable of container.env ?? []) assert.equal(variable.valueFrom?.secretKeyRef, undefined, `${where}: ${variable.name} reads no Secret key`);
      const type = labels['berth.dev/cron'] ?? labels['berth.dev/process'];
      const command = commands.get(type);
      assert.ok(command !== undefined, `${where}: a container of a known type (${type})`);
      const env: Record<string, string> = { ...secretEnv };
      for (const variable of container.env ?? []) if (typeof variable.value === 'string') env[variable.name] = variable.value;
      env.HOME = env.HOME ?? '/tmp';
      const expanded = (container.command as string[]).map((word) => kubeletExpand(word, env));
      assert.deepEqual(expanded, commandToArgv(command, env), `${where}: ${JSON.stringify(container.command)} expands as berth means ${JSON.stringify(command)}`);
      checked.add(type);
    }
  }
  assert.deepEqual([...checked].sort(), ['nightly-report', 'release', 'web', 'worker-q'], 'every hostile command was read back');
});

test('secrets stay in the Secret: never in a workload, Service, Ingress, pod, the manifests, the deploy stream, the API\'s answers or the daemon\'s log', async () => {
  // A deploy with the secrets set: its stream is searched too.
  await deploy('shop-a', join(root, 'shop-a'));
  const home = await mkdtemp(join(tmpdir(), 'berth-kube-attack-cli-'));
  cleanups.after(() => rm(home, { recursive: true, force: true }));
  const manifests = await runBerth(['k8s', 'manifests', '--app', 'shop-a'], { env: { HOME: home, BERTH_SERVER: daemon.api, BERTH_TOKEN: daemon.token } });
  assert.equal(manifests.code, 0, manifests.output);
  assert.match(manifests.output, /kind: CronJob/);
  const config = await api('GET', '/apps/shop-a/config');
  assert.deepEqual(Object.keys(config.config).sort(), ['DATABASE_URL', 'SECRET_TOKEN']);
  for (const path of ['/apps/shop-a/releases', '/apps/shop-a/ps', '/apps/shop-a', '/apps/shop-a/domains', '/apps/shop-a/logs?lines=50']) await api('GET', path);

  const places: Array<[string, string]> = [
    ['berth k8s manifests', manifests.output],
    ["the daemon's log", daemon.berth.output],
    ['the deploy streams and API answers', seen.join('\n')],
  ];
  for (const [key, object] of await everything()) {
    if (key.startsWith('Secret/shop-a--config-')) continue;
    places.push([key, JSON.stringify(object)]);
  }
  const secrets = await everything(['Secret']);
  const current = [...secrets.keys()].filter((k) => k.startsWith('Secret/shop-a--config-'));
  assert.equal(current.length, 1, 'one Secret of shop-a: the serving release\'s');
  assert.match(Buffer.from(secrets.get(current[0]!).data.DATABASE_URL, 'base64').toString(), new RegExp(DB_PASSWORD), 'the Secret holds the value');
  for (const [where, text] of places) {
    for (const [name, value] of [['the token', TOKEN], ['the database password', DB_PASSWORD]] as const) {
      assert.ok(!text.includes(value) && !text.includes(Buffer.from(value).toString('base64')), `${name} leaked into ${where}`);
    }
  }
});

test('destroying one tenant removes its objects and leaves the other\'s exactly as they were', async () => {
  const other = await objectsOf('shop-a');
  assert.ok(other.size >= 6, JSON.stringify([...other.keys()]));
  await api('DELETE', '/apps/shop?confirm=shop');
  assert.deepEqual([...(await objectsOf('shop')).keys()], []);
  assert.deepEqual(await objectsOf('shop-a'), other, "shop-a's objects: the same, untouched");
  await api('DELETE', '/apps/shop-a?confirm=shop-a');
  assert.deepEqual([...(await objectsOf('shop-a')).keys()], []);
});
