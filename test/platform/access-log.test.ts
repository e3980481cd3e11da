import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExchangeRecord } from '../../src/edge/index.ts';
import {
  accessEntry,
  accessLineFormatter,
  accessLogLine,
  clfTime,
  createAccessLog,
  escapeQuoted,
  formatAccessLine,
  parseAccessEntry,
  parseAccessFormat,
} from '../../src/platform/access-log.ts';
import { everyLine } from '../../src/platform/app-log-query.ts';

const T = Date.UTC(2000, 9, 10, 13, 55, 36, 123);

function record(overrides: Partial<ExchangeRecord> = {}): ExchangeRecord {
  return {
    site: 'shop',
    time: T,
    method: 'GET',
    target: '/apache_pb.gif',
    host: 'shop.localhost',
    status: 200,
    bytes: 2326,
    durationMs: 1.23456,
    upstream: 'web.1',
    requestId: 'req-1',
    client: '127.0.0.1',
    protocol: 'HTTP/1.0',
    cache: null,
    referer: 'http://www.example.com/start.html',
    userAgent: 'Mozilla/4.08 [en] (Win98; I ;Nav)',
    ...overrides,
  };
}

test('the common log format time is dd/Mon/yyyy:HH:MM:SS +0000 in UTC', () => {
  assert.equal(clfTime(T), '10/Oct/2000:13:55:36 +0000');
  assert.equal(clfTime(Date.UTC(2026, 0, 2, 3, 4, 5)), '02/Jan/2026:03:04:05 +0000');
});

test('common and combined lines are exactly Apache and nginx formats', () => {
  const entry = accessEntry(record());
  assert.equal(formatAccessLine(entry, 'common'), '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /apache_pb.gif HTTP/1.0" 200 2326');
  assert.equal(
    formatAccessLine(entry, 'combined'),
    '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"',
  );
});

test('missing values are "-", HTTP/2 is written HTTP/2.0, and no bytes is "-"', () => {
  const entry = accessEntry(record({ referer: null, userAgent: '', bytes: 0, protocol: 'HTTP/2', status: 304, upstream: null }));
  assert.equal(formatAccessLine(entry, 'combined'), '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /apache_pb.gif HTTP/2.0" 304 - "-" "-"');
  assert.equal(entry.instance, null);
  assert.equal(accessLogLine(record({ upstream: null })).source, '-');
});

test('quotes, backslashes, control characters and non-ASCII are escaped inside quotes', () => {
  assert.equal(escapeQuoted('a"b\\c'), 'a\\"b\\\\c');
  assert.equal(escapeQuoted('tab\there\u001b[31m'), 'tab\\x09here\\x1B[31m');
  assert.equal(escapeQuoted('ü'), '\\xC3\\xBC');
  // The edge keeps header bytes as latin1 characters: a UTF-8 user agent reads as UTF-8 in JSON, and as its bytes in combined.
  const utf8 = Buffer.from('Agent ü "x"', 'utf8').toString('latin1');
  const entry = accessEntry(record({ userAgent: utf8, referer: 'x\\y' }));
  assert.equal(entry.userAgent, 'Agent ü "x"');
  assert.ok(formatAccessLine(entry, 'combined').endsWith(' "x\\\\y" "Agent \\xC3\\xBC \\"x\\""'));
  const spaced = accessEntry(record({ client: 'a b' }));
  assert.ok(formatAccessLine(spaced, 'common').startsWith('a\\x20b - - '));
});

test('the JSON line holds every field, the instance that answered, and reads back', () => {
  const line = accessLogLine(record());
  assert.equal(line.at, T);
  assert.equal(line.source, 'web.1');
  const parsed = JSON.parse(line.text);
  assert.deepEqual(Object.keys(parsed), ['time', 'method', 'path', 'host', 'status', 'bytes', 'durationMs', 'instance', 'requestId', 'client', 'protocol', 'cache', 'referer', 'userAgent']);
  assert.equal(parsed.time, '2000-10-10T13:55:36.123Z');
  assert.equal(parsed.instance, 'web.1');
  assert.equal(accessEntry(record({ upstream: 'web.2' })).instance, 'web.2');
  assert.equal(parsed.durationMs, 1.235);
  assert.deepEqual(parseAccessEntry(line.text), parsed);
  assert.equal(formatAccessLine(parsed, 'json'), line.text);
  assert.equal(parseAccessEntry('{"time":"x"}'), null);
  assert.equal(parseAccessEntry('not json'), null);
});

test('long paths and headers are cut, so a line is never cut in the middle of its JSON', () => {
  const entry = accessEntry(record({ target: `/${'a'.repeat(10_000)}`, userAgent: '"'.repeat(5_000) }));
  assert.equal(entry.path.length, 4001);
  assert.ok(entry.path.endsWith('…'));
  assert.ok(JSON.stringify(entry).length < 16 * 1024);
});

test('format= accepts json, common and combined', () => {
  assert.equal(parseAccessFormat(null), 'json');
  assert.equal(parseAccessFormat('combined'), 'combined');
  assert.throws(() => parseAccessFormat('apache'), { code: 'BERTH_E_USAGE' });
});

async function storedLines(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8')).split('\n').filter((line) => line !== '');
}

test('an access log stores one JSON object a line, rotates by size, and reads back through the formatter', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-access-log-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  let now = T;
  const log = createAccessLog({ dir, now: () => now, limits: { maxFileBytes: 2048 } });
  for (let i = 0; i < 20; i++) {
    now = T + i * 1000;
    const line = accessLogLine(record({ time: now, target: `/page/${i}`, requestId: `req-${i}`, upstream: i % 2 === 0 ? 'web.1' : 'web.2' }));
    log.add(line.source, line.text, line.at);
  }
  await log.flush();
  const files = (await readdir(dir)).sort();
  assert.ok(files.includes('access.log'));
  assert.ok(files.some((name) => /^access\.log\.\d{4}-\d{2}-\d{2}T/.test(name)), files.join(' '));
  for (const file of files) for (const text of await storedLines(join(dir, file))) assert.ok(parseAccessEntry(text), text);

  const all = await log.recent(everyLine());
  assert.deepEqual(all.map((line) => JSON.parse(line.text).requestId), Array.from({ length: 20 }, (_, i) => `req-${i}`));
  const web2 = await log.recent({ ...everyLine(), process: 'web.2' });
  assert.equal(web2.length, 10);
  const grep = await log.recent({ ...everyLine(), grep: '/page/13' });
  assert.equal(grep.length, 1);
  const since = await log.recent({ ...everyLine(), since: T + 18_000 });
  assert.equal(since.length, 2);
  assert.equal(accessLineFormatter('common')(since[0]!), '127.0.0.1 - - [10/Oct/2000:13:55:54 +0000] "GET /page/18 HTTP/1.0" 200 2326');
  assert.equal(accessLineFormatter('json')(since[1]!), since[1]!.text);
  await log.close();

  // Reopened (a daemon restart): the same lines from the files.
  const again = createAccessLog({ dir, now: () => now, limits: { maxFileBytes: 2048 } });
  t.after(() => again.close());
  assert.equal((await again.recent(everyLine())).length, 20);
});

test('when the disk falls behind, a marker is stored as {time, note} and only JSON shows it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-access-log-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const log = createAccessLog({ dir, limits: { maxPendingBytes: 4096 } });
  for (let i = 0; i < 200; i++) {
    const line = accessLogLine(record({ requestId: `burst-${i}`, time: Date.now() }));
    log.add(line.source, line.text, line.at);
  }
  await log.close();
  const stored = (await storedLines(join(dir, 'access.log'))).map((text) => JSON.parse(text));
  const marker = stored.find((line) => typeof line.note === 'string');
  assert.ok(marker, 'a marker line');
  assert.match(marker.note, /^\d+ lines dropped/);
  assert.equal(typeof marker.time, 'string');
  const reopened = createAccessLog({ dir });
  t.after(() => reopened.close());
  const lines = await reopened.recent(everyLine());
  const markerLine = lines.find((line) => line.source === 'berth')!;
  assert.equal(accessLineFormatter('combined')(markerLine), null);
  assert.match(accessLineFormatter('json')(markerLine)!, /"note":"\d+ lines dropped/);
});
