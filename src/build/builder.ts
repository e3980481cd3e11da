import { execFile } from 'node:child_process';
import { readdir, realpath, stat } from 'node:fs/promises';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { BerthError } from '../errors.ts';
import { formatBytes } from '../units.ts';
import type { RunAs } from '../runner/index.ts';
import { commandToArgv } from './command-line.ts';
import { collectedNote, collectstaticAfterProbe, collectstaticBeforeProbe, FACTS_MARKER, parseStaticFacts, PROBE_ARGV } from './django.ts';
import type { AppPlan, BuildEnvironment, BuildStep, NodeRuntime, PythonRuntime } from './detect.ts';

const run = promisify(execFile);

/**
 * What a build may use. Builds share the machine with running apps, so
 * they run niced (CPU goes to the apps first), with a per-process memory
 * limit (RLIMIT_DATA through prlimit: a runaway install fails with an
 * out-of-memory error instead of pushing apps into swap), and with a
 * deadline.
 */
export interface BuildLimits {
  /** Per build process; null for no limit. */
  readonly memoryBytes: number | null;
  readonly timeoutMs: number;
  /** nice(1) increment, 0 to 19. */
  readonly niceness: number;
}

export const DEFAULT_BUILD_LIMITS: BuildLimits = { memoryBytes: 2 * 1024 ** 3, timeoutMs: 15 * 60_000, niceness: 10 };

export interface BuildJob {
  /** The build folder (the future release's directory). */
  readonly dir: string;
  /** The app's build cache: reused dependency folders, npm's and pip's download caches; null builds without one (`berth up`). */
  readonly cacheDir: string | null;
  /**
   * Where the build cache's file work (test, cp, rm, mv, mkdir) runs when
   * the build's commands see other paths or lack those tools: a build
   * inside a base image sees /app and /.berth/cache, and an image need not
   * have coreutils. The same work, as the app's user, over the host's paths
   * of the build folder and the cache. Absent: with `exec`, `dir` and
   * `cacheDir`.
   */
  readonly cacheFiles?: { readonly exec: BuildJob['exec']; readonly dir: string; readonly cacheDir: string } | undefined;
  readonly env: Readonly<Record<string, string>>;
  readonly user: RunAs | null;
  readonly limits: BuildLimits;
  readonly log: (line: string) => void;
  /**
   * Runs one command to its end and resolves with its exit code (the
   * runner's runOnce; injected so the build subsystem does not depend on
   * the runner, which depends on it).
   */
  readonly exec: (
    argv: readonly string[],
    options: { cwd: string; env: Readonly<Record<string, string>>; onLine: (line: string) => void; signal: AbortSignal; user: RunAs | null },
  ) => Promise<number>;
}

/** The environment a build and the release's processes see: the plan's folders first on PATH. */
export function planPath(plan: Extract<AppPlan, { kind: 'processes' }>, dir: string, basePath: string | undefined): string {
  const first = plan.path.map((entry) => (isAbsolute(entry) ? entry : join(dir, entry)));
  return [...first, ...(basePath ? [basePath] : [])].join(delimiter);
}

// Output that means a process ran out of memory, from Node, Python, npm and the C library.
const OUT_OF_MEMORY = /JavaScript heap out of memory|Array buffer allocation failed|MemoryError|Cannot allocate memory|ENOMEM|std::bad_alloc|out of memory/i;

/**
 * Runs a plan's build steps in `job.dir`, as the app's user, niced and
 * limited, restoring cached dependency folders where a step's inputs did
 * not change and saving them where they did. Throws a BerthError saying
 * which step failed and why (its exit code, its time or memory limit).
 */
export async function runBuild(plan: Extract<AppPlan, { kind: 'processes' }>, job: BuildJob, sandbox: Sandbox): Promise<void> {
  const env: Record<string, string> = { ...job.env, PATH: planPath(plan, job.dir, job.env.PATH), npm_config_update_notifier: 'false' };
  const cacheDir = job.cacheDir;
  if (cacheDir !== null) Object.assign(env, { npm_config_cache: join(cacheDir, 'npm'), PIP_CACHE_DIR: join(cacheDir, 'pip') });
  const deadline = Date.now() + job.limits.timeoutMs;
  for (const step of plan.install) {
    if ('collectstatic' in step) {
      await collectStatic(step.collectstatic.servedDirs, env, job, sandbox, deadline);
      continue;
    }
    const argv = 'command' in step ? commandToArgv(step.command, env) : step.argv;
    const shown = 'command' in step ? `build: ${step.command}` : argv.join(' ');
    const cached = cacheDir !== null && isCached(step) ? step : null;
    const files = cached === null ? null : cacheFilesOf(job, cacheDir!);
    if (cached !== null && (await restoreCached(cached, files!, job, env))) continue;
    job.log(`running ${shown}`);
    await runStep(argv, shown, env, job, sandbox, deadline);
    if (cached !== null) await saveCached(cached, files!, job, env);
  }
}

/** How one step's output and failure are told, when not as a plain step's. */
interface StepTelling {
  /** Sees every line first; false keeps it out of the log. */
  readonly onLine?: (line: string) => boolean;
  /** The error for a non-zero exit (not a timeout or running out of memory). */
  readonly failed?: (code: number) => BerthError;
}

async function runStep(argv: readonly string[], shown: string, env: Record<string, string>, job: BuildJob, sandbox: Sandbox, deadline: number, telling: StepTelling = {}): Promise<void> {
  const remaining = deadline - Date.now();
  if (remaining <= 0) throw buildTimeout(shown, job.limits.timeoutMs);
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), remaining);
  let outOfMemory = false;
  const code = await job.exec(sandbox.wrap(argv, job.limits), {
    cwd: job.dir,
    env,
    user: job.user,
    signal: abort.signal,
    onLine: (line) => {
      if (OUT_OF_MEMORY.test(line)) outOfMemory = true;
      if (telling.onLine?.(line) !== false) job.log(line);
    },
  }).finally(() => clearTimeout(timer));
  if (abort.signal.aborted) throw buildTimeout(shown, job.limits.timeoutMs);
  if (code === 0) return;
  if (outOfMemory && job.limits.memoryBytes !== null) {
    throw new BerthError('BERTH_E_BUILD_LIMIT', `${shown} ran out of memory (the build limit is ${formatBytes(job.limits.memoryBytes)} per process)`, {
      status: 422,
      hint: 'Trim what the build loads, or raise the limit: berth server --build-memory 4g.',
    });
  }
  throw telling.failed?.(code) ?? new BerthError('BERTH_E_INSTALL', `${shown} failed with exit code ${code}`, { status: 422, hint: 'Fix the problem shown in the build output, then deploy again.' });
}

const SKIP_COLLECTSTATIC = 'or skip collectstatic: berth config set DISABLE_COLLECTSTATIC=1, then deploy again.';

/**
 * Django's collectstatic, as Heroku's Python buildpack runs it: not when
 * DISABLE_COLLECTSTATIC is set; otherwise Django itself (the project's
 * manage.py, the build's environment) says whether the settings set
 * STATIC_ROOT, and collectstatic runs when they do. Settings that cannot
 * load, or a collectstatic that fails, fail the build with their output.
 */
async function collectStatic(servedDirs: readonly string[], env: Record<string, string>, job: BuildJob, sandbox: Sandbox, deadline: number): Promise<void> {
  const skipped = collectstaticBeforeProbe(env.DISABLE_COLLECTSTATIC);
  if (skipped !== null && !skipped.run) {
    job.log(skipped.note);
    return;
  }
  const lines: string[] = [];
  const shown = 'python manage.py shell (asking Django for STATIC_ROOT)';
  job.log(`running ${shown}`);
  await runStep(PROBE_ARGV, shown, env, job, sandbox, deadline, {
    onLine: (line) => {
      lines.push(line);
      return !line.startsWith(FACTS_MARKER);
    },
    failed: (code) =>
      new BerthError('BERTH_E_INSTALL', `Django's settings did not load to say whether STATIC_ROOT is set (python manage.py shell failed with exit code ${code})`, {
        status: 422,
        hint: `Fix the error shown above (settings load at build time with the config vars but without add-on vars such as DATABASE_URL), ${SKIP_COLLECTSTATIC}`,
      }),
  });
  const facts = parseStaticFacts(lines);
  if (facts === null) {
    throw new BerthError('BERTH_E_INSTALL', "python manage.py shell did not print Django's static settings: is manage.py Django's?", { status: 422, hint: `Make manage.py run Django's execute_from_command_line, ${SKIP_COLLECTSTATIC}` });
  }
  const decision = collectstaticAfterProbe(facts);
  if (!decision.run) {
    job.log(decision.note);
    return;
  }
  const command = decision.argv.join(' ');
  job.log(`running ${command}`);
  await runStep(decision.argv, command, env, job, sandbox, deadline, {
    failed: (code) => new BerthError('BERTH_E_INSTALL', `${command} failed with exit code ${code}`, { status: 422, hint: `Fix the error shown above, ${SKIP_COLLECTSTATIC}` }),
  });
  job.log(collectedNote(facts, job.dir, servedDirs));
}

function buildTimeout(shown: string, timeoutMs: number): BerthError {
  return new BerthError('BERTH_E_BUILD_LIMIT', `the build took longer than ${Math.round(timeoutMs / 1000)} s and was stopped during ${shown}`, {
    status: 422,
    hint: 'Make the build faster, or raise the limit: berth server --build-timeout 30m.',
  });
}


// ---- the build cache ------------------------------------------------------
//
// The cache folder and the build folder are the app's: every copy, removal
// and rename in them runs as the app's user (job.exec, like the build
// steps), so nothing the app puts there (a link, a folder swapped midway)
// can make berth act on anything the app could not touch itself.

type CachedStep = Extract<BuildStep, { argv: readonly string[] }> & { readonly cache: { readonly key: string; readonly output: string } };

function isCached(step: BuildStep): step is CachedStep {
  return 'argv' in step && step.cache !== undefined;
}

function cachePath(step: CachedStep, cacheDir: string): string {
  return join(cacheDir, `${step.cache.output}-${step.cache.key}`);
}

type CacheFiles = NonNullable<BuildJob['cacheFiles']>;

function cacheFilesOf(job: BuildJob, cacheDir: string): CacheFiles {
  return job.cacheFiles ?? { exec: job.exec, dir: job.dir, cacheDir };
}

/** Runs a file tool (cp, rm, mv, test, mkdir) as the app's user; true when it exits 0. Its output goes to the build log. */
async function asApp(argv: readonly string[], files: CacheFiles, job: BuildJob, env: Readonly<Record<string, string>>): Promise<boolean> {
  const code = await files.exec(argv, { cwd: files.dir, env, user: job.user, signal: new AbortController().signal, onLine: job.log });
  return code === 0;
}

/**
 * Copies with cp -a (modes and links kept; reflinks where the file system
 * has them). A copy, not hard links: a release may write into its
 * node_modules, and that must not reach the cache or other releases.
 */
function copyTree(from: string, to: string): readonly string[] {
  return ['cp', '-a', '--reflink=auto', '--', from, to];
}

async function restoreCached(step: CachedStep, files: CacheFiles, job: BuildJob, env: Readonly<Record<string, string>>): Promise<boolean> {
  const run = (argv: readonly string[]) => asApp(argv, files, job, env);
  const cached = cachePath(step, files.cacheDir);
  if (!(await run(['test', '-d', cached]))) return false;
  const target = join(files.dir, step.cache.output);
  if (!(await run(['rm', '-rf', '--', target])) || !(await run(copyTree(cached, target)))) {
    job.log('the build cache could not be used; installing afresh');
    await run(['rm', '-rf', '--', target]);
    return false;
  }
  job.log(`${step.argv.join(' ')}: inputs unchanged, ${step.cache.output} restored from the build cache`);
  return true;
}

/** Keeps the newest output of each cached step: older keys are removed, the new one written beside and renamed in. */
async function saveCached(step: CachedStep, files: CacheFiles, job: BuildJob, env: Readonly<Record<string, string>>): Promise<void> {
  const run = (argv: readonly string[]) => asApp(argv, files, job, env);
  const output = join(files.dir, step.cache.output);
  if (!(await run(['test', '-d', output]))) return;
  const final = cachePath(step, files.cacheDir);
  const partial = `${final}.partial`;
  const saved =
    (await run(['mkdir', '-p', '--', files.cacheDir])) &&
    (await run(['rm', '-rf', '--', partial])) &&
    (await run(copyTree(output, partial))) &&
    (await run(['mv', '-T', '--', partial, final]));
  if (!saved) {
    // A cache that cannot be written costs the next build time, not this one its success.
    job.log(`could not save ${step.cache.output} to the build cache`);
    await run(['rm', '-rf', '--', partial]);
    return;
  }
  // Listing the folder is all root does in it: the names decide what the app's user removes.
  const older = (await readdir(files.cacheDir)).filter((name) => name.startsWith(`${step.cache.output}-`) && join(files.cacheDir, name) !== final).map((name) => join(files.cacheDir, name));
  if (older.length > 0) await run(['rm', '-rf', '--', ...older]);
}

// ---- the machine ----------------------------------------------------------

/** How build commands are wrapped: nice and prlimit when the machine has them. */
export interface Sandbox {
  readonly notes: readonly string[];
  wrap(argv: readonly string[], limits: BuildLimits): string[];
}

async function onPath(tool: string, path: string | undefined): Promise<string | null> {
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      const info = await stat(join(dir, tool));
      if (info.isFile() && (info.mode & 0o111) !== 0) return join(dir, tool);
    } catch {
      // Not here.
    }
  }
  return null;
}

/** No wrapping: `berth up` builds in the developer's own folder at normal priority. */
export const NO_SANDBOX: Sandbox = { notes: [], wrap: (argv) => [...argv] };

export async function discoverSandbox(path: string | undefined): Promise<Sandbox> {
  const nice = await onPath('nice', path);
  const prlimit = await onPath('prlimit', path);
  const notes: string[] = [];
  if (nice === null) notes.push('nice is not installed: builds run at normal CPU priority');
  if (prlimit === null) notes.push('prlimit (util-linux) is not installed: builds run without a memory limit');
  return {
    notes,
    wrap(argv, limits) {
      const wrapped = [...argv];
      if (prlimit !== null && limits.memoryBytes !== null) wrapped.unshift(prlimit, `--data=${limits.memoryBytes}`, '--');
      if (nice !== null && limits.niceness > 0) wrapped.unshift(nice, '-n', String(limits.niceness));
      return wrapped;
    },
  };
}

async function nodeVersion(binary: string): Promise<string | null> {
  try {
    const { stdout } = await run(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    return stdout.trim().replace(/^v/, '');
  } catch {
    return null;
  }
}

/** The Nodes and package managers builds can use: berth's own Node, the one on PATH, pnpm and yarn when installed. */
export async function discoverBuildEnvironment(path: string | undefined): Promise<BuildEnvironment> {
  const nodes: NodeRuntime[] = [{ version: process.versions.node, binDir: dirname(process.execPath) }];
  const onPathNode = await onPath('node', path);
  if (onPathNode !== null && dirname(onPathNode) !== dirname(process.execPath)) {
    const version = await nodeVersion(onPathNode);
    if (version !== null && !nodes.some((n) => n.version === version)) nodes.push({ version, binDir: dirname(onPathNode) });
  }
  const pythons: PythonRuntime[] = [];
  const seen = new Set<string>();
  // python3 first (PATH's, then the system's), then every versioned one there is, for apps that ask for a version.
  for (const candidate of [await onPath('python3', path), '/usr/bin/python3', ...(await versionedPythons(['/usr/local/bin', '/usr/bin']))]) {
    if (candidate === null) continue;
    let real: string;
    try {
      real = await realpath(candidate);
    } catch {
      continue;
    }
    if (seen.has(real)) continue;
    seen.add(real);
    const probed = await probePython(candidate);
    if (probed !== null) pythons.push({ binary: candidate, ...probed });
  }
  return { nodes, pythons, tools: { pnpm: (await onPath('pnpm', path)) !== null, yarn: (await onPath('yarn', path)) !== null } };
}

/** python3.N programs in these folders, newest first. */
async function versionedPythons(dirs: readonly string[]): Promise<string[]> {
  const { readdir } = await import('node:fs/promises');
  const found: string[] = [];
  for (const dir of dirs) {
    const names = await readdir(dir).catch(() => [] as string[]);
    found.push(...names.filter((name) => /^python3\.\d+$/.test(name)).sort((a, b) => Number(b.slice(8)) - Number(a.slice(8))).map((name) => join(dir, name)));
  }
  return found;
}

/** This Python's version and which of the app servers berth knows it can import; null when it does not run. */
async function probePython(binary: string): Promise<{ version: string; servers: Array<'gunicorn' | 'uvicorn'> } | null> {
  const probe = "import importlib.util as u, sys\nprint('%d.%d.%d' % sys.version_info[:3])\nprint(' '.join(m for m in ('gunicorn', 'uvicorn') if u.find_spec(m)))";
  try {
    const { stdout } = await run(binary, ['-c', probe], { encoding: 'utf8', timeout: 10_000 });
    const [version = '', servers = ''] = stdout.split('\n');
    return { version: version.trim(), servers: servers.trim().split(/\s+/).filter((m): m is 'gunicorn' | 'uvicorn' => m === 'gunicorn' || m === 'uvicorn') };
  } catch {
    return null;
  }
}
