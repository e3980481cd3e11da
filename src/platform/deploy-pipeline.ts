import { createHash, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BuildQueue, unpackSource, type BuildLimits } from '../build/index.ts';
import { BerthError } from '../errors.ts';
import { removeTree } from '../safe-fs/index.ts';
import type { AppDisk } from './app-disk.ts';
import { appLogDir, appsDirIn, prepareAppDirs } from './app-dirs.ts';
import type { EnvSetup } from './app-json-setup.ts';
import { AppJsonScripts } from './app-json-scripts.ts';
import type { AppStates } from './app-states.ts';
import { auditedAsync } from './audit.ts';
import { BuildStep } from './build-step.ts';
import type { BuildRootProvider } from './build-root.ts';
import type { ProcessSetup } from './process-setup.ts';
import type { BuildManifest, Release, ReleaseInfo } from './records.ts';
import { describeRelease } from './release-policy.ts';
import type { Store } from './store.ts';

// The deploy pipeline, top to bottom: the upload unpacked into a fresh
// build folder (hashed as it streams), the build (build-step.ts, queued
// with the machine's other builds), the release made with what app.json
// sets up, then the rollout every new release goes through — predeploy,
// the release command, activation, the release marked current — and the
// prune of what no release needs; app.json's postdeploy follows. A failure
// leaves the serving release and the traffic as they were.

/** A build or a deploy that ended, how, and how long it took. */
export interface PlatformEvent {
  readonly kind: 'build' | 'deploy';
  readonly app: string;
  readonly outcome: 'succeeded' | 'failed';
  readonly seconds: number;
}

export interface DeployPipelineOptions {
  readonly stateDir: string;
  readonly store: Store;
  readonly apps: AppStates;
  readonly setup: ProcessSetup;
  readonly disk: AppDisk;
  /** Builds running at once on the machine (the others queue). */
  readonly buildConcurrency: number;
  readonly buildLimits: BuildLimits | undefined;
  /** Releases kept per app beyond the current one and its rollback target. */
  readonly keepReleases: number | undefined;
  readonly log: (line: string) => void;
  /** Told when a build or a deploy ends; must not throw. */
  readonly emit: (event: PlatformEvent) => void;
  /** True once the daemon is stopping: no release starts serving. */
  readonly stopping: () => boolean;
  /** Makes the release serve (zero-downtime), without touching the store. */
  readonly activate: (app: string, release: Release, log: (line: string) => void) => Promise<void>;
  /** The release command runs inside `activate` (a cluster's release Job), not here. */
  readonly releasePhaseInActivation: boolean;
  /** Where the app answers. */
  readonly url: (app: string) => string;
  /** Builds run inside their language's base image (the Kubernetes runtime); absent: on this machine. */
  readonly buildRoot?: BuildRootProvider | undefined;
}

export class DeployPipeline {
  readonly #options: DeployPipelineOptions;
  readonly #store: Store;
  readonly #apps: AppStates;
  readonly #setup: ProcessSetup;
  readonly #builds: BuildQueue;
  readonly #appJson: AppJsonScripts;
  readonly #buildStep: BuildStep;

  constructor(options: DeployPipelineOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#apps = options.apps;
    this.#setup = options.setup;
    this.#builds = new BuildQueue(options.buildConcurrency);
    this.#appJson = new AppJsonScripts(options.store, options.setup);
    this.#buildStep = new BuildStep({ setup: options.setup, disk: options.disk, appJson: this.#appJson, buildLimits: options.buildLimits, emit: options.emit, buildRoot: options.buildRoot });
  }

  /**
   * Unpacks an uploaded source tarball into a fresh build directory, builds
   * it (dependencies, the `release` command later), makes a release of it
   * with the app's current config, and rolls it out. `log` receives every
   * line of the build and the rollout.
   */
  deploy(app: string, upload: Readable, options: { description?: string; actor: string; log: (line: string) => void }): Promise<ReleaseInfo> {
    this.#store.getApp(app);
    const state = this.#apps.of(app);
    const log = (line: string) => {
      state.log.add('build', line);
      options.log(line);
    };
    const started = Date.now();
    const deployed = auditedAsync(this.#store, options.actor, 'deploy', app, () =>
      this.#apps.serially(app, async () => {
        // app.json's scripts.postdeploy follows the app's first release to serve, as on Heroku.
        const firstRelease = this.#store.getApp(app).currentVersion === null;
        const user = await this.#setup.userOf(app);
        const paths = await prepareAppDirs(appsDirIn(this.#options.stateDir), app, user);
        // Root's and closed (0700, in root's builds folder) until the build
        // gives it to the app: nobody else can enter while it is unpacked
        // and read.
        const dir = join(paths.builds, `${Date.now()}-${randomBytes(4).toString('hex')}`);
        await mkdir(dir, { mode: 0o700 });
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
          await removeTree(dir);
          throw err;
        }
        await piped;
        const sourceDigest = digest.digest('hex');
        // The build's lines are in the app's log (source "build"), root's, outside the app's folders.
        const build = this.#store.createBuild(app, { sourceDigest, dir, logPath: appLogDir(this.#options.stateDir, app) });
        try {
          let manifest: BuildManifest;
          let envSetup: EnvSetup | null;
          try {
            ({ manifest, envSetup } = await this.#builds.run(
              () => this.#buildStep.build(app, dir, paths, user, log, sourceDigest),
              (ahead) => log(`waiting for ${ahead} other build${ahead === 1 ? '' : 's'} to finish (builds run one at a time)`),
            ));
            this.#store.markBuild(build.id, 'succeeded', manifest);
          } catch (err) {
            this.#store.markBuild(build.id, 'failed');
            // A build refused for the app's disk goes at once: kept, it would hold the app over its limit.
            if (err instanceof BerthError && err.code === 'BERTH_E_DISK_LIMIT') await removeTree(dir).catch((e: Error) => this.#options.log(`${app}: cannot remove the refused build: ${e.message}`));
            throw err;
          }
          const { plan } = manifest;
          // What app.json sets up goes in with the release that snapshots it, or not at all.
          let setUp: string[] = [];
          const release = this.#store.transaction(() => {
            if (manifest.appJson) setUp = this.#appJson.setUp(app, manifest.appJson, plan, envSetup);
            return this.#store.createRelease(app, {
              kind: 'deploy',
              description: options.description ?? describeRelease({ kind: 'deploy', source: sourceDigest.slice(0, 7) }),
              buildId: build.id,
              processes: plan.kind === 'processes' ? plan.processes.map((p) => ({ name: p.name, command: p.command })) : [],
            });
          });
          for (const line of setUp) log(line);
          const info = await this.rollOut(app, release, log);
          if (manifest.appJson) await this.#appJson.runPostdeploy(app, release, manifest.appJson, firstRelease, log);
          return info;
        } catch (err) {
          // A failed build or release: what went is pruned as a success would (its own build stays a while).
          await this.prune(app);
          throw err;
        }
      }),
    );
    deployed.then(
      () => this.#options.emit({ kind: 'deploy', app, outcome: 'succeeded', seconds: (Date.now() - started) / 1000 }),
      () => this.#options.emit({ kind: 'deploy', app, outcome: 'failed', seconds: (Date.now() - started) / 1000 }),
    );
    return deployed;
  }

  /** Starts a pending release; on success it becomes current, on failure it is marked failed and nothing else changes. */
  async rollOut(app: string, release: Release, log: (line: string) => void): Promise<ReleaseInfo> {
    log(`releasing v${release.version}: ${release.description}`);
    try {
      // A build that ended after the stop began: no release command, no instances.
      if (this.#options.stopping()) throw new BerthError('BERTH_E_STOPPING', 'the server is stopping', { status: 503, hint: 'Deploy again once it runs again.' });
      // A deploy's predeploy first, then the release command (Dokku's order).
      if (!this.#options.releasePhaseInActivation) {
        if (release.kind === 'deploy') await this.#appJson.runPredeploy(app, release, log);
        await this.#runReleaseCommand(app, release, log);
      }
      await this.#options.activate(app, release, log);
    } catch (err) {
      this.#store.markRelease(release.id, 'failed');
      log(`v${release.version} failed: ${(err as Error).message}`);
      throw err;
    }
    this.#store.transaction(() => {
      this.#store.markRelease(release.id, 'succeeded');
      this.#store.setCurrentRelease(app, release.id);
    });
    log(`v${release.version} is serving at ${this.#options.url(app)}`);
    await this.prune(app);
    return this.#store.listReleases(app).find((r) => r.id === release.id)!;
  }

  /**
   * Old releases (release-policy's rules) and builds that never became a
   * release beyond the few kept: rows marked first, then folders removed
   * (a crash in between leaves folders the next start's sweep removes).
   * Never fails the change that called it: what cannot be removed is logged.
   */
  async prune(app: string): Promise<void> {
    try {
      const pruned = this.#store.pruneReleases(app, this.#options.keepReleases ?? 10);
      const unreleased = this.#store.pruneBuilds(app);
      for (const build of [...pruned.builds, ...unreleased]) await removeTree(build.dir);
    } catch (err) {
      this.#options.log(`${app}: cannot prune old builds: ${(err as Error).message}`);
    }
  }

  /** The Procfile's `release` entry (migrations), once, in the new release, before traffic moves. */
  async #runReleaseCommand(app: string, release: Release, log: (line: string) => void): Promise<void> {
    const command = release.processes.find((p) => p.name === 'release');
    if (command === undefined || release.buildId === null) return;
    log(`running the release command: ${command.command}`);
    // Heroku's name for the release phase's one process: settings that branch on DYNO see it as a dyno, not a build.
    const code = await this.#setup.runIn(app, release, command.command, 'release', log);
    if (code !== 0) throw new BerthError('BERTH_E_RELEASE_FAILED', `the release command failed with exit code ${code}`, { status: 422, hint: 'The Procfile "release:" entry must succeed before traffic moves.' });
  }
}
