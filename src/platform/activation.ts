import { isAbsolute, join, relative } from 'node:path';
import { realpath } from 'node:fs/promises';
import { siteSettings, type CronJobConfig } from '../build/index.ts';
import type { StaticAccess } from '../edge/index.ts';
import { BerthError } from '../errors.ts';
import type { InstanceRecord, Launcher, RunAs } from '../runner/index.ts';
import type { AppDisk } from './app-disk.ts';
import type { AppHosts } from './app-hosts.ts';
import type { AppStates } from './app-states.ts';
import type { CronScheduler } from './cron-scheduler.ts';
import type { ProcessSetup } from './process-setup.ts';
import type { BuildManifest, Release } from './records.ts';
import type { Store } from './store.ts';

// Making a release serve: its site (static mounts, what the edge may
// serve of them), its processes through the app's runner (a zero-downtime
// switch), and its cron jobs. Every path to a serving release goes
// through here: a deploy, a config change, a rollback, a restart, the
// daemon's start and a resume after a disk stop. Nothing here touches the
// store's record of which release is current: the callers decide that.

export interface ActivationDeps {
  readonly store: Store;
  readonly apps: AppStates;
  readonly hosts: AppHosts;
  readonly setup: ProcessSetup;
  readonly disk: AppDisk;
  readonly cron: CronScheduler;
  /** STATE/apps/NAME (root's). */
  readonly appDir: (app: string) => string;
  /** Makes and names the folder of the app's instances' output files (STATE/logs/NAME/output). */
  readonly outputDir: (app: string) => string;
}

export class Activation {
  readonly #deps: ActivationDeps;

  constructor(deps: ActivationDeps) {
    this.#deps = deps;
  }

  /**
   * Makes `release` serve (zero-downtime), without touching the store;
   * with `adopt`, by taking over those of its instances a previous daemon
   * left running (verified by the caller) instead of starting them.
   */
  async activate(app: string, release: Release, adopt: readonly InstanceRecord[] = []): Promise<void> {
    if (release.buildId === null) throw new BerthError('BERTH_E_STATE', `v${release.version} has no build`, { status: 500 });
    const build = this.#deps.store.getBuild(release.buildId);
    const manifest = await this.#deps.setup.manifestOf(build);
    const { plan, config } = manifest;
    this.#deps.disk.serving(app, config.resources.diskBytes);
    const mounts = config.static.map((mount) => ({ prefix: mount.prefix, root: join(build.dir, mount.dir) }));
    const settings = { ...siteSettings(config), staticAccess: await this.#staticAccess(app, build.dir) };
    const state = this.#deps.apps.of(app);
    if (plan.kind === 'static') {
      state.site = { ...settings, mounts, upstreams: null, fallbackRoot: plan.root };
      await this.#deps.hosts.publishRoutes();
      await state.runner.stop().catch(() => {});
      await this.#scheduleCron(app, release, build.dir, cronOf(manifest), async () => {
        const user = await this.#deps.setup.userOf(app);
        const context = await this.#deps.setup.processContext(app, user, build.dir, { plan, config });
        return { user, env: this.#deps.setup.releaseEnv(app, release, user, build.dir, plan, context), launcher: context.launcher };
      });
      return;
    }
    const formation = this.#deps.store.getFormation(app);
    const user = await this.#deps.setup.userOf(app);
    const context = await this.#deps.setup.processContext(app, user, build.dir, { plan, config });
    const env = this.#deps.setup.releaseEnv(app, release, user, build.dir, plan, context);
    const spec = {
      user,
      name: `v${release.version}`,
      version: release.version,
      dir: build.dir,
      processes: release.processes,
      scale: { ...config.scale, ...formation },
      env,
      healthPath: config.health.path,
      mounts,
      settings,
      ...(context.launcher ? { launcher: context.launcher } : {}),
      ...(context.adopter ? { adopter: context.adopter } : {}),
      ...(context.choosePort ? { choosePort: context.choosePort } : {}),
      outputDir: this.#deps.outputDir(app),
    };
    if (adopt.length > 0) await state.runner.resume(spec, adopt);
    else await state.runner.activate(spec);
    await this.#scheduleCron(app, release, build.dir, cronOf(manifest), async () => ({ user, env, launcher: context.launcher }));
  }

  /**
   * What the edge may serve of a release's static folders: files inside its
   * build folder only (a folder the app turned into a link elsewhere is not
   * served), owned by the app's user or readable by anyone.
   */
  async #staticAccess(app: string, buildDir: string): Promise<StaticAccess> {
    // The edge compares `confine` as given, so it must be canonical. STATE/apps/NAME
    // lies in root's folders (the app cannot replace it), so resolving it is safe;
    // below it the folders are the app's, and are never resolved here.
    const appDir = this.#deps.appDir(app);
    const below = relative(appDir, buildDir);
    const confine = below.startsWith('..') || isAbsolute(below) ? buildDir : join(await realpath(appDir).catch(() => appDir), below);
    return { confine, owner: this.#deps.store.getApp(app).uid };
  }

  /** From now on the release's [cron] jobs run, in its build, with its environment, as the app's user. Never fails the release: it already serves. */
  async #scheduleCron(
    app: string,
    release: Release,
    dir: string,
    jobs: readonly CronJobConfig[],
    context: () => Promise<{ user: RunAs | null; env: Record<string, string>; launcher?: Launcher | undefined }>,
  ): Promise<void> {
    try {
      const { user, env, launcher } = await context();
      this.#deps.cron.setRelease(app, { version: release.version, dir, env, user, jobs, ...(launcher ? { launcher } : {}) });
    } catch (err) {
      this.#deps.apps.of(app).log.add('berth', `v${release.version}'s cron jobs are not scheduled: ${(err as Error).message}`);
    }
  }
}

/** A build's cron jobs: berth.toml's and app.json's (their names never collide: the build refused that), by name. */
export function cronOf(manifest: BuildManifest): CronJobConfig[] {
  return [...manifest.config.cron, ...(manifest.appJson?.cron ?? [])].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
