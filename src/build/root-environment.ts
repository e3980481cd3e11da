import { dirname } from 'node:path';
import type { BuildEnvironment, NodeRuntime, PythonRuntime } from './detect.ts';

// What a base image offers a build that runs inside it: the same
// BuildEnvironment detectApp takes for the host, found by running the
// image's own `node` and `python3` in the build's sandbox over its root
// (so what is found is what the build and the image will run), with the
// image's PATH.

/** The language a build's base image is chosen for, from the folder's top-level names alone. */
export type BaseLanguage = 'node' | 'python';

const PYTHON_MARKERS = ['requirements.txt', 'pyproject.toml', 'Pipfile'];

/**
 * Which base image a folder builds on, before anything else is detected:
 * Python's marker files → python, package.json → node. Both → python: a
 * Python app with a package.json is a Django or Flask project with asset
 * tooling, and Python serves it (detectApp says the same); its base needs
 * Node too, if the build runs npm. Neither (a Procfile app of another
 * language, a static site) → null: no base image is chosen. Pure.
 */
export function chooseBaseLanguage(names: readonly string[]): BaseLanguage | null {
  if (PYTHON_MARKERS.some((name) => names.includes(name))) return 'python';
  if (names.includes('package.json')) return 'node';
  return null;
}

/** The PATH Docker and the OCI runtimes give a container whose config sets none. */
export const DEFAULT_IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** An image config's `Env` (KEY=VALUE lines) as variables; PATH always set. Pure. */
export function imageVariables(env: readonly string[]): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of env) {
    const eq = line.indexOf('=');
    if (eq > 0) vars[line.slice(0, eq)] = line.slice(eq + 1);
  }
  vars.PATH ??= DEFAULT_IMAGE_PATH;
  return vars;
}

/** Runs a program in the build's sandbox over the root (as the app's user, cwd the app folder) and gives its exit code and output lines. */
export type RootProbe = (argv: readonly string[]) => Promise<{ code: number; lines: readonly string[] }>;

// pnpm and yarn are looked for by the image's Node (they need one), on the image's PATH, as the kernel resolves it there.
const NODE_PROBE = [
  "const fs = require('fs'), path = require('path');",
  "const on = (name) => (process.env.PATH || '').split(':').some((dir) => { try { const file = path.join(dir, name); fs.accessSync(file, fs.constants.X_OK); return fs.statSync(file).isFile(); } catch { return false; } });",
  "for (const line of [process.versions.node, process.execPath, ['pnpm', 'yarn'].filter(on).join(' ')]) console.log('berth-probe:' + line);",
].join('\n');
const PYTHON_PROBE = "import importlib.util as u, sys\nfor line in ('%d.%d.%d' % sys.version_info[:3], ' '.join(m for m in ('gunicorn', 'uvicorn') if u.find_spec(m)), sys.executable): print('berth-probe:' + line)";

/** The probe's own lines (its output and errors share the stream with whatever the image prints). */
function answers(lines: readonly string[]): string[] {
  return lines.filter((line) => line.startsWith(MARK)).map((line) => line.slice(MARK.length).trim());
}

const MARK = 'berth-probe:';

/** The Node, Python and package managers of an image's root, asked of the image itself. */
export async function discoverRootEnvironment(probe: RootProbe): Promise<BuildEnvironment> {
  const nodes: NodeRuntime[] = [];
  const node = await probe(['node', '-e', NODE_PROBE]);
  const [version, execPath, managers = ''] = answers(node.lines);
  const found = node.code === 0 && version !== undefined && /^\d+\.\d+\.\d+$/.test(version) && execPath?.startsWith('/') === true;
  if (found) nodes.push({ version, binDir: dirname(execPath) });
  const tools = found ? managers.split(/\s+/) : [];
  const pythons: PythonRuntime[] = [];
  const python = await probe(['python3', '-c', PYTHON_PROBE]);
  const [pythonVersion, servers = '', executable] = answers(python.lines);
  if (python.code === 0 && pythonVersion !== undefined && /^\d+\.\d+\.\d+$/.test(pythonVersion) && executable?.startsWith('/')) {
    pythons.push({ binary: executable, version: pythonVersion, servers: servers.split(/\s+/).filter((m): m is 'gunicorn' | 'uvicorn' => m === 'gunicorn' || m === 'uvicorn') });
  }
  return { nodes, pythons, tools: { pnpm: tools.includes('pnpm'), yarn: tools.includes('yarn') } };
}
