import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, chmod, cp, mkdtemp, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { StateLock } from '../../src/platform/index.ts';
import { alive, BerthProcess, eventually, runBerth } from '../helpers/berth-process.ts';
import { apiCall, cleanUpAfter, deployDir, viaEdge } from '../helpers/daemon.ts';
import { describeSummary, startSteadyLoad, summarize, summarizeByMode, type SteadyLoad } from '../helpers/steady-load.ts';

// The promise of issue 18: the control plane can stop, crash or be
// replaced while traffic flows. Under a steady load (keep-alive clients and
// a new connection per request), `berth server` is restarted five times
// (SIGTERM, as systemd's restart does), upgraded once to a different build
// of berth (one whose edge differs, so the edge process hands over to a
// new one), and killed (SIGKILL, a crash) and started again: not one
// request fails, and the apps' instances are the same processes throughout.

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const SERVER = `
const http = require('node:http');
const server = http.createServer((req, res) => res.end(String(process.pid)));
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Another build of berth: its sources copied, one comment added to the
 * edge (so its code identity differs, as a release that changed the edge
 * does), the same node_modules.
 */
async function otherBuild(root: string): Promise<string> {
  const copy = join(root, 'berth-next');
  await mkdir(copy);
  for (const part of ['bin', 'src', 'package.json']) await cp(join(REPO, part), join(copy, part), { recursive: true });
  await symlink(join(REPO, 'node_modules'), join(copy, 'node_modules'));
  await appendFile(join(copy, 'src', 'edge', 'index.ts'), '// the next build\n');
  return join(copy, 'bin', 'berth.js');
}

interface Running {
  berth: BerthProcess;
  api: string;
}

for (const kind of ['restarts and an upgrade', 'a crash'] as const) {
  test(`no request fails and no instance restarts through ${kind === 'a crash' ? 'a SIGKILL of berth server and its start again' : '5 restarts of berth server (SIGTERM) and 1 upgrade to a different build'}, under steady load`, { timeout: 600_000 }, async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'berth-promise-'));
    await chmod(root, 0o711);
    const state = join(root, 'state');
    const prefix = cleanUpAfter(state);
    const entry = join(root, 'installed-berth.mjs');
    const install = (bin: string) => writeFile(entry, `await import(${JSON.stringify(pathToFileURL(bin).href)});\n`);
    await install(join(REPO, 'bin', 'berth.js'));
    const edgePort = await freePort();
    const args = ['server', '--state', state, '--http', `127.0.0.1:${edgePort}`, '--api', '127.0.0.1:0', '--workers', '2', '--user-prefix', prefix];
    const started: BerthProcess[] = [];
    let load: SteadyLoad | null = null;
    t.after(async () => {
      load?.stop();
      // The daemon now running (perhaps a successor no test process started): a full stop, edge process and apps included.
      const holder = StateLock.holder(state);
      if (holder !== null) {
        process.kill(holder, 'SIGINT');
        await eventually('the daemon stopped', () => !alive(holder), 90_000).catch(() => process.kill(holder, 'SIGKILL'));
      }
      for (const berth of started) await berth.kill();
      await rm(root, { recursive: true, force: true });
    });
    const start = async (): Promise<Running> => {
      const berth = new BerthProcess(args, { entry });
      started.push(berth);
      const api = (await berth.waitFor(/api listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
      await berth.waitFor(/\| ready$/m);
      return { berth, api };
    };
    let current = await start();
    const token = (await readFile(join(state, 'admin-token'), 'utf8')).trim();
    const daemon = () => ({ berth: current.berth, api: current.api, edge: `http://127.0.0.1:${edgePort}`, token });
    const source = join(root, 'app');
    await mkdir(source);
    await writeFile(join(source, 'server.js'), SERVER);
    await writeFile(join(source, 'Procfile'), 'web: node server.js\n');
    await writeFile(join(source, 'berth.toml'), '[scale]\nweb = 2\n');
    assert.equal((await apiCall(daemon(), 'POST', '/apps', { name: 'shop' })).status, 201);
    assert.equal((await deployDir(daemon(), 'shop', source)).last.release?.name, 'v1');
    assert.equal((await viaEdge(daemon().edge, 'shop.localhost')).status, 200);
    const pids = async () => ((await apiCall(daemon(), 'GET', '/apps/shop/ps')).json.instances as Array<{ name: string; pid: number }>).map(({ name, pid }) => `${name}:${pid}`).sort();
    const before = await pids();
    assert.equal(before.length, 2);

    load = startSteadyLoad({ origin: `http://127.0.0.1:${edgePort}`, host: 'shop.localhost', clients: 4, keepAliveClients: 2, intervalMs: 20, durationMs: 400_000, timeoutMs: 10_000, expectStatus: 200 });
    // Between two signals the load runs on: another 40 requests answered (about a fifth of a second of it).
    const quiet = async () => {
      const done = load!.records.length;
      await eventually('the load runs on', () => load!.records.length >= done + 40, 30_000);
    };
    await quiet();
    if (kind === 'a crash') {
      current.berth.child.kill('SIGKILL');
      await current.berth.exited;
      current = await start();
      assert.match(current.berth.output, /edge: adopted the running edge process/);
      assert.match(current.berth.output, /taking over 2 running instance\(s\) of 1 app\(s\)/);
      await quiet();
    } else {
      for (let round = 1; round <= 5; round++) {
        const exit = await current.berth.stop('SIGTERM', 90_000);
        assert.equal(exit.code, 0, current.berth.output);
        current = await start();
        assert.match(current.berth.output, /edge: adopted the running edge process/, `restart ${round}: the edge process outlived the daemon`);
        assert.deepEqual(await pids(), before, `restart ${round}: the same instances`);
        await quiet();
      }
      // The upgrade: another build installed where berth was, then handed over to.
      await install(await otherBuild(root));
      const upgraded = await runBerth(['server', 'upgrade', '--state', state], { timeoutMs: 240_000 });
      assert.equal(upgraded.code, 0, `${upgraded.output}\n${current.berth.output}`);
      assert.equal((await current.berth.exited).code, 0);
      // The successor writes where its predecessor did.
      const output = () => current.berth.output.slice(current.berth.output.lastIndexOf('upgrade: taking over from pid'));
      const api = await eventually('the new build is ready', () => (/\| ready$/m.test(output()) ? /api listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output())?.[1] : null), 120_000);
      current = { berth: current.berth, api };
      assert.match(output(), /edge: handed over from edge process \d+ to \d+ \(the edge's code or settings changed\)/, 'the new build handed the edge over to its own edge process');
      await quiet();
    }
    assert.deepEqual(await pids(), before, 'the same instances at the end');
    load.stop();
    const records = await load.done;
    const all = summarize(records);
    const byMode = summarizeByMode(records);
    assert.ok(all.total > 200, `a steady load ran (${all.total} requests)`);
    assert.equal(all.failed, 0, `${describeSummary(all)}; keep-alive: ${describeSummary(byMode['keep-alive'])}; new connections: ${describeSummary(byMode['new-connection'])}`);
    assert.ok(byMode['keep-alive'].total > 0 && byMode['new-connection'].total > 0);
  });
}
