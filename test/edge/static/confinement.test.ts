// What a site serves when its folders are someone else's to change: the
// lookup a site trusts for a while never leads to reading outside its root,
// the owner rule, the confinement of the root, and a root that cannot be
// served. The attacks through a real daemon are in test/security/.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, chown, link, mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createStaticSite, planStaticResponse, unavailableSite, type StaticResponse, type StaticSite, type StaticSiteOptions } from '../../../src/edge/static/index.ts';
import { bodyBytes, tempDir } from './helpers.ts';

const SECRET = 'OUTSIDE-SECRET-7d1e';
// The app's decoy: as long as the secret, so a byte count cannot give the swap away.
const DECOY = 'd'.repeat(SECRET.length);

type Fixture = { base: string; root: string; site: StaticSite; get: (target: string, method?: string) => Promise<StaticResponse> };

async function fixture(t: TestContext, options: Partial<StaticSiteOptions> = {}): Promise<Fixture> {
  const base = await tempDir(t);
  const root = join(base, 'release', 'static');
  await mkdir(join(root, 'sub'), { recursive: true });
  await mkdir(join(base, 'state'));
  await writeFile(join(base, 'state', 'admin-token'), SECRET);
  await writeFile(join(root, 'sub', 'admin-token'), DECOY);
  await writeFile(join(root, 'sub', 'big.bin'), Buffer.alloc(300 * 1024, 'b')); // streamed, opened per request
  await writeFile(join(base, 'state', 'big.bin'), Buffer.alloc(300 * 1024, SECRET));
  // Trusted for as long as the test runs: the swap lands inside the window.
  const site = await createStaticSite({ root, fileInfoValidMs: 60_000, ...options });
  return { base, root, site, get: (target, method = 'GET') => planStaticResponse(site, { method, target, headers: {} }) };
}

/** The folder `sub` becomes a link to the state folder, as an app would do it. */
async function swapSub(f: Fixture): Promise<void> {
  await rename(join(f.root, 'sub'), join(f.root, 'sub.real'));
  await symlink(join(f.base, 'state'), join(f.root, 'sub'));
}

/** What an engine would send: the body, or null where it answers 404 (the file may not be opened). */
async function served(plan: StaticResponse): Promise<string | null> {
  if (plan.status === 404) return null;
  if (plan.body.kind === 'file' && (await plan.body.file.open().then(async (fh) => (await fh?.close(), fh))) === null) return null;
  return (await bodyBytes(plan)).toString();
}

test('a folder swapped for a link while its lookup is trusted: the small file is never read from outside', async (t) => {
  const f = await fixture(t);
  // HEAD looks the file up (trusted from now on) without reading it.
  assert.equal((await f.get('/sub/admin-token', 'HEAD')).status, 200);
  await swapSub(f);
  const body = await served(await f.get('/sub/admin-token'));
  assert.notEqual(body, SECRET);
  assert.equal(body, null);
});

test('a folder swapped for a link while its lookup is trusted: a streamed file is never opened outside', async (t) => {
  const f = await fixture(t);
  assert.equal((await f.get('/sub/big.bin', 'HEAD')).status, 200);
  await swapSub(f);
  const plan = await f.get('/sub/big.bin');
  assert.equal(plan.body.kind, 'file');
  assert.equal(await served(plan), null);
  // The refusal drops the trusted lookups: the next request looks again, and finds the state folder outside the root.
  assert.equal((await f.get('/sub/big.bin')).status, 404);
});

test("content read before a swap stays the app's own: the caches never hold bytes from outside", async (t) => {
  const f = await fixture(t);
  assert.equal(await served(await f.get('/sub/admin-token')), DECOY);
  await swapSub(f);
  const body = await served(await f.get('/sub/admin-token'));
  assert.ok(body === DECOY || body === null, `got ${body}`);
});

test('a precompressed sibling replaced by a link out after it was found is not opened', async (t) => {
  const f = await fixture(t);
  const css = join(f.root, 'site.css');
  await writeFile(css, 'body{color:red}\n'.repeat(200));
  await writeFile(css + '.br', DECOY);
  const first = await planStaticResponse(f.site, { method: 'GET', target: '/site.css', headers: { 'accept-encoding': 'br' } });
  assert.equal(first.body.kind, 'file');
  await rename(css + '.br', css + '.br.real');
  await symlink(join(f.base, 'state', 'admin-token'), css + '.br');
  const plan = await planStaticResponse(f.site, { method: 'GET', target: '/site.css', headers: { 'accept-encoding': 'br' } });
  assert.notEqual(await served(plan), SECRET);
});

test('a FIFO or a device swapped in after the lookup is never opened (a FIFO would block the thread pool)', async (t) => {
  const f = await fixture(t);
  assert.equal((await f.get('/sub/big.bin', 'HEAD')).status, 200);
  assert.equal((await f.get('/sub/admin-token', 'HEAD')).status, 200);
  await rename(join(f.root, 'sub', 'big.bin'), join(f.root, 'sub', 'big.old'));
  execFileSync('mkfifo', [join(f.root, 'sub', 'big.bin')]);
  await rename(join(f.root, 'sub', 'admin-token'), join(f.root, 'sub', 'admin-token.old'));
  execFileSync('mkfifo', [join(f.root, 'sub', 'admin-token')]);
  assert.equal(await served(await f.get('/sub/big.bin')), null);
  assert.equal(await served(await f.get('/sub/admin-token')), null);
  await symlink('/dev/zero', join(f.root, 'zero'));
  assert.equal((await f.get('/zero')).status, 404);
});

test("the owner rule: only the owner's files, or files anyone may read, even through a hard link", async (t) => {
  assert.equal(process.getuid?.(), 0, 'this test makes files of other users: run it as root');
  const owner = 4343;
  const f = await fixture(t, { owner });
  const file = async (name: string, content: string, uid: number, mode: number) => {
    await writeFile(join(f.root, name), content);
    await chown(join(f.root, name), uid, uid);
    await chmod(join(f.root, name), mode);
  };
  await file('mine-private.txt', 'mine', owner, 0o600);
  await file('other-private.txt', 'other', 4444, 0o600);
  await file('other-public.txt', 'public', 4444, 0o644);
  await file('other-group.txt', 'group', 4444, 0o640);
  await chmod(join(f.base, 'state', 'admin-token'), 0o600);
  await link(join(f.base, 'state', 'admin-token'), join(f.root, 'hard-link'));
  assert.equal(await served(await f.get('/mine-private.txt')), 'mine');
  assert.equal(await served(await f.get('/other-public.txt')), 'public');
  assert.equal((await f.get('/other-private.txt')).status, 404);
  assert.equal((await f.get('/other-group.txt')).status, 404);
  assert.equal((await f.get('/hard-link')).status, 404);
  // Made private after its lookup was trusted: the open still refuses it.
  assert.equal((await f.get('/other-public.txt', 'HEAD')).status, 200);
  await writeFile(join(f.root, 'late.txt'), 'x'.repeat(300 * 1024));
  await chown(join(f.root, 'late.txt'), 4444, 4444);
  assert.equal((await f.get('/late.txt', 'HEAD')).status, 200);
  await chmod(join(f.root, 'late.txt'), 0o600);
  assert.equal(await served(await f.get('/late.txt')), null);
});

test('confine: a root that leads out of its folder is refused; one inside is served', async (t) => {
  const base = await tempDir(t);
  const release = join(base, 'release');
  await mkdir(join(release, 'dist', 'static'), { recursive: true });
  await writeFile(join(release, 'dist', 'static', 'a.txt'), 'a');
  await symlink('dist/static', join(release, 'static'));
  await symlink(base, join(release, 'escape'));
  await symlink('/', join(release, 'slash'));
  const inside = await createStaticSite({ root: join(release, 'static'), confine: release });
  assert.equal((await planStaticResponse(inside, { method: 'GET', target: '/a.txt', headers: {} })).status, 200);
  for (const name of ['escape', 'slash']) {
    await assert.rejects(createStaticSite({ root: join(release, name), confine: release }), { code: 'BERTH_E_STATIC_ROOT', message: /leads out of/ });
  }
  // The confinement is compared as given: a link in it is not followed to make room.
  await symlink(release, join(base, 'release-link'));
  await assert.rejects(createStaticSite({ root: join(release, 'static'), confine: join(base, 'release-link') }), { code: 'BERTH_E_STATIC_ROOT' });
});

test('a site that cannot be served answers 404 to everything', async () => {
  const site = unavailableSite('/nowhere', 'static root /nowhere does not exist');
  for (const method of ['GET', 'HEAD', 'POST']) assert.equal((await planStaticResponse(site, { method, target: '/x', headers: {} })).status, 404);
});
