import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError } from '../errors.ts';
import { parseProcfile, type ProcessType } from './procfile.ts';

/**
 * What berth found in an app folder and how to run it. Detection follows the
 * buildpack order: an explicit Procfile wins, then a language marker, then a
 * plain static site.
 */
export type AppPlan =
  | {
      readonly kind: 'processes';
      readonly runtime: 'procfile' | 'node' | 'python';
      readonly processes: readonly ProcessType[];
      /** Commands that prepare the folder before anything starts (argv arrays). */
      readonly install: ReadonlyArray<readonly string[]>;
    }
  | { readonly kind: 'static'; readonly root: string };

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

interface PackageJson {
  dependencies?: Record<string, string>;
  scripts?: Record<string, string>;
}

async function nodeInstallSteps(dir: string, pkg: PackageJson): Promise<string[][]> {
  if (!pkg.dependencies || Object.keys(pkg.dependencies).length === 0) return [];
  // npm ci is reproducible but needs a lockfile; without one, install.
  const locked = await isFile(join(dir, 'package-lock.json'));
  return [locked ? ['npm', 'ci', '--no-audit', '--no-fund'] : ['npm', 'install', '--no-audit', '--no-fund']];
}

async function detectNode(dir: string, text: string): Promise<AppPlan> {
  let pkg: PackageJson;
  try {
    pkg = JSON.parse(text) as PackageJson;
  } catch (err) {
    throw new BerthError('BERTH_E_APP_UNDETECTED', `package.json is not valid JSON: ${(err as Error).message}`);
  }
  let start = pkg.scripts?.start;
  // npm's own default when no start script is given.
  if (!start && (await isFile(join(dir, 'server.js')))) start = 'node server.js';
  if (!start) {
    throw new BerthError('BERTH_E_APP_UNDETECTED', 'package.json has no "start" script and there is no server.js', {
      hint: 'Add "scripts": {"start": "node server.js"} to package.json, or a Procfile with a web: line.',
    });
  }
  return {
    kind: 'processes',
    runtime: 'node',
    // Run the start script directly rather than through `npm start`: one
    // process less per instance (npm alone costs ~40 MB) and signals reach
    // the app itself.
    processes: [{ name: 'web', command: start }],
    install: await nodeInstallSteps(dir, pkg),
  };
}

// A module "exposing app": a top-level `app = ...` or `application = ...`.
const WSGI_APP = /^(app|application)\s*(?::[^=]+)?=/m;

async function detectPython(dir: string): Promise<AppPlan | null> {
  for (const module of ['wsgi', 'app']) {
    const source = await readIfExists(join(dir, `${module}.py`));
    if (source === null) continue;
    const match = WSGI_APP.exec(source);
    if (!match) continue;
    return {
      kind: 'processes',
      runtime: 'python',
      processes: [
        {
          name: 'web',
          // gunicorn reads WEB_CONCURRENCY for its worker count; berth scales
          // instances, so one worker each unless the user says otherwise.
          command: `gunicorn --bind 127.0.0.1:$PORT --graceful-timeout 10 --access-logfile - ${module}:${match[1]}`,
        },
      ],
      install: [],
    };
  }
  return null;
}

export async function detectApp(dir: string): Promise<AppPlan> {
  let info;
  try {
    info = await stat(dir);
  } catch {
    throw new BerthError('BERTH_E_APP_DIR', `app folder ${dir} does not exist`);
  }
  if (!info.isDirectory()) throw new BerthError('BERTH_E_APP_DIR', `${dir} is not a folder`);

  const procfile = await readIfExists(join(dir, 'Procfile'));
  const packageJson = await readIfExists(join(dir, 'package.json'));
  if (procfile !== null) {
    const processes = parseProcfile(procfile);
    if (processes.length === 0) {
      throw new BerthError('BERTH_E_PROCFILE', 'Procfile defines no process types', {
        hint: 'Add a line such as "web: node server.js".',
      });
    }
    let install: string[][] = [];
    if (packageJson !== null) {
      try {
        install = await nodeInstallSteps(dir, JSON.parse(packageJson) as PackageJson);
      } catch {
        // A malformed package.json beside a Procfile is the app's business.
      }
    }
    return { kind: 'processes', runtime: 'procfile', processes, install };
  }
  if (packageJson !== null) return detectNode(dir, packageJson);

  const hasRequirements = (await isFile(join(dir, 'requirements.txt'))) || (await isFile(join(dir, 'pyproject.toml')));
  if (hasRequirements) {
    const python = await detectPython(dir);
    if (python) return python;
  }
  for (const root of [dir, join(dir, 'public')]) {
    if (await isFile(join(root, 'index.html'))) return { kind: 'static', root };
  }
  throw new BerthError('BERTH_E_APP_UNDETECTED', `cannot tell how to run the app in ${dir}`, {
    hint:
      'berth looked for: a Procfile; a package.json with a start script (or server.js); ' +
      'requirements.txt or pyproject.toml with wsgi.py or app.py defining `app`; index.html or public/index.html. ' +
      'Add a Procfile with a "web:" line to say how to start it.',
  });
}
