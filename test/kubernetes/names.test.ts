// Kubernetes names from hostile berth names: uppercase, underscores, names
// too long for a DNS label, process types that collide once mapped, and
// schedules a CronJob cannot take. Every object made is schema-checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appObjects, configSecret, configSecretName, joinName, kubernetesSchedule, labelPart, type KubeObject } from '../../src/kubernetes/index.ts';
import { isBerthError } from '../../src/errors.ts';
import { assertAllValid, DNS_LABEL, LABEL_VALUE } from './schema.ts';
import { fullApp, VARS, webOnly } from './fixtures.ts';

const code = (expected: string, message?: RegExp) => (err: unknown) => isBerthError(err) && err.code === expected && (message === undefined || message.test(err.message));
const LONG_APP = `Shop_${'x'.repeat(65)}`; // 70 characters

function assertNamesValid(objects: readonly KubeObject[]): void {
  for (const o of objects) {
    const max = o.kind === 'CronJob' ? 52 : 63;
    assert.ok(o.metadata.name.length <= max, `${o.kind} ${o.metadata.name} is at most ${max} characters`);
    assert.match(o.metadata.name, DNS_LABEL, `${o.kind} ${o.metadata.name}`);
    assert.match(o.metadata.name, /^[a-z]/, 'starts with a letter, as Service names must');
    for (const [key, value] of Object.entries(o.metadata.labels)) assert.match(value, LABEL_VALUE, `${o.kind} ${o.metadata.name} label ${key}=${value}`);
  }
}

test('hostile names: uppercase, underscores, a 70-character app and a process type "Web_1" give valid, short, deterministic names', () => {
  const spec = fullApp({
    app: LONG_APP,
    processes: [
      { name: 'web', argv: ['web'], replicas: 2, resources: { memoryBytes: null, cpu: null } },
      { name: 'Web_1', argv: ['other'], replicas: 1, resources: { memoryBytes: null, cpu: null } },
      { name: `Queue_${'Q'.repeat(57)}`, argv: ['q'], replicas: 1, resources: { memoryBytes: null, cpu: null } },
    ],
    cron: [{ name: `Report_${'R'.repeat(56)}`, schedule: '*/5 * * * *', timezone: 'UTC', argv: ['r'], timeoutSeconds: null, resources: { memoryBytes: null, cpu: null } }],
  });
  const objects = appObjects(spec);
  assertAllValid(objects);
  assertNamesValid(objects);
  assertNamesValid([configSecret(spec, VARS)]);
  assert.deepEqual(appObjects(spec), objects, 'the same spec, the same names');

  const appLabel = objects[0]!.metadata.labels['app.kubernetes.io/name']!;
  assert.equal(appLabel.length, 63);
  assert.match(appLabel, /^shop-x+-[0-9a-f]{16}$/, 'a readable head and a hash of the whole');
  for (const o of objects) assert.equal(o.metadata.labels['app.kubernetes.io/name'], appLabel);

  const deployments = objects.filter((o) => o.kind === 'Deployment');
  assert.equal(new Set(deployments.map((o) => o.metadata.name)).size, 3);
  const web1 = deployments.find((o) => o.metadata.labels['berth.dev/process'] === 'web-1');
  assert.ok(web1, 'Web_1 is labelled web-1');
  assert.match(web1.metadata.name, /-web-1$/, 'the process type stays readable at the end');
  const spec1 = (web1 as unknown as { spec: { template: { metadata: { annotations: Record<string, string> }; spec: { containers: Array<{ name: string; env: Array<{ name: string; value?: string }> }> } } } }).spec.template;
  assert.equal(spec1.metadata.annotations['berth.dev/name'], 'Web_1', 'the name as the Procfile spells it');
  assert.equal(spec1.spec.containers[0]!.name, 'web-1');
  assert.equal(spec1.spec.containers[0]!.env.find((e) => e.name === 'DYNO')!.value, 'Web_1');
  assert.equal(spec1.spec.containers[0]!.env.find((e) => e.name === 'PORT'), undefined, 'Web_1 is not web');

  const release = objects.find((o) => o.kind === 'Job')!;
  assert.match(release.metadata.name, /-release-v12$/, 'the release version survives shortening');
});

test('the release Job is named per release, so each release gets its own', () => {
  const names = [1, 2, 10, 999999].map((version) => appObjects(fullApp({ release: { version, id: `r${version}` } })).find((o) => o.kind === 'Job')!.metadata.name);
  assert.deepEqual(names, ['shop--release-v1', 'shop--release-v2', 'shop--release-v10', 'shop--release-v999999']);
  const long = [1, 2].map((version) => appObjects(fullApp({ app: LONG_APP, release: { version, id: 'r' } })).find((o) => o.kind === 'Job')!.metadata.name);
  assert.notEqual(long[0], long[1]);
});

test('two long names with the same head never shorten to the same name', () => {
  const a = appObjects(webOnly({ app: `${'a'.repeat(62)}1` }));
  const b = appObjects(webOnly({ app: `${'a'.repeat(62)}2` }));
  assertNamesValid([...a, ...b]);
  assert.notEqual(a[0]!.metadata.name, b[0]!.metadata.name);
  assert.notEqual(a[0]!.metadata.labels['app.kubernetes.io/name'], b[0]!.metadata.labels['app.kubernetes.io/name']);
  assert.equal(joinName(['short', 'web']), 'short-web');
  assert.equal(configSecretName('shop'), 'shop--config');
  assert.match(configSecretName(LONG_APP), /^shop-x+-[0-9a-f]{16}-config$/, 'too long: a head, a hash of the whole and the tail');
  assert.ok(configSecretName(LONG_APP).length <= 63);
  assert.equal(labelPart('My_App.Name', 'x'), 'my-app-name');
  assert.equal(labelPart('__web__', 'x'), 'web');
});

test('a shortened name never equals another app\'s name: its tail keeps no "--" (app "a…a" with "x--web" against app "a…a-HASH-x" with "web")', () => {
  const process = (name: string) => ({ name, argv: ['x'], replicas: 1, resources: { memoryBytes: null, cpu: null } });
  const victim = appObjects(webOnly({ app: 'a'.repeat(60), processes: [process('web'), process('x--web')] })).find((o) => o.kind === 'Deployment' && o.metadata.labels['berth.dev/process'] === 'x--web')!;
  assert.doesNotMatch(victim.metadata.name, /--/, victim.metadata.name);
  assert.match(victim.metadata.name, /-x-web$/);
  // The app an attacker would name after the victim's shortened name before the fix: its head, hash and tail up to the "--".
  const attacker = appObjects(webOnly({ app: `${'a'.repeat(47)}-6134de04-x` })).find((o) => o.kind === 'Deployment')!;
  assert.equal(attacker.metadata.name, `${'a'.repeat(47)}-6134de04-x--web`, 'not shortened: it has its "--"');
  assert.notEqual(attacker.metadata.name, victim.metadata.name);
});

test('names that become the same Kubernetes name are refused, naming both', () => {
  const process = (name: string) => ({ name, argv: ['x'], replicas: 1, resources: { memoryBytes: null, cpu: null } });
  assert.throws(() => appObjects(webOnly({ processes: [process('web'), process('Web_1'), process('web-1')] })), code('BERTH_E_NAME', /"Web_1" and "web-1"/));
  assert.throws(() => appObjects(webOnly({ processes: [process('web'), process('Worker'), process('worker')] })), code('BERTH_E_NAME', /Worker.*worker/));
  const cron = (name: string) => ({ name, schedule: '@daily', timezone: 'UTC', argv: ['x'], timeoutSeconds: null, resources: { memoryBytes: null, cpu: null } });
  assert.throws(() => appObjects(webOnly({ cron: [cron('a_b'), cron('a-b')] })), code('BERTH_E_NAME', /cron jobs/));
  assert.throws(() => appObjects(webOnly({ domains: [{ host: 'a-b.example.com', tls: { mode: 'none' } }, { host: 'a.b-example.com', tls: { mode: 'none' } }] })), code('BERTH_E_NAME', /domains/));
});

test('names that cannot be made valid are refused with BERTH_E_NAME and a hint', () => {
  const cases: Array<[string, Parameters<typeof webOnly>[0]]> = [
    ['an app of other characters', { app: 'shop app' }],
    ['an app of only "_"', { app: '___' }],
    ['an app starting with a digit', { app: '1shop' }],
    ['a non-ASCII app', { app: 'shöp' }],
    ['a namespace with uppercase', { namespace: 'Apps' }],
    ['a 64-character namespace', { namespace: 'n'.repeat(64) }],
    ['a Secret name with "_"', { configSecret: 'shop_config' }],
    ['a process type of other characters', { processes: [{ name: 'web', argv: ['x'], replicas: 1, resources: { memoryBytes: null, cpu: null } }, { name: 'a b', argv: ['x'], replicas: 1, resources: { memoryBytes: null, cpu: null } }] }],
    ['an uppercase domain', { domains: [{ host: 'Shop.example.com', tls: { mode: 'none' } }] }],
    ['a one-label domain', { domains: [{ host: 'localhost', tls: { mode: 'none' } }] }],
    ['a domain with a port', { domains: [{ host: 'shop.example.com:443', tls: { mode: 'none' } }] }],
    ['a bad TLS Secret name', { domains: [{ host: 'shop.example.com', tls: { mode: 'secret', secretName: 'Cert!' } }] }],
    ['an image by tag', { image: 'registry.example.com/berth/shop:latest' }],
    ['an image with a short digest', { image: 'registry.example.com/berth/shop@sha256:abc' }],
    ['a release version of 0', { release: { version: 0, id: 'x' } }],
    ['a config hash that is not one', { configHash: 'abc' }],
    ['a process type named release', { processes: [{ name: 'Release', argv: ['x'], replicas: 1, resources: { memoryBytes: null, cpu: null } }] }],
    ['domains without web', { processes: [{ name: 'worker', argv: ['x'], replicas: 1, resources: { memoryBytes: null, cpu: null } }], domains: [{ host: 'shop.example.com', tls: { mode: 'none' } }] }],
  ];
  for (const [what, overrides] of cases) {
    assert.throws(() => appObjects(webOnly(overrides)), (err: unknown) => code('BERTH_E_NAME')(err) && isBerthError(err) && err.hint !== undefined, what);
  }
  assert.throws(() => appObjects(webOnly({ processes: [{ name: 'web', argv: ['x'], replicas: -1, resources: { memoryBytes: null, cpu: null } }] })), code('BERTH_E_SCALE'));
  assert.throws(() => appObjects(webOnly({ processes: [{ name: 'web', argv: [], replicas: 1, resources: { memoryBytes: null, cpu: null } }] })), code('BERTH_E_PROCFILE'));
  assert.throws(() => configSecret(webOnly(), { 'bad key': 'x' }), code('BERTH_E_NAME'));
});

test('schedules: what the CronJob controller takes passes; seconds fields, L, W and # are refused', () => {
  for (const ok of ['0 3 * * *', '*/5 * * * *', '0 9-17/2 * * MON-FRI', '0 0 1,15 * *', '0 0 ? * SUN', '@daily', '@hourly', '@yearly', '  30 2 * JAN *  ']) {
    assert.equal(kubernetesSchedule(ok, 'j'), ok.trim(), ok);
  }
  for (const bad of ['*/30 * * * * *', '0 0 L * *', '0 0 * * 5L', '0 0 * * 1#2', '0 0 15W * *', '@every 5m', '0 3 * *', '0 3 * * * * *', '1-2-3 * * * *', '*/x * * * *']) {
    assert.throws(() => kubernetesSchedule(bad, 'j'), code('BERTH_E_CRON_SCHEDULE', /cron job j/), bad);
  }
  const cron = [{ name: 'fast', schedule: '*/10 * * * * *', timezone: 'UTC', argv: ['x'], timeoutSeconds: null, resources: { memoryBytes: null, cpu: null } }];
  assert.throws(() => appObjects(webOnly({ cron })), code('BERTH_E_CRON_SCHEDULE'));
});

test('two apps sharing a namespace never name an object alike: the app ends at the first "--"', () => {
  const process = (name: string) => ({ name, argv: ['x'], replicas: 1, resources: { memoryBytes: null, cpu: null } });
  const cron = (name: string) => ({ name, schedule: '@daily', timezone: 'UTC', argv: ['x'], timeoutSeconds: null, resources: { memoryBytes: null, cpu: null } });
  const shop = appObjects(webOnly({ app: 'shop', processes: [process('web'), process('a-web')], domains: [{ host: 'a-x.example.com', tls: { mode: 'cert-manager', issuer: 'le', issuerKind: 'ClusterIssuer' } }], cron: [cron('a-cron-x')], releaseCommand: { argv: ['x'], timeoutSeconds: 60, resources: { memoryBytes: null, cpu: null } } }));
  const shopA = appObjects(webOnly({ app: 'shop-a', processes: [process('web')], domains: [{ host: 'x.example.com', tls: { mode: 'cert-manager', issuer: 'le', issuerKind: 'ClusterIssuer' } }], cron: [cron('x')], releaseCommand: { argv: ['x'], timeoutSeconds: 60, resources: { memoryBytes: null, cpu: null } } }));
  assertAllValid([...shop, ...shopA]);
  assertNamesValid([...shop, ...shopA]);
  const names = (objects: KubeObject[]) => new Set(objects.map((o) => `${o.kind}/${o.metadata.name}`));
  const mine = names(shop);
  for (const name of names(shopA)) assert.ok(!mine.has(name), `${name} is only shop-a's`);
  assert.ok(mine.has('Deployment/shop--a-web'));
  assert.ok(names(shopA).has('Deployment/shop-a--web'));
  // An app name that would map to "--" is refused, so no app can pose as another's prefix.
  for (const app of ['Shop__a', 'shop--a', 'shop_.a', 'shop-_a']) {
    assert.throws(() => appObjects(webOnly({ app })), code('BERTH_E_NAME', /app name/), app);
  }
});
