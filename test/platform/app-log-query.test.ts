import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSinceArg } from '../../src/cli/remote/logs.ts';
import { BerthError } from '../../src/errors.ts';
import { isDuration, lineMatches, logQueryFromParams, MAX_GREP_LENGTH, parseGrep, parseSince, type LogLine, type LogQuery } from '../../src/platform/app-log-query.ts';

const NOW = Date.UTC(2026, 0, 10, 12, 0, 0, 0);
const usage = (err: unknown) => err instanceof BerthError && err.code === 'BERTH_E_USAGE' && err.status === 400;

test('lineMatches: process type or instance, since, and grep as a plain case-sensitive substring', () => {
  const line: LogLine = { at: NOW, source: 'web.1', text: 'GET /cart 200 (a+b)*' };
  type Filters = Pick<LogQuery, 'process' | 'since' | 'grep'>;
  const none: Filters = { process: null, since: null, grep: null };
  const table: Array<[Partial<Filters>, boolean]> = [
    [{}, true],
    [{ process: 'web' }, true],
    [{ process: 'web.1' }, true],
    [{ process: 'web.2' }, false],
    [{ process: 'we' }, false],
    [{ process: 'worker' }, false],
    [{ since: NOW }, true],
    [{ since: NOW - 1 }, true],
    [{ since: NOW + 1 }, false],
    [{ grep: '/cart' }, true],
    [{ grep: 'get' }, false],
    [{ grep: '(a+b)*' }, true], // characters a regex would treat specially are just text
    [{ grep: '.*' }, false],
    [{ grep: 'web.1' }, false], // the text only, not the source
    [{ process: 'web', since: NOW, grep: '200' }, true],
    [{ process: 'web', since: NOW, grep: '404' }, false],
  ];
  for (const [filters, expected] of table) assert.equal(lineMatches(line, { ...none, ...filters }), expected, JSON.stringify(filters));
  assert.equal(lineMatches({ at: NOW, source: 'web', text: '' }, { ...none, process: 'web' }), true);
  assert.equal(lineMatches({ at: NOW, source: 'webhook.1', text: '' }, { ...none, process: 'web' }), false);
});

test('since: a duration back from now, or an ISO date or time', () => {
  const table: Array<[string, number]> = [
    ['30s', NOW - 30_000],
    ['10m', NOW - 600_000],
    ['2h', NOW - 7_200_000],
    ['7d', NOW - 7 * 86_400_000],
    ['0s', NOW],
    [' 10m ', NOW - 600_000],
    ['2026-01-02', Date.UTC(2026, 0, 2)],
    ['2026-01-02T03:04:05Z', Date.UTC(2026, 0, 2, 3, 4, 5)],
    ['2026-01-02T03:04:05.678Z', Date.UTC(2026, 0, 2, 3, 4, 5, 678)],
    ['2026-01-02T03:04Z', Date.UTC(2026, 0, 2, 3, 4)],
    ['2026-01-02T05:04:05+02:00', Date.UTC(2026, 0, 2, 3, 4, 5)],
    ['2026-01-02 03:04:05Z', Date.UTC(2026, 0, 2, 3, 4, 5)],
  ];
  for (const [text, expected] of table) assert.equal(parseSince(text, NOW), expected, text);
  // Without a zone, local time (of whoever reads it).
  assert.equal(parseSince('2026-01-02T03:04:05', NOW), new Date(2026, 0, 2, 3, 4, 5).getTime());
  for (const bad of ['', '10', '10 m', '10min', '-5m', '1w', 'yesterday', '2026-13-45', '2026-01-02T25:00:00Z', 'now', '1e3s', '10m; rm -rf /', '2026-01-02T03:04:05Zjunk']) {
    assert.throws(() => parseSince(bad, NOW), usage, bad);
  }
  assert.equal(isDuration('10m'), true);
  assert.equal(isDuration('2026-01-02'), false);
});

test('grep: 1 to 1000 characters on one line, taken as they are', () => {
  assert.equal(parseGrep('a'), 'a');
  assert.equal(parseGrep('  spaced  '), '  spaced  ');
  assert.equal(parseGrep('x'.repeat(MAX_GREP_LENGTH)), 'x'.repeat(MAX_GREP_LENGTH));
  for (const bad of ['', 'x'.repeat(MAX_GREP_LENGTH + 1), 'two\nlines']) assert.throws(() => parseGrep(bad), usage);
});

test('the API query: lines clamped to 1..2000 (default 100), filters parsed, follow only with 1', () => {
  const q = (search: string) => logQueryFromParams(new URLSearchParams(search), NOW);
  assert.deepEqual(q(''), { query: { limit: 100, process: null, since: null, grep: null }, follow: false });
  assert.deepEqual(q('lines=5&process=web&since=10m&grep=GET%20%2F&follow=1'), {
    query: { limit: 5, process: 'web', since: NOW - 600_000, grep: 'GET /' },
    follow: true,
  });
  const limits: Array<[string, number]> = [['0', 100], ['-3', 1], ['1', 1], ['2000', 2000], ['2001', 2000], ['1e9', 2000], ['abc', 100]];
  for (const [lines, limit] of limits) assert.equal(q(`lines=${lines}`).query.limit, limit, lines);
  assert.equal(q('follow=true').follow, false);
  assert.throws(() => q('since=later'), usage);
  assert.throws(() => q('grep='), usage);
});

test('the CLI sends durations as given and times in UTC, so the server needs no time zone', () => {
  assert.equal(parseSinceArg(undefined), undefined);
  assert.equal(parseSinceArg('10m'), '10m');
  assert.equal(parseSinceArg('2026-01-02T05:04:05+02:00'), '2026-01-02T03:04:05.000Z');
  assert.equal(parseSinceArg('2026-01-02T03:04:05'), new Date(2026, 0, 2, 3, 4, 5).toISOString());
  assert.throws(() => parseSinceArg('soon'), (err: unknown) => err instanceof BerthError && err.code === 'BERTH_E_USAGE');
});
