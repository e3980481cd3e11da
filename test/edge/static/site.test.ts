import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createStaticSite, STATIC_DEFAULTS } from '../../../src/edge/static/index.ts';
import { BerthError } from '../../../src/errors.ts';
import { tempDir } from './helpers.ts';

test('a missing root is BERTH_E_STATIC_ROOT with a hint', async (t) => {
  const dir = await tempDir(t);
  await assert.rejects(createStaticSite({ root: join(dir, 'nope') }), (err: unknown) => {
    assert.ok(err instanceof BerthError);
    assert.equal(err.code, 'BERTH_E_STATIC_ROOT');
    assert.ok(err.hint !== undefined && err.hint.length > 0);
    assert.match(err.message, /nope/);
    return true;
  });
});

test('a root that is a file is BERTH_E_STATIC_ROOT', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'file'), 'x');
  await assert.rejects(createStaticSite({ root: join(dir, 'file') }), (err: unknown) => {
    assert.ok(err instanceof BerthError);
    assert.equal(err.code, 'BERTH_E_STATIC_ROOT');
    assert.match(err.message, /not a folder/);
    return true;
  });
});

test('the root is resolved to its realpath once', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'real'));
  await symlink('real', join(dir, 'link'));
  const site = await createStaticSite({ root: join(dir, 'link') });
  assert.equal(site.root, join(dir, 'real'));
});

test('defaults are defined once and applied', async (t) => {
  const dir = await tempDir(t);
  const site = await createStaticSite({ root: dir });
  assert.deepEqual(site.index, ['index.html']);
  assert.equal(site.immutable, STATIC_DEFAULTS.immutable);
  assert.equal(site.compressCacheBytes, 32 * 1024 * 1024);
});

for (const index of [[''], ['.'], ['..'], ['a/b'], ['.index.html'], ['a\\b'], ['a\0b']]) {
  test(`index name ${JSON.stringify(index[0])} is refused`, async (t) => {
    const dir = await tempDir(t);
    await assert.rejects(createStaticSite({ root: dir, index }), { code: 'BERTH_E_USAGE' });
  });
}

for (const bytes of [-1, 1.5, Number.NaN, Infinity]) {
  test(`compressCacheBytes ${bytes} is refused`, async (t) => {
    const dir = await tempDir(t);
    await assert.rejects(createStaticSite({ root: dir, compressCacheBytes: bytes }), { code: 'BERTH_E_USAGE' });
  });
}

const IMMUTABLE: Array<[string, boolean]> = [
  ['/app.3f2a9c1b.js', true],
  ['/assets/app-3F2A9C1B.css', true],
  ['/chunk.0123456789abcdef.js', true],
  ['/a.b.deadbeef.woff2', true],
  ['/app.3f2a9c1.js', false], // 7 hex digits
  ['/app.js', false],
  ['/app.3f2a9c1b', false], // no extension after the hash
  ['/photo-20240101.jpg', false], // a date, not a hash
  ['/backup.12345678.zip', false],
  ['/app.3f2a9c1g.js', false],
  ['/app.3f2a9c1b.js/', false],
  ['/app.3f2a9c1b.tar.gz', false],
  ['/3f2a9c1b.js', false], // no separator before the hash
];

for (const [path, expected] of IMMUTABLE) {
  test(`default immutable pattern on ${path} is ${expected}`, () => {
    assert.equal(STATIC_DEFAULTS.immutable.test(path), expected);
  });
}
