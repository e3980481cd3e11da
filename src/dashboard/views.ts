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
  const instances = platform.instances(name);
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

export function overview(platform: Platform, history: MetricsHistory) {
  return { apps: platform.store.listApps().map((app) => ({ ...appSummary(platform, app.name), series: seriesColumns(history.series(app.name)) })) };
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

export function appDetail(platform: Platform, history: MetricsHistory, name: string) {
  const store = platform.store;
  const app = store.getApp(name);
  const releases = store.listReleases(name);
  return {
    app: { ...appSummary(platform, name), createdAt: app.createdAt },
    series: seriesColumns(history.series(name)),
    releases: [...releases].reverse().map((r) => releaseView(r, app.currentVersion)),
    formation: platform.formation(name),
    instances: platform.instances(name),
    domains: platform.domainDetails(name),
    config: Object.keys(store.getConfig(name)).sort(),
    deploys: deployHistory(store.listBuilds(name), releases),
  };
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
