import { isAbsolute } from 'node:path';
import { parseCronSchedule } from '../build/index.ts';
import { BerthError } from '../errors.ts';
import { KubeRuntime, type ClusterRelease, type PodLog } from '../kubernetes/index.ts';
import { cronOf } from './activation.ts';
import type { LogLine } from './app-log-query.ts';
import type { CronJobView } from './cron-scheduler.ts';
import type { InstanceView } from './instance-views.ts';
import type { ProcessSetup } from './process-setup.ts';
import type { Build, BuildManifest, Release } from './records.ts';
import type { Store } from './store.ts';
import { prepareBuildRoot, type BuildRootProvider } from './build-root.ts';

// The platform's side of the runtime seam when apps run on Kubernetes
// (`berth server --runtime kubernetes`): where Activation would start
// processes on this machine, this makes the build's image (once per build)
// and hands the release, as plain data, to the KubeRuntime. The store, the
// releases, the config and the change queue are the platform's as on one
// machine; nothing of the app runs here.

export interface ClusterActivationDeps {
  readonly store: Store;
  readonly setup: ProcessSetup;
  readonly runtime: KubeRuntime;
}

export interface ClusterActivateOptions {
  readonly log: (line: string) => void;
  /** A new release: its release Job runs first. */
  readonly releasePhase: boolean;
  readonly restart: boolean;
}

export class ClusterActivation {
  readonly #deps: ClusterActivationDeps;
  /** Each app's pods as last read, for the dashboard's summaries (which cannot wait on the cluster). */
  readonly #lastPods = new Map<string, { at: number; views: InstanceView[] }>();
  readonly #refreshing = new Set<string>();

  constructor(deps: ClusterActivationDeps) {
    this.#deps = deps;
  }

  get runtime(): KubeRuntime {
    return this.#deps.runtime;
  }

  /**
   * Makes `release` serve on the cluster, without touching the store's
   * record of which release is current. When it fails and another release
   * is current, that one is applied again, so a rollout that failed halfway
   * (new pods that never became ready) goes back to what served.
   */
  async activate(app: string, release: Release, options: ClusterActivateOptions): Promise<void> {
    try {
      await this.#activate(app, release, options);
    } catch (err) {
      const current = this.#deps.store.currentRelease(app);
      if (current !== null && current.id !== release.id) {
        options.log(`v${release.version} did not roll out; applying v${current.version} again`);
        await this.#activate(app, current, { ...options, releasePhase: false, restart: false }).catch((restoreErr: Error) => options.log(`v${current.version} could not be applied again: ${restoreErr.message}`));
      } else if (current === null) {
        // A first release that failed: nothing served before it, so nothing of it stays (as on one machine).
        const removed = await this.#deps.runtime.remove(app).catch((removeErr: Error) => [`(not removed: ${removeErr.message})`]);
        if (removed.length > 0) options.log(`v${release.version} did not roll out; removed what it applied: ${removed.join(', ')}`);
      }
      throw err;
    }
  }

  async #activate(app: string, release: Release, options: ClusterActivateOptions): Promise<void> {
    const { store } = this.#deps;
    if (release.buildId === null) throw new BerthError('BERTH_E_STATE', `v${release.version} has no build`, { status: 500 });
    const build = store.getBuild(release.buildId);
    const manifest = await this.#deps.setup.manifestOf(build);
    refuseUnsupported(manifest);
    const image = await this.#imageOf(build, manifest, options.log);
    store.setReleaseImage(release.id, image);
    await this.#deps.runtime.activate(this.#clusterRelease(app, release, manifest, image), options.log, { releasePhase: options.releasePhase, restart: options.restart });
  }

  /** The release's objects as YAML (`berth k8s manifests`); its image must have been made (it served, or tried to). */
  async manifests(app: string, release: Release): Promise<string> {
    if (release.buildId === null) throw new BerthError('BERTH_E_STATE', `v${release.version} has no build`, { status: 500 });
    const build = this.#deps.store.getBuild(release.buildId);
    const image = release.image ?? build.image;
    if (image === null) {
      throw new BerthError('BERTH_E_NO_RELEASE', `v${release.version} of ${app} has no image yet`, { status: 409, hint: 'Its image is made when it first rolls out on the cluster: deploy (or roll back to) it once, then print its manifests.' });
    }
    const manifest = await this.#deps.setup.manifestOf(build);
    refuseUnsupported(manifest);
    return this.#deps.runtime.manifests(this.#clusterRelease(app, release, manifest, image));
  }

  /** Every object berth made for the app goes (a destroy). */
  remove(app: string): Promise<string[]> {
    this.#lastPods.delete(app);
    return this.#deps.runtime.remove(app);
  }

  /** The app's pods as last read (at most 5 s ago when asked often: each call older than that reads them again in the background). */
  instanceStates(app: string): Array<{ name: string; state: string }> {
    const last = this.#lastPods.get(app);
    if ((last === undefined || Date.now() - last.at > 5000) && !this.#refreshing.has(app)) {
      this.#refreshing.add(app);
      void this.instances(app).catch(() => {}).finally(() => this.#refreshing.delete(app));
    }
    return last?.views ?? [];
  }

  /** The app's pods as `berth ps` rows. */
  async instances(app: string): Promise<InstanceView[]> {
    const views = await this.#instances(app);
    this.#lastPods.set(app, { at: Date.now(), views });
    return views;
  }

  async #instances(app: string): Promise<InstanceView[]> {
    // A release Job's or cron job's pod shows while it runs, as a run would on one machine; finished, it is the Job's record.
    const pods = (await this.#deps.runtime.pods(app)).filter((pod) => !(pod.process === 'release' || pod.process.startsWith('cron:')) || pod.phase === 'Running' || pod.phase === 'Pending');
    return pods.map((pod) => ({
      name: pod.name,
      state: pod.phase === 'Running' ? (pod.ready ? 'ready' : 'starting') : pod.phase.toLowerCase(),
      pid: undefined,
      port: null,
      release: pod.release === '' ? null : pod.release,
      lastExit: pod.waiting === undefined ? (pod.restarts > 0 ? `restarted ${pod.restarts} time${pod.restarts === 1 ? '' : 's'}` : null) : `${pod.waiting}${pod.restarts > 0 ? `, restarted ${pod.restarts} time${pod.restarts === 1 ? '' : 's'}` : ''}`,
      memory: null,
      cpu: null,
      processes: null,
    }));
  }

  /** The serving release's cron jobs, each with its next slot (the CronJob controller runs them; which one runs now is its business). */
  cronJobs(app: string, now: number): CronJobView[] {
    const current = this.#deps.store.currentRelease(app);
    const manifest = current?.buildId == null ? null : this.#deps.store.getBuild(current.buildId).manifest;
    if (manifest === null || manifest === undefined) return [];
    return cronOf(manifest).map((job) => {
      let next: number | null = null;
      try {
        next = parseCronSchedule(job.schedule, job.timezone).nextAfter(now);
      } catch {
        // Checked at build time; an older build's schedule this berth refuses shows without a next run.
      }
      return { name: job.name, schedule: job.schedule, timezone: job.timezone, command: job.command, timeoutMs: job.timeoutMs, nextRun: next === null ? null : new Date(next).toISOString(), running: null };
    });
  }

  logs(app: string, tail: number): Promise<PodLog[]> {
    return this.#deps.runtime.logs(app, tail);
  }

  /**
   * Follows the app's pods by reading their last lines every `intervalMs`
   * and passing on those newer than the last one seen of the same pod (the
   * kubelet's time, to the millisecond). A pod that prints more than 500
   * lines between two reads loses the oldest of them here; the pod's own
   * log keeps them. Returns the stop.
   */
  followLogs(app: string, onLine: (line: LogLine) => void, intervalMs = 2000): () => void {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const seen = new Map<string, number>();
    const read = async () => {
      try {
        const lines = podLogLines(await this.#deps.runtime.logs(app, seen.size === 0 ? 100 : 500));
        const newest = new Map(seen);
        for (const line of lines) {
          if (stopped) return;
          if (line.at <= (seen.get(line.source) ?? -1)) continue;
          onLine(line);
          newest.set(line.source, Math.max(line.at, newest.get(line.source) ?? -1));
        }
        for (const [source, at] of newest) seen.set(source, at);
      } catch {
        // A cluster that cannot be read for a moment: the next read tries again.
      }
      if (!stopped) timer = setTimeout(() => void read(), intervalMs);
    };
    void read();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }

  /** The build's image, made and pushed the first time a release of it rolls out, then reused. */
  async #imageOf(build: Build, manifest: BuildManifest, log: (line: string) => void): Promise<string> {
    if (build.image !== null) return build.image;
    if (manifest.plan.kind !== 'processes') throw new BerthError('BERTH_E_STATE', `build ${build.id} has no processes`, { status: 500 });
    log('making the image of the build');
    const image = await this.#deps.runtime.image({
      app: build.app,
      buildId: build.id,
      dir: build.dir,
      sourceDigest: build.sourceDigest,
      language: KubeRuntime.languageOf(manifest.plan.runtime),
      // The virtualenv's bin and the like; a host Node's folder means nothing in the image.
      path: manifest.plan.path.filter((entry) => !isAbsolute(entry)),
      base: manifest.plan.baseImage,
    }, log);
    this.#deps.store.setBuildImage(build.id, image);
    return image;
  }

  #clusterRelease(app: string, release: Release, manifest: BuildManifest, image: string): ClusterRelease {
    const { store } = this.#deps;
    const formation: Record<string, number> = {};
    for (const process of release.processes) if (process.name !== 'release') formation[process.name] = 1;
    return {
      app,
      release: { version: release.version, id: release.id },
      image,
      processes: release.processes,
      formation: { ...formation, ...manifest.config.scale, ...store.getFormation(app) },
      memory: store.getFormationMemory(app),
      config: manifest.config,
      cron: cronOf(manifest),
      // As on one machine: the add-ons the app has now, under its own config.
      vars: { ...store.addonVars(app), ...release.config },
      domains: store.listDomains(app).map((domain) => domain.hostname),
      restartedAt: null,
    };
  }
}

/** What berth does on one machine that has no Kubernetes form yet: refused, saying what to do instead. */
function refuseUnsupported(manifest: BuildManifest): void {
  if (manifest.plan.kind === 'static') {
    throw new BerthError('BERTH_E_KUBE_UNSUPPORTED', 'a static site is served by berth\'s own edge, which does not run on the cluster', { status: 422, hint: 'Add a web process that serves the folder (a Procfile line such as "web: npx serve -l $PORT public"), or host the site on a berth server without --runtime kubernetes.' });
  }
  const scripts = manifest.appJson?.scripts;
  const script = scripts === undefined ? null : scripts.predeploy !== null ? 'predeploy' : scripts.postdeploy !== null ? 'postdeploy' : scripts.postdeployEach !== null ? 'dokku.postdeploy' : null;
  if (script !== null) {
    throw new BerthError('BERTH_E_KUBE_UNSUPPORTED', `app.json's scripts.${script} does not run on Kubernetes yet`, { status: 422, hint: 'Move it to the Procfile\'s release: entry (it runs as a Job before every release), or remove it from app.json.' });
  }
}

/**
 * Pod logs as app log lines: each line's time from the kubelet's RFC 3339
 * prefix, its source the process type and the pod's last name part
 * ("web.x7k2q"), so `--process web` selects a type as on one machine.
 */
export function podLogLines(logs: readonly PodLog[]): LogLine[] {
  const lines: LogLine[] = [];
  for (const log of logs) {
    const source = `${log.process === '' ? 'pod' : log.process}.${log.pod.slice(log.pod.lastIndexOf('-') + 1)}`;
    for (const line of log.lines) {
      const space = line.indexOf(' ');
      const at = space === -1 ? Number.NaN : Date.parse(line.slice(0, space));
      if (Number.isNaN(at)) continue;
      lines.push({ at, source, text: line.slice(space + 1) });
    }
  }
  return lines;
}

/** Builds on a cluster run inside the base image of their language, unpacked once under `rootsDir` (STATE/oci/rootfs). */
export function clusterBuildRoot(runtime: KubeRuntime, rootsDir: string): BuildRootProvider {
  return async (language, log) => prepareBuildRoot(await runtime.base(language, log), runtime.cache, rootsDir);
}
