import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../src/errors.ts';
import {
  canTransition,
  defaultRollbackTarget,
  describeRelease,
  nextVersion,
  releasesToPrune,
  buildsToPrune,
  DEFAULT_BUILD_KEEP,
  rollbackTarget,
  type ReleaseStatus,
  type ReleaseSummary,
} from '../../src/platform/index.ts';

const STATUSES: readonly ReleaseStatus[] = ['pending', 'succeeded', 'failed', 'pruned'];

/** Releases from a compact spec: 'sspfx' → v1 succeeded, v2 succeeded, v3 pending, v4 failed, v5 pruned. */
function releases(spec: string, versions?: number[]): ReleaseSummary[] {
  const byLetter: Record<string, ReleaseStatus> = { s: 'succeeded', p: 'pending', f: 'failed', x: 'pruned' };
  return [...spec].map((letter, i) => ({ version: versions?.[i] ?? i + 1, status: byLetter[letter]! }));
}

const versionsOf = (list: readonly ReleaseSummary[]) => list.map((r) => r.version);

test('nextVersion: one more than the highest ever used, gaps stay gaps', () => {
  const table: Array<[number[], number]> = [
    [[], 1],
    [[1], 2],
    [[1, 2, 3], 4],
    [[3, 1, 2], 4],
    [[1, 5], 6],
    [[7], 8],
    [[2, 2], 3],
  ];
  for (const [existing, expected] of table) assert.equal(nextVersion(existing), expected, JSON.stringify(existing));
  assert.equal(nextVersion(new Set([4, 9])), 10, 'any iterable');
});

test('status transitions: pending ends once, only finished releases are pruned, pruned is final', () => {
  const allowed = new Set(['pending>succeeded', 'pending>failed', 'succeeded>pruned', 'failed>pruned']);
  for (const from of STATUSES) for (const to of STATUSES) assert.equal(canTransition(from, to), allowed.has(`${from}>${to}`), `${from} → ${to}`);
});

test('releasesToPrune: table', () => {
  // [spec, current, keep, pruned versions]
  const table: Array<[string, number | null, number, number[]]> = [
    ['', null, 0, []],
    ['s', 1, 0, []], // the current release
    ['ss', 2, 0, []], // current and previous
    ['sss', 3, 0, [1]],
    ['sss', 3, 1, [1]],
    ['sss', 3, 2, [1]],
    ['sss', 3, 3, []],
    ['sssss', 5, 2, [1, 2, 3]],
    ['sssss', 5, 3, [1, 2]],
    ['sssss', 3, 0, [1, 4, 5]], // after going back to v3 by setCurrentRelease: newer ones are prunable
    ['sfsss', 5, 0, [1, 2, 3]],
    ['ssff', 2, 0, [3, 4]], // failed deploys after the current are prunable, v1 stays as the rollback target
    ['ssff', 2, 2, []],
    ['sfff', 1, 0, [2, 3, 4]],
    ['sffs', 4, 0, [2, 3]], // previous = newest succeeded before current (v1), not v3 (failed)
    ['sssp', 3, 0, [1]], // a pending deploy is never touched
    ['pppp', null, 0, []],
    ['ssps', 4, 0, [1]],
    ['xxss', 4, 0, []], // already pruned: not again
    ['xsss', 4, 0, [2]],
    ['xsss', 4, 1, [2]],
    ['sssss', null, 2, [1, 2, 3]], // no current: only keep counts
    ['ffff', null, 1, [1, 2, 3]],
    ['sxsxs', 5, 1, [1]], // keep counts releases not yet pruned
  ];
  for (const [spec, current, keep, expected] of table) {
    assert.deepEqual(versionsOf(releasesToPrune(releases(spec), current, keep)), expected, `${spec} current=${current} keep=${keep}`);
  }
});

test('releasesToPrune: with gaps in the versions, and in any input order', () => {
  const list = releases('ssss', [2, 7, 9, 15]);
  assert.deepEqual(versionsOf(releasesToPrune(list, 15, 0)), [2, 7]);
  assert.deepEqual(versionsOf(releasesToPrune([...list].reverse(), 15, 0)), [2, 7], 'oldest first whatever the input order');
  assert.deepEqual(versionsOf(releasesToPrune([list[2]!, list[0]!, list[3]!, list[1]!], 15, 1)), [2, 7]);
});

test('releasesToPrune: every combination of statuses never touches current, previous, pending or pruned, and prunes the rest beyond keep', () => {
  let cases = 0;
  for (let n = 0; n <= 6; n++) {
    for (let code = 0; code < STATUSES.length ** n; code++) {
      const list: ReleaseSummary[] = [];
      for (let i = 0, c = code; i < n; i++, c = Math.floor(c / STATUSES.length)) list.push({ version: i + 1, status: STATUSES[c % STATUSES.length]! });
      const currents = [null, ...list.filter((r) => r.status === 'succeeded').map((r) => r.version)];
      for (const current of currents) {
        const previous = defaultRollbackTarget(list, current);
        for (let keep = 0; keep <= n + 1; keep++) {
          cases++;
          const pruned = new Set(versionsOf(releasesToPrune(list, current, keep)));
          const newest = new Set(versionsOf([...list].filter((r) => r.status !== 'pruned').sort((a, b) => b.version - a.version).slice(0, keep)));
          for (const r of list) {
            const must =
              r.status !== 'pruned' && r.status !== 'pending' && r.version !== current && r.version !== previous?.version && !newest.has(r.version);
            assert.equal(pruned.has(r.version), must, `v${r.version} in ${JSON.stringify(list)} current=${current} keep=${keep}`);
          }
        }
      }
    }
  }
  assert.ok(cases > 10_000, `${cases} cases`);
});

test('releasesToPrune: keep must be a non-negative whole number', () => {
  for (const keep of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) assert.throws(() => releasesToPrune(releases('ss'), 2, keep), RangeError);
});

function refusal(fn: () => unknown): { code: string; status: number; message: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof BerthError);
    return { code: err.code, status: err.status, message: err.message };
  }
  assert.fail('expected a refusal');
}

test('rollbackTarget without a version: the newest succeeded release before the current', () => {
  const table: Array<[string, number, number]> = [
    ['ss', 2, 1],
    ['sss', 3, 2],
    ['sfs', 3, 1],
    ['sxs', 3, 1], // pruned v2 has no build
    ['spss', 4, 3],
    ['sfpfs', 5, 1],
    ['sss', 2, 1], // current is not the newest (after setCurrentRelease)
  ];
  for (const [spec, current, expected] of table) assert.equal(rollbackTarget(releases(spec), current).version, expected, `${spec} current=${current}`);
  assert.equal(rollbackTarget(releases('ss', [3, 10]), 10).version, 3, 'gaps');
});

test('rollbackTarget without a version: refused when there is nothing before the current', () => {
  const table: Array<[string, number | null, string]> = [
    ['', null, 'no current release'],
    ['ff', null, 'no current release'],
    ['s', 1, 'no successful release before v1'],
    ['fs', 2, 'no successful release before v2'],
    ['xs', 2, 'no successful release before v2'],
    ['ps', 2, 'no successful release before v2'],
    ['ss', 1, 'no successful release before v1'], // v2 is newer, not "back"
  ];
  for (const [spec, current, message] of table) {
    const err = refusal(() => rollbackTarget(releases(spec), current));
    assert.deepEqual([err.code, err.status], ['BERTH_E_ROLLBACK', 409], spec);
    assert.ok(err.message.includes(message), `${spec}: ${err.message}`);
  }
});

test('rollbackTarget with a version: it must exist, not be current, and have succeeded', () => {
  const list = releases('sfsxps');
  assert.equal(rollbackTarget(list, 6, 1).version, 1);
  assert.equal(rollbackTarget(list, 6, 3).version, 3);
  assert.equal(rollbackTarget(list, 3, 6).version, 6, 'a newer succeeded release is fine (rolling forward)');
  const table: Array<[number, string, number, RegExp]> = [
    [7, 'BERTH_E_RELEASE_NOT_FOUND', 404, /v7 does not exist/],
    [99, 'BERTH_E_RELEASE_NOT_FOUND', 404, /v99 does not exist/],
    [6, 'BERTH_E_ROLLBACK', 409, /v6 is already the current release/],
    [2, 'BERTH_E_ROLLBACK', 409, /v2: it failed/],
    [4, 'BERTH_E_ROLLBACK', 409, /v4: it was pruned/],
    [5, 'BERTH_E_ROLLBACK', 409, /v5: it is still being deployed/],
  ];
  for (const [requested, code, status, message] of table) {
    const err = refusal(() => rollbackTarget(list, 6, requested));
    assert.deepEqual([err.code, err.status], [code, status], `v${requested}`);
    assert.match(err.message, message);
  }
  assert.equal(refusal(() => rollbackTarget(list, null, 1)).code, 'BERTH_E_ROLLBACK', 'no current release');
});

test('rollbackTarget returns the caller\'s own object, so it keeps whatever else the caller put on it', () => {
  const list = [
    { version: 1, status: 'succeeded' as const, buildId: 11 },
    { version: 2, status: 'succeeded' as const, buildId: 12 },
  ];
  assert.equal(rollbackTarget(list, 2), list[0]);
  assert.equal(rollbackTarget(list, 2).buildId, 11);
});

test('describeRelease: table', () => {
  const table: Array<[Parameters<typeof describeRelease>[0], string]> = [
    [{ kind: 'deploy', source: '3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39' }, 'Deploy 3f2a9c1'],
    [{ kind: 'deploy', source: '3F2A9C1' }, 'Deploy 3f2a9c1'],
    [{ kind: 'deploy', source: 'sha256:abcdef0123456789' }, 'Deploy abcdef0'],
    [{ kind: 'deploy', source: 'abc' }, 'Deploy'], // too short to mean anything
    [{ kind: 'deploy', source: 'not hex; rm -rf' }, 'Deploy'],
    [{ kind: 'deploy', source: null }, 'Deploy'],
    [{ kind: 'deploy' }, 'Deploy'],
    [{ kind: 'config', set: ['FOO', 'BAR'] }, 'Set FOO, BAR'],
    [{ kind: 'config', unset: ['FOO'] }, 'Unset FOO'],
    [{ kind: 'config', set: ['FOO'], unset: ['BAR', 'BAZ'] }, 'Set FOO; unset BAR, BAZ'],
    [{ kind: 'config', set: ['A', 'B', 'C', 'D', 'E'] }, 'Set A, B, C, D, E'],
    [{ kind: 'config', set: ['A', 'B', 'C', 'D', 'E', 'F', 'G'] }, 'Set A, B, C, D, E and 2 more'],
    [{ kind: 'config', set: ['A', 'A', 'B'] }, 'Set A, B'],
    [{ kind: 'config', set: [], unset: [] }, 'Config unchanged'],
    [{ kind: 'config' }, 'Config unchanged'],
    [{ kind: 'rollback', toVersion: 3 }, 'Rollback to v3'],
    [{ kind: 'rollback', toVersion: 120 }, 'Rollback to v120'],
  ];
  for (const [change, expected] of table) assert.equal(describeRelease(change), expected, JSON.stringify(change));
});

// ---- builds that never became a release --------------------------------------

const HOUR = 60 * 60 * 1000;
const NOW = Date.UTC(2025, 5, 1);

/** Builds from a compact spec, one hour apart, the last one newest: 'sfib' → succeeded, failed, interrupted, building. */
function builds(spec: string) {
  const byLetter = { s: 'succeeded', f: 'failed', i: 'interrupted', b: 'building', x: 'pruned' } as const;
  return [...spec].map((letter, i) => ({ id: i + 1, status: byLetter[letter as keyof typeof byLetter], createdAt: new Date(NOW - (spec.length - i) * HOUR).toISOString() }));
}

test('buildsToPrune: failed and interrupted builds beyond the newest few go, oldest first', () => {
  const table: Array<[string, number, number[]]> = [
    ['', 3, []],
    ['fff', 3, []],
    ['ffff', 3, [1]],
    ['fifif', 3, [1, 2]],
    ['fifif', 0, [1, 2, 3, 4, 5]],
    ['fffff', 10, []],
  ];
  for (const [spec, count, expected] of table) {
    assert.deepEqual(buildsToPrune(builds(spec), [], NOW, { count, maxAgeMs: 1000 * HOUR }).map((b) => b.id), expected, `${spec} keep ${count}`);
  }
});

test('buildsToPrune: past the age limit even the newest go', () => {
  assert.deepEqual(buildsToPrune(builds('ffff'), [], NOW, { count: 3, maxAgeMs: 2.5 * HOUR }).map((b) => b.id), [1, 2]);
  assert.deepEqual(buildsToPrune(builds('ffff'), [], NOW, { count: 3, maxAgeMs: 0 }).map((b) => b.id), [1, 2, 3, 4]);
});

test('buildsToPrune: never a build that builds, that a live release uses, or that was pruned already', () => {
  const list = builds('sfsbxs');
  const releases = [
    { buildId: 1, status: 'succeeded' as const },
    { buildId: 3, status: 'pending' as const },
  ];
  // 1 and 3 are used, 4 builds, 5 is pruned; 2 failed and 6 succeeded without any release go.
  assert.deepEqual(buildsToPrune(list, releases, NOW, { count: 0, maxAgeMs: HOUR }).map((b) => b.id), [2, 6]);
  // Any release row not pruned keeps its build (pruneReleases frees it with the release); a build
  // whose releases were all pruned is pruneReleases' to decide, not this.
  const otherUses = [{ buildId: 2, status: 'failed' as const }, { buildId: 6, status: 'pruned' as const }];
  assert.deepEqual(buildsToPrune(builds('sfsbxs'), otherUses, NOW, { count: 0, maxAgeMs: HOUR }).map((b) => b.id), [1, 3]);
});

test('buildsToPrune: the default keeps three for a week', () => {
  assert.deepEqual(DEFAULT_BUILD_KEEP, { count: 3, maxAgeMs: 7 * 24 * HOUR });
  assert.throws(() => buildsToPrune(builds('f'), [], NOW, { count: -1, maxAgeMs: 0 }), RangeError);
});
