// A small base image made in the test: a busybox-style rootfs (Debian's
// static busybox as /bin/busybox, /bin/sh a link to it), tarred with
// node-tar (another writer than berth's), pushed as Docker schema 2 inside a
// Docker manifest list, the way Docker Hub serves official images.
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
/** Where cleanups go: a test's context, or the bench's list. */
interface Cleanups {
  after(fn: () => unknown): void;
}
import { gzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { create } from 'tar';
import { digestOf, mediaTypes, type Digest, type RegistryClient } from '../../src/oci/index.ts';

export const BUSYBOX = '/bin/busybox';
export const BASE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface PushedBase {
  readonly repository: string;
  readonly indexDigest: Digest;
  readonly manifestDigest: Digest;
  readonly layerDigest: Digest;
}

async function tarBytes(cwd: string, paths: string[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of create({ cwd, portable: true, mtime: new Date(0) }, paths) as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function sha(bytes: Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export async function pushBase(t: Cleanups, client: RegistryClient, repository: string): Promise<PushedBase> {
  const rootfs = await mkdtemp(join(tmpdir(), 'berth-base-'));
  t.after(() => rm(rootfs, { recursive: true, force: true }));
  await mkdir(join(rootfs, 'bin'));
  await mkdir(join(rootfs, 'tmp'), { mode: 0o1777 });
  await copyFile(BUSYBOX, join(rootfs, 'bin', 'busybox'));
  for (const tool of ['sh', 'cat', 'id', 'echo', 'ls']) await symlink('busybox', join(rootfs, 'bin', tool));
  await writeFile(join(rootfs, 'base-marker'), 'base\n');
  const tar = await tarBytes(rootfs, ['bin', 'tmp', 'base-marker']);
  const layer = gzipSync(tar);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Env: [`PATH=${BASE_PATH}`, 'BASE_IMAGE=busybox-test'], Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: [sha(tar)] },
      history: [{ created: '2024-01-01T00:00:00Z', created_by: 'test: busybox rootfs' }],
    }),
  );
  const push = async (bytes: Buffer) => {
    const digest = digestOf(bytes);
    await client.pushBlob(repository, { digest, size: bytes.length, open: async (start, end) => Readable.from([bytes.subarray(start, end)]) });
    return digest;
  };
  const layerDigest = await push(layer);
  const configDigest = await push(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: mediaTypes.DOCKER_MANIFEST,
      config: { mediaType: mediaTypes.DOCKER_CONFIG, size: config.length, digest: configDigest },
      layers: [{ mediaType: mediaTypes.DOCKER_LAYER_GZIP, size: layer.length, digest: layerDigest }],
    }),
  );
  const manifestDigest = await client.putManifest(repository, digestOf(manifest), mediaTypes.DOCKER_MANIFEST, manifest);
  // An arm64 entry first, so choosing by platform matters (it names the same manifest; nobody runs it).
  const list = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: mediaTypes.DOCKER_MANIFEST_LIST,
      manifests: [
        { mediaType: mediaTypes.DOCKER_MANIFEST, size: manifest.length, digest: manifestDigest, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
        { mediaType: mediaTypes.DOCKER_MANIFEST, size: manifest.length, digest: manifestDigest, platform: { architecture: 'amd64', os: 'linux' } },
      ],
    }),
  );
  const indexDigest = await client.putManifest(repository, 'latest', mediaTypes.DOCKER_MANIFEST_LIST, list);
  return { repository, indexDigest, manifestDigest, layerDigest };
}
