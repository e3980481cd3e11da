// The URL berth gives for an app leads to it: with the edge on a port other
// than 80 (here, the one the kernel picked), the URL carries that port, in
// the API's answers and in what the real CLI prints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appUrl } from '../../src/platform/routing.ts';
import { runBerth } from '../helpers/berth-process.ts';
import { apiCall, startDaemon } from '../helpers/daemon.ts';

test('appUrl: the edge port unless it is 80, nothing before the edge listens', () => {
  assert.equal(appUrl('shop', 'localhost', 8080), 'http://shop.localhost:8080');
  assert.equal(appUrl('shop', 'apps.example.com', 80), 'http://shop.apps.example.com');
  assert.equal(appUrl('shop', 'localhost', null), 'http://shop.localhost');
});

test('apps create, apps list and the API give the app URL with the edge port', { timeout: 120_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-app-url-'));
  const daemon = await startDaemon(join(root, 'state'));
  t.after(() => daemon.berth.kill());
  t.after(() => rm(root, { recursive: true, force: true }));
  const port = new URL(daemon.edge).port;
  assert.notEqual(port, '');
  const env = { BERTH_SERVER: daemon.api, BERTH_TOKEN: daemon.token, XDG_CONFIG_HOME: join(root, 'config') };

  const created = await runBerth(['apps', 'create', 'shop'], { env });
  assert.equal(created.code, 0, created.output);
  assert.ok(created.output.startsWith(`created shop at http://shop.localhost:${port}\n`), created.output);
  const listed = await runBerth(['apps', 'list'], { env });
  assert.match(listed.output, new RegExp(`^shop\\s+\\S+\\s+http://shop\\.localhost:${port}\\s`, 'm'));
  const info = await apiCall(daemon, 'GET', '/apps/shop');
  assert.equal(info.json.app.url, `http://shop.localhost:${port}`);
});
