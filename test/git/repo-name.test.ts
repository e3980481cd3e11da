import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSshCommand, repositoryApp, serviceOf } from '../../src/git/index.ts';

test('a repository path names an app: NAME.git, /NAME.git, NAME, a trailing slash', () => {
  for (const path of ['shop.git', '/shop.git', 'shop', '/shop', 'shop.git/', '/shop/']) assert.equal(repositoryApp(path), 'shop', path);
  assert.equal(repositoryApp('blog-2.git'), 'blog-2');
});

test('anything else is refused with BERTH_E_GIT_REPO (400) naming the path', () => {
  for (const path of ['../x.git', 'bad;name.git', 'a/b.git', '/srv/git/shop.git', '.git', '', 'Shop.git', 'shop.git.git', 'shop..git', 'x--y.git', '%2e%2e', 'shop\0.git', 'shop .git']) {
    assert.throws(() => repositoryApp(path), (err: { code?: string; status?: number; message?: string }) => err.code === 'BERTH_E_GIT_REPO' && err.status === 400 && /is not a berth repository/.test(err.message ?? ''), path);
  }
});

test('git services by their wire names only', () => {
  assert.equal(serviceOf('git-receive-pack'), 'receive-pack');
  assert.equal(serviceOf('git-upload-pack'), 'upload-pack');
  for (const name of [null, '', 'receive-pack', 'git-upload-archive', 'git-receive-pack ']) assert.equal(serviceOf(name), null);
});

test('SSH commands: the quoting variants git and other clients send', () => {
  const cases: Array<[string, string, string]> = [
    ["git-receive-pack 'shop.git'", 'receive-pack', 'shop'],
    ["git-receive-pack '/shop.git'", 'receive-pack', 'shop'],
    ["git-upload-pack 'shop.git'", 'upload-pack', 'shop'],
    ["git receive-pack 'shop.git'", 'receive-pack', 'shop'],
    ['git-receive-pack "shop.git"', 'receive-pack', 'shop'],
    ['git-receive-pack shop.git', 'receive-pack', 'shop'],
    ["git-upload-pack '~/shop.git'", 'upload-pack', 'shop'],
    ["git-upload-pack 'shop'", 'upload-pack', 'shop'],
    ["  git-receive-pack '/shop/'  ", 'receive-pack', 'shop'],
  ];
  for (const [command, service, app] of cases) assert.deepEqual(parseSshCommand(command), { service, app }, command);
});

test('SSH commands that are not git are null; git with a bad path is refused', () => {
  for (const command of ['', 'ls', 'sh -c id', 'scp -t /tmp', 'git-upload-archive shop.git', 'git-receive-pack', 'rsync --server .', "bash -c 'git-receive-pack shop.git'"]) {
    assert.equal(parseSshCommand(command), null, command);
  }
  for (const command of ["git-receive-pack '../x.git'", "git-receive-pack 'bad;name.git'", "git-receive-pack 'a'\\''b.git'", "git-receive-pack 'shop.git", "git-receive-pack 'shop.git' extra", 'git-receive-pack shop.git;id', "git-receive-pack '/srv/shop.git'"]) {
    assert.throws(() => parseSshCommand(command), { code: 'BERTH_E_GIT_REPO' }, command);
  }
});
