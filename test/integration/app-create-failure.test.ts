import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appUserName } from '../../src/platform/index.ts';
import { apiCall, startDaemon, testUserPrefix } from '../helpers/daemon.ts';

function userExists(name: string): boolean {
  try {
    execFileSync('getent', ['passwd', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('an app whose folders cannot be made is not created: no row, no user, and what was in the way is left alone', { timeout: 120_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-create-fail-'));
  const state = join(root, 'state');
  const daemon = await startDaemon(state);
  t.after(async () => {
    await daemon.berth.stop();
    await rm(root, { recursive: true, force: true });
  });
  await mkdir(join(state, 'apps'), { recursive: true });
  await writeFile(join(state, 'apps', 'shop'), 'in the way');

  const created = await apiCall(daemon, 'POST', '/apps', { name: 'shop' });
  assert.equal(created.status, 500);
  assert.equal(created.json.code, 'BERTH_E_STATE');
  assert.equal((await apiCall(daemon, 'GET', '/apps/shop')).status, 404, 'no row is left');
  if (process.getuid!() === 0) assert.equal(userExists(appUserName(testUserPrefix(state), 'shop')), false, 'no user is left');
  assert.equal(await readFile(join(state, 'apps', 'shop'), 'utf8'), 'in the way', 'what was in the way is untouched');

  await rm(join(state, 'apps', 'shop'));
  assert.equal((await apiCall(daemon, 'POST', '/apps', { name: 'shop' })).status, 201, 'once it is moved away, the app can be created');
});
