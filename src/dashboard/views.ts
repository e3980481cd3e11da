import type { AddonService, AddonView, BackupScheduleView, BackupView } from '../addons/index.ts';
import type { DiskStatus } from '../disk/index.ts';
import type { MetricsHistory, Sample } from '../metrics/index.ts';
import type { LogLine } from '../platform/app-log.ts';
import type { Platform } from '../platform/platform.ts';
import type { Build, ReleaseInfo } from '../platform/records.ts';
import { releaseView } from '../platform/release-policy.ts';

// What the dashboard's pages show, as plain JSON made from the platform's
// state and the metrics history. The decisions (an app's status, a series
// in columns, which log lines a build wrote) are pure functions.

/** An app as the overview shows it, in one word. */
export type AppStatus = 'not deployed' | 'static' | 'scaled to zero' | 'crashing' | 'starting' | 'running';

export function appStatus(input: { readonly currentVersion: number | null; readonly processTypes: number; readonly expected: number; readonly instances: ReadonlyArray<{ readonly state: string }> }): AppStatus {
  if (input.currentVersion === null) return 'not deployed';
  if (input.processTypes === 0) return 'static';
  if (input.expected === 0) return 'scaled to zero';
  if (input.instances.some((instance) => instance.state === 'crashed')) return 'crashing';
  const ready = input.instances.filter((instance) => instance.state === 'ready').length;
  return ready >= input.expected ? 'running' : 'starting';
}

/** Samples as columns (uPlot's shape): step start times in ms, and one array per measure. */
export interface SeriesColumns {
  readonly t: number[];
  readonly requests: number[];
  readonly errors: number[];
  readonly p95Ms: Array<number | null>;
}

export function seriesColumns(samples: readonly Sample[]): SeriesColumns {
  return { t: samples.map((s) => s.t), requests: samples.map((s) => s.requests), errors: samples.map((s) => s.errors), p95Ms: samples.map((s) => s.p95Ms) };
}

export interface AppSummary {
  readonly name: string;
  readonly url: string;
  readonly status: AppStatus;
  readonly release: string | null;
  readonly releaseDescription: string | null;
  readonly instances: { readonly ready: number; readonly expected: number };
}

export function appSummary(platform: Platform, name: string): AppSummary {
  const current = platform.store.currentRelease(name);
  const instances = platform.instanceStates(name);
  const expected = Object.values(platform.formation(name)).reduce((sum, n) => sum + n, 0);
  return {
    name,
    url: platform.url(name),
    status: appStatus({ currentVersion: current?.version ?? null, processTypes: current?.processes.filter((p) => p.name !== 'release').length ?? 0, expected, instances }),
    release: current === null ? null : `v${current.version}`,
    releaseDescription: current?.description ?? null,
    instances: { ready: instances.filter((i) => i.state === 'ready').length, expected },
  };
}

export function overview(platform: Platform, history: MetricsHistory, addons?: DashboardAddons) {
  return {
    apps: platform.store.listApps().map((app) => ({ ...appSummary(platform, app.name), series: seriesColumns(history.series(app.name)), backupAlerts: addons === undefined ? [] : appBackupAlerts(addons, app.name) })),
  };
}

/** Builds, newest first, each with the deploy release it became (if it got that far). */
export function deployHistory(builds: readonly Build[], releases: readonly ReleaseInfo[]) {
  return [...builds].reverse().map((build) => {
    const release = releases.find((r) => r.kind === 'deploy' && r.buildId === build.id) ?? null;
    return {
      id: build.id,
      createdAt: build.createdAt,
      status: build.status,
      source: build.sourceDigest.slice(0, 7),
      release: release === null ? null : { name: `v${release.version}`, status: release.status, description: release.description },
    };
  });
}

/** The app's disk as the dashboard shows it (the API's shape). */
function diskSummary(status: DiskStatus) {
  return { usedBytes: status.usage?.totalBytes ?? null, limitBytes: status.limitBytes, parts: status.usage?.parts ?? null, overLimit: status.state === 'over' };
}

export async function appDetail(platform: Platform, history: MetricsHistory, name: string, addons?: DashboardAddons) {
  const store = platform.store;
  const app = store.getApp(name);
  const releases = store.listReleases(name);
  return {
    app: { ...appSummary(platform, name), createdAt: app.createdAt },
    series: seriesColumns(history.series(name)),
    releases: [...releases].reverse().map((r) => releaseView(r, app.currentVersion)),
    formation: platform.formation(name),
    instances: await platform.instances(name),
    disk: diskSummary(platform.diskStatus(name)),
    domains: platform.domainDetails(name),
    config: Object.keys(store.getConfig(name)).sort(),
    deploys: deployHistory(store.listBuilds(name), releases),
    backups: addons === undefined ? null : backupsPanel(addons.list(name), addons.schedules(name), addons.listBackups(name)),
  };
}

// ---- add-ons and backups -----------------------------------------------------

/** What the dashboard needs of the add-ons (src/addons/addon-service.ts). */
export type DashboardAddons = Pick<AddonService, 'list' | 'listBackups' | 'schedules' | 'backup'>;

/** Backups the app page lists; older ones are counted, and `berth backups list` has them all. */
export const RECENT_BACKUPS = 20;

/** Why an add-on's backups need someone to look: its newest finished backup failed, was cut short, or its file has gone. */
export interface BackupAlert {
  readonly kind: string;
  readonly id: number;
  readonly problem: 'failed' | 'interrupted' | 'missing';
  readonly error: string | null;
  readonly startedAt: string;
}

/** Newest first; the id breaks ties (ids grow with time), as in `berth backups list`. */
function newestFirst(a: BackupView, b: BackupView): number {
  return Date.parse(b.startedAt) - Date.parse(a.startedAt) || b.id - a.id;
}

/**
 * One alert per add-on (of `kinds`) whose newest finished backup is not a
 * usable one. A backup still running does not clear an alert: until it
 * turns out good, the last word is the failure before it. Backups of
 * add-ons since destroyed (their final ones) raise nothing.
 */
export function backupAlerts(kinds: readonly string[], backups: readonly BackupView[]): BackupAlert[] {
  const alerts: BackupAlert[] = [];
  const sorted = [...backups].sort(newestFirst);
  for (const kind of kinds) {
    const newest = sorted.find((b) => b.kind === kind && b.status !== 'running');
    if (newest === undefined) continue;
    const problem = newest.status === 'failed' || newest.status === 'interrupted' ? newest.status : newest.missing ? 'missing' : null;
    if (problem !== null) alerts.push({ kind, id: newest.id, problem, error: newest.error, startedAt: newest.startedAt });
  }
  return alerts;
}

/** An add-on as the app page shows it: names of its vars and where it lives, never the values. */
export interface AddonPanel {
  readonly kind: string;
  readonly createdAt: string;
  readonly vars: readonly string[];
  readonly details: Readonly<Record<string, string>>;
  /** Storage is a folder with no backups of its own. */
  readonly backedUp: boolean;
  readonly schedule: { readonly cron: string; readonly timezone: string; readonly keep: number; readonly nextRun: string | null } | null;
  readonly lastBackup: { readonly id: number; readonly status: BackupView['status']; readonly startedAt: string; readonly finishedAt: string | null } | null;
}

export interface BackupsPanel {
  readonly addons: readonly AddonPanel[];
  /** The newest RECENT_BACKUPS, newest first. */
  readonly backups: readonly BackupView[];
  /** How many older ones are not listed. */
  readonly older: number;
  readonly alerts: readonly BackupAlert[];
}

export function backupsPanel(addons: readonly AddonView[], schedules: readonly BackupScheduleView[], backups: readonly BackupView[], limit = RECENT_BACKUPS): BackupsPanel {
  const sorted = [...backups].sort(newestFirst);
  const backedUp = addons.filter((addon) => addon.kind !== 'storage').map((addon) => addon.kind);
  return {
    addons: addons.map((addon) => {
      const schedule = schedules.find((s) => s.kind === addon.kind);
      const last = sorted.find((b) => b.kind === addon.kind);
      return {
        kind: addon.kind,
        createdAt: addon.createdAt,
        vars: addon.vars,
        details: addon.details,
        backedUp: addon.kind !== 'storage',
        schedule: schedule === undefined ? null : { cron: schedule.schedule, timezone: schedule.timezone, keep: schedule.keep, nextRun: schedule.nextRun },
        lastBackup: last === undefined ? null : { id: last.id, status: last.status, startedAt: last.startedAt, finishedAt: last.finishedAt },
      };
    }),
    backups: sorted.slice(0, limit),
    older: Math.max(0, sorted.length - limit),
    alerts: backupAlerts(backedUp, sorted),
  };
}

/** The overview's flag: an app whose add-on's newest backup failed. */
function appBackupAlerts(addons: DashboardAddons, app: string): BackupAlert[] {
  const kinds = addons.list(app).filter((addon) => addon.kind !== 'storage').map((addon) => addon.kind);
  return backupAlerts(kinds, addons.listBackups(app));
}

/**
 * The time window of a build's lines in the app log: from its start to the
 * next build's (builds of an app run one at a time, and the rollout after a
 * build logs under "build" too).
 */
export function buildWindow(builds: readonly Build[], id: number): { since: number; until: number } | null {
  const index = builds.findIndex((b) => b.id === id);
  if (index === -1) return null;
  const next = builds[index + 1];
  return { since: Date.parse(builds[index]!.createdAt), until: next === undefined ? Infinity : Date.parse(next.createdAt) };
}

export function linesBefore(lines: readonly LogLine[], until: number): LogLine[] {
  return lines.filter((line) => line.at < until);
}
