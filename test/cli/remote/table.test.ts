import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cell, formatBytes, formatFields, formatFormation, formatJson, formatList, formatTable, formatTime } from '../../../src/cli/remote/table.ts';
import { releasesTable } from '../../../src/cli/remote/releases.ts';

test('a table has a header row and aligned columns, two spaces apart, no trailing spaces', () => {
  const text = formatTable(
    ['NAME', 'RELEASE', 'URL'],
    [
      ['shop', 'v12', 'http://shop.localhost'],
      ['blog-2', null, 'http://blog-2.localhost'],
    ],
  );
  assert.equal(text, ['NAME    RELEASE  URL', 'shop    v12      http://shop.localhost', 'blog-2  -        http://blog-2.localhost', ''].join('\n'));
});

test('a table with no rows is its header; the last column is never padded', () => {
  assert.equal(formatTable(['KEY', 'VALUE'], []), 'KEY  VALUE\n');
  assert.equal(formatTable(['A', 'B'], [['x', '']]), 'A  B\nx  -\n');
  for (const line of formatTable(['LONG HEADER', 'X'], [['a', 'b']]).split('\n')) assert.equal(line, line.trimEnd());
});

test('columns count characters, not UTF-16 units', () => {
  assert.equal(formatTable(['A', 'B'], [['café', 'x'], ['abc', 'y']]), 'A     B\ncafé  x\nabc   y\n');
  assert.equal(formatTable(['A', 'B'], [['𝔸', 'x']]), 'A  B\n𝔸  x\n');
});

test('control characters from the server are shown, never sent to the terminal', () => {
  assert.equal(cell('a\nb\tc\u001b[31m'), 'a\\nb\\tc\\x1b[31m');
  assert.equal(cell(null), '-');
  assert.equal(cell(undefined), '-');
  assert.equal(cell(0), '0');
  const table = formatTable(['DESCRIPTION'], [['line one\nline two']]);
  assert.equal(table.split('\n').length, 3);
});

test('key/value fields align their values', () => {
  assert.equal(formatFields([['app', 'shop'], ['formation', 'web=2'], ['domains', null]]), 'app:        shop\nformation:  web=2\ndomains:    -\n');
});

test('times are shown in UTC to the second; anything else as it came', () => {
  assert.equal(formatTime('2026-01-02T03:04:05.678Z'), '2026-01-02 03:04:05 UTC');
  assert.equal(formatTime('2026-01-02T04:04:05+01:00'), '2026-01-02 03:04:05 UTC');
  assert.equal(formatTime(null), '-');
  assert.equal(formatTime('yesterday'), 'yesterday');
});

test('sizes, formations, lists and JSON', () => {
  assert.equal(formatBytes(0), '0 bytes');
  assert.equal(formatBytes(1), '1 byte');
  assert.equal(formatBytes(1023), '1023 bytes');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(200 * 1024 * 1024), '200 MiB');
  assert.equal(formatFormation({ worker: 1, web: 3 }), 'web=3 worker=1');
  assert.equal(formatFormation({}), '');
  assert.equal(formatList(['A']), 'A');
  assert.equal(formatList(['A', 'B', 'C']), 'A, B and C');
  assert.equal(formatJson({ apps: [] }), '{\n  "apps": []\n}\n');
});

test('releases: an IMAGE column (the digest, shortened) only when a release ran on Kubernetes', () => {
  const base = { kind: 'deploy', description: 'Deploy 3f2a9c1', status: 'succeeded', createdAt: '2026-12-07T10:00:00.000Z' };
  const local = releasesTable([{ ...base, version: 1, name: 'v1', current: true }]);
  assert.doesNotMatch(local, /IMAGE/);
  const onCluster = releasesTable([
    { ...base, version: 2, name: 'v2', current: true, image: `registry.example.com/apps/shop@sha256:${'ab'.repeat(32)}` },
    { ...base, version: 1, name: 'v1', current: false },
  ]);
  assert.match(onCluster, /IMAGE/);
  assert.match(onCluster, /sha256:abababababab\b/);
  assert.doesNotMatch(onCluster, /registry\.example\.com/, 'the whole reference is in --json');
  assert.match(onCluster.split('\n').find((line) => line.startsWith('v1'))!, / - /);
});
