import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, eventually, runBerth } from '../helpers/berth-process.ts';
import { apiCall, deployDir, startDaemon, viaEdge, type Daemon } from '../helpers/daemon.ts';

// Apps outlive the control plane: `berth server` stopped with SIGTERM (a
// service manager's stop, a restart) leaves its apps' instances running,
// and the next daemon on the same state takes the very same processes
// over (no restart), their output included; SIGINT stops everything.

const SERVER = `
const http = require('node:http');
let hits = 0;
const server = http.createServer((req, res) => {
  hits++;
  console.log('hit ' + req.url);
  res.end(JSON.stringify({ pid: process.pid, hits }));
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

const WORKER = `
setInterval(() => console.log('tick ' + process.pid), 200);
process.on('SIGTERM', () => process.exit(0));
`;

interface Ps {
  readonly name: string;
  readonly pid: number;
  readonly state: string;
}

async function ps(d: Daemon): Promise<Ps[]> {
  const instances = (await apiCall(d, 'GET', '/apps/shop/ps')).json.instances as Ps[];
  return instances.map(({ name, pid, state }) => ({ name, pid, state })).sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** Writes `files` into ROOT/app and deploys them as the app "shop" (v1). */
async function deployShop(d: Daemon, root: string, files: Record<string, string>): Promise<void> {
  const source = join(root, 'app');
  await mkdir(source);
  for (const [name, content] of Object.entries(files)) await writeFile(join(source, name), content);
  assert.equal((await apiCall(d, 'POST', '/apps', { name: 'shop' })).status, 201);
  assert.equal((await deployDir(d, 'shop', source)).last.release?.name, 'v1');
}

async function logTexts(d: Daemon): Promise<string[]> {
  const res = await fetch(`${d.api}/apps/shop/logs?lines=5000`, { headers: { authorization: `Bearer ${d.token}` } });
  // `TIME SOURCE | TEXT` lines: the texts.
  return (await res.text()).split('\n').filter((line) => line !== '').map((line) => line.slice(line.indexOf(' | ') + 3));
}

test('a SIGTERM restart (berth server stop) takes the running instances over: the same processes serve, their output still reaches the app log; berth server stop --apps stops them', { timeout: 300_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-takeover-'));
  const state = join(root, 'state');
  let d = await startDaemon(state);
  t.after(async () => {
    await d.berth.kill();
    await rm(root, { recursive: true, force: true });
  });
  await deployShop(d, root, { 'server.js': SERVER, 'worker.js': WORKER, Procfile: 'web: node server.js\nworker: node worker.js\n', 'berth.toml': '[scale]\nweb = 2\n' });
  const before = await ps(d);
  assert.deepEqual(before.map((i) => i.name), ['web.1', 'web.2', 'worker.1']);

  for (let round = 1; round <= 3; round++) {
    assert.equal((await viaEdge(d.edge, 'shop.localhost', `/before-${round}`)).status, 200);
    await eventually('the hit is logged', async () => (await logTexts(d)).includes(`hit /before-${round}`));
    if (round === 1) {
      // The local command: SIGTERM to the lock's holder, waiting for its exit.
      const stopped = await runBerth(['server', 'stop', '--state', state], { timeoutMs: 60_000 });
      assert.equal(stopped.code, 0, stopped.output);
      assert.match(stopped.output, /the apps keep running/);
      assert.equal((await d.berth.exited).code, 0, d.berth.output);
    } else {
      const exit = await d.berth.stop('SIGTERM', 60_000);
      assert.equal(exit.code, 0, d.berth.output);
    }
    assert.match(d.berth.output, /the apps keep running/);
    // Nothing of the app stopped with the daemon.
    for (const instance of before) assert.ok(alive(instance.pid), `round ${round}: ${instance.name} (pid ${instance.pid}) still runs`);
    d = await startDaemon(state);
    await d.berth.waitFor(/taking over 3 running instance\(s\) of 1 app\(s\)/);
    await eventually(`round ${round}: shop serves again`, async () => (await viaEdge(d.edge, 'shop.localhost', `/after-${round}`)).status === 200, 30_000);
    const after = await ps(d);
    assert.deepEqual(after.map(({ name, pid }) => ({ name, pid })), before.map(({ name, pid }) => ({ name, pid })), `round ${round}: the same processes\n${(await logTexts(d)).slice(-30).join('\n')}`);
    assert.ok(after.every((i) => i.state === 'ready'), JSON.stringify(after));
    // Its output written while no daemon ran, and since, reaches the log once.
    await eventually('the request after the restart is logged', async () => (await logTexts(d)).includes(`hit /after-${round}`));
    const texts = await logTexts(d);
    assert.equal(texts.filter((text) => text === `hit /before-${round}`).length, 1, 'no line twice');
    assert.ok(texts.some((text) => /^taken over \(pid \d+, port \d+\)$/.test(text)), texts.slice(-20).join('\n'));
  }
  // The records are root's alone.
  const record = JSON.parse(await readFile(join(state, 'run', 'instances', 'shop.json'), 'utf8')) as { release: number; records: unknown[] };
  assert.equal(record.release, 1);
  assert.equal(record.records.length, 3);

  // `berth server stop --apps`: that SIGTERM is a full stop.
  const stopped = await runBerth(['server', 'stop', '--apps', '--state', state], { timeoutMs: 60_000 });
  assert.equal(stopped.code, 0, stopped.output);
  assert.equal((await d.berth.exited).code, 0, d.berth.output);
  assert.match(d.berth.output, /stopping the apps and the server/);
  assert.ok(before.every((instance) => !alive(instance.pid)), 'a full stop ends every instance');
  const none = await runBerth(['server', 'stop', '--state', state]);
  assert.equal(none.code, 1);
  assert.match(none.output, /BERTH_E_NOT_RUNNING/);
});

test('a crashed instance the daemon never saw start is not taken over: a record whose pid is reused by another process is refused, and that process is left alone', { timeout: 300_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-takeover-reuse-'));
  const state = join(root, 'state');
  let d = await startDaemon(state);
  t.after(async () => {
    await d.berth.kill();
    await rm(root, { recursive: true, force: true });
  });
  await deployShop(d, root, { 'server.js': SERVER, Procfile: 'web: node server.js\n' });
  const [web] = await ps(d);
  await d.berth.stop('SIGTERM', 60_000);
  // While no daemon runs, the instance is replaced by something else under the recorded pid's name: a record naming another process.
  const file = join(state, 'run', 'instances', 'shop.json');
  const recorded = JSON.parse(await readFile(file, 'utf8')) as { release: number; records: Array<{ identity: { pid: number; startTime: number } }> };
  const stranger = (await import('node:child_process')).spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore', detached: true });
  t.after(() => stranger.kill('SIGKILL'));
  recorded.records[0]!.identity.pid = stranger.pid!;
  (recorded.records[0] as unknown as { handle: { pid: number } }).handle.pid = stranger.pid!;
  await writeFile(file, JSON.stringify(recorded));
  d = await startDaemon(state);
  await d.berth.waitFor(/web\.1 \(pid \d+\) is not taken over: pid \d+ now belongs to another process/);
  await eventually('shop serves from a new instance', async () => (await viaEdge(d.edge, 'shop.localhost')).status === 200, 30_000);
  assert.ok(alive(stranger.pid!), 'the stranger was not signalled');
  const [fresh] = await ps(d);
  assert.notEqual(fresh!.pid, web!.pid);
  // The instance the record no longer named ran as the app: ended as a leftover.
  await eventually('the old instance is gone', async () => !alive(web!.pid), 10_000);
});
