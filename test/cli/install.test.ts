// The fresh-machine test of the install (issue 16): berth packed as a
// release tarball (`npm pack`, which builds dist/), installed with `npm
// install -g` into a temporary prefix, and run from outside the repository
// the way a laptop runs it: `berth --version`, and `berth login` against a
// real daemon, itself the installed package's `berth server` (so dist/, the
// engine workers and the dashboard's files all come from the package).
// Everything happens in a copy of the repository's sources and in temp
// folders: the real dist/ and npm's global prefix are never touched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readlinkSync, realpathSync } from 'node:fs';
import { chmod, cp, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BerthProcess, REPO } from '../helpers/berth-process.ts';
import { testUserPrefix } from '../helpers/daemon.ts';

const OLD_NODE_DIR = '/usr/bin'; // Debian's Node 20, as test/cli/node-version.test.ts checks

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program to its end (killed after `timeoutMs`), with `input` on its stdin. */
function run(file: string, args: readonly string[], options: { cwd: string; env: Record<string, string>; input?: string; timeoutMs: number }): Promise<Run> {
  const child = spawn(file, args, { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdin.end(options.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The environment of a laptop's shell: `pathFirst` leads PATH; nothing of the npm running this test (npm_* variables) leaks in. */
function shellEnv(pathFirst: readonly string[], extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !key.toLowerCase().startsWith('npm_')) env[key] = value;
  const path = (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':').filter((dir) => !dir.includes('node_modules'));
  return { ...env, NO_COLOR: '1', PATH: [...pathFirst, ...path].join(':'), ...extra };
}

/** What `npm pack` needs of the repository: its sources, manifests and docs, node_modules linked (TypeScript for the build). */
async function copyOfRepo(root: string): Promise<string> {
  const copy = join(root, 'repo');
  for (const name of ['bin', 'src', 'docs']) await cp(join(REPO, name), join(copy, name), { recursive: true });
  for (const name of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md']) await cp(join(REPO, name), join(copy, name));
  await symlink(join(REPO, 'node_modules'), join(copy, 'node_modules'));
  return copy;
}

test('a packed berth installs with npm install -g and runs from outside the repository: --version, and login to a real daemon', { timeout: 600_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-install-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const node24 = dirname(process.execPath);
  const npmEnv = shellEnv([node24]);
  const copy = await copyOfRepo(root);
  const outside = await mkdtemp(join(root, 'elsewhere-'));

  // npm pack: prepack builds dist/ and adds the lockfile as npm-shrinkwrap.json; postpack takes that away again.
  const pack = await run('npm', ['pack', '--pack-destination', root], { cwd: copy, env: npmEnv, timeoutMs: 240_000 });
  assert.equal(pack.code, 0, pack.stderr);
  assert.equal(pack.stdout.trim().split('\n').at(-1), 'berth-paas-0.1.0.tgz');
  assert.equal(existsSync(join(copy, 'npm-shrinkwrap.json')), false, 'postpack removes the shrinkwrap');
  const tarball = join(root, 'berth-paas-0.1.0.tgz');
  const listing = await run('tar', ['tzf', tarball], { cwd: root, env: npmEnv, timeoutMs: 30_000 });
  const files = listing.stdout.trim().split('\n').map((line) => line.replace(/^package\//, ''));
  for (const needed of ['bin/berth.js', 'bin/dist.js', 'dist/cli/main.js', 'dist/edge/engine/worker-main.js', 'src/dashboard/assets/index.html', 'npm-shrinkwrap.json', 'package.json', 'README.md', 'docs/ERRORS.md']) {
    assert.ok(files.includes(needed), `the tarball holds ${needed}`);
  }
  assert.deepEqual(files.filter((file) => file.endsWith('.ts') || /^(test|bench|examples|node_modules)\//.test(file)), [], 'no sources, tests, benches or examples');
  const manifest = JSON.parse(await readFile(join(copy, 'package.json'), 'utf8'));
  assert.equal(manifest.name, 'berth-paas');
  assert.deepEqual(manifest.bin, { berth: './bin/berth.js' });
  assert.equal(manifest.engines.node, '>=24');

  // npm install -g of the tarball into a prefix of its own, from the cache (the shrinkwrap pins every
  // version, so npm needs no registry metadata); the registry only when the cache lacks a tarball.
  const prefix = join(root, 'prefix');
  const install = (mode: string) => run('npm', ['install', '-g', '--prefix', prefix, mode, '--no-audit', '--no-fund', tarball], { cwd: outside, env: npmEnv, timeoutMs: 300_000 });
  let installed = await install('--offline');
  if (installed.code !== 0 && /ENOTCACHED/.test(installed.stderr)) {
    t.diagnostic("npm's cache lacks a dependency's tarball: installing with the registry");
    installed = await install('--prefer-offline');
  }
  assert.equal(installed.code, 0, installed.stderr);
  const bin = join(prefix, 'bin', 'berth');
  const packageDir = join(prefix, 'lib', 'node_modules', 'berth-paas');
  assert.equal(readlinkSync(bin), '../lib/node_modules/berth-paas/bin/berth.js');
  assert.equal(existsSync(join(packageDir, 'src', 'cli', 'main.ts')), false, 'the installed package has no sources: it runs dist/');
  for (const dev of ['typescript', 'node', 'playwright-core']) assert.equal(existsSync(join(packageDir, 'node_modules', dev)), false, `no dev dependency ${dev}`);

  const laptop = (extra: Record<string, string> = {}) => shellEnv([join(prefix, 'bin'), node24], extra);
  const version = await run('berth', ['--version'], { cwd: outside, env: laptop(), timeoutMs: 60_000 });
  assert.deepEqual(version, { code: 0, stdout: '0.1.0\n', stderr: '' });

  await t.test('on a machine whose node is older than 24, the installed berth says what it needs', async () => {
    const old = await run('berth', ['--version'], { cwd: outside, env: shellEnv([join(prefix, 'bin'), OLD_NODE_DIR]), timeoutMs: 60_000 });
    assert.equal(old.code, 1);
    assert.equal(old.stdout, '');
    assert.match(old.stderr, /^berth needs Node\.js 24 or newer \(this is Node\.js v(\d+)\.\d+\.\d+\)\n$/);
    assert.ok(Number(/v(\d+)/.exec(old.stderr)![1]) < 24);
  });

  await t.test('berth login to the installed berth server, then a command with the saved credentials', async (t) => {
    const state = join(root, 'state');
    await chmod(root, 0o711); // the daemon, as root, wants its apps' users able to pass through to its state
    const daemon = new BerthProcess(
      ['server', '--state', state, '--http', '127.0.0.1:0', '--api', '127.0.0.1:0', '--dashboard', '127.0.0.1:0', '--workers', '1', '--sandbox', 'off', '--user-prefix', testUserPrefix(state)],
      { entry: realpathSync(bin), cwd: outside },
    );
    t.after(() => daemon.kill());
    const api = (await daemon.waitFor(/api listening on (http:\/\/127\.0\.0\.1:\d+)/, 120_000))[1]!;
    const dashboard = (await daemon.waitFor(/dashboard on (http:\/\/127\.0\.0\.1:\d+)/, 120_000))[1]!;
    await daemon.waitFor(/\| ready$/m, 120_000);
    const token = (await readFile(join(state, 'admin-token'), 'utf8')).trim();

    const env = laptop({ HOME: join(root, 'home'), XDG_CONFIG_HOME: join(root, 'home', '.config') });
    const login = await run('berth', ['login', '--server', api, '--token-stdin'], { cwd: outside, env, input: `${token}\n`, timeoutMs: 60_000 });
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stdout, new RegExp(`^logged in to ${api}`));
    assert.doesNotMatch(login.stdout + login.stderr, new RegExp(token));
    const apps = await run('berth', ['apps', 'list', '--json'], { cwd: outside, env, timeoutMs: 60_000 });
    assert.equal(apps.code, 0, apps.stderr);
    assert.deepEqual(JSON.parse(apps.stdout), { apps: [] });

    // The dashboard's own files come from the package (src/dashboard/assets/, beside dist/).
    const page = await fetch(`${dashboard}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  });
});
