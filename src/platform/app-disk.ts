import { join } from 'node:path';
import { DISK_CHECK_INTERVAL_MS, DISK_HINT, DiskWatch, deployDiskVerdict, diskLimit, measureDisk, stillOverMessage, type DiskFolders, type DiskStatus } from '../disk/index.ts';
import { BerthError } from '../errors.ts';
import { formatBytes } from '../units.ts';
import { appLogDir, appPaths, appsDirIn } from './app-dirs.ts';

// Each app's disk as the platform sees it: the periodic watch (src/disk/)
// over its folders, the limit its serving release asked for, and what
// happens at the limit — over it the app's build is aborted and its
// instances paused (its writes would only add to it), at or under it again
// its current release serves again; a deploy whose build does not fit is
// refused, and a release is not started while the app is still over.
// The one owner of the limits asked for and of the builds under way.

export interface AppDiskOptions {
  readonly stateDir: string;
  /** Every app's name, for the periodic look. */
  readonly apps: () => string[];
  /** The limit of an app whose berth.toml sets none (null: none), and how often every app is measured. */
  readonly disk: { readonly defaultBytes: number | null; readonly checkIntervalMs: number } | undefined;
  readonly log: (line: string) => void;
  /** A line from berth in the app's log. */
  readonly appLog: (app: string, line: string) => void;
  /** Runs `work` as the app's next change (after the one under way). */
  readonly serially: <T>(app: string, work: () => Promise<T>) => Promise<T>;
  /** Stops the app's instances, keeping its release (its route answers 503). */
  readonly pause: (app: string) => Promise<void>;
  /** Makes the app's current release serve again, if it has one. */
  readonly resume: (app: string) => Promise<void>;
}

export class AppDisk {
  readonly #options: AppDiskOptions;
  readonly #watch: DiskWatch;
  /** The disk limit each app's serving release asked for ([resources] disk; absent: the default). */
  readonly #requests = new Map<string, number | undefined>();
  /** The app's build under way, stopped when the app goes over its disk limit. */
  readonly #buildAborts = new Map<string, AbortController>();

  constructor(options: AppDiskOptions) {
    this.#options = options;
    this.#watch = new DiskWatch({
      intervalMs: options.disk?.checkIntervalMs ?? DISK_CHECK_INTERVAL_MS,
      apps: options.apps,
      folders: (app) => this.#folders(app),
      limit: (app) => this.#limitOf(app),
      measure: (folders) => measureDisk(folders),
      stop: (app, message) => this.#stop(app, message),
      resume: (app, message) => this.#resume(app, message),
      log: options.log,
    });
  }

  #folders(app: string): DiskFolders {
    const paths = appPaths(appsDirIn(this.#options.stateDir), app);
    return { releases: paths.builds, cache: paths.cache, home: paths.home, data: join(this.#options.stateDir, 'data', app), logs: appLogDir(this.#options.stateDir, app) };
  }

  #defaultBytes(): number | null {
    return this.#options.disk?.defaultBytes ?? null;
  }

  /** The app's limit: its serving release's, else the server's default; undefined until a release of it has served (nothing of it runs). */
  #limitOf(app: string): number | null | undefined {
    if (!this.#requests.has(app)) return undefined;
    return diskLimit(this.#defaultBytes(), this.#requests.get(app));
  }

  /** Over its disk limit: the app's build and instances stop (its writes would only add to it), its route answers 503, its cron slots are skipped. */
  async #stop(app: string, message: string): Promise<void> {
    this.#options.log(message);
    this.#options.appLog(app, message);
    this.#buildAborts.get(app)?.abort(new BerthError('BERTH_E_DISK_LIMIT', message, { status: 507, hint: DISK_HINT }));
    await this.#options.serially(app, async () => {
      if (this.#watch.status(app).state !== 'over') return;
      await this.#options.pause(app);
    }).catch((err: Error) => this.#options.log(`${app}: cannot stop it for its disk: ${err.message}`));
  }

  async #resume(app: string, message: string): Promise<void> {
    this.#options.log(message);
    this.#options.appLog(app, message);
    await this.#options.serially(app, async () => {
      if (this.#watch.status(app).state === 'under') await this.#options.resume(app);
    }).catch((err: Error) => this.#options.log(`${app}: cannot start it again: ${err.message}`));
  }

  /** What the app keeps on disk (as last measured), its limit, and whether it is stopped for it. */
  status(app: string): DiskStatus {
    return this.#watch.status(app);
  }

  /** Measures the app's disk now (and acts on it, as the periodic check would). */
  async check(app: string): Promise<DiskStatus> {
    await this.#watch.checkApp(app);
    return this.#watch.status(app);
  }

  /** Why the app's cron slots are skipped now, or null. */
  held(app: string): string | null {
    return this.#watch.status(app).state === 'over' ? 'the app is over its disk limit' : null;
  }

  start(): void {
    this.#watch.start();
  }

  close(): Promise<void> {
    return this.#watch.close();
  }

  /** The app is gone. */
  forget(app: string): void {
    this.#watch.forget(app);
    this.#requests.delete(app);
  }

  /** `work` is the app's build: aborted (with the disk's error) if the app goes over its limit meanwhile. */
  async guardBuild<T>(app: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const abort = new AbortController();
    this.#buildAborts.set(app, abort);
    try {
      return await work(abort.signal);
    } catch (err) {
      throw abort.signal.aborted ? abort.signal.reason : err;
    } finally {
      this.#buildAborts.delete(app);
    }
  }

  /**
   * A built release must fit the app's disk limit (the new berth.toml's):
   * measured with the new build in place; refused, and the build removed by
   * the deploy's prune, when it does not fit. A fit counts the app as under
   * its limit again (a deploy that raised it, or freed room).
   */
  async requireRoom(app: string, requested: number | undefined, log: (line: string) => void): Promise<void> {
    const limit = diskLimit(this.#defaultBytes(), requested);
    const usage = await this.#watch.measure(app);
    const refusal = deployDiskVerdict(app, usage, limit);
    if (refusal !== null) throw new BerthError('BERTH_E_DISK_LIMIT', refusal, { status: 507, hint: DISK_HINT });
    if (limit !== null) log(`disk: ${formatBytes(usage.totalBytes)} of ${formatBytes(limit)} with this build`);
    this.#watch.markUnder(app);
  }

  /** A release asking for `requested` is about to serve: its limit counts from now; refused while the app is still over it. */
  serving(app: string, requested: number | undefined): void {
    this.#requests.set(app, requested);
    const disk = this.#watch.status(app);
    if (disk.state === 'over' && disk.usage !== null && disk.limitBytes !== null && disk.usage.totalBytes > disk.limitBytes) {
      throw new BerthError('BERTH_E_DISK_LIMIT', stillOverMessage(app, disk.usage, disk.limitBytes), { status: 507, hint: DISK_HINT });
    }
  }
}
