import { chmod, mkdir, readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { BuildLimits } from '../build/index.ts';
import type { EdgeControl, ExchangeRecord } from '../edge/index.ts';
import { BerthError } from '../errors.ts';
import type { InstanceRecord, RunAs } from '../runner/index.ts';
import { InstanceRecords } from './instance-takeover.ts';
import { takeStock } from './leftovers.ts';
import { accessLogLine } from './access-log.ts';
import type { AppLog } from './app-log.ts';
import { removeTree } from '../safe-fs/index.ts';
import { legacyHome, prepareAppDirs } from './app-dirs.ts';
import { appUserName, createAppUser, findUser, removeAppUser, requireTraversable, setUserHome, type MachineIds } from './app-users.ts';
import { APP_UID_RANGE, chooseAppUid } from './uid-allocation.ts';
import { decideStartRetry, DEFAULT_START_RETRY_POLICY, type StartRetryPolicy } from './start-retry-policy.ts';
import { CronScheduler, type CronJobView, type ScheduledTask } from './cron-scheduler.ts';
import type { Containment } from './containment.ts';
import { appVariables, type AppVariable } from './app-variables.ts';
import { DeployPipeline, type PlatformEvent } from './deploy-pipeline.ts';
import { Activation } from './activation.ts';
import { ClusterActivation, clusterBuildRoot, podLogLines } from './cluster-activation.ts';
import type { KubeRuntime } from '../kubernetes/index.ts';
import type { LogLine } from './app-log-query.ts';
import { OneOffRuns, type OneOffRun, type RunOutcome, type RunRequest, type RunView } from './one-off-runs.ts';
import type { DiskStatus } from '../disk/index.ts';
import { AppDisk } from './app-disk.ts';
import * as names from './names.ts';
import type { App, Release, ReleaseInfo } from './records.ts';
import { describeRelease } from './release-policy.ts';
import { ProcessSetup } from './process-setup.ts';
import { appVitals, instanceViews, type AppVitals, type InstanceView } from './instance-views.ts';
import { AppHosts, type DomainCertificates, type DomainDetail } from './app-hosts.ts';
import { AppStates, type AppLogWatcher } from './app-states.ts';

export type { AppLogs, AppLogWatcher } from './app-states.ts';
export type { PlatformEvent } from './deploy-pipeline.ts';
export type { DomainCertificates, DomainDetail } from './app-hosts.ts';
export type { AppVitals, InstanceView } from './instance-views.ts';
import { audit, audited, auditedAsync } from './audit.ts';
import type { Store } from './store.ts';

/** How often the serving instances' output offsets are recorded (a crash reads at most this much output twice). */
const RECORD_OFFSETS_MS = 5_000;

export interface PlatformOptions {
  readonly stateDir: string;
  readonly store: Store;
  readonly edge: EdgeControl;
  /** Apps are reachable at NAME.BASE. */
  readonly baseDomain: string;
  /** The environment apps inherit (PATH and the like), before their config vars. */
  readonly baseEnv: Readonly<Record<string, string>>;
  readonly log: (line: string) => void;
  readonly graceMs?: number;
  readonly readyTimeoutMs?: number;
  /** Releases kept per app beyond the current one and its rollback target. */
  readonly keepReleases?: number;
  /**
   * Give every app a Unix user of its own, named PREFIX + app name (berth
   * must run as root); null runs apps as berth's own user.
   */
  readonly appUsers?: { readonly prefix: string } | null;
  /** Builds running at once on the machine (default 1: the others queue). */
  readonly buildConcurrency?: number;
  readonly buildLimits?: BuildLimits;
  /** The HTTPS edge's certificates: told every host the edge serves, asked for each domain's state. */
  readonly certificates?: DomainCertificates | null;
  /** Told when a build or a deploy ends (for metrics); must not throw. */
  readonly onEvent?: (event: PlatformEvent) => void;
  /** Told when an app's logs come to exist and when the app goes (the log drains follow them). */
  readonly logWatcher?: AppLogWatcher | null;
  /** How apps that failed to start with the daemon are tried again (tests shorten it). */
  readonly startRetryPolicy?: StartRetryPolicy;
  /** The time, for start retries (epoch ms). */
  readonly now?: () => number;
  /** How apps' processes are contained (sandboxes when berth runs as root); uncontained when absent. */
  readonly containment?: Containment;
  /** Variables every build gets (`--build-env-file`), under the app's own config vars. */
  readonly buildEnv?: Readonly<Record<string, string>>;
  /** Each app's disk: the limit unless its berth.toml sets one (null: none), and how often every app is measured. */
  readonly disk?: { readonly defaultBytes: number | null; readonly checkIntervalMs: number };
  /** Run the apps on this Kubernetes cluster instead of this machine (`--runtime kubernetes`); absent: here. */
  readonly cluster?: KubeRuntime | null;
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
  readonly #apps: AppStates;
  readonly #hosts: AppHosts;
  readonly #setup: ProcessSetup;
  readonly #cron: CronScheduler;
  readonly #runs: OneOffRuns;
  readonly #disk: AppDisk;
  readonly #deploys: DeployPipeline;
  readonly #activation: Activation;
  /** The apps' runtime when it is a cluster (cluster-activation.ts); null: this machine. */
  readonly #cluster: ClusterActivation | null;
  /** What a later daemon needs to take the apps' instances over (instance-takeover.ts). */
  readonly #records: InstanceRecords;
  /** The instances a previous daemon left that this one takes over, by app (taken once, at start). */
  #stock: Promise<Map<string, InstanceRecord[]>> | null = null;
  #recordTimer: NodeJS.Timeout | null = null;
  #stopping = false;

  constructor(options: PlatformOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#records = new InstanceRecords(options.stateDir);
    this.#hosts = new AppHosts({
      store: options.store,
      edge: options.edge,
      baseDomain: options.baseDomain,
      certificates: options.certificates ?? null,
      site: (app) => this.#apps.get(app)?.site ?? null,
      log: options.log,
    });
    this.#setup = new ProcessSetup({
      stateDir: options.stateDir,
      store: options.store,
      baseEnv: options.baseEnv,
      buildEnv: options.buildEnv,
      containment: options.containment,
      state: (app) => this.#apps.of(app),
    });
    this.#apps = new AppStates({
      stateDir: options.stateDir,
      drain: (upstream, deadline) => options.edge.drain(upstream, deadline),
      publishRoutes: () => this.#hosts.publishRoutes(),
      log: options.log,
      logWatcher: options.logWatcher ?? null,
      stopping: () => this.#stopping,
      graceMs: options.graceMs ?? 10_000,
      readyTimeoutMs: options.readyTimeoutMs ?? 60_000,
      onRecords: (app, release, records) => {
        try {
          this.#records.save(app, release, records);
        } catch (err) {
          options.log(`${app}: cannot record its instances for a later daemon: ${(err as Error).message}`);
        }
      },
    });
    // Cron: one scheduler for every app; told below whenever an app's serving release changes.
    this.#cron = new CronScheduler({
      store: options.store,
      appLog: (app, source, line) => this.#apps.appLog(app, source, line),
      log: options.log,
      graceMs: options.graceMs,
      held: (app) => this.#disk.held(app),
    });
    this.#runs = new OneOffRuns({ store: options.store, appLog: (app, source, line) => this.#apps.appLog(app, source, line), graceMs: options.graceMs ?? 10_000 });
    this.#disk = new AppDisk({
      stateDir: options.stateDir,
      apps: () => this.#store.listApps().map((app) => app.name),
      disk: options.disk,
      log: options.log,
      appLog: (app, line) => this.#apps.of(app).log.add('berth', line),
      serially: (app, work) => this.#apps.serially(app, work),
      pause: (app) => this.#apps.of(app).runner.pause(),
      resume: async (app) => {
        const current = this.#store.currentRelease(app);
        if (current !== null) await this.#activate(app, current);
      },
    });
    this.#activation = new Activation({
      store: options.store,
      apps: this.#apps,
      hosts: this.#hosts,
      setup: this.#setup,
      disk: this.#disk,
      cron: this.#cron,
      appDir: (app) => this.#appDir(app),
      outputDir: (app) => this.#records.ensureOutputDir(app),
    });
    this.#cluster = options.cluster ? new ClusterActivation({ store: options.store, setup: this.#setup, runtime: options.cluster }) : null;
    this.#deploys = new DeployPipeline({
      stateDir: options.stateDir,
      store: options.store,
      apps: this.#apps,
      setup: this.#setup,
      disk: this.#disk,
      buildConcurrency: options.buildConcurrency ?? 1,
      buildLimits: options.buildLimits,
      keepReleases: options.keepReleases,
      log: options.log,
      emit: (event) => this.#emit(event),
      stopping: () => this.#stopping,
      activate: (app, release, log) => this.#activate(app, release, { releasePhase: true, log }),
      releasePhaseInActivation: this.#cluster !== null,
      // On a cluster a build runs inside the base image its image is written over.
      ...(options.cluster ? { buildRoot: clusterBuildRoot(options.cluster, join(options.stateDir, 'oci', 'rootfs')) } : {}),
      url: (app) => this.url(app),
    });
  }

  /** Every variable the app's processes receive, with its source (`berth config list`). */
  variables(app: string, reveal: boolean): AppVariable[] {
    const current = this.#store.currentRelease(app);
    const home = this.#options.appUsers ? this.#setup.paths(app).home : null;
    return appVariables(this.#store.getConfig(app), this.#store.listAddons(app), { app, release: current === null ? null : `v${current.version}`, home }, reveal);
  }

  /** Whether apps run contained, and why not. */
  get uncontainedReason(): string | null {
    return this.#setup.containment.uncontainedReason;
  }

  /** What the app keeps on disk (as last measured), its limit, and whether it is stopped for it. */
  diskStatus(app: string): DiskStatus {
    this.#store.getApp(app);
    return this.#disk.status(app);
  }

  /** Measures the app's disk now (and acts on it, as the periodic check would). */
  async checkDisk(app: string): Promise<DiskStatus> {
    this.#store.getApp(app);
    return this.#disk.check(app);
  }

  get store(): Store {
    return this.#store;
  }

  /**
   * Makes STATE passable for the users apps and add-on servers run as.
   * Idempotent; `start()` calls it, and so does whatever must reach STATE
   * before the apps start (the add-ons' local servers).
   */
  async prepare(): Promise<void> {
    if (!this.#options.appUsers) return;
    // App users must be able to reach their own folders, STATE/apps/NAME
    // (0700, theirs), so STATE and STATE/apps are traversable by anyone
    // but listable by no one; berth.db and the token stay 0600.
    await mkdir(this.#appsDir(), { recursive: true, mode: 0o711 });
    await chmod(this.#options.stateDir, 0o711);
    await chmod(this.#appsDir(), 0o711);
    await requireTraversable(this.#options.stateDir);
  }

  /**
   * What a previous daemon left, taken stock of before anything of this
   * daemon runs as an app's user (call it before any listener opens): the
   * instances of the apps' current releases that still run as recorded are
   * taken over at `start()`; every other process it left (interrupted
   * builds, cron and one-off runs, instances that failed the check,
   * whatever an app hid) is ended. Once per daemon; `start()` calls it too.
   */
  takeStock(): Promise<Map<string, InstanceRecord[]>> {
    this.#stock ??= takeStock({
      store: this.#store,
      records: this.#records,
      containment: this.#setup.containment,
      supervisorMarker: this.#setup.supervisorMarker,
      appUsers: Boolean(this.#options.appUsers),
      takeOver: this.#cluster === null,
      log: this.#options.log,
    });
    return this.#stock;
  }

  /** Brings every app back at its current release (after a daemon start). */
  async start(): Promise<void> {
    await this.prepare();
    const stock = await this.takeStock();
    const interrupted = this.#store.failInterrupted();
    for (const release of interrupted.releases) this.#options.log(`${release.app}: v${release.version} was interrupted by a stop; marked failed`);
    for (const build of interrupted.builds) {
      this.#options.log(`${build.app}: build ${build.id} (source ${build.sourceDigest.slice(0, 7)}) was interrupted by a stop; marked interrupted`);
      this.#store.audit({ actor: names.SYSTEM_ACTOR, action: 'builds.interrupted', target: build.app, result: 'error', detail: { build: build.id, source: build.sourceDigest.slice(0, 7) } });
    }
    for (const run of interrupted.cronRuns) this.#options.log(`${run.app}: cron ${run.job} (slot ${run.slot}) was cut short by a stop; marked interrupted, not run again`);
    // Every app's folders in the current layout (an older berth's migrated)
    // before any of its processes runs, and what no release uses cleared.
    await Promise.all(
      this.#store.listApps().map((app) =>
        this.#apps.serially(app.name, () => this.#prepareApp(app.name)).catch((err: Error) => this.#options.log(`${app.name}: cannot prepare its folders: ${err.message}`)),
      ),
    );
    // First the apps that serve already (instances taken over) or need no
    // instance (static sites), published as one table: an edge that outlived
    // the last daemon keeps its routes until then, and never sees a table
    // with a serving app missing. Then the apps whose instances start afresh.
    const serving: Array<{ app: string; release: number }> = [];
    const starting: Array<{ app: string; release: number }> = [];
    for (const app of this.#store.listApps()) {
      const current = this.#store.currentRelease(app.name);
      if (current === null) continue;
      (stock.has(app.name) || this.#isStatic(current) ? serving : starting).push({ app: app.name, release: current.id });
    }
    this.#hosts.hold();
    try {
      await Promise.all(serving.map(({ app, release }) => this.#apps.serially(app, () => this.#startAtBoot(app, release, 0, stock.get(app) ?? [])).catch(() => {})));
    } finally {
      await this.#hosts.release();
    }
    await Promise.all(starting.map(({ app, release }) => this.#apps.serially(app, () => this.#startAtBoot(app, release, 0)).catch(() => {})));
    this.#disk.start();
    // The output offsets move as instances write: recorded every few seconds,
    // so a daemon that is killed leaves at most that much output to be read twice.
    this.#recordTimer = setInterval(() => this.#recordOffsets(), RECORD_OFFSETS_MS);
    this.#recordTimer.unref();
  }

  #recordOffsets(): void {
    if (this.#stopping) return;
    for (const [app, state] of this.#apps.entries()) {
      const release = state.runner.current;
      const formation = state.runner.formation;
      if (release === null || formation === null) continue;
      try {
        this.#records.save(app, release.version, formation.records());
      } catch (err) {
        this.#options.log(`${app}: cannot record its instances for a later daemon: ${(err as Error).message}`);
      }
    }
  }

  /** A release of a static site: nothing to start, only routes. */
  #isStatic(release: Release): boolean {
    if (release.buildId === null) return false;
    try {
      return this.#store.getBuild(release.buildId).manifest?.plan.kind === 'static';
    } catch {
      return false;
    }
  }

  /**
   * Starts an app's current release when the daemon starts. A failure (its
   * build folder unreadable for a moment, an add-on server not up yet, its
   * port taken) is logged once, with the next try's time, and tried again
   * with backoff (`decideStartRetry`) for as long as that release is the
   * app's current one and nothing else has made the app serve.
   */
  async #startAtBoot(app: string, releaseId: number, failures: number, adopt: readonly InstanceRecord[] = []): Promise<void> {
    const state = this.#apps.of(app);
    state.retry = null;
    const current = this.#store.listApps().some((a) => a.name === app) ? this.#store.currentRelease(app) : null;
    // Destroyed, rolled back or deployed meanwhile, or serving already: nothing to retry.
    if (this.#stopping || current === null || current.id !== releaseId || (failures > 0 && (state.runner.current !== null || state.site !== null))) return;
    try {
      if (this.#cluster === null && adopt.length > 0) await this.#activation.activate(app, current, adopt);
      else await this.#activate(app, current);
      this.#options.log(`${app}: serving v${current.version}${adopt.length > 0 ? ` (${adopt.length} instance(s) taken over)` : ''}${failures > 0 ? ` (after ${failures} failed start${failures === 1 ? '' : 's'})` : ''}`);
    } catch (err) {
      // Instances offered for the takeover that no formation took: never left running beside the retry's.
      if (adopt.length > 0 && state.runner.current === null) await this.#endRecorded(adopt);
      if (this.#stopping) return;
      const now = (this.#options.now ?? Date.now)();
      const next = decideStartRetry(failures + 1, now, this.#options.startRetryPolicy ?? DEFAULT_START_RETRY_POLICY);
      const line = `cannot start v${current.version}: ${(err as Error).message}; next try at ${new Date(next.at).toISOString()} (in ${Math.round(next.delayMs / 100) / 10} s)`;
      this.#options.log(`${app}: ${line}`);
      state.log.add('berth', line);
      state.retry = setTimeout(() => void this.#apps.serially(app, () => this.#startAtBoot(app, releaseId, next.failures)).catch(() => {}), next.delayMs);
    }
  }

  logOf(app: string): AppLog {
    this.#store.getApp(app);
    return this.#apps.of(app).log;
  }

  accessLogOf(app: string): AppLog {
    this.#store.getApp(app);
    return this.#apps.of(app).access;
  }

  /** The edge's records of finished requests, each into its app's access log (records of no app, or of one gone, are not kept). */
  recordAccess(records: readonly ExchangeRecord[]): void {
    for (const record of records) {
      const state = record.site === '' ? undefined : this.#apps.get(record.site);
      if (state === undefined) continue;
      const line = accessLogLine(record);
      state.access.add(line.source, line.text, line.at);
    }
  }

  // ---- apps -------------------------------------------------------------

  /**
   * Creates an app: its Unix user first (when apps get their own), then the
   * row. If the row cannot be written the user is removed again; a crash in
   * between leaves a user whose home is this app's home, which the next
   * create of the same name takes over.
   */
  createApp(name: string, actor: string): Promise<App> {
    return auditedAsync(this.#store, actor, 'apps.create', name, async () => {
      names.appName(name);
      if (this.#store.listApps().some((app) => app.name === name)) return this.#store.createApp(name); // refused: the app exists
      const users = this.#options.appUsers;
      if (!users) return this.#store.createApp(name);
      // The uid is recorded before the user exists: whatever happens next, it is never given again.
      const chooseUid = (ids: MachineIds) =>
        this.#store.allocateUid(name, (everAllocated) => {
          const uid = chooseAppUid({ range: APP_UID_RANGE, everAllocated, ...ids });
          if (uid === null) throw new BerthError('BERTH_E_APP_USER', `no uid is left for app users in ${APP_UID_RANGE.first}–${APP_UID_RANGE.last}`, { status: 500, hint: 'Every uid of the range was given to an app once, or is used on this machine; berth never gives one to a second app.' });
          return uid;
        });
      const user = await createAppUser(appUserName(users.prefix, name), this.#setup.paths(name).home, chooseUid, [legacyHome(this.#appsDir(), name)]);
      let created = false;
      try {
        const app = this.#store.createApp(name, { uid: user.uid });
        created = true;
        await prepareAppDirs(this.#appsDir(), name, user);
        return app;
      } catch (err) {
        // Nothing half-made stays: the row goes, then the user. Folders are
        // left as they are (what was in the way may not be berth's); the next
        // create of the name takes them over or refuses them again.
        if (created) {
          try {
            this.#store.destroyApp(name);
          } catch {
            // The row stays only if the store itself fails; the next create of the name says so.
          }
        }
        await removeAppUser(user).catch(() => {});
        throw err;
      }
    });
  }

  #appsDir(): string {
    return join(this.#options.stateDir, 'apps');
  }

  #appDir(app: string): string {
    return join(this.#appsDir(), app);
  }

  /**
   * At a daemon start, before the app's processes run: its folders in the
   * current layout (app-dirs.ts), its user's home pointed at them, and its
   * builds folder cleared of what no build row needs (builds never made into
   * a release, folders a crash left).
   */
  async #prepareApp(app: string): Promise<void> {
    const uid = this.#store.getApp(app).uid;
    const user = await this.#setup.userOf(app);
    const paths = await prepareAppDirs(this.#appsDir(), app, user);
    if (uid !== null) {
      const unix = await findUser(uid);
      if (unix !== null && unix.home !== paths.home) await setUserHome(unix.name, paths.home);
    }
    await this.#deploys.prune(app);
    const live = new Set(this.#store.listBuilds(app).filter((b) => b.status !== 'pruned').map((b) => basename(b.dir)));
    for (const entry of await readdir(paths.builds, { withFileTypes: true })) {
      // A link where a build folder was (planted under an older berth's layout) is no build: its release cannot run from it.
      if (live.has(entry.name) && entry.isDirectory()) continue;
      this.#options.log(`${app}: removing ${join(paths.builds, entry.name)}, which ${entry.isDirectory() ? 'no build uses' : 'is not a build folder'}`);
      await removeTree(join(paths.builds, entry.name));
    }
  }

  async destroyApp(name: string, actor: string): Promise<void> {
    this.#store.getApp(name);
    this.#store.requireNoAddons(name);
    await this.#apps.serially(name, async () => {
      const state = this.#apps.get(name);
      this.#apps.cancelRetry(name);
      await this.#cron.removeApp(name);
      await this.#runs.endApp(name);
      await this.#options.logWatcher?.detach(name);
      if (state) {
        state.site = null;
        await this.#hosts.publishRoutes();
        await state.runner.stop();
        await state.log.close();
        await state.access.close();
      }
      // On a cluster, its objects go first: a destroy that cannot reach the cluster keeps the app, to be tried again.
      if (this.#cluster !== null) {
        const removed = await this.#cluster.remove(name);
        if (removed.length > 0) this.#options.log(`${name}: removed from the cluster: ${removed.join(', ')}`);
      }
      // Its network goes once nothing of it runs (a namespace still in use would linger).
      await this.#setup.containment.remove(name).catch((err: Error) => this.#options.log(`${name}: cannot take its network down: ${err.message}`));
      // Every process of the app's user goes (whatever escaped its instance's
      // group), then the user; only then the row: a destroy that cannot
      // finish keeps the app, says what is left, and can be tried again.
      const uid = this.#store.getApp(name).uid;
      if (uid !== null) {
        try {
          const user = await findUser(uid);
          // Only a user that is still this app's (its home is the app's folder).
          if (user !== null && (user.home === this.#setup.paths(name).home || user.home === legacyHome(this.#appsDir(), name))) await removeAppUser(user);
        } catch (err) {
          // The app stays, stopped; its logs were closed, so the next use of it opens them anew.
          this.#apps.delete(name);
          audit(this.#store, actor, 'apps.destroy', name, {}, err);
          throw err;
        }
      }
      const destroyed = audited(this.#store, actor, 'apps.destroy', name, () => this.#store.destroyApp(name));
      const kept = destroyed.backups.filter((backup) => backup.file !== null);
      if (kept.length > 0) {
        const folders = [...new Set(kept.map((backup) => dirname(backup.file!)))].join(', ');
        this.#options.log(`${name}: destroyed; its ${kept.length} backup file(s) stay in ${folders}, listed for no app of that name again; one can be restored into an app by id (berth backups restore ID): ${kept.map((backup) => backup.id).join(', ')}`);
      }
      this.#apps.delete(name);
      this.#disk.forget(name);
      await this.#hosts.publishRoutes();
      await removeTree(this.#appDir(name));
      await this.#records.forget(name);
      await removeTree(join(this.#options.stateDir, 'logs', name));
      await removeTree(join(this.#options.stateDir, 'git', `${name}.git`)); // its git repository (src/git/)
    });
  }

  // ---- deploys ----------------------------------------------------------

  /**
   * Unpacks an uploaded source tarball into a fresh build directory, builds
   * it, makes a release of it with the app's current config, and rolls it
   * out (deploy-pipeline.ts). `log` receives every line of the build and
   * the rollout.
   */
  deploy(app: string, upload: Readable, options: { description?: string; actor: string; log: (line: string) => void }): Promise<ReleaseInfo> {
    return this.#deploys.deploy(app, upload, options);
  }

  #emit(event: PlatformEvent): void {
    try {
      this.#options.onEvent?.(event);
    } catch (err) {
      this.#options.log(`platform event listener failed: ${(err as Error).message}`);
    }
  }

  /** Makes `release` serve (zero-downtime), without touching the store; on a cluster `restart` rolls every pod. */
  #activate(app: string, release: Release, options: { restart?: boolean; releasePhase?: boolean; log?: (line: string) => void } = {}): Promise<void> {
    if (this.#cluster === null) return this.#activation.activate(app, release);
    // On a cluster a new release's release command runs inside its activation (a Job); a restart stamps the pod templates.
    const log = options.log ?? ((line: string) => this.#apps.of(app).log.add('berth', line));
    return this.#cluster.activate(app, release, { log, releasePhase: options.releasePhase ?? false, restart: options.restart ?? false });
  }

  /** Where the apps run: null on this machine, else the cluster's description. */
  get cluster(): string | null {
    return this.#cluster?.runtime.description ?? null;
  }

  /** The objects of a release (default: the current one) as YAML, for GitOps (`berth k8s manifests`). */
  kubernetesManifests(app: string, version: number | string | undefined): Promise<string> {
    if (this.#cluster === null) throw notOnCluster('berth k8s manifests', 'Start berth server with --runtime kubernetes; the manifests name the images it pushes.');
    const release = version === undefined ? this.#requireCurrent(app) : this.#store.getRelease(app, version);
    return this.#cluster.manifests(app, release);
  }

  /** On a cluster, the pods' new lines as they come (read every 2 s); the stop. On one machine nothing: the app log has them. */
  followPodLogs(app: string, onLine: (line: LogLine) => void): () => void {
    this.#store.getApp(app);
    return this.#cluster === null ? () => {} : this.#cluster.followLogs(app, onLine);
  }

  /** The last `tail` lines of each of the app's pods as app log lines (on a cluster; none on one machine, where the app log has them). */
  async podLogLines(app: string, tail: number): Promise<LogLine[]> {
    this.#store.getApp(app);
    return this.#cluster === null ? [] : podLogLines(await this.#cluster.logs(app, tail));
  }

  /** The app's cron jobs as they are scheduled now (empty until a release with [cron] serves). */
  cronJobs(app: string): CronJobView[] {
    this.#store.getApp(app);
    if (this.#cluster !== null) return this.#cluster.cronJobs(app, (this.#options.now ?? Date.now)());
    return this.#cron.jobs(app);
  }

  // ---- config, rollback, scale, restart ---------------------------------

  /** Sets and unsets config vars as one new release of the same build. */
  changeConfig(app: string, change: { set: Readonly<Record<string, string>>; unset: readonly string[] }, actor: string): Promise<ReleaseInfo | null> {
    const keys = [...Object.keys(change.set), ...change.unset];
    return auditedAsync(this.#store, actor, 'config.change', app, () =>
      this.#apps.serially(app, async () => {
        const current = this.#store.currentRelease(app);
        if (current === null) {
          // Nothing runs yet: the config waits for the first deploy, which snapshots it.
          this.#store.transaction(() => {
            if (Object.keys(change.set).length > 0) this.#store.setConfig(app, change.set);
            if (change.unset.length > 0) this.#store.unsetConfig(app, change.unset);
          });
          return null;
        }
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
          return await this.#deploys.rollOut(app, release, (line) => this.#apps.of(app).log.add('berth', line));
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
    return auditedAsync(this.#store, actor, 'rollback', app, () =>
      this.#apps.serially(app, async () => {
        const target = this.#store.rollbackTarget(app, version);
        const release = this.#store.createRelease(app, {
          kind: 'rollback',
          description: describeRelease({ kind: 'rollback', toVersion: target.version }),
          buildId: target.buildId,
          config: target.config,
          processes: target.processes,
        });
        const info = await this.#deploys.rollOut(app, release, (line) => this.#apps.of(app).log.add('berth', line));
        this.#store.replaceConfig(app, target.config);
        return info;
      }),
    );
  }

  /** New instance counts, rolled out as a fresh set of instances of the same release. */
  scale(app: string, quantities: Readonly<Record<string, number>>, actor: string, memory: Readonly<Record<string, number | null>> = {}): Promise<Record<string, number>> {
    return auditedAsync(this.#store, actor, 'scale', app, () =>
      this.#apps.serially(app, async () => {
        const before = this.#store.getFormation(app);
        const beforeMemory = this.#store.getFormationMemory(app);
        const formation = this.#store.setFormation(app, quantities, memory);
        const current = this.#store.currentRelease(app);
        if (current !== null) {
          try {
            await this.#activate(app, current);
          } catch (err) {
            this.#store.setFormation(app, before, Object.fromEntries(Object.keys(memory).filter((type) => Object.hasOwn(before, type)).map((type) => [type, beforeMemory[type] ?? null])));
            throw err;
          }
        }
        return formation;
      }),
    );
  }

  /** Memory limits per process type set by `berth scale TYPE=N:SIZE`. */
  formationMemory(app: string): Record<string, number> {
    return this.#store.getFormationMemory(app);
  }

  /**
   * The app's add-ons changed (their vars are read at activation): a new
   * release of the serving build picks them up. Null when nothing serves
   * yet: the first deploy will.
   */
  releaseForAddons(app: string, description: string, actor: string): Promise<ReleaseInfo | null> {
    return auditedAsync(this.#store, actor, 'addons.release', app, () =>
      this.#apps.serially(app, async () => {
        const current = this.#store.currentRelease(app);
        if (current === null) return null;
        const release = this.#store.createRelease(app, { kind: 'config', description, buildId: current.buildId, processes: current.processes });
        return this.#deploys.rollOut(app, release, (line) => this.#apps.of(app).log.add('berth', line));
      }),
    );
  }

  /** The Unix user the app runs as (null: berth's own), for add-ons that own files. */
  appUser(app: string): Promise<RunAs | null> {
    this.#store.getApp(app);
    return this.#setup.userOf(app);
  }

  /** berth's own scheduled tasks for the app (scheduled backups), on the cron scheduler. */
  scheduleTasks(app: string, tasks: readonly ScheduledTask[]): void {
    this.#cron.setTasks(app, tasks);
  }

  /** The app's scheduled tasks, with their next slots. */
  scheduledTasks(app: string): ReturnType<CronScheduler['tasks']> {
    return this.#cron.tasks(app);
  }

  /** A line in the app's log, from berth (source "berth" or a task's name). */
  appLog(app: string, source: string, line: string): void {
    this.#apps.appLog(app, source, line);
  }

  restart(app: string, actor: string): Promise<void> {
    return auditedAsync(this.#store, actor, 'restart', app, () => this.#apps.serially(app, async () => this.#activate(app, this.#requireCurrent(app), { restart: true })));
  }

  // ---- one-off runs (berth run) ------------------------------------------

  /**
   * A fresh process in the app's current release, as its release command
   * runs (its build, environment, user, sandbox and limits; `--size` over
   * its memory limit), named run.N (DYNO). Refused for an app without a
   * release and for an empty command.
   */
  async startRun(app: string, request: RunRequest): Promise<OneOffRun> {
    this.#store.getApp(app);
    if (request.argv.length === 0 || request.argv[0] === '') throw new BerthError('BERTH_E_USAGE', 'a run needs a command', { hint: `berth run --app ${app} -- COMMAND [ARGS...]` });
    if (this.#stopping) throw new BerthError('BERTH_E_STOPPING', 'the server is stopping', { status: 503, hint: 'Run it again once the server runs again.' });
    if (this.#cluster !== null) throw notOnCluster('berth run', `Run it in a pod of the release: kubectl -n ${this.#cluster.runtime.settings.namespace} exec -it deploy/${app}--web -- COMMAND (or kubectl run with the image berth releases --app ${app} shows).`);
    const release = this.#store.currentRelease(app);
    if (release === null || release.buildId === null) {
      throw new BerthError('BERTH_E_NO_RELEASE', `${app} has no release yet, so there is nothing to run a command in`, { status: 409, hint: `Deploy it first (berth deploy --app ${app}, or git push), then run the command.` });
    }
    return this.#runs.start(app, await this.#setup.runContext(app, release, request.memoryBytes), request);
  }

  /** The app's one-off runs going now. */
  runs(app: string): RunView[] {
    this.#store.getApp(app);
    return this.#runs.list(app);
  }

  /** Stops one run (SIGTERM, then SIGKILL after the grace period); resolves with how it ended. */
  stopRun(app: string, name: string, actor: string): Promise<RunOutcome> {
    this.#store.getApp(app);
    return this.#runs.stop(app, name, actor);
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

  /** Each instance's name and state, without measuring anything (the dashboard's summaries). */
  instanceStates(app: string): Array<{ name: string; state: string }> {
    this.#store.getApp(app);
    if (this.#cluster !== null) return this.#cluster.instanceStates(app);
    return this.#apps.get(app)?.runner.formation?.instances().map((instance) => ({ name: instance.name, state: instance.state })) ?? [];
  }

  /** The app's instances: state, release, pid, port, how the last one of each slot ended, and what each uses against its limits (null outside a sandbox); then its one-off runs. */
  instances(app: string): Promise<InstanceView[]> {
    this.#store.getApp(app);
    if (this.#cluster !== null) return this.#cluster.instances(app);
    const runner = this.#apps.get(app)?.runner;
    return instanceViews(runner?.formation, runner?.current?.name ?? null, this.#runs.list(app));
  }

  /** Every app's running instances, for metrics; `generation` is the same object while the same set of instances (one activation) runs. */
  instanceVitals(): AppVitals[] {
    return appVitals(this.#apps.entries());
  }

  /** Every app's disk as last measured, for metrics. */
  diskStatuses(): Array<{ app: string; status: DiskStatus }> {
    return this.#store.listApps().map((app) => ({ app: app.name, status: this.#disk.status(app.name) }));
  }

  // ---- domains ----------------------------------------------------------

  addDomain(app: string, hostname: string, actor: string): Promise<string[]> {
    return this.#onDomains(app, () => this.#hosts.addDomain(app, hostname, actor));
  }

  removeDomain(app: string, value: string, actor: string): Promise<string[]> {
    return this.#onDomains(app, () => this.#hosts.removeDomain(app, value, actor));
  }

  /** On a cluster the domains are the app's Ingresses: the serving release is applied again with them. */
  async #onDomains(app: string, change: () => Promise<string[]>): Promise<string[]> {
    if (this.#cluster === null) return change();
    return this.#apps.serially(app, async () => {
      const domains = await change();
      const current = this.#store.currentRelease(app);
      if (current !== null) await this.#activate(app, current);
      return domains;
    });
  }

  domains(app: string): string[] {
    return this.#hosts.domains(app);
  }

  /** Drops the edge's cached responses for the app, all or under `path`; how many went. */
  purgeCache(app: string, path: string | null, actor: string): Promise<number> {
    return this.#hosts.purgeCache(app, path, actor);
  }

  /** The local CA's root certificate (PEM), for trusting NAME.localhost in a browser. */
  localCaRoot(): string {
    return this.#hosts.localCaRoot();
  }

  /** The app's own NAME.BASE and its domains, each with its certificate state. */
  domainDetails(app: string): DomainDetail[] {
    return this.#hosts.domainDetails(app);
  }

  /** Where the app answers: its host under the base domain, with the edge's port unless it is HTTP's own (80); on a cluster its first domain, else its Service. */
  url(app: string): string {
    if (this.#cluster !== null) {
      const domain = this.#store.listDomains(app)[0];
      return domain === undefined ? `the Service ${app}--web in namespace ${this.#cluster.runtime.settings.namespace} (add a domain for an Ingress: berth domains add)` : `http://${domain.hostname}`;
    }
    return this.#hosts.url(app);
  }

  /**
   * Drains and stops every app; the store stays open for the caller to close.
   * From the first call no change starts and no release starts serving (a
   * deploy in flight fails at its switch), so no instance is started after
   * the apps were stopped. A change in flight (a build) gets the grace
   * period to end before the logs close.
   */
  async stop(options: { readonly leaveRunning?: boolean } = {}): Promise<void> {
    this.#stopping = true;
    for (const [app] of this.#apps.entries()) this.#apps.cancelRetry(app);
    if (this.#recordTimer) clearInterval(this.#recordTimer);
    await this.#disk.close();
    await this.#cron.stop();
    await this.#runs.stopAll();
    const graceMs = this.#options.graceMs ?? 10_000;
    await Promise.all([...this.#apps.entries()].map(async ([app, state]) => {
      if (options.leaveRunning === true) {
        // Let go, not stopped: the next daemon takes them over from the record.
        const detached = await state.runner.detach();
        if (detached !== null) {
          try {
            this.#records.save(app, detached.release.version, detached.records);
          } catch (err) {
            this.#options.log(`${app}: cannot record its instances for the next daemon: ${(err as Error).message}`);
          }
        }
      } else {
        await state.runner.stop();
        await this.#records.clear(app);
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([state.queue, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
      await state.log.close();
      await state.access.close();
    }));
  }

  /** Ends instances offered for a takeover that did not happen (their sandboxes' groups, or their process groups). */
  async #endRecorded(records: readonly InstanceRecord[]): Promise<void> {
    for (const record of records) {
      if (record.handle.cgroup !== null) await this.#setup.containment.endGroup(record.handle.cgroup).catch(() => {});
      try {
        process.kill(-record.identity.pgid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }

  /** Last resort (the daemon is forced out): SIGKILL every instance of every app now. */
  kill(): void {
    this.#stopping = true;
    for (const [, state] of this.#apps.entries()) state.runner.kill();
  }
}

/** Something berth does on one machine that it does not do on a cluster. */
function notOnCluster(what: string, hint: string): BerthError {
  return new BerthError('BERTH_E_KUBE_UNSUPPORTED', `${what} is not available when apps run on Kubernetes`, { status: 422, hint });
}
