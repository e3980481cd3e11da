import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../src/errors.ts';
import {
  appLogLimits,
  decideRotation,
  DEFAULT_APP_LOG_LIMITS,
  rotatedAt,
  rotatedName,
  type LogFilesState,
  type LogRotationLimits,
  type RotatedFile,
} from '../../src/platform/app-log-rotation.ts';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 0, 10, 12, 0, 0, 0);
const LIMITS: LogRotationLimits = { maxFileBytes: 1_000, maxFileAgeMs: DAY, keepFiles: 3, maxAgeMs: 7 * DAY };

/** A rotated file whose newest line is `ageMs` old. */
function aged(ageMs: number): RotatedFile {
  return rotatedName(NOW - ageMs, []);
}

function state(over: Partial<LogFilesState>): LogFilesState {
  return { currentBytes: 0, currentSince: null, incomingBytes: 0, rotated: [], now: NOW, ...over };
}

test('the defaults: 10 MiB files, a day per file at most, 5 rotated files kept, nothing older than 7 days', () => {
  assert.equal(DEFAULT_APP_LOG_LIMITS.maxFileBytes, 10 * 1024 * 1024);
  assert.equal(DEFAULT_APP_LOG_LIMITS.maxFileAgeMs, DAY);
  assert.equal(DEFAULT_APP_LOG_LIMITS.keepFiles, 5);
  assert.equal(DEFAULT_APP_LOG_LIMITS.maxAgeMs, 7 * DAY);
  assert.deepEqual(appLogLimits(), DEFAULT_APP_LOG_LIMITS);
  assert.deepEqual(appLogLimits({ keepFiles: 1, maxFileBytes: 1024 }), { ...DEFAULT_APP_LOG_LIMITS, keepFiles: 1, maxFileBytes: 1024 });
});

test('limits that cannot work are refused with BERTH_E_USAGE', () => {
  const bad: Array<Partial<LogRotationLimits> & Record<string, number>> = [
    { maxFileBytes: 0 },
    { maxFileBytes: 1023 },
    { maxFileBytes: 1.5e6 + 0.5 },
    { maxFileAgeMs: 0 },
    { keepFiles: 0 },
    { maxAgeMs: Number.NaN },
    { maxPendingBytes: 10 },
    { maxBatchBytes: Infinity },
    { maxLineChars: 1 },
    { checkEveryMs: -5 },
  ];
  for (const given of bad) {
    assert.throws(() => appLogLimits(given), (err: unknown) => err instanceof BerthError && err.code === 'BERTH_E_USAGE', JSON.stringify(given));
  }
});

test('size: the current file rotates before an append would take it past the limit, never when empty', () => {
  // [current bytes, incoming bytes, rotate?]
  const table: Array<[number, number, boolean]> = [
    [0, 0, false],
    [0, 999, false],
    [0, 1_000, false],
    [0, 5_000, false], // a batch larger than a file into an empty file: rotating gains nothing
    [1, 0, false],
    [1, 999, false],
    [1, 1_000, true],
    [500, 500, false],
    [500, 501, true],
    [999, 1, false],
    [999, 2, true],
    [1_000, 0, false],
    [1_000, 1, true],
    [1_001, 0, true], // already past (a single oversized batch): the next check moves it aside
    [50_000, 0, true],
  ];
  for (const [currentBytes, incomingBytes, rotate] of table) {
    const decision = decideRotation(state({ currentBytes, incomingBytes, currentSince: NOW }), LIMITS);
    assert.equal(decision.rotate, rotate, `${currentBytes} + ${incomingBytes}`);
    assert.deepEqual(decision.remove, []);
  }
});

test('age: the current file rotates once its first line is maxFileAgeMs old, so a quiet app ages out too', () => {
  // [bytes, first line's age (null: empty), rotate?]
  const table: Array<[number, number | null, boolean]> = [
    [10, null, false],
    [10, 0, false],
    [10, DAY - 1, false],
    [10, DAY, true],
    [10, DAY + 1, true],
    [10, 30 * DAY, true],
    [10, -DAY, false], // the clock was set back: the file is new, not old
    [0, 30 * DAY, false], // nothing to rotate
  ];
  for (const [currentBytes, age, rotate] of table) {
    const decision = decideRotation(state({ currentBytes, currentSince: age === null ? null : NOW - age }), LIMITS);
    assert.equal(decision.rotate, rotate, `${currentBytes} bytes, age ${age}`);
  }
});

test('count: the newest keepFiles rotated files stay, counting the one a rotation makes; the oldest go', () => {
  for (let count = 0; count <= 8; count++) {
    // Newest first: file i is i+1 hours old.
    const files = Array.from({ length: count }, (_, i) => aged((i + 1) * 3_600_000));
    for (const rotate of [false, true]) {
      const decision = decideRotation(state({ currentBytes: rotate ? 2_000 : 10, currentSince: NOW, rotated: [...files].reverse() }), LIMITS);
      assert.equal(decision.rotate, rotate);
      const keep = rotate ? LIMITS.keepFiles - 1 : LIMITS.keepFiles;
      assert.deepEqual(decision.remove, files.slice(keep).map((f) => f.name), `${count} files, rotate ${rotate}`);
    }
  }
});

test('age of rotated files: a file whose newest line is more than maxAgeMs old is deleted; exactly that old, or from the future, stays', () => {
  const keepAll: LogRotationLimits = { ...LIMITS, keepFiles: 100 };
  const table: Array<[number, boolean]> = [
    [0, false],
    [DAY, false],
    [7 * DAY - 1, false],
    [7 * DAY, false],
    [7 * DAY + 1, true],
    [30 * DAY, true],
    [-DAY, false],
  ];
  for (const [age, removed] of table) {
    const file = aged(age);
    assert.deepEqual(decideRotation(state({ rotated: [file] }), keepAll).remove, removed ? [file.name] : [], `age ${age}`);
  }
});

test('keepFiles 1: a rotation makes the one rotated file kept, and every older one goes', () => {
  const files = [aged(1_000), aged(2_000)];
  const limits = { ...LIMITS, keepFiles: 1 };
  assert.deepEqual(decideRotation(state({ rotated: files }), limits), { rotate: false, remove: [files[1]!.name] });
  assert.deepEqual(decideRotation(state({ currentBytes: 2_000, currentSince: NOW, rotated: files }), limits), { rotate: true, remove: files.map((f) => f.name) });
});

test('every combination of size, age, count and file ages obeys the rules', () => {
  const sizes = [0, 1, 999, 1_000, 1_001];
  const incoming = [0, 1, 1_000];
  const sinceAges = [null, 0, DAY - 1, DAY, -1];
  const fileAges = [0, 3_600_000, 7 * DAY, 7 * DAY + 1, 20 * DAY, -3_600_000];
  let cases = 0;
  for (const currentBytes of sizes) {
    for (const incomingBytes of incoming) {
      for (const sinceAge of sinceAges) {
        // Every subset of the file ages (2^6), each file distinct by name.
        for (let mask = 0; mask < 1 << fileAges.length; mask++) {
          const rotated = fileAges.filter((_, i) => mask & (1 << i)).map((age) => rotatedName(NOW - age, []));
          for (const keepFiles of [1, 2, 5]) {
            const limits = { ...LIMITS, keepFiles };
            const s = state({ currentBytes, incomingBytes, currentSince: sinceAge === null ? null : NOW - sinceAge, rotated });
            const decision = decideRotation(s, limits);
            cases++;
            const expectRotate =
              currentBytes > 0 && (currentBytes + incomingBytes > limits.maxFileBytes || (sinceAge !== null && sinceAge >= limits.maxFileAgeMs));
            assert.equal(decision.rotate, expectRotate);
            // Only names it was given, each once.
            assert.equal(new Set(decision.remove).size, decision.remove.length);
            for (const name of decision.remove) assert.ok(rotated.some((f) => f.name === name));
            const kept = rotated.filter((f) => !decision.remove.includes(f.name));
            // Nothing kept is too old, and every kept file is newer than every removed one.
            for (const f of kept) assert.ok(NOW - f.closedAt <= limits.maxAgeMs);
            for (const f of kept) for (const name of decision.remove) assert.ok(f.closedAt >= rotatedAt(name)!);
            // Exactly the newest young files that fit stay (the file a rotation makes takes one place).
            const room = Math.max(0, keepFiles - (decision.rotate ? 1 : 0));
            const young = rotated.filter((f) => NOW - f.closedAt <= limits.maxAgeMs).sort((a, b) => b.closedAt - a.closedAt);
            assert.equal(kept.length, Math.min(room, young.length));
          }
        }
      }
    }
  }
  assert.equal(cases, sizes.length * incoming.length * sinceAges.length * 64 * 3);
});

test('rotated names carry the time of the newest line, sort in time order and are read back', () => {
  const at = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
  const file = rotatedName(at, []);
  assert.deepEqual(file, { name: 'app.log.2026-01-02T03-04-05.678Z', closedAt: at });
  assert.equal(rotatedAt(file.name), at);
  // The name never goes back in time: a clock set back, or two rotations in one millisecond.
  const later = rotatedName(at - 60_000, [file]);
  assert.deepEqual(later, { name: 'app.log.2026-01-02T03-04-05.679Z', closedAt: at + 1 });
  assert.equal(rotatedName(at, [file, later]).closedAt, at + 2);
  assert.equal(rotatedName(at + 10, [file, later]).closedAt, at + 10);
  const names = [rotatedName(Date.UTC(2025, 11, 31, 23, 59, 59, 999), []), file, later, rotatedName(Date.UTC(2026, 9, 1), [])].map((f) => f.name);
  assert.deepEqual([...names].sort(), names);
});

test('only names berth writes count as rotated files: anything else in the folder is left alone', () => {
  for (const name of ['app.log', 'app.log.1', 'app.log.2026-01-02T03:04:05.678Z', 'app.log.2026-02-31T00-00-00.000Z', 'app.log.2026-01-02T03-04-05.678Z.gz', 'x.app.log.2026-01-02T03-04-05.678Z', 'notes.txt', '']) {
    assert.equal(rotatedAt(name), null, name);
  }
  assert.equal(rotatedAt('app.log.1970-01-01T00-00-00.000Z'), 0);
});
