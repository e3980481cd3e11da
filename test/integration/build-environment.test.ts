// A build sees what Heroku's buildpacks see: the app's config vars (so
// PIP_EXTRA_INDEX_URL or NPM_CONFIG_REGISTRY work per app), over the
// server-wide --build-env-file, with berth's own PATH and HOME; never the
// daemon's own environment beyond its basics.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiCall, deployDir, startDaemon, viaEdge } from '../helpers/daemon.ts';

/** The Procfile's build step: writes what it was given into the build, for the web process to show. */
const CHECK = `
import { writeFileSync } from 'node:fs';
const pick = ['PIP_EXTRA_INDEX_URL', 'NPM_CONFIG_REGISTRY', 'SHARED', 'PATH', 'HOME', 'DATABASE_URL', 'DAEMON_SECRET', 'DYNO'];
writeFileSync('build-env.json', JSON.stringify(Object.fromEntries(pick.map((k) => [k, process.env[k] ?? null]))));
`;

const WEB = `
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
createServer((req, res) => res.end(readFileSync('build-env.json'))).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

test('a build gets the app config vars over the server-wide build variables; PATH and HOME stay berth\'s; nothing else of the daemon', { timeout: 180_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-build-env-'));
  const envFile = join(root, 'build.env');
  await writeFile(envFile, 'NPM_CONFIG_REGISTRY=https://npm.example.test/\nSHARED=from-the-server\n', { mode: 0o600 });
  const d = await startDaemon(join(root, 'state'), 1, ['--build-env-file', envFile], { DAEMON_SECRET: 'never-for-apps' });
  t.after(() => d.berth.kill());
  t.after(() => rm(root, { recursive: true, force: true }));
  const dir = join(root, 'app');
  await mkdir(dir);
  await writeFile(join(dir, 'check.mjs'), CHECK);
  await writeFile(join(dir, 'server.mjs'), WEB);
  await writeFile(join(dir, 'Procfile'), 'build: node check.mjs\nweb: node server.mjs\n');
  assert.equal((await apiCall(d, 'POST', '/apps', { name: 'shop' })).status, 201);
  const set = await apiCall(d, 'PATCH', '/apps/shop/config', { set: { PIP_EXTRA_INDEX_URL: 'https://pypi.example.test/simple', SHARED: 'from-the-app' } });
  assert.equal(set.status, 200);
  const { lines, last } = await deployDir(d, 'shop', dir);
  assert.ok(last.release, lines.join('\n'));
  const seen = JSON.parse((await viaEdge(d.edge, 'shop.localhost')).body) as Record<string, string | null>;
  assert.equal(seen.PIP_EXTRA_INDEX_URL, 'https://pypi.example.test/simple', 'the app config var');
  assert.equal(seen.NPM_CONFIG_REGISTRY, 'https://npm.example.test/', 'the server-wide build variable');
  assert.equal(seen.SHARED, 'from-the-app', "the app's own value wins");
  assert.equal(seen.DAEMON_SECRET, null, "the daemon's own environment stays its own");
  assert.equal(seen.DYNO, null, 'a build is no dyno');
  assert.match(seen.HOME ?? '', /\/apps\/shop\/home$/);
  assert.ok((seen.PATH ?? '').includes('/usr/bin'), `PATH: ${seen.PATH}`);
});
