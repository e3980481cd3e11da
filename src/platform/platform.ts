import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { commandToArgv, detectApp, readAppConfig, unpackSource, type AppPlan } from '../build/index.ts';
import type { Edge, SiteSpec } from '../edge/index.ts';
import { BerthError } from '../errors.ts';
import { ReleaseRunner, reapOrphans, runOnce, SUPERVISOR_ENV, type ReleaseSpec } from '../runner/index.ts';
import { AppLog } from './app-log.ts';
import * as names from './names.ts';
import type { App, Release, ReleaseInfo } from './records.ts';
import { describeRelease } from './release-policy.ts';
import { routeSpecFor } from './routing.ts';
import type { Store } from './store.ts';

export interface PlatformOptions {
  readonly stateDir: string;
  readonly store: Store;
  readonly edge: Edge;
  /** Apps are reachable at NAME.BASE. */
  readonly baseDomain: string;
  /** The environment apps inherit (PATH and the like), before their config vars. */
  readonly baseEnv: Readonly<Record<string, string>>;
  readonly log: (line: string) => void;
  readonly graceMs?: number;
  readonly readyTimeoutMs?: number;
  /** Releases kept per app beyond the current one and its rollback target. */
  readonly keepReleases?: number;
}

type AuditDetail = Record<string, string | number | readonly string[]>;

/** A release as the runner runs it, with what the edge serves for it besides its instances. */
interface RunningRelease extends ReleaseSpec {
  readonly version: number;
  readonly mounts: ReadonlyArray<{ readonly prefix: string; readonly root: string }>;
  readonly maxBodyBytes: number | null;
}

interface AppState {
  readonly runner: ReleaseRunner<RunningRelease>;
  readonly log: AppLog;
  site: Omit<SiteSpec, 'key'> | null;
  /** Deploys, config changes, rollbacks, scaling and restarts of one app happen one at a time. */
  queue: Promise<unknown>;
}

/**
 * The hosting platform: apps, their builds and releases, and the running
 * instances behind the edge. Every change that alters what runs goes
 * through `#activate`: a release is started beside the serving one and
 * takes traffic only once ready; if it fails, the store and the traffic are
 * left as they were (the failed release is recorded as failed).
 */
export class Platform {
  readonly #options: PlatformOptions;
  readonly #store: Store;
  readonly #apps = new Map<string, AppState>();

  constructor(options: PlatformOptions) {
    this.#options = options;
    this.#store = options.store;
  }

  get store(): Store {
    return this.#store;
  }

  /** Brings every app back at its current release (after a daemon start). */
  async start(): Promise<void> {
    const reaped = reapOrphans(this.#supervisorMarker());
    if (reaped.length > 0) this.#options.log(`stopped ${reaped.length} instance(s) left running by a previous daemon that did not stop cleanly`);
    const interrupted = this.#store.failInterrupted();
    for (const release of interrupted.releases) this.#options.log(`${release.app}: v${release.version} was interrupted by a stop; marked failed`);
    await this.#publishRoutes();
    await Promise.all(
      this.#store.listApps().map(async (app) => {
        const current = this.#store.currentRelease(app.name);
        if (current === null) return;
        try {
          await this.#activate(app.name, current);
          this.#options.log(`${app.name}: serving v${current.version}`);
        } catch (err) {
          this.#options.log(`${app.name}: cannot start v${current.version}: ${(err as Error).message}`);
        }
      }),
    );
  }

  #state(app: string): AppState {
    let state = this.#apps.get(app);
    if (state === undefined) {
      const log = new AppLog();
      const created: AppState = {
        log,
        site: null,
        queue: Promise.resolve(),
        runner: new ReleaseRunner<RunningRelease>({
          publish: (upstreams, release) => {
            created.site = { mounts: release.mounts, upstreams, fallbackRoot: null, maxBodyBytes: release.maxBodyBytes };
            return this.#publishRoutes();
          },
          drain: (upstream, deadline) => this.#options.edge.drain(upstream, deadline),
          log: (source, line) => log.add(source === 'berth' ? 'berth' : source, line),
          graceMs: this.#options.graceMs ?? 10_000,
          readyTimeoutMs: this.#options.readyTimeoutMs ?? 60_000,
        }),
      };
      state = created;
      this.#apps.set(app, state);
    }
    return state;
  }

  /** Runs `work` after the app's previous change has finished. */
  #serially<T>(app: string, work: () => Promise<T>): Promise<T> {
    const state = this.#state(app);
    const run = state.queue.then(work);
    state.queue = run.catch(() => {});
    return run;
  }

  #publishRoutes(): Promise<void> {
    const domains = new Map<string, string[]>();
    for (const domain of this.#store.listDomains()) {
      const list = domains.get(domain.app) ?? [];
      list.push(domain.hostname);
      domains.set(domain.app, list);
    }
    const apps = this.#store.listApps().map((app) => ({ name: app.name, domains: domains.get(app.name) ?? [], site: this.#apps.get(app.name)?.site ?? null }));
    return this.#options.edge.setRoutes(routeSpecFor(apps, this.#options.baseDomain));
  }

  logOf(app: string): AppLog {
    this.#store.getApp(app);
    return this.#state(app).log;
  }

  url(app: string): string {
    return `http://${app}.${this.#options.baseDomain}`;
  }

  // ---- apps -------------------------------------------------------------

  createApp(name: string, actor: string): App {
    const app = this.#audited(actor, 'apps.create', name, () => this.#store.createApp(names.appName(name)));
    return app;
  }

  async destroyApp(name: string, actor: string): Promise<void> {
    this.#store.getApp(name);
    await this.#serially(name, async () => {
      const state = this.#apps.get(name);
      if (state) {
        state.site = null;
        await this.#publishRoutes();
        await state.runner.stop();
      }
      this.#audited(actor, 'apps.destroy', name, () => this.#store.destroyApp(name));
      this.#apps.delete(name);
      await this.#publishRoutes();
      await rm(join(this.#options.stateDir, 'apps', name), { recursive: true, force: true });
    });
  }

  #audited<T>(actor: string, action: string, target: string, work: () => T, detail: AuditDetail = {}): T {
    try {
      const result = work();
      this.#audit(actor, action, target, detail, null);
      return result;
    } catch (err) {
      this.#audit(actor, action, target, detail, err);
      throw err;
    }
  }

  async #auditedAsync<T>(actor: string, action: string, target: string, work: () => Promise<T>, detail: AuditDetail = {}): Promise<T> {
    try {
      const result = await work();
      this.#audit(actor, action, target, detail, null);
      return result;
    } catch (err) {
      this.#audit(actor, action, target, detail, err);
      throw err;
    }
  }

  /** One audit row: who, what, on what, and how it ended (an error's code, never its values). */
  #audit(actor: string, action: string, target: string, detail: AuditDetail, error: unknown): void {
    if (error === null) this.#store.audit({ actor, action, target, result: 'ok', detail });
    else this.#store.audit({ actor, action, target, result: 'error', detail: { ...detail, error: (error as BerthError).code ?? 'error' } });
  }

  // ---- deploys ----------------------------------------------------------

  /**
   * Unpacks an uploaded source tarball into a fresh build directory, builds
   * it (dependencies, the `release` command later), makes a release of it
   * with the app's current config, and rolls it out. `log` receives every
   * line of the build and the rollout.
   */
  deploy(app: string, upload: Readable, options: { description?: string; actor: string; log: (line: string) => void }): Promise<ReleaseInfo> {
    this.#store.getApp(app);
    const state = this.#state(app);
    const log = (line: string) => {
      state.log.add('build', line);
      options.log(line);
    };
    return this.#auditedAsync(options.actor, 'deploy', app, () =>
      this.#serially(app, async () => {
        const dir = join(this.#options.stateDir, 'apps', app, 'builds', `${Date.now()}-${randomBytes(4).toString('hex')}`);
        await mkdir(dir, { recursive: true, mode: 0o750 });
        const digest = createHash('sha256');
        const hashing = new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            digest.update(chunk);
            callback(null, chunk);
          },
        });
        const piped = pipeline(upload, hashing).catch(() => {});
        try {
          await unpackSource(hashing, dir);
        } catch (err) {
          upload.resume();
          await rm(dir, { recursive: true, force: true });
          throw err;
        }
        await piped;
        const sourceDigest = digest.digest('hex');
        const build = this.#store.createBuild(app, { sourceDigest, dir, logPath: join(dir, '.berth-build.log') });
        log(`building ${sourceDigest.slice(0, 7)}`);
        let plan: AppPlan;
        try {
          plan = await detectApp(dir);
          await readAppConfig(dir);
          log(plan.kind === 'static' ? 'static site: the edge serves it, no process runs' : `${plan.runtime} app: ${plan.processes.map((p) => p.name).join(', ')}`);
          if (plan.kind === 'processes') {
            for (const step of plan.install) {
              log(`running ${step.join(' ')}`);
              const code = await runOnce(step, { cwd: dir, env: this.#buildEnv(), onLine: log });
              if (code !== 0) throw new BerthError('BERTH_E_INSTALL', `${step.join(' ')} failed with exit code ${code}`, { status: 422, hint: 'Fix the dependency problem shown in the build output, then deploy again.' });
            }
          }
          this.#store.markBuild(build.id, 'succeeded');
        } catch (err) {
          this.#store.markBuild(build.id, 'failed');
          throw err;
        }
        const release = this.#store.createRelease(app, {
          kind: 'deploy',
          description: options.description ?? describeRelease({ kind: 'deploy', source: sourceDigest.slice(0, 7) }),
          buildId: build.id,
          processes: plan.kind === 'processes' ? plan.processes.map((p) => ({ name: p.name, command: p.command })) : [],
        });
        return this.#rollOut(app, release, log);
      }),
    );
  }

  #buildEnv(): Record<string, string> {
    return { ...this.#options.baseEnv };
  }

  /** Starts a pending release; on success it becomes current, on failure it is marked failed and nothing else changes. */
  async #rollOut(app: string, release: Release, log: (line: string) => void): Promise<ReleaseInfo> {
    log(`releasing v${release.version}: ${release.description}`);
    try {
      await this.#runReleaseCommand(app, release, log);
      await this.#activate(app, release);
    } catch (err) {
      this.#store.markRelease(release.id, 'failed');
      log(`v${release.version} failed: ${(err as Error).message}`);
      throw err;
    }
    this.#store.transaction(() => {
      this.#store.markRelease(release.id, 'succeeded');
      this.#store.setCurrentRelease(app, release.id);
    });
    log(`v${release.version} is serving at ${this.url(app)}`);
    await this.#prune(app);
    return this.#store.listReleases(app).find((r) => r.id === release.id)!;
  }

  async #prune(app: string): Promise<void> {
    const pruned = this.#store.pruneReleases(app, this.#options.keepReleases ?? 10);
    for (const build of pruned.builds) await rm(build.dir, { recursive: true, force: true });
  }

  /** The Procfile's `release` entry (migrations), once, in the new release, before traffic moves. */
  async #runReleaseCommand(app: string, release: Release, log: (line: string) => void): Promise<void> {
    const command = release.processes.find((p) => p.name === 'release');
    if (command === undefined || release.buildId === null) return;
    const build = this.#store.getBuild(release.buildId);
    const env = this.#releaseEnv(app, release);
    log(`running the release command: ${command.command}`);
    const code = await runOnce(commandToArgv(command.command, env), { cwd: build.dir, env, onLine: log });
    if (code !== 0) throw new BerthError('BERTH_E_RELEASE_FAILED', `the release command failed with exit code ${code}`, { status: 422, hint: 'The Procfile "release:" entry must succeed before traffic moves.' });
  }

  #releaseEnv(app: string, release: Release): Record<string, string> {
    return { ...this.#options.baseEnv, ...release.config, BERTH_APP: app, BERTH_RELEASE: `v${release.version}`, [SUPERVISOR_ENV]: this.#supervisorMarker() };
  }

  /** Tags this daemon's instances, so that a later start can stop those a crash left behind. */
  #supervisorMarker(): string {
    return `server:${this.#options.stateDir}`;
  }

  /** Makes `release` serve (zero-downtime), without touching the store. */
  async #activate(app: string, release: Release): Promise<void> {
    if (release.buildId === null) throw new BerthError('BERTH_E_STATE', `v${release.version} has no build`, { status: 500 });
    const build = this.#store.getBuild(release.buildId);
    const config = await readAppConfig(build.dir);
    const mounts = config.static.map((mount) => ({ prefix: mount.prefix, root: join(build.dir, mount.dir) }));
    const state = this.#state(app);
    const plan = await detectApp(build.dir);
    if (plan.kind === 'static') {
      state.site = { mounts, upstreams: null, fallbackRoot: plan.root, maxBodyBytes: config.limits.maxBodyBytes };
      await this.#publishRoutes();
      await state.runner.stop().catch(() => {});
      return;
    }
    const formation = this.#store.getFormation(app);
    await state.runner.activate({
      name: `v${release.version}`,
      version: release.version,
      dir: build.dir,
      processes: release.processes,
      scale: { ...config.scale, ...formation },
      env: this.#releaseEnv(app, release),
      healthPath: config.health.path,
      mounts,
      maxBodyBytes: config.limits.maxBodyBytes,
    });
  }

  // ---- config, rollback, scale, restart ---------------------------------

  /** Sets and unsets config vars as one new release of the same build. */
  changeConfig(app: string, change: { set: Readonly<Record<string, string>>; unset: readonly string[] }, actor: string): Promise<ReleaseInfo> {
    const keys = [...Object.keys(change.set), ...change.unset];
    return this.#auditedAsync(actor, 'config.change', app, () =>
      this.#serially(app, async () => {
        const current = this.#requireCurrent(app);
        const before = this.#store.getConfig(app);
        const release = this.#store.transaction(() => {
          if (Object.keys(change.set).length > 0) this.#store.setConfig(app, change.set);
          if (change.unset.length > 0) this.#store.unsetConfig(app, change.unset);
          return this.#store.createRelease(app, {
            kind: 'config',
            description: describeRelease({ kind: 'config', set: Object.keys(change.set), unset: change.unset }),
            buildId: current.buildId,
            processes: current.processes,
          });
        });
        try {
          return await this.#rollOut(app, release, (line) => this.#state(app).log.add('berth', line));
        } catch (err) {
          // The config the next release snapshots goes back to what serves.
          this.#store.replaceConfig(app, before);
          throw err;
        }
      }),
      { keys },
    );
  }

  rollback(app: string, version: number | undefined, actor: string): Promise<ReleaseInfo> {
    return this.#auditedAsync(actor, 'rollback', app, () =>
      this.#serially(app, async () => {
        const target = this.#store.rollbackTarget(app, version);
        const release = this.#store.createRelease(app, {
          kind: 'rollback',
          description: describeRelease({ kind: 'rollback', toVersion: target.version }),
          buildId: target.buildId,
          config: target.config,
          processes: target.processes,
        });
        const info = await this.#rollOut(app, release, (line) => this.#state(app).log.add('berth', line));
        this.#store.replaceConfig(app, target.config);
        return info;
      }),
    );
  }

  /** New instance counts, rolled out as a fresh set of instances of the same release. */
  scale(app: string, quantities: Readonly<Record<string, number>>, actor: string): Promise<Record<string, number>> {
    return this.#auditedAsync(actor, 'scale', app, () =>
      this.#serially(app, async () => {
        const before = this.#store.getFormation(app);
        const formation = this.#store.setFormation(app, quantities);
        const current = this.#store.currentRelease(app);
        if (current !== null) {
          try {
            await this.#activate(app, current);
          } catch (err) {
            this.#store.setFormation(app, before);
            throw err;
          }
        }
        return formation;
      }),
    );
  }

  restart(app: string, actor: string): Promise<void> {
    return this.#auditedAsync(actor, 'restart', app, () => this.#serially(app, async () => this.#activate(app, this.#requireCurrent(app))));
  }

  #requireCurrent(app: string): Release {
    const current = this.#store.currentRelease(app);
    if (current === null) throw new BerthError('BERTH_E_RELEASE_NOT_FOUND', `${app} has no release yet`, { status: 409, hint: `Deploy it first: berth deploy --app ${app}` });
    return current;
  }

  /** Instances per process type as they run: the release's types at one each, unless scaled. */
  formation(app: string): Record<string, number> {
    const current = this.#store.currentRelease(app);
    const effective: Record<string, number> = {};
    for (const process of current?.processes ?? []) if (process.name !== 'release') effective[process.name] = 1;
    return { ...effective, ...this.#store.getFormation(app) };
  }

  instances(app: string): Array<{ name: string; state: string; pid: number | undefined; port: number | null; release: string | null }> {
    this.#store.getApp(app);
    const state = this.#apps.get(app);
    const formation = state?.runner.formation;
    if (!formation) return [];
    const release = state!.runner.current?.name ?? null;
    return formation.instances().map((instance) => ({ ...instance, release }));
  }

  // ---- domains ----------------------------------------------------------

  async addDomain(app: string, hostname: string, actor: string): Promise<string[]> {
    const host = names.hostname(hostname);
    if (host.endsWith(`.${this.#options.baseDomain}`) && host !== `${app}.${this.#options.baseDomain}`) {
      throw new BerthError('BERTH_E_DOMAIN_TAKEN', `${host} is under the platform's base domain ${this.#options.baseDomain}`, { status: 409, hint: `Apps get NAME.${this.#options.baseDomain} automatically; add a domain of your own.` });
    }
    this.#audited(actor, 'domains.add', app, () => this.#store.addDomain(app, host), { hostname: host });
    await this.#publishRoutes();
    return this.domains(app);
  }

  async removeDomain(app: string, hostname: string, actor: string): Promise<string[]> {
    this.#audited(actor, 'domains.remove', app, () => this.#store.removeDomain(app, hostname), { hostname });
    await this.#publishRoutes();
    return this.domains(app);
  }

  domains(app: string): string[] {
    this.#store.getApp(app);
    return this.#store.listDomains(app).map((d) => d.hostname);
  }

  /** Drains and stops every app; the store stays open for the caller to close. */
  async stop(): Promise<void> {
    await Promise.all([...this.#apps.values()].map(async (state) => {
      await state.queue;
      await state.runner.stop();
    }));
  }
}
