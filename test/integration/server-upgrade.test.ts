import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { StateLock } from '../../src/platform/index.ts';
import { alive, BerthProcess, eventually, runBerth } from '../helpers/berth-process.ts';
import { apiCall, cleanUpAfter, deployDir, viaEdge, type Daemon } from '../helpers/daemon.ts';

// `berth server upgrade` (SIGUSR2): the daemon starts the berth installed
// now beside itself — here an entry file the test rewrites, as a package
// upgrade rewrites the installed one — and hands over once it is ready.

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'berth.js');

const SERVER = `
const http = require('node:http');
const server = http.createServer((req, res) => res.end(String(process.pid)));
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

async function lastMatch(berth: BerthProcess, pattern: RegExp): Promise<string> {
  return eventually(`${pattern} in the output`, () => [...berth.output.matchAll(new RegExp(pattern, 'g'))].at(-1)?.[1] ?? null, 60_000);
}

test('berth server upgrade: the version installed now takes over and the apps run on as the same processes; one that fails to start leaves the old daemon running', { timeout: 300_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-upgrade-'));
  await chmod(root, 0o711);
  const state = join(root, 'state');
  const entry = join(root, 'installed-berth.mjs');
  const installed = `await import(${JSON.stringify(pathToFileURL(BIN).href)});\n`;
  await writeFile(entry, installed);
  const berth = new BerthProcess(['server', '--state', state, '--http', '127.0.0.1:0', '--api', '127.0.0.1:0', '--workers', '1', '--user-prefix', cleanUpAfter(state)], { entry });
  t.after(async () => {
    await berth.kill();
    // The successor is no child of the test: found by the lock it holds, stopped in full.
    const holder = StateLock.holder(state);
    if (holder !== null) {
      process.kill(holder, 'SIGINT');
      await eventually('the new daemon stopped', () => !alive(holder), 60_000).catch(() => process.kill(holder, 'SIGKILL'));
    }
    await rm(root, { recursive: true, force: true });
  });
  const d: Daemon = {
    berth,
    edge: (await berth.waitFor(/edge listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!,
    api: (await berth.waitFor(/api listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!,
    token: '',
  };
  await berth.waitFor(/\| ready$/m);
  const token = (await readFile(join(state, 'admin-token'), 'utf8')).trim();
  const daemon = { ...d, token };
  const source = join(root, 'app');
  await mkdir(source);
  await writeFile(join(source, 'server.js'), SERVER);
  await writeFile(join(source, 'Procfile'), 'web: node server.js\n');
  assert.equal((await apiCall(daemon, 'POST', '/apps', { name: 'shop' })).status, 201);
  assert.equal((await deployDir(daemon, 'shop', source)).last.release?.name, 'v1');
  const instance = Number((await viaEdge(daemon.edge, 'shop.localhost')).body);
  const oldPid = berth.child.pid!;

  // A broken new version: the successor exits before it is ready; the old daemon runs on.
  await writeFile(entry, 'process.exit(3);\n');
  const failed = await runBerth(['server', 'upgrade', '--state', state, '--timeout', '5'], { timeoutMs: 60_000 });
  assert.equal(failed.code, 1, failed.output);
  assert.match(failed.output, /BERTH_E_STOP_TIMEOUT/);
  assert.match(failed.output, /the old daemon \(pid \d+\) keeps running/);
  await berth.waitFor(/upgrade: the new version did not start \(it exited with code 3\); this one keeps running/);
  assert.equal(StateLock.holder(state), oldPid);
  assert.equal((await apiCall(daemon, 'GET', '/apps/shop')).status, 200, 'the old control plane still answers');

  // The fixed version installed: it takes over.
  await writeFile(entry, installed);
  const upgraded = await runBerth(['server', 'upgrade', '--state', state], { timeoutMs: 200_000 });
  assert.equal(upgraded.code, 0, `${upgraded.output}\n${berth.output}`);
  const newPid = Number(/upgraded: berth server runs as pid (\d+)/.exec(upgraded.output)?.[1]);
  assert.notEqual(newPid, oldPid);
  assert.equal((await berth.exited).code, 0, berth.output);
  assert.match(berth.output, /upgrade: taking over from pid \d+/);
  // The successor writes where its predecessor did: its new API address is read from there.
  await eventually('the new daemon is ready', () => berth.output.split('| ready').length >= 3, 60_000);
  const api = await lastMatch(berth, /api listening on (http:\/\/127\.0\.0\.1:\d+)/);
  const edge = await lastMatch(berth, /edge listening on (http:\/\/127\.0\.0\.1:\d+)/);
  const next = { berth, api, edge, token };
  await eventually('shop serves through the new daemon', async () => (await viaEdge(next.edge, 'shop.localhost')).status === 200, 30_000);
  assert.equal(Number((await viaEdge(next.edge, 'shop.localhost')).body), instance, 'the same instance serves');
  const ps = (await apiCall(next, 'GET', '/apps/shop/ps')).json.instances as Array<{ name: string; pid: number }>;
  assert.ok(alive(instance));
  assert.equal(ps.length, 1);
});
