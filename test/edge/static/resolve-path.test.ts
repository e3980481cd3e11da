import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, symlink, writeFile, realpath } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasHiddenSegment, isInsideRoot, parseTarget, resolveInRoot } from '../../../src/edge/static/resolve-path.ts';

// [target, expected status]. Every way we know to spell "leave the root" or
// "smuggle a byte the file system treats specially".
const REJECTED: Array<[string, 400 | 404]> = [
  // plain dot segments: never normalised, always refused
  ['/..', 400],
  ['/../secret.txt', 400],
  ['/a/../secret.txt', 400],
  ['/a/..', 400],
  ['/a/../', 400],
  ['/.', 400],
  ['/./a', 400],
  ['/a/.', 400],
  ['/a/./b', 400],
  // encoded dots, every case mix
  ['/%2e%2e/secret.txt', 400],
  ['/%2E%2E/secret.txt', 400],
  ['/%2E%2e/secret.txt', 400],
  ['/%2e%2E/secret.txt', 400],
  ['/.%2e/secret.txt', 400],
  ['/%2e./secret.txt', 400],
  ['/a/%2e%2e', 400],
  ['/a/%2e', 400],
  ['/%2e/a', 400],
  // encoded slash: refused outright, even when harmless-looking
  ['/..%2fsecret.txt', 400],
  ['/..%2Fsecret.txt', 400],
  ['/%2e%2e%2fsecret.txt', 400],
  ['/a%2fb', 400],
  ['/%2F', 400],
  // backslashes, raw and encoded
  ['/a\\b', 400],
  ['/..\\secret.txt', 400],
  ['/%5c..%5csecret.txt', 400],
  ['/..%5csecret.txt', 400],
  ['/%5C', 400],
  ['/a%5Cb', 400],
  // NUL and other control characters
  ['/a%00b', 400],
  ['/%00', 400],
  ['/secret.txt%00.html', 400],
  ['/a%0ab', 400],
  ['/a%0d%0aSet-Cookie:x', 400],
  ['/a%09b', 400],
  ['/a%1fb', 400],
  ['/a%7fb', 400],
  ['/a%c2%80b', 400], // U+0080, a C1 control
  ['/a%c2%9fb', 400], // U+009F
  // invalid UTF-8, including overlong encodings of '.' and '/'
  ['/%c0%ae%c0%ae/secret.txt', 400],
  ['/%c0%ae', 400],
  ['/%C0%AE%C0%AE%C0%AF', 400],
  ['/%c0%af', 400],
  ['/%c1%9c', 400],
  ['/%e0%80%ae', 400],
  ['/%f0%80%80%ae', 400],
  ['/%ed%a0%80', 400], // a UTF-16 surrogate
  ['/%ff', 400],
  ['/%fe%ff', 400],
  ['/%80', 400],
  ['/%e2%82', 400], // truncated sequence
  // malformed percent-encoding
  ['/%', 400],
  ['/a%', 400],
  ['/%2', 400],
  ['/a%2', 400],
  ['/%zz', 400],
  ['/%g0', 400],
  ['/%0g', 400],
  ['/%u002e%u002e/secret.txt', 400],
  ['/%%32%65', 400],
  // empty segments are not collapsed
  ['//', 400],
  ['//etc/passwd', 400],
  ['/a//b', 400],
  ['/a//', 400],
  // not an origin-form path
  ['', 400],
  ['*', 400],
  ['a/b', 400],
  ['../secret.txt', 400],
  ['http://example.com/a', 400],
  ['%2e%2e/secret.txt', 400],
  // raw bytes RFC 3986 does not allow
  ['/a b', 400],
  ['/a\tb', 400],
  ['/a\u0000b', 400],
  ['/a\r\nb', 400],
  ['/caf\u00e9', 400],
  ['/\u2024\u2024/secret.txt', 400], // one-dot leader, raw
  ['/a#b', 400],
  ['/a?b#c', 400],
  ['/a?x=\r\nSet-Cookie: y', 400],
  ['/a?x y', 400],
  // hidden files
  ['/.env', 404],
  ['/.git/config', 404],
  ['/.git/', 404],
  ['/a/.htaccess', 404],
  ['/a/.htpasswd', 404],
  ['/...', 404],
  ['/..a', 404],
  ['/..;/secret.txt', 404], // the Tomcat path-parameter trick: a hidden name here
  ['/.well-knownx/a', 404],
  ['/.Well-Known/a', 404],
  ['/%2egit/config', 404],
  ['/%2Eenv', 404],
  // 400 outranks 404 when a path is both hidden and malformed
  ['/.git/../secret.txt', 400],
  ['/.env%00', 400],
];

for (const [target, status] of REJECTED) {
  test(`parseTarget rejects ${JSON.stringify(target)} with ${status}`, () => {
    const parsed = parseTarget(target);
    assert.equal(parsed.ok, false, `accepted: ${JSON.stringify(parsed)}`);
    if (!parsed.ok) assert.equal(parsed.status, status, parsed.reason);
  });
}

// [target, decoded path, query]
const ACCEPTED: Array<[string, string, string]> = [
  ['/', '/', ''],
  ['/a', '/a', ''],
  ['/a/', '/a/', ''],
  ['/a/b/c.css', '/a/b/c.css', ''],
  ['/a.b', '/a.b', ''],
  ['/a..b', '/a..b', ''],
  ['/b..', '/b..', ''],
  ['/a%20b/c.css?v=1', '/a b/c.css', '?v=1'],
  ['/a?', '/a', '?'],
  ['/a?x=../../etc/passwd', '/a', '?x=../../etc/passwd'],
  ['/a?x=%zz&y=%00', '/a', '?x=%zz&y=%00'], // the query is not ours to decode
  ['/a?x=\\', '/a', '?x=\\'],
  ['/a?b?c', '/a', '?b?c'],
  ['/%E2%82%AC', '/\u20ac', ''],
  ['/caf%C3%A9', '/caf\u00e9', ''],
  ['/caf%c3%a9', '/caf\u00e9', ''],
  ['/%F0%9F%98%80.png', '/\u{1f600}.png', ''],
  ['/%EF%BB%BFa', '/\ufeffa', ''], // a BOM is a character, not dropped
  ['/%3f', '/?', ''],
  ['/%23', '/#', ''],
  ['/%25', '/%', ''],
  ['/%252e%252e/secret.txt', '/%2e%2e/secret.txt', ''], // decoded once only
  ['/%252f', '/%2f', ''],
  ['/a;b,c:d@e!$&\'()*+=~_-', "/a;b,c:d@e!$&'()*+=~_-", ''],
  ['/%41%42', '/AB', ''],
  ['/.well-known/acme-challenge/token', '/.well-known/acme-challenge/token', ''],
  ['/.well-known/', '/.well-known/', ''],
  ['/%2ewell-known/security.txt', '/.well-known/security.txt', ''],
];

for (const [target, path, query] of ACCEPTED) {
  test(`parseTarget accepts ${JSON.stringify(target)}`, () => {
    const parsed = parseTarget(target);
    assert.ok(parsed.ok, `rejected: ${JSON.stringify(parsed)}`);
    if (parsed.ok) {
      assert.equal(parsed.path, path);
      assert.equal(parsed.query, query);
      assert.equal(parsed.rawPath, target.split('?')[0]);
    }
  });
}

const INSIDE: Array<[string, string, boolean]> = [
  ['/srv/site', '/srv/site', true],
  ['/srv/site', '/srv/site/a', true],
  ['/srv/site', '/srv/site/a/b/c', true],
  ['/srv/site', '/srv/site-secrets/a', false],
  ['/srv/site', '/srv/sitea', false],
  ['/srv/site', '/srv', false],
  ['/srv/site', '/srv/other/site', false],
  ['/srv/site', '/etc/passwd', false],
  ['/', '/etc/passwd', true],
  ['/', '/', true],
];

for (const [root, real, inside] of INSIDE) {
  test(`isInsideRoot(${root}, ${real}) is ${inside}`, () => {
    assert.equal(isInsideRoot(root, real), inside);
  });
}

const HIDDEN: Array<[string, string, boolean]> = [
  ['/srv/site', '/srv/site', false],
  ['/srv/site', '/srv/site/a/b.css', false],
  ['/srv/site', '/srv/site/.env', true],
  ['/srv/site', '/srv/site/a/.git/config', true],
  ['/srv/site', '/srv/site/.well-known/x', false],
  ['/srv/site', '/srv/site/.well-knownx', true],
  ['/srv/site', '/srv/site/a.b/c', false],
  ['/home/u/.local/site', '/home/u/.local/site/a', false], // the root's own dots do not count
  ['/', '/.env', true],
  ['/', '/etc/passwd', false],
];

for (const [root, real, hidden] of HIDDEN) {
  test(`hasHiddenSegment(${root}, ${real}) is ${hidden}`, () => {
    assert.equal(hasHiddenSegment(root, real), hidden);
  });
}

test('resolveInRoot follows symlinks only while they stay inside the root', async (t) => {
  const base = await realpath(await mkdtemp(join(tmpdir(), 'berth-resolve-')));
  t.after(() => rm(base, { recursive: true, force: true }));
  const root = join(base, 'site');
  await mkdir(join(root, 'css'), { recursive: true });
  await mkdir(join(base, 'site-secrets'));
  await writeFile(join(base, 'secret.txt'), 'secret');
  await writeFile(join(base, 'site-secrets', 'key'), 'key');
  await writeFile(join(root, 'css', 'a.css'), 'a{}');
  await writeFile(join(root, '.env'), 'X=1');
  await symlink('css/a.css', join(root, 'alias.css'));
  await symlink('css', join(root, 'styles'));
  await symlink('../secret.txt', join(root, 'leak.txt'));
  await symlink(join(base, 'site-secrets'), join(root, 'secrets'));
  await symlink('.env', join(root, 'config.txt'));
  await symlink('missing', join(root, 'dangling'));
  await symlink('loop', join(root, 'loop'));
  execFileSync('mkfifo', [join(root, 'fifo')]);

  const cases: Array<[string, string, string?]> = [
    ['/css/a.css', 'file', join(root, 'css', 'a.css')],
    ['/alias.css', 'file', join(root, 'css', 'a.css')],
    ['/styles/a.css', 'file', join(root, 'css', 'a.css')],
    ['/css', 'directory', join(root, 'css')],
    ['/css/', 'directory', join(root, 'css')],
    ['/', 'directory', root],
    ['/styles/', 'directory', join(root, 'css')],
    ['/leak.txt', 'absent'],
    ['/secrets/key', 'absent'],
    ['/secrets', 'absent'],
    ['/config.txt', 'absent'],
    ['/dangling', 'absent'],
    ['/loop', 'absent'],
    ['/fifo', 'absent'],
    ['/css/a.css/', 'absent'],
    ['/nope', 'absent'],
    ['/nope/deeper', 'absent'],
  ];
  for (const [path, kind, real] of cases) {
    const found = await resolveInRoot(root, path);
    assert.equal(found.kind, kind, path);
    if (real !== undefined && found.kind !== 'absent') assert.equal(found.realPath, real, path);
  }
});
