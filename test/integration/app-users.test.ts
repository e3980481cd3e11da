import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appUserName } from '../../src/platform/index.ts';
import { apiCall, deployDir, startDaemon, testUserPrefix, viaEdge, type Daemon } from '../helpers/daemon.ts';

// The app reports who it runs as, and whether it can read a path it is
// given (another app's folder) — the test's view from inside an app.
const APP = `
import { createServer } from 'node:http';
import { readdirSync } from 'node:fs';
const server = createServer((req, res) => {
  let other = 'readable';
  try { readdirSync(process.env.OTHER_DIR); } catch (err) { other = err.code; }
  res.end(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), home: process.env.HOME, other }));
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

const api = apiCall;

async function deploy(d: Daemon, app: string, dir: string): Promise<any> {
  return (await deployDir(d, app, dir)).last;
}

function passwd(name: string): string[] | null {
  try {
    return execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim().split(':');
  } catch {
    return null;
  }
}

test('as root, each app runs as its own Unix user and cannot read another app', { timeout: 180_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-users-'));
  const state = join(root, 'state');
  const d = await startDaemon(state);
  t.after(() => d.berth.stop());
  t.after(() => rm(root, { recursive: true, force: true }));
  const source = join(root, 'src');
  await mkdir(source);
  await writeFile(join(source, 'server.mjs'), APP);
  await writeFile(join(source, 'Procfile'), 'web: node server.mjs\n');

  for (const name of ['alpha', 'beta']) assert.equal((await api(d, 'POST', '/apps', { name })).status, 201);
  for (const [name, other] of [['alpha', 'beta'], ['beta', 'alpha']] as const) {
    const set = await api(d, 'PATCH', `/apps/${name}/config`, { set: { OTHER_DIR: join(state, 'apps', other, 'builds') } });
    assert.ok(set.status < 300, JSON.stringify(set.json));
  }
  for (const name of ['alpha', 'beta']) { const last = await deploy(d, name, source); assert.ok(last.release, `${name} deploys: ${JSON.stringify(last)}`); }

  const alpha = JSON.parse((await viaEdge(d.edge, 'alpha.localhost')).body);
  const beta = JSON.parse((await viaEdge(d.edge, 'beta.localhost')).body);
  if (process.getuid!() !== 0) {
    // Not root: apps run as berth's own user (no users to create).
    assert.equal(alpha.uid, process.getuid!());
    return;
  }
  const prefix = testUserPrefix(state);
  const alphaUser = passwd(appUserName(prefix, 'alpha'));
  assert.ok(alphaUser, 'the user was created with the app');
  assert.equal(alpha.uid, Number(alphaUser[2]), 'alpha runs as its user');
  assert.notEqual(alpha.uid, 0);
  assert.notEqual(alpha.uid, beta.uid, 'each app has its own user');
  assert.equal(alphaUser[6], '/usr/sbin/nologin', 'no login shell');
  assert.equal(alpha.home, join(state, 'apps', 'alpha', 'home'), 'HOME is the home folder in the app folder');
  assert.equal(alphaUser[5], join(state, 'apps', 'alpha', 'home'), "and the user's home");
  // Absent in a sandbox (nothing of another app exists there), unreadable without one.
  assert.ok(['EACCES', 'ENOENT'].includes(alpha.other), `alpha cannot read beta's builds: ${alpha.other}`);
  assert.ok(['EACCES', 'ENOENT'].includes(beta.other), `beta cannot read alpha's builds: ${beta.other}`);

  // Root owns the skeleton (the app cannot replace a folder berth works in with a link); the app owns the leaves.
  const owned = async (path: string) => {
    const facts = await stat(join(state, 'apps', 'alpha', path));
    return [facts.uid, facts.gid, facts.mode & 0o777];
  };
  assert.deepEqual(await owned(''), [0, alpha.gid, 0o750], "the app folder is root's, and only the app's group may enter it");
  assert.deepEqual(await owned('builds'), [0, 0, 0o711], "the builds folder is root's");
  assert.deepEqual(await owned('home'), [alpha.uid, alpha.gid, 0o700], "the home folder is the app's alone");
  assert.deepEqual(await owned('cache'), [alpha.uid, alpha.gid, 0o700], "the build cache is the app's alone");
  const [build] = await readdir(join(state, 'apps', 'alpha', 'builds'));
  assert.deepEqual(await owned(join('builds', build!)), [alpha.uid, alpha.gid, 0o750], 'a build, once built, is the app\'s');
  assert.equal((await stat(state)).mode & 0o777, 0o711, 'the state folder lets app users through without listing it');
  assert.equal((await stat(join(state, 'berth.db'))).mode & 0o777, 0o600, 'the database stays private');

  assert.equal((await api(d, 'DELETE', '/apps/alpha?confirm=alpha')).status < 300, true, 'destroy');
  assert.equal(passwd(appUserName(prefix, 'alpha')), null, 'destroying the app removes its user');
  assert.ok(passwd(appUserName(prefix, 'beta')), 'and only its own');
});

test('a user name taken by someone else is refused at create, with nothing created', { timeout: 60_000 }, async (t) => {
  if (process.getuid!() !== 0) {
    // Without root berth makes no users, so there is nothing to collide with: creating works.
    const root = await mkdtemp(join(tmpdir(), 'berth-users-'));
    const d = await startDaemon(join(root, 'state'));
    t.after(() => d.berth.stop());
    t.after(() => rm(root, { recursive: true, force: true }));
    assert.equal((await api(d, 'POST', '/apps', { name: 'taken' })).status, 201);
    return;
  }
  const root = await mkdtemp(join(tmpdir(), 'berth-users-'));
  const state = join(root, 'state');
  const squatter = appUserName(testUserPrefix(state), 'taken');
  execFileSync('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', squatter]);
  t.after(() => execFileSync('userdel', [squatter]));
  const d = await startDaemon(state);
  t.after(() => d.berth.stop());
  t.after(() => rm(root, { recursive: true, force: true }));
  const refused = await api(d, 'POST', '/apps', { name: 'taken' });
  assert.equal(refused.status, 409);
  assert.equal(refused.json.code, 'BERTH_E_APP_USER');
  assert.match(refused.json.message, /already exists and is not this app's/);
  assert.match(refused.json.hint, /--user-prefix/);
  assert.deepEqual((await api(d, 'GET', '/apps')).json.apps, [], 'no app was created');
  assert.equal(passwd(squatter)![5], '/nonexistent', 'the other user is untouched');
});
