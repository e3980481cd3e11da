import { appJsonError, conflictsWithAppConfig, DEFAULT_BUILD_LIMITS, detectApp, readAppConfig, readAppJson, runBuild, type BuildLimits } from '../build/index.ts';
import { runOnce, type RunAs } from '../runner/index.ts';
import { giveTree } from '../safe-fs/index.ts';
import type { AppDisk } from './app-disk.ts';
import { rootBuild, type BuildRootProvider } from './build-root.ts';
import type { AppPaths } from './app-dirs.ts';
import type { EnvSetup } from './app-json-setup.ts';
import type { AppJsonScripts } from './app-json-scripts.ts';
import type { ProcessSetup } from './process-setup.ts';
import type { BuildManifest } from './records.ts';

// A deploy's build step: the unpacked source detected and its berth.toml
// and app.json read while the folder is still root's, then given to the
// app's user who runs the build, niced, limited, sandboxed, aborted if the
// app goes over its disk limit, and with a heartbeat while it is silent;
// the result is the manifest every release of the build runs.

/** A build silent this long gets a "still building" line. */
const HEARTBEAT_MS = 30_000;

export interface BuildStepOptions {
  readonly setup: ProcessSetup;
  readonly disk: AppDisk;
  readonly appJson: AppJsonScripts;
  readonly buildLimits: BuildLimits | undefined;
  /**
   * Builds run inside a base image's root (build-root.ts) when given: the
   * root for the folder's language; the plan records the base. Absent: on
   * this machine, as always.
   */
  readonly buildRoot?: BuildRootProvider | undefined;
  /** Told when a build ends (for metrics). */
  readonly emit: (event: { kind: 'build'; app: string; outcome: 'succeeded' | 'failed'; seconds: number }) => void;
}

export class BuildStep {
  readonly #options: BuildStepOptions;
  readonly #setup: ProcessSetup;
  readonly #disk: AppDisk;
  readonly #appJson: AppJsonScripts;

  constructor(options: BuildStepOptions) {
    this.#options = options;
    this.#setup = options.setup;
    this.#disk = options.disk;
    this.#appJson = options.appJson;
  }

  /**
   * Detects and builds the unpacked source in `dir` (its own fresh folder,
   * never a live release's). Detection and berth.toml are read while the
   * folder is still root's and closed, and their result is what every
   * release of the build runs (the manifest); only then is the tree given
   * to the app's user, who runs the build steps, niced and limited. A build
   * that prints nothing for a while gets a heartbeat line, so the deploy's
   * stream (and whatever proxies it) does not look dead.
   */
  async build(app: string, dir: string, paths: AppPaths, user: RunAs | null, log: (line: string) => void, sourceDigest: string): Promise<{ manifest: BuildManifest; envSetup: EnvSetup | null }> {
    let last = Date.now();
    const started = last;
    const logged = (line: string) => {
      last = Date.now();
      log(line);
    };
    const heartbeat = setInterval(() => {
      if (Date.now() - last >= HEARTBEAT_MS) logged(`… still building (${Math.round((Date.now() - started) / 1000)} s)`);
    }, HEARTBEAT_MS / 2);
    heartbeat.unref();
    let outcome: 'succeeded' | 'failed' = 'failed';
    try {
      logged(`building ${sourceDigest.slice(0, 7)}`);
      const inRoot = this.#options.buildRoot === undefined ? null : await rootBuild(this.#options.buildRoot, { app, dir, paths, user, containment: this.#setup.containment, buildEnv: this.#setup.buildEnv(app, user), log: logged });
      const environment = inRoot?.environment ?? (await this.#setup.buildEnvironment());
      const config = await readAppConfig(dir);
      const found = await readAppJson(dir);
      let envSetup: EnvSetup | null = null;
      if (found !== null) {
        for (const note of found.notes) logged(note);
        const conflicts = conflictsWithAppConfig(found.appJson, config);
        if (conflicts.length > 0) throw appJsonError(conflicts);
        // Refused before anything is built: a required var is missing.
        envSetup = this.#appJson.planEnv(app, found.appJson);
      }
      const detected = await detectApp(dir, environment.build, config);
      const plan = inRoot === null ? detected : inRoot.mark(detected);
      logged(plan.kind === 'static' ? 'static site: the edge serves it, no process runs' : `${plan.runtime} app: ${plan.processes.filter((p) => p.name !== 'build').map((p) => p.name).join(', ')}`);
      if (user !== null) await giveTree(dir, user, 0o750);
      if (plan.kind === 'processes') {
        for (const note of [...environment.sandbox.notes, ...plan.notes]) logged(note);
        // In a base image the build cache's file work still runs on this machine's tools and paths, in the app's host sandbox.
        const contained = await this.#setup.containment.build(app, user, paths, { dir, plan, config });
        const launcher = inRoot?.launcher ?? contained.launcher;
        const hostLauncher = contained.launcher;
        const buildEnv = this.#setup.buildEnv(app, user, envSetup?.fill);
        // The disk check stops a build that takes the app over its limit.
        await this.#disk.guardBuild(app, (signal) =>
          runBuild(plan, {
            dir: inRoot?.dir ?? dir,
            cacheDir: inRoot?.cacheDir ?? paths.cache,
            ...(inRoot === null ? {} : {
              cacheFiles: {
                dir,
                cacheDir: paths.cache,
                exec: (argv: readonly string[], options: Parameters<typeof runOnce>[1]) => runOnce(argv, { ...options, env: { ...buildEnv, ...contained.env }, signal, ...(hostLauncher === undefined ? {} : { launcher: hostLauncher, label: 'build' }) }),
              },
            }),
            env: inRoot?.env(buildEnv) ?? { ...buildEnv, ...contained.env },
            user,
            limits: this.#options.buildLimits ?? DEFAULT_BUILD_LIMITS,
            log: logged,
            exec: (argv, options) => runOnce(argv, { ...options, signal, ...(launcher === undefined ? {} : { launcher, label: 'build' }) }),
          }, environment.sandbox),
        );
      }
      await this.#disk.requireRoom(app, config.resources.diskBytes, logged);
      outcome = 'succeeded';
      return { manifest: { plan, config, appJson: found?.appJson ?? null }, envSetup };
    } finally {
      clearInterval(heartbeat);
      this.#options.emit({ kind: 'build', app, outcome, seconds: (Date.now() - started) / 1000 });
    }
  }
}
