import { join } from 'node:path';
import type { EdgeControl, SiteSettings, SiteSpec } from '../edge/index.ts';
import { BerthError } from '../errors.ts';
import { ReleaseRunner, type InstanceRecord, type ReleaseSpec, type RunAs } from '../runner/index.ts';
import { createAccessLog } from './access-log.ts';
import { AppLog } from './app-log.ts';

// What the daemon holds in memory for each app, made on first use: its
// release runner, its two logs, what the edge serves for it, its Unix user
// (looked up once), and the queue that lets one change of the app run at a
// time. The one owner of that per-app map; the platform's other parts reach
// an app's state through it.

/** An app's two logs: its output (instances, builds, deploy events) and the edge's access log of its requests. */
export interface AppLogs {
  readonly output: AppLog;
  readonly access: AppLog;
}

/** Whoever follows every app's logs (LogDrains). */
export interface AppLogWatcher {
  attach(app: string, logs: AppLogs): void;
  detach(app: string): Promise<void>;
}

/** A release as the runner runs it, with what the edge serves for it besides its instances. */
export interface RunningRelease extends ReleaseSpec {
  readonly version: number;
  readonly mounts: ReadonlyArray<{ readonly prefix: string; readonly root: string }>;
  readonly settings: SiteSettings;
}

export interface AppState {
  readonly runner: ReleaseRunner<RunningRelease>;
  readonly log: AppLog;
  /** STATE/logs/NAME/access: the edge's records of the app's requests. */
  readonly access: AppLog;
  site: Omit<SiteSpec, 'key'> | null;
  /** The app's Unix user, looked up once; null when apps run as berth's user. */
  user: Promise<RunAs | null> | null;
  /** Deploys, config changes, rollbacks, scaling and restarts of one app happen one at a time. */
  queue: Promise<unknown>;
  /** The next try of a start that failed when the daemon started (null: none pending). */
  retry: NodeJS.Timeout | null;
}

export interface AppStatesOptions {
  readonly stateDir: string;
  readonly drain: EdgeControl['drain'];
  /** The edge's routes again (an app's site changed). */
  readonly publishRoutes: () => Promise<void>;
  readonly log: (line: string) => void;
  readonly logWatcher: AppLogWatcher | null;
  /** True once the daemon is stopping: no change starts. */
  readonly stopping: () => boolean;
  readonly graceMs: number;
  readonly readyTimeoutMs: number;
  /** The app's serving instances as a later daemon would take them over, whenever they change. */
  readonly onRecords?: (app: string, release: number, records: readonly InstanceRecord[]) => void;
}

export class AppStates {
  readonly #options: AppStatesOptions;
  readonly #apps = new Map<string, AppState>();

  constructor(options: AppStatesOptions) {
    this.#options = options;
  }

  /** The app's state, made (its logs opened, the log watcher told) on first use. */
  of(app: string): AppState {
    let state = this.#apps.get(app);
    if (state === undefined) {
      const options = this.#options;
      // Under STATE/logs, not the app's own folder: with app users that folder is the app's, and root must not write where an app can plant links.
      const log = new AppLog({ dir: join(options.stateDir, 'logs', app), now: Date.now, onError: (err) => options.log(`${app}: cannot write its log: ${err.message}`) });
      const access = createAccessLog({ dir: join(options.stateDir, 'logs', app, 'access'), onError: (err) => options.log(`${app}: cannot write its access log: ${err.message}`) });
      const created: AppState = {
        log,
        access,
        site: null,
        user: null,
        queue: Promise.resolve(),
        retry: null,
        runner: new ReleaseRunner<RunningRelease>({
          publish: (upstreams, release) => {
            created.site = { ...release.settings, mounts: release.mounts, upstreams, fallbackRoot: null };
            return options.publishRoutes();
          },
          drain: (upstream, deadline) => options.drain(upstream, deadline),
          log: (source, line, stream) => log.add(source === 'berth' ? 'berth' : source, line, undefined, stream === 'event' ? undefined : stream),
          graceMs: options.graceMs,
          readyTimeoutMs: options.readyTimeoutMs,
          onRecords: (records, release) => options.onRecords?.(app, release.version, records),
        }),
      };
      state = created;
      this.#apps.set(app, state);
      options.logWatcher?.attach(app, { output: log, access });
    }
    return state;
  }

  /** The app's state if it has one (nothing is made). */
  get(app: string): AppState | undefined {
    return this.#apps.get(app);
  }

  entries(): IterableIterator<[string, AppState]> {
    return this.#apps.entries();
  }

  /** Forgets the app's state (its logs closed by the caller): the next use makes it anew. */
  delete(app: string): void {
    this.#apps.delete(app);
  }

  /** A line in the app's log, if it has a state. */
  appLog(app: string, source: string, line: string): void {
    this.#apps.get(app)?.log.add(source, line);
  }

  /** Runs `work` after the app's previous change has finished; nothing new starts once the daemon is stopping. */
  serially<T>(app: string, work: () => Promise<T>): Promise<T> {
    const state = this.of(app);
    const run = state.queue.then(() => {
      if (this.#options.stopping()) throw new BerthError('BERTH_E_STOPPING', 'the server is stopping', { status: 503, hint: 'Try again once it runs again.' });
      return work();
    });
    state.queue = run.catch(() => {});
    return run;
  }

  /** Drops the app's pending start retry. */
  cancelRetry(app: string): void {
    const state = this.#apps.get(app);
    if (state?.retry) clearTimeout(state.retry);
    if (state) state.retry = null;
  }
}
