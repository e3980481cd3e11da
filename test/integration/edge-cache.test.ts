// The edge's cache and limits as an app's berth.toml configures them on a
// real daemon: cached responses and `berth cache purge`, [cache] enabled =
// false, and [limits] rate/burst answered with 429.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthProcess } from '../helpers/berth-process.ts';
import { apiCall, deployDir, startDaemon, viaEdge } from '../helpers/daemon.ts';

const APP = `const http = require('node:http');
let served = 0;
http.createServer((req, res) => {
  served++;
  res.setHeader('cache-control', 'public, max-age=300');
  res.setHeader('content-type', 'text/plain');
  res.end(req.url + ' #' + served);
}).listen(process.env.PORT, '127.0.0.1');
`;

async function appDir(root: string, name: string, toml: string): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', scripts: { start: 'node server.js' } }));
  await writeFile(join(dir, 'server.js'), APP);
  await writeFile(join(dir, 'berth.toml'), toml);
  return dir;
}

test('a daemon caches what the app marks public, purges it with berth cache purge, and applies berth.toml limits', { timeout: 120_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-edge-cache-'));
  // One engine: a cached entry lives in the engine that stored it.
  const daemon = await startDaemon(join(root, 'state'), 1);
  t.after(() => daemon.berth.kill());
  t.after(() => rm(root, { recursive: true, force: true }));

  for (const name of ['news', 'live', 'api']) assert.equal((await apiCall(daemon, 'POST', '/apps', { name })).status, 201);
  assert.equal((await deployDir(daemon, 'news', await appDir(root, 'news', ''))).last.result, 'ok');
  assert.equal((await deployDir(daemon, 'live', await appDir(root, 'live', '[cache]\nenabled = false\n'))).last.result, 'ok');
  assert.equal((await deployDir(daemon, 'api', await appDir(root, 'api', '[limits]\nrate = 0.2\nburst = 2\n'))).last.result, 'ok');

  assert.equal((await viaEdge(daemon.edge, 'news.localhost', '/a')).body, '/a #1');
  assert.equal((await viaEdge(daemon.edge, 'news.localhost', '/a')).body, '/a #1');
  assert.equal((await viaEdge(daemon.edge, 'news.localhost', '/b')).body, '/b #2');

  const purge = new BerthProcess(['cache', 'purge', '/a', '--app', 'news'], { env: { BERTH_SERVER: daemon.api, BERTH_TOKEN: daemon.token } });
  assert.equal((await purge.exited).code, 0, purge.output);
  assert.match(purge.output, /purged 1 cached response of news under \/a/);
  assert.equal((await viaEdge(daemon.edge, 'news.localhost', '/a')).body, '/a #3');
  assert.equal((await viaEdge(daemon.edge, 'news.localhost', '/b')).body, '/b #2');
  const all = await apiCall(daemon, 'POST', '/apps/news/cache/purge', {});
  assert.deepEqual(all.json, { purged: 2, path: null });
  const badPath = await apiCall(daemon, 'POST', '/apps/news/cache/purge', { path: 'no-slash' });
  assert.equal(badPath.status, 400);
  assert.equal(badPath.json.code, 'BERTH_E_NAME');

  assert.equal((await viaEdge(daemon.edge, 'live.localhost', '/x')).body, '/x #1');
  assert.equal((await viaEdge(daemon.edge, 'live.localhost', '/x')).body, '/x #2');

  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await viaEdge(daemon.edge, 'api.localhost', `/r${i}`)).status);
  assert.deepEqual(statuses, [200, 200, 429, 429]);
  // Another app is not limited by api's limit.
  assert.equal((await viaEdge(daemon.edge, 'live.localhost', '/y')).status, 200);
});
