// How long berth takes to make and push an OCI image of a release, with no
// Docker daemon: a synthetic release (a node_modules of many small files
// and some large ones, and an app folder) on a busybox base, against
// Debian's docker-registry on 127.0.0.1. There is no nginx or Docker to
// compare with here: the numbers stand alone, each the median of the rounds.
//
//   npm run bench:image [-- --rounds N] [-- --size MB]
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, LayerCache, parseImageReference, pullBase, pushImage, RegistryClient, type BuildImageOptions, type BuiltImage } from '../src/oci/index.ts';
import { startRegistry } from '../test/helpers/registry.ts';
import { pushBase } from '../test/helpers/oci-base.ts';

const arg = (name: string, fallback: number) => {
  const at = process.argv.indexOf(name);
  return at === -1 ? fallback : Number(process.argv[at + 1]) || fallback;
};
if (process.argv.includes('--help')) {
  process.stdout.write('npm run bench:image [-- --rounds N (3)] [-- --size MB of node_modules (150)]\n');
  process.exit(0);
}
const rounds = arg('--rounds', 3);
const sizeMb = arg('--size', 150);

const cleanups: (() => unknown)[] = [];
const scope = { after: (fn: () => unknown) => void cleanups.push(fn) };

/** node_modules: text-like small files (compressible) and a few large random blobs (not), about sizeMb in all. */
async function makeRelease(dir: string): Promise<{ files: number }> {
  let files = 0;
  const text = Buffer.from('module.exports = function (a, b) { return a + b; }; // '.repeat(40));
  const small = Math.floor((sizeMb * 0.6 * 1024 * 1024) / text.length);
  for (let i = 0; i < small; i++) {
    const folder = join(dir, 'node_modules', `pkg-${Math.floor(i / 20)}`, 'lib');
    if (i % 20 === 0) await mkdir(folder, { recursive: true });
    await writeFile(join(folder, `f${i % 20}.js`), text);
    files++;
  }
  await mkdir(join(dir, 'node_modules', 'native', 'build'), { recursive: true });
  for (let i = 0; i < 4; i++) {
    await writeFile(join(dir, 'node_modules', 'native', 'build', `blob${i}.node`), randomBytes(Math.floor((sizeMb * 0.4 * 1024 * 1024) / 4)));
    files++;
  }
  await mkdir(join(dir, 'src'), { recursive: true });
  for (let i = 0; i < 200; i++) {
    await writeFile(join(dir, 'src', `module${i}.js`), `export const n${i} = ${i};\n`.repeat(200));
    files++;
  }
  await writeFile(join(dir, 'package.json'), '{"name":"bench-app"}\n');
  return { files: files + 1 };
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const started = performance.now();
  const value = await fn();
  return [performance.now() - started, value];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const rows: Record<string, number[]> = {
  'build, cold cache': [],
  'build, warm cache, same release': [],
  'build, warm cache, one app file changed': [],
  'push, empty repository': [],
  'push after the code change': [],
};
let facts = '';
try {
  const registry = await startRegistry(scope);
  const client = await RegistryClient.open({ registry: registry.host, plainHttp: true });
  scope.after(() => client.close());
  await pushBase(scope, client, 'base/busybox');
  for (let round = 0; round < rounds; round++) {
    const root = await mkdtemp(join(tmpdir(), 'berth-bench-image-'));
    scope.after(() => rm(root, { recursive: true, force: true }));
    const release = join(root, 'release');
    const { files } = await makeRelease(release);
    const cache = await LayerCache.open(join(root, 'cache'));
    const base = await pullBase(client, parseImageReference(`${registry.host}/base/busybox:latest`), cache, { os: 'linux', architecture: 'amd64' });
    const options: BuildImageOptions = { base, releaseDir: release, cache, app: 'bench', release: `r${round}`, path: ['node_modules/.bin'] };

    const [cold, image] = await timed(() => buildImage(options));
    const [warm] = await timed(() => buildImage(options));
    const [push, pushed] = await timed(() => pushImage(client, `bench/app${round}`, 'v1', image, cache));
    await writeFile(join(release, 'src', 'module0.js'), `export const changed = ${round};\n`);
    const [changed, next] = await timed<BuiltImage>(() => buildImage(options));
    const [pushChanged, pushedNext] = await timed(() => pushImage(client, `bench/app${round}`, 'v2', next, cache));
    if (!next.appLayers[0]!.reused || next.appLayers[1]!.reused) throw new Error('the code change should reuse the dependencies layer only');
    if (pushedNext.blobs.filter((b) => b.outcome === 'uploaded').length !== 2) throw new Error(`after the code change, the app layer and the config should be uploaded, not ${JSON.stringify(pushedNext.blobs)}`);
    rows['build, cold cache']!.push(cold);
    rows['build, warm cache, same release']!.push(warm);
    rows['build, warm cache, one app file changed']!.push(changed);
    rows['push, empty repository']!.push(push);
    rows['push after the code change']!.push(pushChanged);
    const [deps, app] = image.appLayers;
    facts = `release: ${files} files, ${sizeMb} MiB of node_modules; layers: dependencies ${(deps!.size / 1048576).toFixed(1)} MiB gzip, app ${(app!.size / 1024).toFixed(0)} KiB gzip, base ${(base.layers[0]!.size / 1048576).toFixed(1)} MiB; pushed ${pushed.blobs.length} blobs, then ${pushedNext.blobs.filter((b) => b.outcome === 'uploaded').length}`;
  }
  process.stdout.write(`\n## OCI image build and push (${rounds} round${rounds === 1 ? '' : 's'}, median)\n\n${facts}\n\n| step | ms |\n|---|---:|\n`);
  for (const [name, values] of Object.entries(rows)) process.stdout.write(`| ${name} | ${median(values).toFixed(0)} |\n`);
  process.stdout.write('\nNo comparison: there is no Docker daemon or other builder on this machine to hold these against.\n');
} finally {
  for (const fn of cleanups.reverse()) await fn();
}
