// A build inside its base image, the whole way: a base made in the test
// from this machine's runtimes moved where this machine has none (Debian's
// Python at /opt/basepython; Node 20 and npm at /opt/basenode) pushed to a
// real registry and pulled with pullBase, unpacked
// with prepareBuildRoot, the app's sandbox over it (real bwrap, cgroups and
// network), the image's Python found by running it there, the app detected
// and built with detectApp and runBuild as BuildStep runs them; for the
// Python app the image is then built over the same base and run with runc,
// where it serves.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extract } from 'tar';
import { commandToArgv, detectApp, NO_SANDBOX, readAppConfig, runBuild, DEFAULT_BUILD_LIMITS, type AppPlan } from '../../src/build/index.ts';
import { buildImage, LayerCache, parseImageReference, pullBase, RegistryClient, type BaseImage } from '../../src/oci/index.ts';
import { Containment } from '../../src/platform/containment.ts';
import { prepareBuildRoot, rootBuild, type BuildRoot, type RootBuild } from '../../src/platform/build-root.ts';
import { runOnce } from '../../src/runner/index.ts';
import { giveTree } from '../../src/safe-fs/index.ts';
import { NO_LIMITS, Sandboxes } from '../../src/sandbox/index.ts';
import { startRegistry } from '../helpers/registry.ts';
import { viaEdge } from '../helpers/daemon.ts';
import { BASE_PREFIX, BASE_PYTHON, NODE_PREFIX, pushNodeBase, pushPythonBase } from '../helpers/oci-host-bases.ts';

if (process.getuid?.() !== 0) throw new Error('builds inside a base image run in sandboxes, which need root: run this test as root');

const APP = 'rootapp';
// An app uid far from the ones test daemons hand out first, so its network link is its own.
const UID = 82_000 + (process.pid % 3000);

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => execFile(command, args, { timeout: 30_000, encoding: 'utf8' }, (err, stdout, stderr) => (err ? reject(Object.assign(err, { stderr })) : resolve(stdout))));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

const WSGI = `import sys

def serve(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [('prefix=%s base=%s' % (sys.prefix, sys.base_prefix)).encode()]

app = serve
`;

interface Scene {
  readonly registry: string;
  readonly cache: LayerCache;
  readonly base: BaseImage;
  readonly containment: Containment;
  readonly user: { uid: number; gid: number };
  readonly paths: { dir: string; home: string; cache: string; builds: string };
  /** The build folder (root's, 0700, as a deploy unpacks it). */
  readonly dir: string;
  readonly rootsDir: string;
  /** The languages the provider was asked for. */
  readonly asked: string[];
  readonly provider: (language: 'node' | 'python') => Promise<BuildRoot>;
  /** Undone last first (a container before the folder that holds its state). */
  readonly cleanups: Array<() => Promise<unknown>>;
  readonly root: string;
}

/** A base pushed to a real registry and pulled, a provider of its root, and an app's real sandboxes. */
async function scene(t: TestContext, push: (t: TestContext, client: RegistryClient, repository: string) => Promise<{ manifestDigest: string }>, uid: number): Promise<Scene> {
  const root = await mkdtemp(join(tmpdir(), 'berth-build-root-'));
  const cleanups: Array<() => Promise<unknown>> = [() => rm(root, { recursive: true, force: true })];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const registry = await startRegistry(t);
  const client = await RegistryClient.open({ registry: registry.host, plainHttp: true });
  t.after(() => client.close());
  const pushed = await push(t, client, 'base/runtime');
  const cache = await LayerCache.open(join(root, 'cache'));
  const base = await pullBase(client, parseImageReference(`${registry.host}/base/runtime:latest`), cache);
  assert.equal(base.manifestDigest, pushed.manifestDigest);
  const stateDir = join(root, 'state');
  const rootsDir = join(stateDir, 'oci', 'rootfs');
  const asked: string[] = [];
  const provider = async (language: 'node' | 'python'): Promise<BuildRoot> => {
    asked.push(language);
    return prepareBuildRoot(base, cache, rootsDir);
  };
  // The app's sandboxes, as berth server opens them.
  const opened = await Sandboxes.open({ stateDir, log: () => {}, mode: 'required' });
  const sandboxes = opened.sandboxes!;
  cleanups.push(async () => {
    await sandboxes.close();
    await Sandboxes.purge(stateDir);
  });
  const containment = new Containment({ sandboxes, uncontainedReason: null, stateDir, instanceDefaults: NO_LIMITS, buildMemoryBytes: 1024 ** 3 });
  const appDir = join(stateDir, 'apps', APP);
  const paths = { dir: appDir, home: join(appDir, 'home'), cache: join(appDir, 'cache'), builds: join(appDir, 'builds') };
  for (const dir of [paths.home, paths.cache]) {
    await mkdir(dir, { recursive: true });
    await chown(dir, uid, uid);
  }
  const dir = join(paths.builds, '1');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  return { registry: registry.host, cache, base, containment, user: { uid, gid: uid }, paths, dir, rootsDir, asked, provider, cleanups, root };
}

/** The build as BuildStep runs it with a buildRoot provider: set up in the root, detected, given to the app's user, built. */
async function buildInRoot(s: Scene): Promise<{ inRoot: RootBuild; plan: Extract<AppPlan, { kind: 'processes' }>; log: string[] }> {
  const log: string[] = [];
  const inRoot = await rootBuild(s.provider, { app: APP, dir: s.dir, paths: s.paths, user: s.user, containment: s.containment, buildEnv: { LANG: 'C.UTF-8' }, log: (line) => log.push(line) });
  assert.ok(inRoot !== null);
  const plan = inRoot.mark(await detectApp(s.dir, inRoot.environment.build, await readAppConfig(s.dir)));
  assert.equal(plan.kind, 'processes');
  if (plan.kind !== 'processes') throw new Error('unreachable');
  await giveTree(s.dir, s.user, 0o750);
  await runBuild(
    plan,
    {
      dir: inRoot.dir,
      cacheDir: inRoot.cacheDir,
      env: inRoot.env({ LANG: 'C.UTF-8' }),
      user: s.user,
      limits: DEFAULT_BUILD_LIMITS,
      log: (line) => log.push(line),
      exec: (argv, options) => runOnce(argv, { ...options, launcher: inRoot.launcher, label: 'build' }),
    },
    NO_SANDBOX,
  );
  return { inRoot, plan, log };
}

test('a Python app is built inside its pulled base image (the image\'s Python, paths under /app) and its image serves under runc', async (t) => {
  await assert.rejects(lstat(BASE_PREFIX), { code: 'ENOENT' }, 'this machine has no /opt/basepython: what the build finds there is the image\'s');
  const s = await scene(t, pushPythonBase, UID);
  const { dir, cache, base } = s;
  await writeFile(join(dir, 'requirements.txt'), '# nothing from PyPI: gunicorn is the base image\'s\n');
  await writeFile(join(dir, 'wsgi.py'), WSGI);
  await writeFile(join(dir, 'berth.toml'), '[python]\nsystem_site_packages = true\n');
  const { inRoot, plan, log } = await buildInRoot(s);
  assert.deepEqual(s.asked, ['python'], 'requirements.txt chose the python base');
  assert.deepEqual(inRoot.environment.build.pythons, [{ binary: BASE_PYTHON, version: '3.11.2', servers: ['gunicorn'] }], "the image's Python, found by running it inside");
  assert.deepEqual(inRoot.environment.build.nodes, [], 'the base has no Node (the host has)');
  assert.deepEqual(plan.baseImage, { reference: `${s.registry}/base/runtime:latest`, manifestDigest: base.manifestDigest }, 'the plan records the base');
  assert.deepEqual(plan.install[0], { argv: [BASE_PYTHON, '-m', 'venv', '--without-pip', '--system-site-packages', '.venv'] });
  const { rootsDir, root } = s;
  const shown = log.join('\n');
  assert.match(shown, /building inside the python base image .*base\/runtime:latest@sha256:[0-9a-f]{64}: Python 3\.11\.2 \(\/opt\/basepython\/bin\/python3\)/);
  // The virtualenv was made by the image's Python, at the image's path.
  assert.match(await readFile(join(dir, '.venv', 'pyvenv.cfg'), 'utf8'), /^home = \/opt\/basepython\/bin$/m);
  assert.match(await readFile(join(dir, '.venv', 'bin', 'activate'), 'utf8'), /^VIRTUAL_ENV="?\/app\/\.venv"?$/m, `${shown}`);
  assert.equal(await readlink(join(dir, '.venv', 'bin', 'python3')), BASE_PYTHON, "the virtualenv's interpreter is the image's");
  assert.equal((await lstat(join(dir, '.venv'))).uid, UID, "the build ran as the app's user");
  // The root is the image's, shared and untouched by the build.
  assert.equal((await readdir(rootsDir)).filter((name) => !name.startsWith('.')).length, 1, 'one root, unpacked once');

  // The image over the same base, run by runc: it serves from the virtualenv the build made.
  const image = await buildImage({ base, releaseDir: dir, cache, app: APP, release: 'build-1', path: ['.venv/bin'], owner: UID });
  const bundle = join(root, 'bundle');
  const rootfs = join(bundle, 'rootfs');
  await mkdir(rootfs, { recursive: true });
  for (const layer of image.layers) await extract({ file: cache.blobPath(layer.digest), cwd: rootfs, preservePaths: true });
  await run('runc', ['spec', '--bundle', bundle]);
  const spec = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8'));
  const config = JSON.parse((await cache.readSmall(image.config.digest, 1 << 20)).toString()) as { config: { User: string; WorkingDir: string; Env: string[] } };
  const port = await freePort();
  const web = plan.processes.find((p) => p.name === 'web')!;
  const env = Object.fromEntries(config.config.Env.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
  const [uid, gid] = config.config.User.split(':').map(Number);
  spec.process.terminal = false;
  spec.process.args = commandToArgv(web.command, { ...env, PORT: String(port) });
  // gunicorn needs a writable temporary folder; runc's default spec gives /dev/shm (a pod gets an emptyDir /tmp).
  spec.process.env = [...config.config.Env, `PORT=${port}`, 'TMPDIR=/dev/shm'];
  spec.process.cwd = config.config.WorkingDir;
  spec.process.user = { uid, gid };
  spec.root.readonly = true;
  // The host's network, so the test reaches it on 127.0.0.1.
  spec.linux.namespaces = spec.linux.namespaces.filter((ns: { type: string }) => ns.type !== 'network');
  await writeFile(join(bundle, 'config.json'), JSON.stringify(spec));
  const state = join(root, 'runc');
  const id = `berth-build-root-${process.pid}`;
  const container = spawn('runc', ['--root', state, 'run', '--bundle', bundle, id], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  container.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  container.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => container.once('exit', () => resolve()));
  s.cleanups.push(async () => {
    await run('runc', ['--root', state, 'delete', '--force', id]).catch(() => {});
    await exited;
  });
  let answer: { status: number; body: string } | null = null;
  for (let attempt = 0; attempt < 300 && answer === null; attempt++) {
    if (container.exitCode !== null) break;
    answer = await viaEdge(`http://127.0.0.1:${port}`, `127.0.0.1:${port}`).catch(() => null);
    if (answer === null) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.ok(answer !== null, `the image did not serve:\n${output}`);
  assert.deepEqual(answer, { status: 200, body: `prefix=/app/.venv base=${BASE_PREFIX}` });
});

test("a Node app is built inside its pulled base image: the image's Node, npm fetching a dependency over the app's network", async (t) => {
  await assert.rejects(lstat(NODE_PREFIX), { code: 'ENOENT' }, 'this machine has no /opt/basenode');
  const s = await scene(t, pushNodeBase, UID + 1);
  const pkg = {
    name: 'rootapp',
    private: true,
    engines: { node: '20.x' },
    dependencies: { ms: '2.1.3' },
    scripts: { start: 'node server.js', build: 'node build.js' },
  };
  await writeFile(join(s.dir, 'package.json'), JSON.stringify(pkg));
  await writeFile(join(s.dir, 'build.js'), "require('fs').writeFileSync('built.json', JSON.stringify({ version: process.version, node: process.execPath, cwd: process.cwd(), ms: require('ms')('2h') }));\n");
  await writeFile(join(s.dir, 'server.js'), "require('http').createServer((q, r) => r.end('hi')).listen(process.env.PORT);\n");
  const { inRoot, plan, log } = await buildInRoot(s);
  assert.deepEqual(s.asked, ['node']);
  assert.equal(inRoot.environment.build.nodes.length, 1, log.join('\n'));
  const node = inRoot.environment.build.nodes[0]!;
  assert.match(node.version, /^20\./, "the image's Node 20 (berth runs on Node 24)");
  assert.equal(node.binDir, `${NODE_PREFIX}/bin`);
  assert.equal(plan.path[0], `${NODE_PREFIX}/bin`, 'engines.node chose the image\'s Node');
  const built = JSON.parse(await readFile(join(s.dir, 'built.json'), 'utf8')) as { version: string; node: string; cwd: string; ms: number };
  assert.deepEqual({ ...built, version: built.version.slice(0, 3) }, { version: 'v20', node: `${NODE_PREFIX}/bin/node`, cwd: '/app', ms: 7_200_000 }, 'npm run build ran on the image\'s Node in /app, with the dependency npm installed');
  assert.equal((await lstat(join(s.dir, 'node_modules', 'ms', 'package.json'))).uid, UID + 1);
});
