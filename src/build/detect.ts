import { findDjangoProject, type DjangoProject } from './django.ts';
import { parsePythonRequest, pickRequestedPython, type PythonRequest } from './python-version.ts';
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import semver from 'semver';
import { BerthError } from '../errors.ts';
import { kindConfined, readConfinedText } from '../safe-fs/index.ts';
import { readAppConfig, type AppConfig } from './app-config.ts';
import { parseProcfile, type ProcessType } from './procfile.ts';

/**
 * One command of a build, run in the build folder. A step with `cache`
 * produces `cache.output` (a folder inside the build, e.g. node_modules)
 * from inputs summarised by `cache.key` (a lockfile's hash and the tool's
 * version): a later build with the same key restores the folder from the
 * app's build cache instead of running the step.
 */
export type BuildStep =
  | { readonly argv: readonly string[]; readonly cache?: { readonly key: string; readonly output: string } }
  /** A Procfile command line (the `build:` entry), turned into argv with the build's environment when it runs. */
  | { readonly command: string }
  /**
   * Django's collectstatic, when the build's settings set STATIC_ROOT and
   * DISABLE_COLLECTSTATIC does not skip it (asked of Django when it runs:
   * src/build/django.ts). `servedDirs`: the folders berth.toml's [static]
   * maps, so the log can say whether the edge serves what was collected.
   */
  | { readonly collectstatic: { readonly servedDirs: readonly string[] } };

/**
 * What berth found in an app folder and how to build and run it. Detection
 * follows the buildpack order: each language's build steps come from its
 * own marker files (package.json, requirements.txt/pyproject.toml); the
 * processes come from the Procfile when there is one, else from the
 * language's convention; a folder with only index.html is a static site.
 */
export type AppPlan =
  | {
      readonly kind: 'processes';
      readonly runtime: 'procfile' | 'node' | 'python';
      readonly processes: readonly ProcessType[];
      /** Commands that prepare the build folder, in order, before anything starts. */
      readonly install: readonly BuildStep[];
      /**
       * Folders put first on PATH for the build and for every process of the
       * release: relative ones are inside the app (the virtualenv's bin),
       * absolute ones are the chosen Node's bin folder.
       */
      readonly path: readonly string[];
      /** Notes for the build log (a lockfile whose tool is missing, the Node chosen). */
      readonly notes: readonly string[];
      /**
       * The base image the build ran inside, when it did (a build for an
       * image): then `path`'s absolute entries and the programs of `install`
       * are that image's, not this machine's.
       */
      readonly baseImage?: { readonly reference: string; readonly manifestDigest: string };
    }
  | { readonly kind: 'static'; readonly root: string };

/** A Node installed on this machine that apps may run on. */
export interface NodeRuntime {
  readonly version: string;
  readonly binDir: string;
}

/** A Python installed on this machine, and which app servers it can import. */
export interface PythonRuntime {
  readonly binary: string;
  /** Its version ("3.11.2"); null or absent when unknown. */
  readonly version?: string | null;
  readonly servers: readonly ('gunicorn' | 'uvicorn')[];
}

/** What this machine offers builds; discovered once by the caller (it is I/O), passed in so detection stays testable. */
export interface BuildEnvironment {
  readonly nodes: readonly NodeRuntime[];
  /** In order of preference: python3 on PATH first. */
  readonly pythons: readonly PythonRuntime[];
  /** Package managers found on PATH. */
  readonly tools: { readonly pnpm: boolean; readonly yarn: boolean };
}

export const NO_EXTRA_TOOLS: BuildEnvironment = { nodes: [], pythons: [], tools: { pnpm: false, yarn: false } };

// Every file of the app is read confined to its folder (src/safe-fs/): the
// daemon detects as root, and a link in the app must not make it read (and
// quote in an error) a file of the host.

/** Lockfiles are hashed whole for the build cache's key; they can be large. */
const LOCKFILE_MAX_BYTES = 64 * 1024 * 1024;

async function isFile(dir: string, name: string): Promise<boolean> {
  return (await kindConfined(dir, name)) === 'file';
}

function readIfExists(dir: string, name: string, maxBytes?: number): Promise<string | null> {
  return readConfinedText(dir, name, maxBytes);
}

function sha256(...parts: string[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex').slice(0, 16);
}

interface PackageJson {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  scripts?: Record<string, string>;
  engines?: { node?: string };
}

/**
 * The Node an app asks for with `engines.node`: the newest installed one
 * that satisfies the range. No range (or nothing installed to choose from)
 * keeps whatever `node` PATH gives; a range nothing satisfies fails the
 * build, since running on a Node the app says it does not support is the
 * kind of surprise a deploy should refuse.
 */
export function chooseNode(range: string | undefined, nodes: readonly NodeRuntime[]): NodeRuntime | null {
  if (range === undefined || range.trim() === '' || nodes.length === 0) return null;
  if (semver.validRange(range) === null) {
    throw new BerthError('BERTH_E_APP_CONFIG', `package.json engines.node "${range}" is not a version range`, { hint: 'Use a semver range such as ">=20" or "24.x".' });
  }
  const fitting = nodes.filter((node) => semver.satisfies(node.version, range)).sort((a, b) => semver.rcompare(a.version, b.version));
  if (fitting.length === 0) {
    throw new BerthError('BERTH_E_INSTALL', `package.json asks for Node ${range}; this server has ${nodes.map((n) => n.version).join(', ')}`, {
      status: 422,
      hint: 'Widen engines.node to a version the server has, or install that Node on the server.',
    });
  }
  return fitting[0]!;
}

/**
 * The package manager a lockfile names, when it is installed; otherwise
 * npm (which reads neither pnpm's nor yarn's lockfile, so it installs from
 * package.json: the note says so).
 */
async function nodeSteps(dir: string, pkg: PackageJson, env: BuildEnvironment, notes: string[], nodeVersion: string): Promise<BuildStep[]> {
  const deps = Object.keys(pkg.dependencies ?? {}).length + Object.keys(pkg.devDependencies ?? {}).length;
  const steps: BuildStep[] = [];
  if (deps > 0) {
    const pnpmLock = await readIfExists(dir, 'pnpm-lock.yaml', LOCKFILE_MAX_BYTES);
    const yarnLock = await readIfExists(dir, 'yarn.lock', LOCKFILE_MAX_BYTES);
    const npmLock = await readIfExists(dir, 'package-lock.json', LOCKFILE_MAX_BYTES);
    const manifest = (await readIfExists(dir, 'package.json')) ?? '';
    if (pnpmLock !== null && env.tools.pnpm) {
      steps.push({ argv: ['pnpm', 'install', '--frozen-lockfile'], cache: { key: sha256('pnpm', nodeVersion, manifest, pnpmLock), output: 'node_modules' } });
    } else if (yarnLock !== null && env.tools.yarn) {
      steps.push({ argv: ['yarn', 'install', '--frozen-lockfile', '--non-interactive'], cache: { key: sha256('yarn', nodeVersion, manifest, yarnLock), output: 'node_modules' } });
    } else {
      const unused = pnpmLock !== null ? { file: 'pnpm-lock.yaml', tool: 'pnpm' } : yarnLock !== null ? { file: 'yarn.lock', tool: 'yarn' } : null;
      if (unused !== null) notes.push(`${unused.file} found but ${unused.tool} is not installed on the server: installing with npm from package.json`);
      // npm ci is reproducible but needs a lockfile; without one, install (and no cache: nothing pins the result).
      if (npmLock !== null) steps.push({ argv: ['npm', 'ci', '--no-audit', '--no-fund'], cache: { key: sha256('npm', nodeVersion, manifest, npmLock), output: 'node_modules' } });
      else steps.push({ argv: ['npm', 'install', '--no-audit', '--no-fund'] });
    }
  }
  if (typeof pkg.scripts?.build === 'string' && pkg.scripts.build.trim() !== '') steps.push({ argv: ['npm', 'run', 'build'] });
  return steps;
}

function parsePackageJson(text: string): PackageJson {
  try {
    const value = JSON.parse(text) as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
    return value as PackageJson;
  } catch (err) {
    throw new BerthError('BERTH_E_APP_UNDETECTED', `package.json is not valid JSON: ${(err as Error).message}`);
  }
}

async function nodeStart(dir: string, pkg: PackageJson): Promise<ProcessType[]> {
  let start = pkg.scripts?.start;
  // npm's own default when no start script is given.
  if (!start && (await isFile(dir, 'server.js'))) start = 'node server.js';
  if (!start) {
    throw new BerthError('BERTH_E_APP_UNDETECTED', 'package.json has no "start" script and there is no server.js', {
      hint: 'Add "scripts": {"start": "node server.js"} to package.json, or a Procfile with a web: line.',
    });
  }
  // Run the start script directly rather than through `npm start`: one
  // process less per instance (npm alone costs ~40 MB) and signals reach
  // the app itself.
  return [{ name: 'web', command: start }];
}

// A module "exposing app": a top-level `app = ...` or `application = ...`.
const PY_APP = /^(app|application)\s*(?::[^=]+)?=/m;
const PY_FACTORY = /^def\s+create_app\s*\(/m;
// ASGI: a framework that is ASGI-only, or an `async def app(scope, receive, send)`.
const ASGI = /\b(?:FastAPI|Starlette|Quart|Litestar)\s*\(|^async\s+def\s+(?:app|application)\s*\(\s*scope\b/m;
const ASGI_APP = /^async\s+def\s+(app|application)\s*\(/m;

const VENV = '.venv';

/**
 * The interpreter a release's virtualenv is made from: python3 from PATH,
 * except that an app using the system's packages gets the first Python
 * whose packages include its server (Debian's gunicorn belongs to
 * /usr/bin/python3, which need not be the python3 PATH finds first).
 */
export function choosePython(pythons: readonly PythonRuntime[], server: 'gunicorn' | 'uvicorn' | null, systemSitePackages: boolean): string {
  if (systemSitePackages && server !== null) {
    const serving = pythons.find((python) => python.servers.includes(server));
    if (serving) return serving.binary;
  }
  return pythons[0]?.binary ?? 'python3';
}

/** The Python the app asks for in .python-version (pyenv) or runtime.txt (Heroku), or null. */
async function pythonRequest(dir: string): Promise<PythonRequest | null> {
  for (const file of ['.python-version', 'runtime.txt'] as const) {
    const text = await readIfExists(dir, file);
    if (text !== null) return parsePythonRequest(file, text);
  }
  return null;
}

/** The virtualenv and its dependencies, per release (inside the build folder). */
async function pythonSteps(dir: string, config: AppConfig, python: string): Promise<BuildStep[]> {
  // --without-pip: a virtualenv in milliseconds instead of seconds; that
  // Python's own pip installs into it with --python.
  const steps: BuildStep[] = [{ argv: [python, '-m', 'venv', '--without-pip', ...(config.python.systemSitePackages ? ['--system-site-packages'] : []), VENV] }];
  const pip = [python, '-m', 'pip', '--python', join(VENV, 'bin', 'python'), 'install', '--no-input', '--disable-pip-version-check'];
  if (await isFile(dir, 'requirements.txt')) steps.push({ argv: [...pip, '-r', 'requirements.txt'] });
  else if (await isFile(dir, 'pyproject.toml')) steps.push({ argv: [...pip, '.'] });
  return steps;
}

/**
 * The module that exposes the app, its object, and the server it needs:
 * `app` or `application` in wsgi.py, asgi.py, main.py or app.py; else an
 * app factory (`def create_app(`, Flask's tutorial) in one of them or in a
 * package's __init__.py at the top (`flaskr/__init__.py`), called by the
 * server (`flaskr:create_app()`).
 */
async function findPythonApp(dir: string, config: AppConfig): Promise<{ target: string; server: 'gunicorn' | 'uvicorn' } | null> {
  const server = (source: string) => config.python.server ?? (ASGI.test(source) ? 'uvicorn' : 'gunicorn');
  const factories: Array<{ module: string; source: string }> = [];
  for (const module of ['wsgi', 'asgi', 'main', 'app']) {
    const source = await readIfExists(dir, `${module}.py`);
    if (source === null) continue;
    const match = PY_APP.exec(source) ?? ASGI_APP.exec(source);
    if (match) return { target: `${module}:${match[1]}`, server: server(source) };
    if (PY_FACTORY.test(source)) factories.push({ module, source });
  }
  for (const pkg of await topLevelPackages(dir)) {
    const source = await readIfExists(dir, join(pkg, '__init__.py'));
    if (source !== null && PY_FACTORY.test(source)) factories.push({ module: pkg, source });
  }
  const factory = factories[0];
  if (factory === undefined) return null;
  // gunicorn calls `module:create_app()` itself; uvicorn needs --factory (pythonWeb adds it).
  const chosen = server(factory.source);
  return { target: chosen === 'uvicorn' ? `${factory.module}:create_app` : `${factory.module}:create_app()`, server: chosen };
}

/** Folders at the top of the app that look like Python packages (a name Python can import), sorted. */
async function topLevelPackages(dir: string): Promise<string[]> {
  const { readdir } = await import('node:fs/promises');
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && /^[A-Za-z_][A-Za-z0-9_]*$/.test(e.name) && !['node_modules', 'static', 'templates', 'tests'].includes(e.name)).map((e) => e.name).sort();
}

function pythonWeb(found: { target: string; server: 'gunicorn' | 'uvicorn' }): ProcessType[] {
  {
    const { server, target } = found;
    // `python -m` runs the server inside the release's virtualenv (first on
    // PATH), so it sees the packages installed there. One worker per
    // instance: berth scales instances.
    const command =
      server === 'uvicorn'
        ? `python -m uvicorn --host 127.0.0.1 --port $PORT --no-access-log${target.endsWith(':create_app') ? ' --factory' : ''} ${target}`
        : `python -m gunicorn --bind 127.0.0.1:$PORT --graceful-timeout 10 --access-logfile - ${target.includes('(') ? `'${target}'` : target}`;
    return [{ name: 'web', command }];
  }
}

/** `config` is the folder's berth.toml when the caller has already read it. */
export async function detectApp(dir: string, env: BuildEnvironment = NO_EXTRA_TOOLS, config?: AppConfig): Promise<AppPlan> {
  let info;
  try {
    info = await stat(dir);
  } catch {
    throw new BerthError('BERTH_E_APP_DIR', `app folder ${dir} does not exist`);
  }
  if (!info.isDirectory()) throw new BerthError('BERTH_E_APP_DIR', `${dir} is not a folder`);

  config ??= await readAppConfig(dir);
  const procfileText = await readIfExists(dir, 'Procfile');
  const packageText = await readIfExists(dir, 'package.json');
  const isPython = (await isFile(dir, 'requirements.txt')) || (await isFile(dir, 'pyproject.toml'));

  const procfile = procfileText === null ? null : parseProcfile(procfileText);
  if (procfile !== null && procfile.length === 0) {
    throw new BerthError('BERTH_E_PROCFILE', 'Procfile defines no process types', { hint: 'Add a line such as "web: node server.js".' });
  }

  const install: BuildStep[] = [];
  const path: string[] = [];
  const notes: string[] = [];
  let processes: ProcessType[] | null = procfile;
  let runtime: 'procfile' | 'node' | 'python' = 'procfile';

  const django: DjangoProject | null = isPython ? await findDjangoProject((path) => readIfExists(dir, path), config.python.server ?? 'gunicorn') : null;

  if (packageText !== null) {
    let pkg: PackageJson | null = null;
    try {
      pkg = parsePackageJson(packageText);
    } catch (err) {
      // A malformed package.json beside a Procfile is the app's business.
      if (procfile === null) throw err;
    }
    if (pkg !== null) {
      const node = chooseNode(pkg.engines?.node, env.nodes);
      if (node !== null) {
        path.push(node.binDir);
        notes.push(`Node ${node.version} (engines.node "${pkg.engines!.node}")`);
      }
      install.push(...(await nodeSteps(dir, pkg, env, notes, node?.version ?? 'default')));
      // A Django project's package.json is its asset tooling: Django serves.
      if (processes === null && django?.target == null) {
        processes = await nodeStart(dir, pkg);
        runtime = 'node';
      }
    }
  }
  if (isPython) {
    const djangoApp = django?.target ? { target: django.target, server: config.python.server ?? ('gunicorn' as const) } : null;
    const found = djangoApp ?? (await findPythonApp(dir, config));
    const request = await pythonRequest(dir);
    // With a Procfile the server is the app's business: gunicorn unless it says otherwise.
    let python: string;
    if (request === null) python = choosePython(env.pythons, found?.server ?? config.python.server ?? 'gunicorn', config.python.systemSitePackages);
    else {
      const picked = pickRequestedPython(env.pythons.map((p) => ({ ...p, version: p.version ?? null })), request);
      python = picked.binary;
      notes.push(`Python ${picked.version} (${request.file} asks for ${request.version})`);
    }
    install.push(...(await pythonSteps(dir, config, python)));
    path.unshift(join(VENV, 'bin'));
    if (processes === null && found !== null) {
      processes = pythonWeb(found);
      runtime = 'python';
      if (djangoApp !== null) notes.push(`Django project (${django!.settingsModule}): web runs ${djangoApp.target} (${django!.source})`);
    } else if (djangoApp !== null && processes !== null && runtime === 'procfile' && !processes.some((p) => p.name === 'web')) {
      // A Procfile with only `release: python manage.py migrate` (or a
      // worker) still serves the project, as the settings say.
      processes = [...pythonWeb(djangoApp), ...processes];
      notes.push(`Django project (${django!.settingsModule}): the Procfile has no web, so web runs ${djangoApp.target} (${django!.source})`);
    }
  }
  // The Procfile's `build:` entry runs once at build time, after the
  // language's steps (for apps no buildpack knows: `build: make`).
  const build = procfile?.find((p) => p.name === 'build');
  if (build !== undefined) install.push({ command: build.command });
  // Last, as Heroku runs it after the other buildpacks: assets a build step
  // made (npm run build into a STATICFILES_DIRS folder) are collected too.
  if (django !== null) install.push({ collectstatic: { servedDirs: config.static.map((mount) => mount.dir) } });

  if (processes !== null) return { kind: 'processes', runtime, processes, install, path, notes };
  for (const folder of ['', 'public']) {
    if (await isFile(dir, join(folder, 'index.html'))) return { kind: 'static', root: join(dir, folder) };
  }
  throw new BerthError('BERTH_E_APP_UNDETECTED', `cannot tell how to run the app in ${dir}`, {
    hint:
      'berth looked for: a Procfile; a package.json with a start script (or server.js); ' +
      'requirements.txt or pyproject.toml with a Django manage.py, or wsgi.py, asgi.py, main.py or app.py defining `app`; index.html or public/index.html. ' +
      'Add a Procfile with a "web:" line to say how to start it.',
  });
}
