import { BerthError } from '../errors.ts';
import type { BuildStatus, ReleaseInfo } from './records.ts';

// The platform's release decisions as pure functions over plain data: what
// the next version is, which releases may be pruned, where a rollback goes,
// and how a release is described. The store applies them inside its
// transactions; tests call them directly with tables.

/**
 * A release's life: pending (created, being deployed) → succeeded (it took
 * traffic) or failed (it never did). Succeeded and failed releases may
 * later be pruned (their build directory deleted; the row stays, so
 * versions are never reused and the history stays readable).
 */
export type ReleaseStatus = 'pending' | 'succeeded' | 'failed' | 'pruned';

/** What made a release. Scaling is not one: it changes no code and no config. */
export type ReleaseKind = 'deploy' | 'config' | 'rollback';

export interface ReleaseSummary {
  readonly version: number;
  readonly status: ReleaseStatus;
}

/** The status changes a release may make; anything else is a bug in the caller. */
export const RELEASE_TRANSITIONS: Readonly<Record<ReleaseStatus, readonly ReleaseStatus[]>> = {
  pending: ['succeeded', 'failed'],
  succeeded: ['pruned'],
  failed: ['pruned'],
  pruned: [],
};

export function canTransition(from: ReleaseStatus, to: ReleaseStatus): boolean {
  return RELEASE_TRANSITIONS[from].includes(to);
}

/**
 * The next version: one more than the highest ever used, so gaps stay gaps
 * and a number, once shown to a user, always means the same release.
 */
export function nextVersion(existingVersions: Iterable<number>): number {
  let max = 0;
  for (const version of existingVersions) if (version > max) max = version;
  return max + 1;
}

/**
 * The release `berth rollback` without a version goes to: the newest
 * succeeded release older than the current one. Null when there is none.
 */
export function defaultRollbackTarget<T extends ReleaseSummary>(releases: readonly T[], currentVersion: number | null): T | null {
  if (currentVersion === null) return null;
  let best: T | null = null;
  for (const release of releases) {
    if (release.status !== 'succeeded' || release.version >= currentVersion) continue;
    if (best === null || release.version > best.version) best = release;
  }
  return best;
}

/**
 * The releases to prune, oldest first. Kept: the `keep` newest releases not
 * already pruned (whatever their status, so `berth releases` shows the last
 * `keep` attempts), the current release, the default rollback target (so
 * `berth rollback` always works), and every pending release (a deploy is
 * using it). Already-pruned releases are never returned again.
 */
export function releasesToPrune<T extends ReleaseSummary>(releases: readonly T[], currentVersion: number | null, keep: number): T[] {
  if (!Number.isInteger(keep) || keep < 0) throw new RangeError(`keep must be a non-negative integer, got ${keep}`);
  const previous = defaultRollbackTarget(releases, currentVersion);
  const live = releases.filter((r) => r.status !== 'pruned').sort((a, b) => b.version - a.version);
  return live
    .slice(keep)
    .filter((r) => r.status !== 'pending' && r.version !== currentVersion && r !== previous)
    .sort((a, b) => a.version - b.version);
}

export interface BuildSummary {
  readonly id: number;
  readonly status: BuildStatus;
  /** ISO-8601. */
  readonly createdAt: string;
}

/** How many builds that never became a release are kept, and for how long at most. */
export interface BuildKeep {
  readonly count: number;
  readonly maxAgeMs: number;
}

/** The last few failed builds stay a while, for their folders; the log has their lines anyway. */
export const DEFAULT_BUILD_KEEP: BuildKeep = { count: 3, maxAgeMs: 7 * 24 * 60 * 60 * 1000 };

/**
 * The builds to prune that never became a release, oldest first: failed
 * and interrupted ones, and succeeded ones no release ever used (a crash
 * between the build and its release). Kept: the newest `keep.count` of
 * them while younger than `keep.maxAgeMs`; a build still building; and any
 * build a release uses that is not pruned (a pending release is on its
 * way to using it). Builds of pruned releases are pruneReleases' business.
 * Call it only while no deploy of the app runs (the deploy's own build is
 * briefly succeeded without a release).
 */
export function buildsToPrune<T extends BuildSummary>(
  builds: readonly T[],
  releases: ReadonlyArray<{ readonly buildId: number | null; readonly status: ReleaseStatus }>,
  now: number,
  keep: BuildKeep = DEFAULT_BUILD_KEEP,
): T[] {
  if (!Number.isInteger(keep.count) || keep.count < 0) throw new RangeError(`keep.count must be a non-negative integer, got ${keep.count}`);
  const everUsed = new Set(releases.map((r) => r.buildId));
  const inUse = new Set(releases.filter((r) => r.status !== 'pruned').map((r) => r.buildId));
  const unreleased = builds
    .filter((b) => !inUse.has(b.id) && (b.status === 'failed' || b.status === 'interrupted' || (b.status === 'succeeded' && !everUsed.has(b.id))))
    .sort((a, b) => b.id - a.id);
  return unreleased
    .filter((b, rank) => rank >= keep.count || now - Date.parse(b.createdAt) > keep.maxAgeMs)
    .sort((a, b) => a.id - b.id);
}

/**
 * Where a rollback goes. Without `requested`, the default target; with it,
 * that release, which must exist, must not be the current one and must have
 * succeeded (a failed release never served, a pruned one has no build).
 */
export function rollbackTarget<T extends ReleaseSummary>(releases: readonly T[], currentVersion: number | null, requested?: number): T {
  if (currentVersion === null) {
    throw new BerthError('BERTH_E_ROLLBACK', 'the app has no current release to roll back from', {
      hint: 'Deploy the app first: berth deploy --app NAME.',
      status: 409,
    });
  }
  if (requested === undefined) {
    const target = defaultRollbackTarget(releases, currentVersion);
    if (target === null) {
      throw new BerthError('BERTH_E_ROLLBACK', `there is no successful release before v${currentVersion} to roll back to`, {
        hint: 'See berth releases --app NAME; only releases that served traffic can be rolled back to.',
        status: 409,
      });
    }
    return target;
  }
  const target = releases.find((r) => r.version === requested);
  if (target === undefined) {
    throw new BerthError('BERTH_E_RELEASE_NOT_FOUND', `release v${requested} does not exist`, { hint: 'See berth releases --app NAME.', status: 404 });
  }
  if (target.version === currentVersion) {
    throw new BerthError('BERTH_E_ROLLBACK', `v${requested} is already the current release`, { hint: 'Name another release, or leave the version out to go to the previous one.', status: 409 });
  }
  if (target.status !== 'succeeded') {
    const why = target.status === 'pruned' ? 'was pruned (its build is gone)' : target.status === 'failed' ? 'failed and never served traffic' : 'is still being deployed';
    throw new BerthError('BERTH_E_ROLLBACK', `cannot roll back to v${requested}: it ${why}`, { hint: 'See berth releases --app NAME for releases that succeeded.', status: 409 });
  }
  return target;
}

export type ReleaseChange =
  /** `source`: the git commit or the source digest ("sha256:…") of the upload. */
  | { readonly kind: 'deploy'; readonly source?: string | null }
  | { readonly kind: 'config'; readonly set?: readonly string[]; readonly unset?: readonly string[] }
  | { readonly kind: 'rollback'; readonly toVersion: number };

/** How many keys a description names before it says "and N more". */
const KEYS_NAMED = 5;

function keyList(keys: readonly string[]): string {
  const unique = [...new Set(keys)];
  if (unique.length <= KEYS_NAMED) return unique.join(', ');
  return `${unique.slice(0, KEYS_NAMED).join(', ')} and ${unique.length - KEYS_NAMED} more`;
}

/**
 * The one-line description `berth releases` shows: "Deploy 3f2a9c1",
 * "Set FOO, BAR", "Unset FOO", "Set FOO; unset BAR", "Rollback to v3".
 * Config descriptions name keys only, never values.
 */
export function describeRelease(change: ReleaseChange): string {
  switch (change.kind) {
    case 'deploy': {
      const hex = /^(?:sha256:)?([0-9a-f]{7,})$/i.exec(change.source ?? '');
      return hex === null ? 'Deploy' : `Deploy ${hex[1]!.slice(0, 7).toLowerCase()}`;
    }
    case 'config': {
      const set = change.set ?? [];
      const unset = change.unset ?? [];
      const parts: string[] = [];
      if (set.length > 0) parts.push(`Set ${keyList(set)}`);
      if (unset.length > 0) parts.push(`${parts.length > 0 ? 'unset' : 'Unset'} ${keyList(unset)}`);
      return parts.length > 0 ? parts.join('; ') : 'Config unchanged';
    }
    case 'rollback':
      return `Rollback to v${change.toVersion}`;
  }
}

/** A release as the API and the dashboard show it. Pure. */
export function releaseView(release: ReleaseInfo, currentVersion: number | null) {
  return {
    version: release.version,
    name: `v${release.version}`,
    kind: release.kind,
    description: release.description,
    status: release.status,
    createdAt: release.createdAt,
    current: release.version === currentVersion,
    configKeys: release.configKeys,
    // On Kubernetes: the image it ran, by digest (absent on one machine).
    ...(release.image === null ? {} : { image: release.image }),
  };
}
