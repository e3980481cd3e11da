import { commandToArgv, detectApp, discoverBuildEnvironment, discoverSandbox, planPath, readAppConfig, type AppPlan, type BuildEnvironment, type Sandbox } from '../build/index.ts';
import { BerthError } from '../errors.ts';
import { plainLauncher, runOnce, SUPERVISOR_ENV, type RunAs } from '../runner/index.ts';
import { appPaths, appsDirIn, type AppPaths } from './app-dirs.ts';
import { findUser } from './app-users.ts';
import type { AppState } from './app-states.ts';
import { Containment, type ProcessContext } from './containment.ts';
import type { RunContext } from './one-off-runs.ts';
import type { Build, BuildManifest, Release } from './records.ts';
import type { Store } from './store.ts';

// How every process berth starts for an app is set up — builds, instances,
// the release command and app.json's scripts, cron runs, one-off runs: the
// Unix user it runs as, its sandbox (containment.ts), its environment in
// the one order every kind shares, the tag that lets a later daemon find
// what a crashed one left, and the recorded manifest of its build (never
// what the build folder holds now: the app can change its files).

/** Apps run as their users, uncontained (no sandboxes given). */
const UNCONTAINED = new Containment({ sandboxes: null, uncontainedReason: null, stateDir: '/', instanceDefaults: { memoryBytes: null, cpu: null, processes: null }, buildMemoryBytes: null });

export interface ProcessSetupOptions {
  readonly stateDir: string;
  readonly store: Store;
  /** The environment apps inherit (PATH and the like), before their config vars. */
  readonly baseEnv: Readonly<Record<string, string>>;
  /** Variables every build gets (`--build-env-file`), under the app's own config vars. */
  readonly buildEnv: Readonly<Record<string, string>> | undefined;
  /** How apps' processes are contained; uncontained when absent. */
  readonly containment: Containment | undefined;
  /** Where the app's user is cached (its state). */
  readonly state: (app: string) => AppState;
}

export class ProcessSetup {
  readonly #options: ProcessSetupOptions;
  #environment: Promise<{ build: BuildEnvironment; sandbox: Sandbox }> | null = null;

  constructor(options: ProcessSetupOptions) {
    this.#options = options;
  }

  get containment(): Containment {
    return this.#options.containment ?? UNCONTAINED;
  }

  /** Tags this daemon's instances, so that a later start can stop those a crash left behind. */
  get supervisorMarker(): string {
    return `server:${this.#options.stateDir}`;
  }

  paths(app: string): AppPaths {
    return appPaths(appsDirIn(this.#options.stateDir), app);
  }

  /** What the machine offers builds, looked up once per daemon. */
  buildEnvironment(): Promise<{ build: BuildEnvironment; sandbox: Sandbox }> {
    this.#environment ??= (async () => ({
      build: await discoverBuildEnvironment(this.#options.baseEnv.PATH),
      sandbox: await discoverSandbox(this.#options.baseEnv.PATH),
    }))();
    return this.#environment;
  }

  /**
   * What the build was detected as and its berth.toml, as recorded when it
   * was built: a release runs that, never what its folder holds now (the
   * app can change its files). A build from before manifests were recorded
   * is detected once, reading its folder confined (a link out of it is
   * refused, never read), and the result recorded.
   */
  async manifestOf(build: Build): Promise<BuildManifest> {
    if (build.manifest !== null) return build.manifest;
    const config = await readAppConfig(build.dir);
    const plan = await detectApp(build.dir, (await this.buildEnvironment()).build, config);
    return this.#options.store.recordManifest(build.id, { plan, config }).manifest ?? { plan, config };
  }

  /** The Unix user the app's builds and processes run as, or null. */
  userOf(app: string): Promise<RunAs | null> {
    const state = this.#options.state(app);
    if (state.user === null) {
      const uid = this.#options.store.getApp(app).uid;
      state.user =
        uid === null
          ? Promise.resolve(null)
          : findUserOrFail(app, uid, this.paths(app).home);
      state.user.catch(() => (state.user = null));
    }
    return state.user;
  }

  /**
   * A build sees the server-wide build variables, then the app's config
   * vars (as Heroku's buildpacks do: PIP_EXTRA_INDEX_URL, NPM_CONFIG_REGISTRY
   * and the like per app), never its add-on vars; PATH and HOME stay
   * berth's. The tag lets the next daemon stop a build this one could not
   * (it was killed), as it does instances.
   */
  buildEnv(app: string, user: RunAs | null, appJsonVars: Readonly<Record<string, string>> = {}): Record<string, string> {
    const base = this.#options.baseEnv;
    // app.json's vars the deploy will set are the build's already (a collectstatic needs its SECRET_KEY).
    const env: Record<string, string> = { ...base, ...this.#options.buildEnv, ...this.#options.store.getConfig(app), ...appJsonVars };
    if (base.PATH !== undefined) env.PATH = base.PATH;
    return { ...env, ...this.#homeEnv(app, user), [SUPERVISOR_ENV]: this.supervisorMarker };
  }

  /** An app with its own user gets STATE/apps/NAME/home as HOME (npm's cache and the like land there, not in root's). */
  #homeEnv(app: string, user: RunAs | null): Record<string, string> {
    return user === null ? {} : { HOME: this.paths(app).home };
  }

  /**
   * The environment of a release's processes: the daemon's few inherited
   * variables, PATH with the build's own folders first (its virtualenv, the
   * Node its engines asked for), the config snapshot, and berth's own.
   */
  releaseEnv(app: string, release: Release, user: RunAs | null, dir: string, plan: AppPlan, context: ProcessContext): Record<string, string> {
    const base = { ...this.#options.baseEnv };
    if (plan.kind === 'processes') base.PATH = planPath(plan, dir, base.PATH);
    // Add-on vars come from the add-ons the app has now, not from the release's
    // snapshot: a rollback keeps its database; the app's own config wins (a
    // sandbox's view of the add-ons and its TMPDIR too).
    return { ...base, ...this.#homeEnv(app, user), ...this.#options.store.addonVars(app), ...context.env, ...release.config, BERTH_APP: app, BERTH_RELEASE: `v${release.version}`, [SUPERVISOR_ENV]: this.supervisorMarker };
  }

  /** How the release's processes start: in the app's sandbox (memory limits per process type), or plainly. */
  processContext(app: string, user: RunAs | null, dir: string, manifest: BuildManifest, memory: Readonly<Record<string, number>> = this.#options.store.getFormationMemory(app)): Promise<ProcessContext> {
    return this.containment.release(app, user, this.paths(app), { dir, plan: manifest.plan, config: manifest.config }, this.#options.store.addonVars(app), memory);
  }

  /**
   * One command in a release's build folder, as its processes run (the app's
   * user and sandbox, the release's environment), named DYNO KIND.1; its
   * exit code.
   */
  async runIn(app: string, release: Release, command: string, kind: string, log: (line: string) => void): Promise<number> {
    const build = this.#options.store.getBuild(release.buildId!);
    const user = await this.userOf(app);
    const manifest = await this.manifestOf(build);
    const context = await this.processContext(app, user, build.dir, manifest);
    const env = { ...this.releaseEnv(app, release, user, build.dir, manifest.plan, context), DYNO: `${kind}.1`, BERTH_INSTANCE: `${kind}.1` };
    return runOnce(commandToArgv(command, env), { cwd: build.dir, env, onLine: log, user, ...(context.launcher ? { launcher: context.launcher, label: kind } : {}) });
  }

  /** What a one-off run in the release gets: its processes' setup, with `memoryBytes` (`--size`) as the run type's limit. */
  async runContext(app: string, release: Release, memoryBytes: number | null): Promise<RunContext> {
    const build = this.#options.store.getBuild(release.buildId!);
    const manifest = await this.manifestOf(build);
    const user = await this.userOf(app);
    const memory = { ...this.#options.store.getFormationMemory(app), ...(memoryBytes === null ? {} : { run: memoryBytes }) };
    const context = await this.processContext(app, user, build.dir, manifest, memory);
    const env = this.releaseEnv(app, release, user, build.dir, manifest.plan, context);
    return { release: `v${release.version}`, cwd: build.dir, user, launcher: context.launcher ?? plainLauncher, env: (name) => ({ ...env, DYNO: name, BERTH_INSTANCE: name }) };
  }
}

/** The app's Unix user by uid; refused when something outside berth removed it. */
async function findUserOrFail(app: string, uid: number, home: string): Promise<RunAs> {
  const user = await findUser(uid);
  if (user === null) {
    throw new BerthError('BERTH_E_APP_USER', `${app}'s Unix user (uid ${uid}) no longer exists`, {
      status: 500,
      hint: `Something removed it outside berth. Recreate the app, or add a user with uid ${uid} whose home is ${home}.`,
    });
  }
  return { uid: user.uid, gid: user.gid };
}
