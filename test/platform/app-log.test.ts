import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppLog, formatLogLine, type LogLine } from '../../src/platform/app-log.ts';
import { everyLine } from '../../src/platform/app-log-query.ts';
import type { AppLogLimits } from '../../src/platform/app-log-rotation.ts';

const DAY = 86_400_000;
const START = Date.UTC(2026, 0, 10, 12, 0, 0, 0);

/** A clock the test moves. */
function clock(at = START) {
  const c = { at, now: () => c.at };
  return c;
}

async function tempDir(t: { after(fn: () => unknown): void }): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'berth-app-log-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  return join(root, 'logs', 'shop');
}

function open(t: { after(fn: () => unknown): void }, dir: string, now: () => number, limits: Partial<AppLogLimits> = {}, errors: Error[] = []): AppLog {
  const log = new AppLog({ dir, now, limits, onError: (err) => errors.push(err) });
  t.after(() => log.close());
  return log;
}

const texts = (lines: readonly LogLine[]) => lines.map((line) => line.text);

async function files(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

test('every line lands in app.log as one JSON object, the file 0600 in a 0700 folder', async (t) => {
  const dir = await tempDir(t);
  const c = clock();
  const log = open(t, dir, c.now);
  log.add('web.1', 'listening on 5000');
  c.at += 1;
  log.add('build', 'quotes " and \\ and\ttabs, ünïcödé');
  log.add('berth', 'v1 is serving', START + 2);
  await log.flush();
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  assert.equal((await stat(join(dir, 'app.log'))).mode & 0o777, 0o600);
  const lines = (await readFile(join(dir, 'app.log'), 'utf8')).split('\n');
  assert.deepEqual(lines, [
    '{"at":"2026-01-10T12:00:00.000Z","source":"web.1","text":"listening on 5000"}',
    '{"at":"2026-01-10T12:00:00.001Z","source":"build","text":"quotes \\" and \\\\ and\\ttabs, ünïcödé"}',
    '{"at":"2026-01-10T12:00:00.002Z","source":"berth","text":"v1 is serving"}',
    '',
  ]);
  assert.deepEqual(await log.recent(everyLine()), [
    { at: START, source: 'web.1', text: 'listening on 5000' },
    { at: START + 1, source: 'build', text: 'quotes " and \\ and\ttabs, ünïcödé' },
    { at: START + 2, source: 'berth', text: 'v1 is serving' },
  ]);
  assert.equal(formatLogLine({ at: START, source: 'web.1', text: 'hi' }), '2026-01-10T12:00:00.000Z web.1 | hi');
});

test('files rotate by size into timestamped names, only keepFiles are kept, and a new AppLog reads across them after a restart', async (t) => {
  const dir = await tempDir(t);
  const c = clock();
  const limits = { maxFileBytes: 4096, keepFiles: 3 };
  const log = open(t, dir, c.now, limits);
  // About 100 bytes per line, 41 lines per file: 400 lines make ten files' worth, written in batches.
  for (let i = 0; i < 400; i++) {
    c.at += 1_000;
    log.add(i % 2 === 0 ? 'web.1' : 'worker.1', `line ${String(i).padStart(3, '0')} ${'x'.repeat(20)}`);
    if (i % 10 === 9) await log.flush();
  }
  await log.flush();
  const names = await files(dir);
  assert.equal(names.length, 4, names.join(' '));
  assert.equal(names[0], 'app.log');
  for (const name of names.slice(1)) {
    assert.match(name, /^app\.log\.2026-01-10T\d\d-\d\d-\d\d\.000Z$/);
    assert.equal((await stat(join(dir, name))).mode & 0o777, 0o600);
    assert.ok((await stat(join(dir, name))).size <= 4096, name);
  }
  // Each rotated file is named after its newest line.
  const newest = names.at(-1)!;
  const lastLine = JSON.parse((await readFile(join(dir, newest), 'utf8')).trim().split('\n').at(-1)!);
  assert.equal(newest, `app.log.${lastLine.at.replaceAll(':', '-')}`);

  const recent = texts(await log.recent(everyLine(3)));
  assert.deepEqual(recent, ['line 397 xxxxxxxxxxxxxxxxxxxx', 'line 398 xxxxxxxxxxxxxxxxxxxx', 'line 399 xxxxxxxxxxxxxxxxxxxx']);
  await log.close();

  // The daemon restarts: a new AppLog on the same folder.
  const again = open(t, dir, c.now, limits);
  const all = texts(await again.recent(everyLine(2000)));
  // Everything the kept files hold, in order, without gaps: from the oldest kept line to the last.
  const first = Number(all[0]!.slice(5, 8));
  assert.ok(first > 0 && first < 400 - 3 * 40, `first kept line ${first}`);
  assert.deepEqual(all, Array.from({ length: 400 - first }, (_, i) => `line ${String(first + i).padStart(3, '0')} ${'x'.repeat(20)}`));
  assert.deepEqual(texts(await again.recent({ limit: 2, process: 'worker', since: null, grep: null })), ['line 397 xxxxxxxxxxxxxxxxxxxx', 'line 399 xxxxxxxxxxxxxxxxxxxx']);
  assert.deepEqual(texts(await again.recent({ limit: 100, process: null, since: null, grep: 'line 30' })), Array.from({ length: 10 }, (_, i) => `line 30${i} xxxxxxxxxxxxxxxxxxxx`));
  // since: the lines of the last 5 seconds (one per second of the test clock), however many files back.
  assert.deepEqual(texts(await again.recent({ limit: 100, process: null, since: c.at - 4_000, grep: null })).map((text) => text.slice(0, 8)), [
    'line 395',
    'line 396',
    'line 397',
    'line 398',
    'line 399',
  ]);
  const since = START + 150 * 1_000;
  const fromThere = await again.recent({ limit: 2000, process: null, since, grep: null });
  assert.equal(fromThere[0]!.at, Math.max(since, START + (first + 1) * 1_000));
  assert.equal(fromThere.length, 400 - Math.max(149, first));
  // New lines go on in the same current file.
  again.add('web.1', 'after the restart');
  assert.deepEqual(texts(await again.recent(everyLine(2))), ['line 399 xxxxxxxxxxxxxxxxxxxx', 'after the restart']);
});

test('a quiet log still rotates once its file is a day old, and files older than 7 days are deleted', async (t) => {
  const dir = await tempDir(t);
  const c = clock();
  const log = open(t, dir, c.now, { keepFiles: 5 });
  log.add('web.1', 'day 0');
  await log.flush();
  c.at += DAY - 1;
  await log.flush();
  assert.deepEqual(await files(dir), ['app.log']);
  c.at += 1;
  await log.flush();
  assert.deepEqual(await files(dir), ['app.log', 'app.log.2026-01-10T12-00-00.000Z']);
  assert.equal((await stat(join(dir, 'app.log'))).size, 0);
  for (let day = 1; day <= 3; day++) {
    log.add('web.1', `day ${day}`);
    c.at += DAY;
    await log.flush();
  }
  // Each check rotated the day's file: day 0 to day 3, named after their lines.
  assert.deepEqual(await files(dir), ['app.log', 'app.log.2026-01-10T12-00-00.000Z', 'app.log.2026-01-11T12-00-00.000Z', 'app.log.2026-01-12T12-00-00.000Z', 'app.log.2026-01-13T12-00-00.000Z']);
  // Eight days on, day 0's file (its newest line 8 days old) goes; day 1's, exactly 7 days old, stays.
  c.at = START + 8 * DAY;
  await log.flush();
  assert.deepEqual(await files(dir), ['app.log', 'app.log.2026-01-11T12-00-00.000Z', 'app.log.2026-01-12T12-00-00.000Z', 'app.log.2026-01-13T12-00-00.000Z']);
  assert.deepEqual(texts(await log.recent(everyLine())), ['day 1', 'day 2', 'day 3']);
  // Files berth did not name are never touched.
  await writeFile(join(dir, 'notes.txt'), 'mine');
  c.at += 30 * DAY;
  await log.flush();
  assert.deepEqual(await files(dir), ['app.log', 'notes.txt']);
  assert.deepEqual(await log.recent(everyLine()), []);
});

test('a burst faster than the disk is bounded: lines beyond the queue are counted in one "N lines dropped" marker', async (t) => {
  const dir = await tempDir(t);
  const c = clock();
  const log = open(t, dir, c.now, { maxPendingBytes: 8 * 1024 });
  const followed: string[] = [];
  const stop = log.follow((line) => followed.push(line.text));
  // 2,000 lines of about 90 bytes in one go: far more than 8 KiB can hold before the writer runs.
  for (let i = 0; i < 2_000; i++) log.add('web.1', `burst ${i} ${'y'.repeat(40)}`);
  await log.flush();
  log.add('web.1', 'after the burst');
  stop();
  await log.flush();
  // Followers see every line; the disk has what fit, a marker in place of the rest, and what came after.
  assert.equal(followed.length, 2_001);
  const stored = await log.recent(everyLine(2000));
  const markers = stored.filter((line) => line.source === 'berth');
  assert.equal(markers.length, 1);
  const dropped = Number(/^(\d+) lines dropped/.exec(markers[0]!.text)?.[1]);
  assert.ok(dropped > 1_000, markers[0]!.text);
  assert.equal(stored.length - 1 + dropped, 2_001);
  assert.equal(stored.at(-1)!.text, 'after the burst');
  assert.deepEqual(stored.at(-2), markers[0]);
  // The lines kept are the first ones, in order.
  assert.deepEqual(texts(stored.slice(0, 3)).map((text) => text.split(' ')[1]), ['0', '1', '2']);
});

test('recentThenFollow hands over from the files to new lines without losing or repeating one', async (t) => {
  const dir = await tempDir(t);
  const log = open(t, dir, clock().now);
  const web: string[] = [];
  const add = (source: string, text: string) => {
    log.add(source, text);
    if (source.startsWith('web.')) web.push(text);
  };
  // A few web lines far back, then enough other output that reading back to them takes many reads.
  for (let i = 0; i < 12; i++) add('web.1', `old ${i}`);
  for (let i = 0; i < 20_000; i++) add('worker.1', `busy ${i} ${'w'.repeat(60)}`);
  await log.flush();
  for (let i = 0; i < 5; i++) add('web.1', `queued ${i}`); // not written yet
  const seen: string[] = [];
  const following = log.recentThenFollow({ limit: 10, process: 'web', since: null, grep: null }, (line) => seen.push(line.text));
  // While the files are read, lines keep coming, between reads.
  let resolved = false;
  void following.then(() => (resolved = true));
  let during = 0;
  for (let turn = 0; turn < 2_000 && !resolved; turn++) {
    add(turn % 2 === 0 ? 'web.2' : 'worker.1', `during ${turn}`);
    if (turn % 2 === 0) during++;
    await new Promise((resolve) => setImmediate(resolve));
  }
  const stop = await following;
  assert.ok(during > 3, 'lines came in while the files were read');
  add('web.1', 'after');
  add('worker.1', 'not web');
  stop();
  log.add('web.1', 'unsubscribed');
  // The last 10 web lines at the moment the view was fixed, then every later one: a tail of all web lines, in order.
  assert.ok(seen.length >= 10 + 1);
  assert.deepEqual(seen, web.slice(web.length - seen.length));
  assert.equal(seen.at(-1), 'after');
  assert.ok(seen.includes('old 11') || seen.length - 1 < web.length - 12, 'the recent part reached back into the files');
});

test('a line torn by a crash is skipped, and the next line starts clean', async (t) => {
  const dir = await tempDir(t);
  const log = open(t, dir, clock().now);
  log.add('web.1', 'whole');
  await log.close();
  await appendFile(join(dir, 'app.log'), '{"at":"2026-01-10T12:00:00.000Z","source":"web.1","te');
  const again = open(t, dir, clock(START + 5).now);
  again.add('web.1', 'next');
  assert.deepEqual(texts(await again.recent(everyLine())), ['whole', 'next']);
  const raw = await readFile(join(dir, 'app.log'), 'utf8');
  assert.match(raw, /"te\n\{"at":"2026-01-10T12:00:00.005Z","source":"web.1","text":"next"\}\n$/);
});

test('close writes what is queued, is idempotent, and later lines are ignored', async (t) => {
  const dir = await tempDir(t);
  const log = open(t, dir, clock().now, { maxLineChars: 100 });
  log.add('web.1', 'one');
  log.add('web.1', 'z'.repeat(500));
  const closing = log.close();
  assert.equal(log.close(), closing);
  await closing;
  log.add('web.1', 'too late');
  const lines = (await readFile(join(dir, 'app.log'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line).text);
  assert.deepEqual(lines, ['one', `${'z'.repeat(100)}…`]);
  // The files stay readable after close (what the API shows for a stopped daemon's last lines).
  assert.deepEqual(texts(await log.recent(everyLine())), lines);
});

test('a log that was never written leaves no files; a folder that cannot be made is reported once and lines count as dropped', async (t) => {
  const dir = await tempDir(t);
  const quiet = new AppLog({ dir });
  await quiet.close();
  await assert.rejects(stat(dir), { code: 'ENOENT' });

  // The parent of the log folder is a file: nothing can be written.
  await writeFile(join(dir, '..', '..', 'blocker'), '');
  const errors: Error[] = [];
  const blocked = open(t, join(dir, '..', '..', 'blocker', 'logs'), clock().now, {}, errors);
  blocked.add('web.1', 'one');
  blocked.add('web.1', 'two');
  await blocked.flush();
  blocked.add('web.1', 'three');
  await blocked.flush();
  assert.equal(errors.length, 1, errors.map(String).join('\n'));
  assert.match(errors[0]!.message, /ENOTDIR/);
  assert.deepEqual(await blocked.recent(everyLine()), []);
});
