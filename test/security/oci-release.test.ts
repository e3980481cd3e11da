// The attack: an app's release is hostile input to the image builder, which
// runs as root. Its links must reach the image as links (never the host's
// files they name), hard links to files of others, sockets, FIFOs, devices
// and whiteout names must be refused, and swapping a folder for a link while
// the image is built must never put a host file into a layer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chown, link, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Parser } from 'tar';
import { buildImage, LayerCache, type BaseImage, type BuildImageOptions } from '../../src/oci/index.ts';
import { isBerthError } from '../../src/errors.ts';

const BASE: BaseImage = {
  reference: { registry: 'registry.example', repository: 'base', tag: 'latest', digest: undefined },
  manifestDigest: `sha256:${'a'.repeat(64)}`,
  config: { architecture: 'amd64', os: 'linux', variant: undefined, env: [], diffIds: [], history: undefined },
  layers: [],
};
const APP_UID = 4242;

async function scene(t: { after(fn: () => Promise<void>): void }): Promise<{ release: string; cache: LayerCache; root: string }> {
  const root = await mkdtemp(join(tmpdir(), 'berth-oci-attack-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const release = join(root, 'release');
  await mkdir(join(release, 'src'), { recursive: true });
  await writeFile(join(release, 'src', 'app.js'), 'console.log("app");\n');
  return { release, cache: await LayerCache.open(join(root, 'cache')), root };
}

function options(release: string, cache: LayerCache): BuildImageOptions {
  return { base: BASE, releaseDir: release, cache, app: 'evil', release: 'r1' };
}

async function layerEntries(cache: LayerCache, digest: `sha256:${string}`): Promise<{ path: string; type: string; linkpath: string; size: number }[]> {
  const list: { path: string; type: string; linkpath: string; size: number }[] = [];
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({ onReadEntry: (e) => { list.push({ path: e.path, type: e.type, linkpath: e.linkpath ?? '', size: e.size ?? 0 }); e.resume(); } });
    parser.on('end', resolve).on('error', reject);
    readFile(cache.blobPath(digest)).then((bytes) => parser.end(gunzipSync(bytes)), reject);
  });
  return list;
}

async function chownTree(dir: string, uid: number): Promise<void> {
  execFileSync('chown', ['-hR', `${uid}:${uid}`, '--', dir]);
}

test('links in a release reach the image as links: /etc/shadow, /etc and ../.. are never read', async (t) => {
  const { release, cache } = await scene(t);
  await symlink('/etc/shadow', join(release, 'shadow'));
  await symlink('/etc', join(release, 'etc'));
  await symlink('../../../../../../etc/passwd', join(release, 'src', 'up'));
  await chownTree(release, APP_UID);
  const image = await buildImage(options(release, cache));
  const entries = await layerEntries(cache, image.appLayers[1]!.digest);
  assert.deepEqual(entries.filter((e) => e.type === 'SymbolicLink').map((e) => [e.path, e.linkpath, e.size]), [
    ['app/etc', '/etc', 0],
    ['app/shadow', '/etc/shadow', 0],
    ['app/src/up', '../../../../../../etc/passwd', 0],
  ]);
  assert.deepEqual(entries.map((e) => e.path), ['app/', 'app/etc', 'app/shadow', 'app/src/', 'app/src/app.js', 'app/src/up'], 'nothing under the linked /etc');
});

test("a hard link to a file of another owner (root's) is refused, never read", async (t) => {
  const { release, cache, root } = await scene(t);
  const secret = join(root, 'root-secret');
  await writeFile(secret, 'root only\n', { mode: 0o600 });
  await chownTree(release, APP_UID);
  await link(secret, join(release, 'src', 'stolen'));
  await assert.rejects(buildImage(options(release, cache)), (err) => isBerthError(err) && err.code === 'BERTH_E_IMAGE_SOURCE' && /src\/stolen.*uid 0/.test(err.message));
  assert.deepEqual(await readdir(join(root, 'cache', 'tmp')), []);
});

test('sockets, FIFOs, devices and whiteout names are refused with BERTH_E_IMAGE_SOURCE', async (t) => {
  const cases: [string, (release: string) => Promise<() => void>][] = [
    ['a FIFO', async (release) => (execFileSync('mkfifo', ['--', join(release, 'src', 'pipe')]), () => {})],
    ['a device', async (release) => (execFileSync('mknod', ['--', join(release, 'src', 'null'), 'c', '1', '3']), () => {})],
    [
      'a socket',
      async (release) => {
        const server = createServer();
        await new Promise<void>((resolve) => server.listen(join(release, 'src', 'sock'), resolve));
        return () => server.close();
      },
    ],
    ['a whiteout', async (release) => (await writeFile(join(release, '.wh.node_modules'), ''), () => {})],
  ];
  for (const [what, make] of cases) {
    const { release, cache } = await scene(t);
    const undo = await make(release);
    try {
      await assert.rejects(buildImage(options(release, cache)), (err) => isBerthError(err) && err.code === 'BERTH_E_IMAGE_SOURCE', what);
    } finally {
      undo();
    }
  }
});

test('a folder swapped for a link to /etc while the image is built never puts a host file into a layer', async (t) => {
  const { release, cache } = await scene(t);
  for (let i = 0; i < 50; i++) await writeFile(join(release, 'src', `f${i}.js`), `// ${i}\n`);
  // The app, in its own process, swaps src for a link to /etc and back as fast as it can.
  // A process group of its own: the mv or ln it is running goes with it (killing sh alone would leave one renaming while the folder is removed).
  const swapper = spawn('sh', ['-c', 'while :; do mv src src.real && ln -s /etc src && rm src && mv src.real src; done'], { cwd: release, stdio: 'ignore', detached: true });
  const swapperGone = once(swapper, 'exit');
  const stopSwapper = async () => {
    try {
      process.kill(-swapper.pid!, 'SIGKILL');
    } catch {
      // gone already
    }
    await swapperGone;
  };
  t.after(stopSwapper);
  const passwdLine = (await readFile('/etc/passwd', 'utf8')).split('\n')[0]!;
  const outcomes = { built: 0, refused: 0 };
  for (let round = 0; round < 40; round++) {
    try {
      const image = await buildImage(options(release, cache));
      outcomes.built++;
      for (const layer of image.appLayers) {
        const tar = gunzipSync(await readFile(cache.blobPath(layer.digest)));
        assert.ok(!tar.includes(passwdLine), 'no host file content in a layer');
        for (const entry of await layerEntries(cache, layer.digest)) assert.ok(!/^app\/src\/(passwd|hostname|shadow|group)$/.test(entry.path), entry.path);
      }
    } catch (err) {
      assert.ok(isBerthError(err) && err.code === 'BERTH_E_IMAGE_SOURCE', String(err));
      outcomes.refused++;
    }
  }
  await stopSwapper();
  t.diagnostic(`built ${outcomes.built}, refused ${outcomes.refused}`);
  assert.equal(outcomes.built + outcomes.refused, 40);
});
