// The pure parts of src/oci/: references, challenges, platforms, the
// environment, documents from registries, modes and names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseImageReference, registryEndpoint, formatReference } from '../../src/oci/reference.ts';
import { parseChallenge, tokenUrl, repositoryScope } from '../../src/oci/registry-auth.ts';
import { hostPlatform, imageEnv, parseBaseConfig, parseManifestDocument, selectPlatform, type ImageIndex } from '../../src/oci/image-json.ts';
import { appDirComponents, layerOf, normalMode, refuseName } from '../../src/oci/layer-plan.ts';
import { DOCKER_LAYER_GZIP, DOCKER_MANIFEST, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST } from '../../src/oci/media-types.ts';
import { isBerthError } from '../../src/errors.ts';

const D = (c: string) => `sha256:${c.repeat(64)}` as const;
const code = (expected: string) => (err: unknown) => isBerthError(err) && err.code === expected;

test('image references: Docker Hub defaults, registries with ports, tags and digests', () => {
  const cases: [string, [string, string, string | undefined, string | undefined]][] = [
    ['node', ['docker.io', 'library/node', 'latest', undefined]],
    ['node:24-slim', ['docker.io', 'library/node', '24-slim', undefined]],
    ['bitnami/redis:7', ['docker.io', 'bitnami/redis', '7', undefined]],
    ['localhost/app', ['localhost', 'app', 'latest', undefined]],
    ['127.0.0.1:5000/team/app:v1', ['127.0.0.1:5000', 'team/app', 'v1', undefined]],
    [`ghcr.io/o/p@${D('a')}`, ['ghcr.io', 'o/p', undefined, D('a')]],
    [`python:3.12-slim@${D('b')}`, ['docker.io', 'library/python', '3.12-slim', D('b')]],
  ];
  for (const [text, [registry, repository, tag, digest]] of cases) assert.deepEqual(parseImageReference(text), { registry, repository, tag, digest }, text);
  for (const bad of ['', 'Node', 'a//b', 'app:', 'app:-x', 'app@sha256:abc', `app@md5:${'a'.repeat(32)}`, 'host:99999/app', 'app/', '-app']) {
    assert.throws(() => parseImageReference(bad), code('BERTH_E_IMAGE_REFERENCE'), bad);
  }
  assert.equal(registryEndpoint('docker.io'), 'registry-1.docker.io');
  assert.equal(registryEndpoint('ghcr.io'), 'ghcr.io');
  assert.equal(formatReference(parseImageReference('node:24')), 'docker.io/library/node:24');
});

test('WWW-Authenticate challenges: Basic and Bearer, quoted values with commas and escapes, other schemes skipped', () => {
  assert.deepEqual(parseChallenge('Basic realm="berth-test"'), { scheme: 'basic', params: { realm: 'berth-test' } });
  assert.deepEqual(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/node:pull"'), {
    scheme: 'bearer',
    params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/node:pull' },
  });
  assert.deepEqual(parseChallenge('bearer realm="https://a/t", error="insufficient_scope", scope="repository:a:pull,push"'), {
    scheme: 'bearer',
    params: { realm: 'https://a/t', error: 'insufficient_scope', scope: 'repository:a:pull,push' },
  });
  assert.deepEqual(parseChallenge('Basic realm="a \\"quoted\\" realm"')?.params, { realm: 'a "quoted" realm' });
  assert.equal(parseChallenge('Negotiate'), undefined);
  assert.equal(parseChallenge('Bearer realm="unterminated'), undefined);
  assert.equal(parseChallenge(undefined), undefined);
});

test('token URLs carry the service and both scopes; a plain-http realm for an https registry is refused', () => {
  const challenge = parseChallenge('Bearer realm="https://auth.example/token",service="reg",scope="repository:x:pull"')!;
  const url = tokenUrl(challenge, repositoryScope('x', true), true);
  assert.ok(url instanceof URL);
  assert.equal(url.searchParams.get('service'), 'reg');
  assert.deepEqual(url.searchParams.getAll('scope'), ['repository:x:pull,push', 'repository:x:pull']);
  assert.equal(typeof tokenUrl(parseChallenge('Bearer realm="http://auth.example/token"')!, 'scope', true), 'string');
  assert.ok(tokenUrl(parseChallenge('Bearer realm="http://127.0.0.1:1/token"')!, 'scope', false) instanceof URL);
  assert.equal(typeof tokenUrl(parseChallenge('Bearer realm="file:///etc/passwd"')!, 'scope', false), 'string');
  assert.equal(typeof tokenUrl(parseChallenge('Bearer service="x"')!, 'scope', false), 'string');
});

test('platforms: the wanted one from an index, arm64 v8 as arm64, a clear error listing what there is', () => {
  const index: ImageIndex = {
    kind: 'index',
    manifests: [
      { mediaType: OCI_MANIFEST, digest: D('1'), size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
      { mediaType: OCI_MANIFEST, digest: D('2'), size: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { mediaType: OCI_MANIFEST, digest: D('3'), size: 1, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: OCI_MANIFEST, digest: D('4'), size: 1, platform: { os: 'unknown', architecture: 'unknown' } },
    ],
  };
  assert.equal(selectPlatform(index, { os: 'linux', architecture: 'amd64' }, 'x').digest, D('3'));
  assert.equal(selectPlatform(index, { os: 'linux', architecture: 'arm64' }, 'x').digest, D('2'));
  assert.equal(selectPlatform(index, hostPlatform('arm64'), 'x').digest, D('2'));
  assert.throws(() => selectPlatform(index, { os: 'linux', architecture: 's390x' }, 'x'), (err) => code('BERTH_E_IMAGE_PLATFORM')(err) && /linux\/arm\/v7, linux\/arm64\/v8, linux\/amd64$/.test((err as Error).message));
  assert.deepEqual(hostPlatform('x64'), { os: 'linux', architecture: 'amd64' });
});

test('documents from registries: manifests and indexes by media type; schema 1, foreign layers and mismatched configs refused', () => {
  const bytes = (value: unknown) => Buffer.from(JSON.stringify(value));
  const config = { mediaType: OCI_CONFIG, digest: D('c'), size: 10 };
  const manifest = parseManifestDocument(bytes({ schemaVersion: 2, mediaType: DOCKER_MANIFEST, config, layers: [{ mediaType: DOCKER_LAYER_GZIP, digest: D('1'), size: 5 }] }), undefined, 'm');
  assert.equal(manifest.kind, 'manifest');
  const index = parseManifestDocument(bytes({ schemaVersion: 2, manifests: [] }), OCI_INDEX, 'i');
  assert.equal(index.kind, 'index');
  const format = code('BERTH_E_IMAGE_FORMAT');
  assert.throws(() => parseManifestDocument(bytes({ schemaVersion: 1, name: 'x', fsLayers: [] }), 'application/vnd.docker.distribution.manifest.v1+prettyjws', 's1'), format);
  assert.throws(() => parseManifestDocument(bytes({ schemaVersion: 2, config, layers: [{ mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', digest: D('1'), size: 5, urls: ['https://x'] }] }), OCI_MANIFEST, 'foreign'), format);
  assert.throws(() => parseManifestDocument(bytes({ schemaVersion: 2, config: { ...config, mediaType: 'application/vnd.cncf.helm.config.v1+json' }, layers: [] }), OCI_MANIFEST, 'helm'), format);
  assert.throws(() => parseManifestDocument(Buffer.from('{not json'), OCI_MANIFEST, 'junk'), format);
  assert.throws(() => parseBaseConfig(bytes({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [D('1')] } }), 2, 'config'), format);
  assert.deepEqual(parseBaseConfig(bytes({ architecture: 'amd64', os: 'linux', config: { Env: null }, rootfs: { type: 'layers', diff_ids: [] } }), 0, 'config').env, []);
});

test("the image environment: PATH led by the app's folders, the base's other variables kept in place, new ones sorted", () => {
  assert.deepEqual(imageEnv(['PATH=/usr/local/bin:/usr/bin', 'NODE_VERSION=24', 'NODE_ENV=development'], ['/app/node_modules/.bin'], { NODE_ENV: 'production', B: '2', A: '1' }), [
    'PATH=/app/node_modules/.bin:/usr/local/bin:/usr/bin',
    'NODE_VERSION=24',
    'NODE_ENV=production',
    'A=1',
    'B=2',
  ]);
  assert.deepEqual(imageEnv([], [], {}), ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
});

test('layers, modes and names', () => {
  assert.equal(layerOf('node_modules'), 'dependencies');
  assert.equal(layerOf('.venv'), 'dependencies');
  assert.equal(layerOf('src'), 'app');
  assert.equal(layerOf('venv'), 'app');
  assert.equal(normalMode('file', 0o100600), 0o644);
  assert.equal(normalMode('file', 0o104711), 0o755);
  assert.equal(normalMode('directory', 0o41777), 0o755);
  assert.equal(normalMode('symlink', 0o120755), 0o777);
  assert.deepEqual(appDirComponents('/app'), ['app']);
  assert.deepEqual(appDirComponents('/srv/app'), ['srv', 'srv/app']);
  for (const bad of ['app', '/', '/app/', '/a/../b', '/a//b', '/a b']) assert.throws(() => appDirComponents(bad), code('BERTH_E_USAGE'), bad);
  assert.equal(refuseName(Buffer.from('ok.txt'), '.'), 'ok.txt');
  assert.throws(() => refuseName(Buffer.from('.wh..wh..opq'), '.'), code('BERTH_E_IMAGE_SOURCE'));
  assert.throws(() => refuseName(Buffer.from([0x66, 0xff]), '.'), code('BERTH_E_IMAGE_SOURCE'));
});
