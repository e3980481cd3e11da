// The disk attack: an app fills the disk that holds berth.db (the issue's
// review wrote 3 GiB from inside an app). Now every app's folders are
// measured; one over its [resources] disk limit has its instances stopped
// (its route has no instance, the line says why) until it is under again, and a
// deploy that would take it over is refused, its build removed. The
// neighbour serves throughout.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { eventually } from '../helpers/berth-process.ts';
import { apiCall, deployDir } from '../helpers/daemon.ts';
import { edgeRequest, hostileSpawn, whoami } from './hostile-app.ts';
import { askNeighbour, assertServed, HOSTILE, HOSTILE_HOST, SANDBOX, sandboxScene } from './sandbox-scene.ts';

const TOML = (disk: string) => `[static]\n"/static" = "static"\n\n[resources]\ndisk = "${disk}"\n`;

test('an app filling its disk is stopped over its limit, a deploy that would not fit is refused, and the neighbour serves throughout', { timeout: 240_000 }, async (t) => {
  const scene = await sandboxScene(t, 'disk-fill', 'disk = "64m"', [...SANDBOX, '--disk-check-interval', '300ms']);
  const d = scene.daemon;
  const source = join(scene.root, 'hostile-source');

  const info = await apiCall(d, 'GET', `/apps/${HOSTILE}`);
  assert.equal(info.json.disk.limitBytes, 64 * 1024 * 1024);
  assert.ok(info.json.disk.usedBytes > 0 && info.json.disk.usedBytes < 64 * 1024 * 1024, `usage before the attack: ${info.json.disk.usedBytes}`);
  assert.deepEqual(info.json.sandbox, { contained: true });

  const neighbour = askNeighbour(t, d);

  // Files of 16 MiB each (no one file is big), up to 2 GiB in all: far
  // more than its limit; a loop that is never stopped fills 2 GiB.
  const { home } = await whoami(d, HOSTILE_HOST);
  await hostileSpawn(d, HOSTILE_HOST, ['/bin/sh', '-c', `i=0; while [ $i -lt 128 ]; do dd if=/dev/zero of=${home}/fill-$i bs=1M count=16 status=none; i=$((i+1)); done`]);

  const over = await eventually('the app is stopped over its limit', async () => {
    const answer = await apiCall(d, 'GET', `/apps/${HOSTILE}`);
    return answer.json.disk.overLimit === true ? answer.json : null;
  }, 60_000);
  assert.ok(over.disk.usedBytes > 64 * 1024 * 1024);
  // Stopped: its instances and whatever they started (the writer) are gone, so the disk stops filling.
  await eventually('the app has no instance', async () => ((await apiCall(d, 'GET', `/apps/${HOSTILE}`)).json.instances.length === 0 ? true : null), 30_000);
  // Measurements taken after the stop (the periodic check runs every 300 ms): the writer's folder no longer
  // grows (the app's log does, a little: berth says why it stopped it).
  const measuredAfter = async (since: number): Promise<number> =>
    eventually('a measurement after the stop', async () => {
      const disk = (await apiCall(d, 'GET', `/apps/${HOSTILE}`)).json.disk;
      return Date.parse(disk.measuredAt) > since ? (disk.parts.home as number) : null;
    }, 30_000);
  const stoppedAt = await measuredAfter(Date.now() + 500);
  const later = await measuredAfter(Date.now() + 1_000);
  assert.ok(later <= stoppedAt, `still growing after the stop: ${stoppedAt} → ${later}`);
  assert.ok(stoppedAt < 2 * 1024 ** 3, `the writer filled all it wanted (${stoppedAt} bytes) before it was stopped`);
  const route = await edgeRequest(d.edge, HOSTILE_HOST, 'GET', '/whoami');
  assert.equal(route.status, 502, `the stopped app's route answered ${route.status}`);
  assert.match(route.body, /no instance of the app is ready/);

  // The one line that says why, in the app's log.
  const logs = await fetch(`${d.api}/apps/${HOSTILE}/logs?lines=200`, { headers: { authorization: `Bearer ${d.token}` } }).then((res) => res.text());
  assert.match(logs, /disk: hostile uses \d+(\.\d)? MiB, over its 64 MiB limit \(home \d+(\.\d)? MiB.*\); its instances are stopped until it is under/);

  // A restart while over is refused with the reason, and nothing starts.
  const restart = await apiCall(d, 'POST', `/apps/${HOSTILE}/restart`);
  assert.equal(restart.status, 507);
  assert.equal(restart.json.code, 'BERTH_E_DISK_LIMIT');
  assert.equal((await apiCall(d, 'GET', `/apps/${HOSTILE}`)).json.instances.length, 0);

  // A deploy that keeps the limit does not fit: refused, its build removed (so it holds nothing).
  const sameLimit = await deployDir(d, HOSTILE, source);
  assert.equal(sameLimit.last.release, undefined);
  assert.equal(sameLimit.last.error?.code, 'BERTH_E_DISK_LIMIT', JSON.stringify(sameLimit.last));
  assert.match(sameLimit.last.error.message, /would use .* with this build, over its 64 MiB disk limit/);
  const builds = (await apiCall(d, 'GET', `/apps/${HOSTILE}`)).json.disk.parts.releases as number;
  assert.ok(builds < 16 * 1024 * 1024, `the refused build still holds ${builds} bytes`);

  // A deploy that raises the limit fits: the app serves again.
  await writeFile(join(source, 'berth.toml'), TOML('4g'));
  const raised = await deployDir(d, HOSTILE, source);
  assert.ok(raised.last.release, JSON.stringify(raised.last));
  const after = await apiCall(d, 'GET', `/apps/${HOSTILE}`);
  assert.equal(after.json.disk.overLimit, false);
  assert.equal(after.json.disk.limitBytes, 4 * 1024 ** 3);
  assert.equal((await edgeRequest(d.edge, HOSTILE_HOST, 'GET', '/whoami')).status, 200);

  assertServed(await neighbour.stop(), 10, 'the disk fill');
});
