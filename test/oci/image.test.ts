// The whole path against a real registry (Debian's docker-registry): a
// busybox base pushed as a Docker manifest list, an app image built on it
// and pushed, pulled back by digest, copied out by another tool (skopeo)
// and run with runc.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { chmod, lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar';
import { buildImage, LayerCache, parseImageReference, pullBase, pushImage, RegistryClient, digestOf, parseManifestDocument, mediaTypes, type Digest } from '../../src/oci/index.ts';
import { startRegistry } from '../helpers/registry.ts';
import { BASE_PATH, pushBase } from '../helpers/oci-base.ts';

async function tempDir(t: { after(fn: () => Promise<void>): void }, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function makeApp(dir: string): Promise<void> {
  await mkdir(join(dir, 'node_modules', 'greeting'), { recursive: true });
  await writeFile(join(dir, 'node_modules', 'greeting', 'VERSION'), '1.2.3\n');
  await mkdir(join(dir, 'bin'));
  await writeFile(join(dir, 'bin', 'hello'), '#!/bin/sh\necho "hello from the app layer: greeting $(cat /app/node_modules/greeting/VERSION) as $(id -u):$(id -g) in $(pwd)"\necho "PATH=$PATH"\n');
  await chmod(join(dir, 'bin', 'hello'), 0o755);
  // The hostile link: it must reach the image as a link, never as the host's file.
  await symlink('/etc/shadow', join(dir, 'shadow'));
  await writeFile(join(dir, `${'long-name-'.repeat(12)}.txt`), 'a name over 100 bytes goes through a pax header\n');
}

function run(command: string, args: string[], timeout = 60_000): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout, encoding: 'utf8' }, (err, stdout, stderr) => (err ? reject(Object.assign(err, { stdout, stderr })) : resolve({ stdout, stderr })));
  });
}

test('an app image built on a pulled base is pushed, pulled back by digest, copied by skopeo and runs with runc', async (t) => {
  const registry = await startRegistry(t);
  const client = await RegistryClient.open({ registry: registry.host, plainHttp: true, chunkSize: 64 * 1024 });
  t.after(() => client.close());
  const base = await pushBase(t, client, 'base/busybox');

  const cache = await LayerCache.open(join(await tempDir(t, 'berth-oci-cache-'), 'cache'));
  const pulled = await pullBase(client, parseImageReference(`${registry.host}/base/busybox:latest`), cache, { os: 'linux', architecture: 'amd64' });
  assert.equal(pulled.manifestDigest, base.manifestDigest, 'the amd64 entry of the index, not the arm64 one first in it');
  assert.deepEqual(pulled.layers, [{ mediaType: mediaTypes.OCI_LAYER_GZIP, digest: base.layerDigest, size: pulled.layers[0]!.size }], "Docker's layer type becomes the OCI name of the same bytes");
  assert.ok((await cache.has(base.layerDigest)) !== undefined, 'the base layer is in the cache');

  const release = await tempDir(t, 'berth-oci-app-');
  await makeApp(release);
  const image = await buildImage({ base: pulled, releaseDir: release, cache, app: 'hello', release: 'build-1', path: ['bin', 'node_modules/.bin'], env: { NODE_ENV: 'production' } });
  const pushed = await pushImage(client, 'apps/hello', 'v1', image, cache);
  assert.equal(pushed.digest, image.manifestDigest);
  // The base blobs were pushed into apps/hello (another repository), the config and both app layers too; the
  // busybox layer is big enough (> 64 KiB) to have gone up in chunks.
  assert.deepEqual(pushed.blobs.map((b) => b.outcome), ['uploaded', 'uploaded', 'uploaded', 'uploaded']);

  // Into another repository of the same registry, the blobs are mounted from the first, not uploaded again.
  const again = await pushImage(client, 'apps/hello-copy', 'v1', image, cache, { mountFrom: 'apps/hello' });
  assert.equal(again.digest, pushed.digest);
  assert.deepEqual(again.blobs.map((b) => b.outcome), ['mounted', 'mounted', 'mounted', 'mounted']);
  assert.deepEqual((await pushImage(client, 'apps/hello-copy', 'v2', image, cache)).blobs.map((b) => b.outcome), ['exists', 'exists', 'exists', 'exists']);

  // Pulled back by digest: the same bytes, every blob verified against its digest into a fresh cache.
  const back = await client.getManifest('apps/hello', pushed.digest);
  assert.deepEqual(back.bytes, image.manifest);
  assert.equal(back.mediaType, mediaTypes.OCI_MANIFEST);
  const manifest = parseManifestDocument(back.bytes, back.mediaType, 'the pushed manifest');
  assert.equal(manifest.kind, 'manifest');
  if (manifest.kind !== 'manifest') return;
  const fresh = await LayerCache.open(join(await tempDir(t, 'berth-oci-cache2-'), 'cache'));
  for (const blob of [manifest.config, ...manifest.layers]) assert.deepEqual(await client.pullBlob('apps/hello', blob, fresh), { digest: blob.digest, size: blob.size });
  const config = JSON.parse((await fresh.readSmall(manifest.config.digest, 1 << 20)).toString()) as { config: { User: string; WorkingDir: string; Env: string[]; Labels: Record<string, string>; Cmd?: unknown; Entrypoint?: unknown }; rootfs: { diff_ids: Digest[] } };
  assert.equal(config.config.User, '10001:10001');
  assert.equal(config.config.WorkingDir, '/app');
  assert.deepEqual(config.config.Labels, { 'dev.berth.app': 'hello', 'dev.berth.release': 'build-1' });
  assert.deepEqual(config.config.Env, [`PATH=/app/bin:/app/node_modules/.bin:${BASE_PATH}`, 'BASE_IMAGE=busybox-test', 'NODE_ENV=production']);
  assert.equal(config.config.Cmd, undefined, "the base's Cmd is not kept: the Procfile says what runs");
  assert.equal(config.rootfs.diff_ids.length, 3);

  // The app layer holds the link as a link, and nothing of the host's /etc/shadow.
  const appLayer = gunzipSync(await readFile(fresh.blobPath(manifest.layers[2]!.digest)));
  const shadowFirstLine = (await readFile('/etc/shadow', 'utf8')).split('\n')[0]!;
  assert.ok(!appLayer.includes(shadowFirstLine), 'no line of the host /etc/shadow is in the layer');
  assert.equal(digestOf(appLayer), config.rootfs.diff_ids[2], "the layer's diff_id is its uncompressed digest");

  // Another tool reads the image from the registry (verifying every digest as it copies).
  const layout = await tempDir(t, 'berth-oci-layout-');
  await run('skopeo', ['copy', '--src-tls-verify=false', `docker://${registry.host}/apps/hello@${pushed.digest}`, `oci:${join(layout, 'image')}:hello`]);
  const index = JSON.parse(await readFile(join(layout, 'image', 'index.json'), 'utf8')) as { manifests: { digest: Digest }[] };
  assert.equal(index.manifests[0]!.digest, pushed.digest, 'skopeo kept the manifest byte for byte');

  // Unpacked layer by layer into a runc bundle and run as the image says.
  const bundle = await tempDir(t, 'berth-oci-bundle-');
  const rootfs = join(bundle, 'rootfs');
  await mkdir(rootfs);
  // preservePaths: absolute link targets stay absolute, as container runtimes unpack them.
  for (const layer of manifest.layers) await extract({ file: join(layout, 'image', 'blobs', 'sha256', layer.digest.slice(7)), cwd: rootfs, preservePaths: true });
  assert.ok((await lstat(join(rootfs, 'app', 'shadow'))).isSymbolicLink());
  assert.equal(await readlink(join(rootfs, 'app', 'shadow')), '/etc/shadow');
  execFileSync('runc', ['spec', '--bundle', bundle], { timeout: 15_000 });
  const spec = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8'));
  const [uid, gid] = config.config.User.split(':').map(Number);
  spec.process.terminal = false;
  spec.process.args = ['hello'];
  spec.process.env = config.config.Env;
  spec.process.cwd = config.config.WorkingDir;
  spec.process.user = { uid, gid };
  spec.root.readonly = true;
  await writeFile(join(bundle, 'config.json'), JSON.stringify(spec));
  const state = await tempDir(t, 'berth-oci-runc-');
  const id = `berth-oci-${process.pid}`;
  t.after(() => run('runc', ['--root', state, 'delete', '--force', id]).then(() => undefined, () => undefined));
  const { stdout } = await run('runc', ['--root', state, 'run', '--bundle', bundle, id]);
  assert.match(stdout, /^hello from the app layer: greeting 1\.2\.3 as 10001:10001 in \/app$/m);
  assert.match(stdout, /^PATH=\/app\/bin:/m);
});
