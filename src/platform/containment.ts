import { lstat } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { AppConfig, AppPlan } from '../build/index.ts';
import type { Adopter, Launcher, RunAs } from '../runner/index.ts';
import { BerthError } from '../errors.ts';
import { appMounts, buildLimits, imageRootMounts, instanceLimits, runtimeRoots, type AppSandbox, type ResourceLimits, type Sandboxes } from '../sandbox/index.ts';
import { findUser } from './app-users.ts';
import type { AppPaths } from './app-dirs.ts';

// How the platform contains an app's processes: when berth runs as root
// and the machine can make sandboxes, every instance, build, release
// command and cron run of an app starts in its sandbox (its own view of
// the files, its own processes, its own network, its limits); otherwise
// they run as the app's user, uncontained, and berth says why.

export interface ContainmentOptions {
  readonly sandboxes: Sandboxes | null;
  /** Why apps are not contained (null when they are). */
  readonly uncontainedReason: string | null;
  readonly stateDir: string;
  /** `--default-memory`, `--default-cpu`, `--default-processes`. */
  readonly instanceDefaults: ResourceLimits;
  /** `--build-memory` (null: none). */
  readonly buildMemoryBytes: number | null;
  /** The link slot of every app's network, when not its uid's (`berth up`). */
  readonly linkSlot?: number;
}

/** What an app's processes are started with: a launcher and ports of their own (absent: plainly), and what their environment must say inside. */
export interface ProcessContext {
  readonly launcher?: Launcher;
  /** Takes over the app's sandboxes a previous daemon started (absent: plain process groups). */
  readonly adopter?: Adopter;
  readonly choosePort?: () => Promise<number>;
  /** Variables replaced for the sandbox's view (TMPDIR; add-on URLs that name the host's loopback). */
  readonly env: Readonly<Record<string, string>>;
}

/** What a release or a build runs: its folder, the plan and berth.toml it was built with. */
export interface ContainedWork {
  readonly dir: string;
  readonly plan: AppPlan;
  readonly config: AppConfig;
}

const LOOPBACK_HOSTS = /(?<=\/\/(?:[^@/]*@)?)(?:127\.0\.0\.1|localhost|\[::1\])(?=[:/]|$)/g;

/**
 * Add-on URLs name the servers as the host sees them (127.0.0.1); inside a
 * sandbox, loopback is the app's own, and the servers are at the service
 * address. Pure: only the host of URL-shaped values changes.
 */
export function sandboxView(vars: Readonly<Record<string, string>>, serviceAddress: string): Record<string, string> {
  const view: Record<string, string> = {};
  for (const [key, value] of Object.entries(vars)) view[key] = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value.replace(LOOPBACK_HOSTS, serviceAddress) : value;
  return view;
}

/** The absolute programs a plan runs (the Node it chose, the Python its virtualenv was made from). */
function programsOf(plan: AppPlan): string[] {
  if (plan.kind !== 'processes') return [];
  const programs = plan.path.filter((entry) => entry.startsWith('/'));
  for (const step of plan.install) if ('argv' in step && step.argv[0]?.startsWith('/')) programs.push(step.argv[0]);
  // berth's own Node runs the apps' `node` (the runner puts its folder on PATH).
  programs.push(process.execPath);
  return programs;
}

/** The process type a launch label names: "web.1" → web, "cron.nightly" → cron, "release" → release. */
function typeOf(label: string): string {
  const dot = label.indexOf('.');
  return dot === -1 ? label : label.slice(0, dot);
}

export class Containment {
  readonly #options: ContainmentOptions;
  readonly #apps = new Map<string, Promise<AppSandbox>>();

  constructor(options: ContainmentOptions) {
    this.#options = options;
  }

  /** Whether apps run contained. */
  get enabled(): boolean {
    return this.#options.sandboxes !== null;
  }

  /** Why apps run uncontained, or null. */
  get uncontainedReason(): string | null {
    return this.#options.uncontainedReason;
  }

  #sandboxOf(app: string, user: RunAs, paths: AppPaths): Promise<AppSandbox> {
    let sandbox = this.#apps.get(app);
    if (sandbox === undefined) {
      sandbox = (async () => {
        const unix = await findUser(user.uid);
        const slot = this.#options.linkSlot;
        return this.#options.sandboxes!.app({ name: app, user: { ...user, name: unix?.name ?? `uid${user.uid}` }, home: paths.home, ...(slot === undefined ? {} : { linkSlot: slot }) });
      })();
      this.#apps.set(app, sandbox);
      sandbox.catch(() => this.#apps.delete(app));
    }
    return sandbox;
  }

  async #dataDir(vars: Readonly<Record<string, string>>): Promise<string | null> {
    // From the add-on's own record (never the app's config, which could name any folder).
    const dir = vars.BERTH_DATA_DIR;
    if (dir === undefined || !dir.startsWith(`${this.#options.stateDir}/data/`)) return null;
    try {
      return (await lstat(dir)).isDirectory() ? dir : null;
    } catch {
      return null;
    }
  }

  /**
   * Public files of berth's own that apps may read: the local PostgreSQL's
   * CA root (PGSSLROOTCERT), once there is one. A fixed path in root's
   * folders, never one a variable names; shown read-only at the same path.
   */
  async #publicFiles(): Promise<string[]> {
    const file = join(this.#options.stateDir, 'addons', 'postgres', 'tls', 'root.crt');
    try {
      return (await lstat(file)).isFile() ? [file] : [];
    } catch {
      return [];
    }
  }

  /**
   * How a release's processes start: in the app's sandbox, the build
   * read-only, with each process type's limits (berth.toml [resources],
   * then `berth scale TYPE=N:SIZE`).
   */
  async release(app: string, user: RunAs | null, paths: AppPaths, work: ContainedWork, addonVars: Readonly<Record<string, string>>, scaledMemory: Readonly<Record<string, number>>): Promise<ProcessContext> {
    const sandboxes = this.#options.sandboxes;
    if (sandboxes === null || user === null) return { env: {} };
    const sandbox = await this.#sandboxOf(app, user, paths);
    await sandboxes.exposeAddons(Object.values(addonVars));
    const mounts = appMounts(
      sandbox.hostLayout,
      {
        build: work.dir,
        buildWritable: false,
        home: paths.home,
        cache: null,
        data: await this.#dataDir(addonVars),
        runtimes: runtimeRoots(programsOf(work.plan), this.#options.stateDir),
        etcDir: sandbox.etcDir,
        files: await this.#publicFiles(),
      },
      sandbox.tmpBytes,
    );
    const limitsFor = (label: string): ResourceLimits => {
      const type = typeOf(label);
      const scaled = scaledMemory[type];
      return instanceLimits(this.#options.instanceDefaults, work.config.resources, type, scaled === undefined ? undefined : { memoryBytes: scaled });
    };
    return {
      launcher: sandbox.launcher(mounts, limitsFor),
      adopter: sandbox.adopter(),
      choosePort: () => sandbox.choosePort(),
      env: { ...sandboxView(addonVars, sandboxes.serviceAddress), TMPDIR: '/tmp' },
    };
  }

  /** How a build's steps start: in the app's sandbox, the build folder and its cache writable, with the build limits. */
  async build(app: string, user: RunAs | null, paths: AppPaths, work: ContainedWork): Promise<ProcessContext> {
    if (this.#options.sandboxes === null || user === null) return { env: {} };
    const sandbox = await this.#sandboxOf(app, user, paths);
    const mounts = appMounts(
      sandbox.hostLayout,
      { build: work.dir, buildWritable: true, home: paths.home, cache: paths.cache, data: null, runtimes: runtimeRoots(programsOf(work.plan), this.#options.stateDir), etcDir: sandbox.etcDir },
      sandbox.tmpBytes,
    );
    const limits = buildLimits(this.#options.buildMemoryBytes, cpus().length);
    return { launcher: sandbox.launcher(mounts, () => limits), env: { TMPDIR: '/tmp' } };
  }

  /**
   * How a build's steps start inside its base image (a BuildRoot): the
   * image's root as `/`, read-only, the build folder writable at the
   * image's app folder, the build cache, the app's network, the build
   * limits. Only in a sandbox: there is no uncontained way to run in a root.
   */
  async buildInRoot(app: string, user: RunAs | null, paths: AppPaths, root: { readonly rootfs: string; readonly appDir: string }, dir: string): Promise<ProcessContext & { readonly launcher: Launcher }> {
    if (this.#options.sandboxes === null || user === null) {
      throw new BerthError('BERTH_E_BUILD_ROOT', `${app} cannot be built inside its base image: ${this.#options.uncontainedReason ?? (user === null ? 'the app has no user of its own' : 'apps run uncontained')}`, {
        status: 422,
        hint: 'builds inside a base image run in a sandbox: run berth server as root with --sandbox auto or required',
      });
    }
    const sandbox = await this.#sandboxOf(app, user, paths);
    const limits = buildLimits(this.#options.buildMemoryBytes, cpus().length);
    const launcher = await sandbox.rootLauncher(root.rootfs, (tools) => imageRootMounts({ appDir: root.appDir, build: dir, cache: paths.cache, tools, etcDir: sandbox.etcDir }, sandbox.tmpBytes), () => limits);
    return { launcher, env: { TMPDIR: '/tmp' } };
  }

  /** Ends what a previous daemon's sandboxes left running but those in `kept` (taken over); how many there were. */
  async sweep(kept: ReadonlySet<string> = new Set()): Promise<number> {
    return (await this.#options.sandboxes?.sweep(kept)) ?? 0;
  }

  /** Ends every process of one sandbox's control group and removes the group. */
  async endGroup(cgroup: string): Promise<void> {
    await this.#options.sandboxes?.endGroup(cgroup);
  }

  /** The processes in a sandbox's control group now (empty: no sandboxes, or no such group). */
  async pidsIn(cgroup: string): Promise<number[]> {
    return (await this.#options.sandboxes?.pidsIn(cgroup)) ?? [];
  }

  /** The app is gone: its network too. */
  async remove(app: string): Promise<void> {
    this.#apps.delete(app);
    await this.#options.sandboxes?.removeApp(app);
  }
}
