import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

// What the platform did: builds and deploys with their outcomes and
// durations (counted as the platform reports them), and how many apps exist
// (read at scrape time).

/** A build or a deploy that ended (the platform's `onEvent`). */
export interface FinishedWork {
  readonly kind: 'build' | 'deploy';
  readonly app: string;
  readonly outcome: 'succeeded' | 'failed';
  readonly seconds: number;
}

/** Builds take seconds to many minutes (the default build timeout is 15 min). */
const BUILD_BUCKETS = [1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1800];
/** A deploy is an upload, a build and a rollout. */
const DEPLOY_BUCKETS = [1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1800];

/** A backup that ended (the add-on service's `onBackup`). */
export interface FinishedBackup {
  readonly app: string;
  readonly kind: string;
  readonly outcome: 'succeeded' | 'failed';
  readonly seconds: number;
  readonly bytes: number;
}

/** The newest good and failed backup of each app's add-on, read from the store at scrape time (so they survive restarts). */
export interface BackupTimes {
  readonly app: string;
  readonly kind: string;
  /** Seconds since the epoch; null when there is none. */
  readonly lastSuccess: number | null;
  readonly lastFailure: number | null;
  readonly lastSizeBytes: number | null;
}

/** An app's disk as last measured (null before the first measurement), its limit, and whether it is stopped for it. */
export interface AppDisk {
  readonly app: string;
  readonly parts: Readonly<Record<string, number>> | null;
  readonly limitBytes: number | null;
  readonly overLimit: boolean;
}

/** Dumps take from under a second to hours. */
const BACKUP_BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200];

const OUTCOMES = ['succeeded', 'failed'] as const;

export class PlatformMetrics {
  readonly #builds: Counter<'app' | 'outcome'>;
  readonly #buildSeconds: Histogram<'app'>;
  readonly #deploys: Counter<'app' | 'outcome'>;
  readonly #deploySeconds: Histogram<'app'>;
  readonly #backups: Counter<'app' | 'kind' | 'outcome'>;
  readonly #backupSeconds: Histogram<'app' | 'kind'>;
  readonly #apps = new Set<string>();
  readonly #backedUp = new Set<string>();

  constructor(register: Registry, options: { readonly appCount: () => number; readonly backupTimes?: () => readonly BackupTimes[]; readonly disk?: () => readonly AppDisk[] }) {
    const registers = [register];
    this.#builds = new Counter({ name: 'berth_builds_total', help: 'Builds that ended, by app and outcome.', labelNames: ['app', 'outcome'], registers });
    this.#buildSeconds = new Histogram({ name: 'berth_build_duration_seconds', help: 'How long builds took (queue wait excluded), by app.', labelNames: ['app'], buckets: BUILD_BUCKETS, registers });
    this.#deploys = new Counter({ name: 'berth_deploys_total', help: 'Deploys that ended, by app and outcome.', labelNames: ['app', 'outcome'], registers });
    this.#deploySeconds = new Histogram({ name: 'berth_deploy_duration_seconds', help: 'How long deploys took, from the upload to serving (or failing), by app.', labelNames: ['app'], buckets: DEPLOY_BUCKETS, registers });
    this.#backups = new Counter({ name: 'berth_backups_total', help: 'Add-on backups that ended, by app, add-on kind and outcome.', labelNames: ['app', 'kind', 'outcome'], registers });
    this.#backupSeconds = new Histogram({ name: 'berth_backup_duration_seconds', help: 'How long add-on backups took, by app and kind.', labelNames: ['app', 'kind'], buckets: BACKUP_BUCKETS, registers });
    const backupTimes = options.backupTimes ?? (() => []);
    const timeGauge = (name: string, help: string, pick: (times: BackupTimes) => number | null) =>
      new Gauge({
        name,
        help,
        labelNames: ['app', 'kind'],
        registers,
        collect() {
          this.reset();
          for (const times of backupTimes()) {
            const value = pick(times);
            if (value !== null) this.set({ app: times.app, kind: times.kind }, value);
          }
        },
      });
    timeGauge('berth_backup_last_success_timestamp_seconds', 'When the newest good backup of the add-on finished (alert when it is too old).', (t) => t.lastSuccess);
    timeGauge('berth_backup_last_failure_timestamp_seconds', 'When the newest failed or interrupted backup of the add-on ended.', (t) => t.lastFailure);
    timeGauge('berth_backup_last_size_bytes', 'The size of the newest good backup of the add-on, compressed.', (t) => t.lastSizeBytes);
    const disk = options.disk ?? (() => []);
    new Gauge({
      name: 'berth_app_disk_bytes',
      help: 'What the app keeps on disk, by part (releases, cache, home, data, logs), as last measured.',
      labelNames: ['app', 'part'],
      registers,
      collect() {
        this.reset();
        for (const app of disk()) for (const [part, bytes] of Object.entries(app.parts ?? {})) this.set({ app: app.app, part }, bytes);
      },
    });
    new Gauge({
      name: 'berth_app_disk_limit_bytes',
      help: "The app's disk limit (absent when it has none).",
      labelNames: ['app'],
      registers,
      collect() {
        this.reset();
        for (const app of disk()) if (app.limitBytes !== null) this.set({ app: app.app }, app.limitBytes);
      },
    });
    new Gauge({
      name: 'berth_app_disk_over_limit',
      help: '1 while the app is over its disk limit (its instances stopped), else 0.',
      labelNames: ['app'],
      registers,
      collect() {
        this.reset();
        for (const app of disk()) this.set({ app: app.app }, app.overLimit ? 1 : 0);
      },
    });
    const appCount = options.appCount;
    new Gauge({
      name: 'berth_apps',
      help: 'Apps on this server.',
      registers,
      collect() {
        this.set(appCount());
      },
    });
  }

  record(work: FinishedWork): void {
    const app = work.app;
    if (!this.#apps.has(app)) {
      this.#apps.add(app);
      // Both outcomes exist from the first build on, so a failure ratio has a denominator before the first failure.
      for (const outcome of OUTCOMES) {
        this.#builds.inc({ app, outcome }, 0);
        this.#deploys.inc({ app, outcome }, 0);
      }
    }
    const counter = work.kind === 'build' ? this.#builds : this.#deploys;
    const histogram = work.kind === 'build' ? this.#buildSeconds : this.#deploySeconds;
    counter.inc({ app, outcome: work.outcome });
    histogram.observe({ app }, work.seconds);
  }

  recordBackup(backup: FinishedBackup): void {
    const { app, kind } = backup;
    if (!this.#backedUp.has(`${app}/${kind}`)) {
      this.#backedUp.add(`${app}/${kind}`);
      this.#apps.add(app);
      for (const outcome of OUTCOMES) this.#backups.inc({ app, kind, outcome }, 0);
    }
    this.#backups.inc({ app, kind, outcome: backup.outcome });
    this.#backupSeconds.observe({ app, kind }, backup.seconds);
  }

  /** The apps with series. */
  apps(): string[] {
    return [...this.#apps];
  }

  removeApp(app: string): void {
    if (!this.#apps.delete(app)) return;
    for (const outcome of OUTCOMES) {
      this.#builds.remove({ app, outcome });
      this.#deploys.remove({ app, outcome });
    }
    this.#buildSeconds.remove({ app });
    this.#deploySeconds.remove({ app });
    for (const key of [...this.#backedUp].filter((k) => k.startsWith(`${app}/`))) {
      this.#backedUp.delete(key);
      const kind = key.slice(app.length + 1);
      for (const outcome of OUTCOMES) this.#backups.remove({ app, kind, outcome });
      this.#backupSeconds.remove({ app, kind });
    }
  }
}
