// The Kubernetes runtime's pure decisions: a release as the manifests'
// spec, Procfile commands as container argv, the flags of --runtime
// kubernetes, pod logs as app log lines.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_APP_CONFIG } from '../../src/build/index.ts';
import { certificateDnsNames, parseKubernetesFlags, readRegistryCredentials } from '../../src/cli/kubernetes-options.ts';
import { BerthError } from '../../src/errors.ts';
import { appObjects, certificateCovers, checkCronZones, configSecret, containerArgv, tlsSecret, tlsSecretName, DEFAULT_BASE_IMAGES, deploymentOf, parseBaseImages, parseRegistryPrefix, releaseSecretName, type ClusterRelease, type ClusterSettings } from '../../src/kubernetes/index.ts';
import { podLogLines } from '../../src/platform/cluster-activation.ts';
import { mergeLogLines } from '../../src/platform/app-log-query.ts';
import { assertValidObject } from './schema.ts';

const IMAGE = `registry.example.com/apps/shop@sha256:${'a'.repeat(64)}`;
const settings: ClusterSettings = { namespace: 'apps', ingressClass: null, certIssuer: null, defaults: { memoryBytes: 512 * 2 ** 20, cpu: 1, processes: 512 }, releaseTimeoutSeconds: 900 };

function release(over: Partial<ClusterRelease> = {}): ClusterRelease {
  return {
    app: 'shop',
    release: { version: 4, id: 17 },
    image: IMAGE,
    processes: [{ name: 'web', command: 'gunicorn app:app --bind 0.0.0.0:$PORT' }, { name: 'worker', command: 'python worker.py' }, { name: 'release', command: 'python manage.py migrate' }],
    formation: { web: 2, worker: 1 },
    memory: { worker: 2 ** 30 },
    config: { ...DEFAULT_APP_CONFIG, health: { path: '/up' }, resources: { all: { cpu: 0.5 }, byType: {} } },
    cron: [{ name: 'nightly', schedule: '0 3 * * *', timezone: 'UTC', command: 'python nightly.py', timeoutMs: 90_500 }],
    vars: { DATABASE_URL: 'postgres://secret@db/shop', GREETING: 'hi' },
    domains: ['shop.example.com'],
    restartedAt: null,
    ...over,
  };
}

test('containerArgv: variables go to the kubelet as $(NAME), a literal $( is escaped, shell syntax is refused', () => {
  assert.deepEqual(containerArgv('gunicorn app:app --bind 0.0.0.0:$PORT'), ['gunicorn', 'app:app', '--bind', '0.0.0.0:$(PORT)']);
  assert.deepEqual(containerArgv('node server.js --db ${DATABASE_URL}x'), ['node', 'server.js', '--db', '$(DATABASE_URL)x']);
  assert.deepEqual(containerArgv("echo '$(not a var)' \"$HOME\""), ['echo', '$$(not a var)', '$(HOME)']);
  assert.deepEqual(containerArgv("sh -c 'echo $PORT'"), ['sh', '-c', 'echo $$PORT'], 'single quotes: the shell in the pod expands it (the kubelet makes $$ one $)');
  assert.deepEqual(containerArgv("sh -c 'echo $$ $((1+2))'"), ['sh', '-c', 'echo $$$$ $$((1+2))'], 'a literal $$ reaches the shell as $$, not as the kubelet\'s escaped $');
  assert.deepEqual(containerArgv("echo '$$(DATABASE_URL)'"), ['echo', '$$$$(DATABASE_URL)'], 'never a reference the app did not write');
  assert.deepEqual(containerArgv('echo $$ a$ "$(x)" $PORT$$'), ['echo', 'a', '(x)', '$(PORT)'], 'what berth expands to nothing on one machine is nothing here too');
  assert.throws(() => containerArgv('echo \u0001PORT\u0001'), (err: unknown) => err instanceof BerthError && err.code === 'BERTH_E_PROCFILE');
  assert.throws(() => containerArgv('web | tee log'), (err: unknown) => err instanceof BerthError && err.code === 'BERTH_E_PROCFILE');
});

test('deploymentOf: replicas, resources over the defaults, health, release phase, cron, domains, a Secret per release', () => {
  const { spec, vars } = deploymentOf(release(), settings);
  assert.deepEqual(spec.processes.map((p) => [p.name, p.replicas, p.resources]), [
    ['web', 2, { memoryBytes: 512 * 2 ** 20, cpu: 0.5 }],
    ['worker', 1, { memoryBytes: 2 ** 30, cpu: 0.5 }],
  ], 'berth scale memory for worker; [resources] cpu for all; the release phase is no process type');
  assert.deepEqual(spec.releaseCommand?.argv, ['python', 'manage.py', 'migrate']);
  assert.equal(spec.releaseCommand?.timeoutSeconds, 900);
  assert.deepEqual(spec.health, { path: '/up' });
  assert.equal(spec.cron[0]!.timeoutSeconds, 91, 'a timeout rounds up to whole seconds');
  assert.deepEqual(spec.domains, [{ host: 'shop.example.com', tls: { mode: 'none' } }]);
  assert.equal(spec.configSecret, 'shop--config-v4');
  assert.equal(releaseSecretName('shop', 4), spec.configSecret);
  assert.equal(vars.BERTH_APP, 'shop');
  assert.ok(!JSON.stringify(spec).includes('secret@db'), 'no config value is in the spec');
  assert.ok(!JSON.stringify(appObjects(spec)).includes('secret@db'), 'nor in any object but the Secret');
  assert.equal(Buffer.from((configSecret(spec, vars).data as Record<string, string>).DATABASE_URL!, 'base64').toString(), 'postgres://secret@db/shop');

  const issued = deploymentOf(release(), { ...settings, certIssuer: { name: 'letsencrypt', kind: 'ClusterIssuer' }, ingressClass: 'nginx' }).spec;
  assert.deepEqual(issued.domains[0]!.tls, { mode: 'cert-manager', issuer: 'letsencrypt', issuerKind: 'ClusterIssuer' });
  assert.equal(issued.ingressClass, 'nginx');
  assert.equal(deploymentOf(release({ processes: [{ name: 'web', command: 'node s.js' }], formation: {} }), settings).spec.processes[0]!.replicas, 1, 'an unscaled type runs one');
  assert.equal(deploymentOf(release({ processes: [{ name: 'web', command: 'node s.js' }] }), settings).spec.releaseCommand, null);
  const restarted = deploymentOf(release({ restartedAt: '2026-12-07T10:00:00.000Z' }), settings).spec;
  const web = appObjects(restarted).find((o) => o.kind === 'Deployment')!;
  assert.equal((web.spec as any).template.metadata.annotations['berth.dev/restarted-at'], '2026-12-07T10:00:00.000Z');
  assert.throws(() => appObjects(deploymentOf(release({ restartedAt: 'yesterday' }), settings).spec), (err: unknown) => err instanceof BerthError && err.code === 'BERTH_E_NAME');
});

test('cron jobs in a zone other than UTC are refused where the CronJob has no time zones', () => {
  const zoned = [{ name: 'paris', schedule: '0 3 * * *', timezone: 'Europe/Paris', command: 'x', timeoutMs: null }];
  assert.throws(() => checkCronZones(zoned, 'batch/v1beta1'), (err: unknown) => err instanceof BerthError && err.code === 'BERTH_E_KUBE_UNSUPPORTED' && /Europe\/Paris/.test(err.message));
  checkCronZones(zoned, 'batch/v1');
  checkCronZones([{ ...zoned[0]!, timezone: 'UTC' }], 'batch/v1beta1');
});

test('--registry and --base-image: parsed and checked', () => {
  assert.deepEqual(parseRegistryPrefix('127.0.0.1:5000/apps'), { host: '127.0.0.1:5000', prefix: 'apps' });
  assert.deepEqual(parseRegistryPrefix('registry.example.com/team/berth'), { host: 'registry.example.com', prefix: 'team/berth' });
  for (const bad of ['registry.example.com', 'Registry.example.com/apps', 'r.example.com/Apps', 'r.example.com/apps/', 'https://r.example.com/apps']) {
    assert.throws(() => parseRegistryPrefix(bad), (err: unknown) => err instanceof BerthError && err.code === 'BERTH_E_USAGE', bad);
  }
  const bases = parseBaseImages(['python=registry.example.com/base/python:3.11']);
  assert.equal(bases.python.repository, 'base/python');
  assert.equal(bases.node.digest, DEFAULT_BASE_IMAGES.node.split('@')[1], 'the default is pinned by digest');
  assert.throws(() => parseBaseImages(['ruby=x/y']), (err: unknown) => err instanceof BerthError && err.code === 'BERTH_E_USAGE');
  assert.throws(() => parseBaseImages(['node']), (err: unknown) => err instanceof BerthError && err.code === 'BERTH_E_USAGE');
});

test('--runtime kubernetes flags: what is needed, what only makes sense with it', () => {
  assert.equal(parseKubernetesFlags({}), null);
  assert.equal(parseKubernetesFlags({ runtime: 'local', baseImage: [] }), null);
  const usage = (flags: Parameters<typeof parseKubernetesFlags>[0], pattern: RegExp) => assert.throws(() => parseKubernetesFlags(flags), (err: unknown) => err instanceof BerthError && err.code === 'BERTH_E_USAGE' && pattern.test(err.message));
  usage({ runtime: 'nomad' }, /not a runtime/);
  usage({ registry: 'r.example.com/apps' }, /--registry only means something with --runtime kubernetes/);
  usage({ baseImage: ['node=x/y'] }, /--base-image only means/);
  usage({ runtime: 'kubernetes', registry: 'r.example.com/apps' }, /needs --kubeconfig/);
  usage({ runtime: 'kubernetes', kubeconfig: 'k' }, /needs --registry/);
  usage({ runtime: 'kubernetes', kubeconfig: 'k', registry: 'r.example.com/apps', certIssuer: 'letsencrypt' }, /KIND\/NAME/);
  const settings = parseKubernetesFlags({ runtime: 'kubernetes', kubeconfig: 'k', registry: 'r.example.com/apps', certIssuer: 'ClusterIssuer/letsencrypt', releaseTimeout: '5m' })!;
  assert.equal(settings.namespace, 'berth');
  assert.deepEqual(settings.certIssuer, { kind: 'ClusterIssuer', name: 'letsencrypt' });
  assert.equal(settings.releaseTimeoutSeconds, 300);
  assert.equal(settings.rolloutTimeoutMs, 600_000);
  assert.throws(() => parseKubernetesFlags({ runtime: 'kubernetes', kubeconfig: 'k', registry: 'r.example.com/apps', namespace: 'Apps' }), (err: unknown) => err instanceof BerthError && err.code === 'BERTH_E_NAME');
});

test('registry credentials: one line USER:PASSWORD in a file only its owner reads, never a link', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-creds-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'creds');
  await writeFile(file, 'robot:s3cr:et\n', { mode: 0o600 });
  assert.deepEqual(await readRegistryCredentials(file), { username: 'robot', password: 's3cr:et' });
  await chmod(file, 0o644);
  await assert.rejects(readRegistryCredentials(file), /may be read by others/);
  await chmod(file, 0o600);
  await symlink(file, join(dir, 'link'));
  await assert.rejects(readRegistryCredentials(join(dir, 'link')), /not a regular file/);
  await writeFile(join(dir, 'two'), 'a:b\nc:d\n', { mode: 0o600 });
  await assert.rejects(readRegistryCredentials(join(dir, 'two')), /not one line/);
});

test('pod logs become app log lines: the kubelet time, the type and pod, merged with the app log by time', () => {
  const lines = podLogLines([
    { pod: 'shop--web-84b4959795-d6jtb', process: 'web', lines: ['2026-12-07T10:00:02.500000000Z GET /', 'no time here', '2026-12-07T10:00:01Z booted'] },
    { pod: 'odd', process: '', lines: ['2026-12-07T10:00:03Z x'] },
  ]);
  assert.deepEqual(lines.map((l) => [l.source, l.text]), [['web.d6jtb', 'GET /'], ['web.d6jtb', 'booted'], ['pod.odd', 'x']]);
  const merged = mergeLogLines([{ at: Date.parse('2026-12-07T10:00:02Z'), source: 'berth', text: 'v3 serving' }], lines, 3);
  assert.deepEqual(merged.map((l) => l.text), ['v3 serving', 'GET /', 'x'], 'oldest first, the most recent kept');
});

test("the operator's certificate: which domains it covers, a TLS Secret they name, cert-manager or it but not both", () => {
  assert.deepEqual(certificateDnsNames('DNS:*.Example.com, IP Address:127.0.0.1, DNS:example.com'), ['*.example.com', 'example.com']);
  assert.deepEqual(certificateDnsNames(undefined), []);
  const names = ['*.example.com', 'shop.other.org'];
  assert.ok(certificateCovers(names, 'shop.example.com'));
  assert.ok(certificateCovers(names, 'SHOP.other.org'));
  assert.ok(!certificateCovers(names, 'example.com'), 'a wildcard is not its own base');
  assert.ok(!certificateCovers(names, 'a.shop.example.com'), 'a wildcard covers one label');
  assert.ok(!certificateCovers(names, 'evil-example.com'));
  const spec = deploymentOf(release({ domains: ['shop.example.com', 'shop.elsewhere.net'] }), { ...settings, certificateNames: names }).spec;
  assert.deepEqual(spec.domains.map((d) => d.tls), [{ mode: 'secret', secretName: tlsSecretName('shop') }, { mode: 'none' }]);
  const objects = appObjects(spec);
  const ingress = objects.find((o) => o.kind === 'Ingress' && (o.spec as any).rules[0].host === 'shop.example.com')!;
  assert.deepEqual((ingress.spec as any).tls, [{ hosts: ['shop.example.com'], secretName: 'shop--tls' }]);
  const secret = tlsSecret(spec, 'shop--tls', { certPem: 'CERT', keyPem: 'KEY' });
  assertValidObject(secret);
  assert.equal(secret.type, 'kubernetes.io/tls');
  assert.equal(Buffer.from((secret.data as any)['tls.key'], 'base64').toString(), 'KEY');
  assert.ok(!JSON.stringify(objects).includes('KEY'));
  const usage = (flags: Parameters<typeof parseKubernetesFlags>[0], pattern: RegExp) => assert.throws(() => parseKubernetesFlags(flags), (err: unknown) => err instanceof BerthError && pattern.test(err.message));
  const base = { runtime: 'kubernetes', kubeconfig: 'k', registry: 'r.example.com/apps' };
  usage({ ...base, tlsCert: 'c.pem' }, /go together/);
  usage({ ...base, tlsCert: 'c.pem', tlsKey: 'k.pem', certIssuer: 'ClusterIssuer/le' }, /both say where/);
  assert.deepEqual(parseKubernetesFlags({ ...base, tlsCert: 'c.pem', tlsKey: 'k.pem' })!.certificate, { certFile: 'c.pem', keyFile: 'k.pem' });
});
