// A real `berth server` with real local PostgreSQL and Redis servers: the
// daemon is stopped without stopping them (SIGKILL, a crash; SIGTERM, a
// control-plane stop) and started again on the same state, and the next one adopts the servers
// (same pids) while a client holding connections to them where sandboxed
// apps reach them (the service address, no relay in the daemon) goes on
// using them, daemon or no daemon. A full stop (SIGINT) stops them.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { apiCall, startDaemon } from '../helpers/daemon.ts';
import { alive, eventually } from '../helpers/berth-process.ts';

/** Processes whose environment carries exactly this supervisor tag. */
function tagged(tag: string): number[] {
  const needle = Buffer.from(`BERTH_SUPERVISOR=${tag}\0`);
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`).includes(needle)) pids.push(Number(entry));
    } catch {
      // Gone.
    }
  }
  return pids;
}

/** The ways a daemon goes that must leave the add-on servers running. */
const STOPS: readonly NodeJS.Signals[] = ['SIGKILL', 'SIGTERM'];

for (const signal of STOPS) {
  test(`a daemon's PostgreSQL and Redis outlive its ${signal} and are adopted by the next one: same pids, and connections to them at the service address go on throughout`, { timeout: 240_000 }, (t) => restartKeepsServers(t, signal));
}

async function restartKeepsServers(t: TestContext, signal: NodeJS.Signals): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'berth-addon-restart-'));
  const state = join(root, 'state');
  const servers = (kind: string) => tagged(`server:${state}:addons:${kind}`);
  t.after(() => {
    // Whatever a failed test left: the servers are not the daemon's children once it is gone.
    for (const pid of [...servers('postgres'), ...servers('redis')]) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Not a group leader (a backend) or gone.
      }
    }
  });
  let daemon = await startDaemon(state, 1);
  t.after(() => daemon.berth.kill());
  // After hooks run in the order they were added: the folder goes once the daemon (which writes into it) and the servers are gone.
  t.after(() => rm(root, { recursive: true, force: true }));
  const contained = /sandboxes: every app runs contained/.test(daemon.berth.output);

  assert.equal((await apiCall(daemon, 'POST', '/apps', { name: 'shop' })).status, 201);
  for (const kind of ['postgres', 'redis']) {
    const made = await apiCall(daemon, 'POST', '/apps/shop/addons', { kind });
    assert.equal(made.status, 201, JSON.stringify(made.json));
  }
  const values = async (kind: string) => (await apiCall(daemon, 'GET', `/apps/shop/addons/${kind}?reveal=1`)).json.addon.values as Record<string, string>;
  // Where a sandboxed app connects: the service address (as the app's environment says), else 127.0.0.1.
  const asApp = (url: string) => (contained ? url.replace('127.0.0.1', '169.254.200.1') : url);
  const databaseUrl = asApp((await values('postgres')).DATABASE_URL!);
  const redisUrl = asApp((await values('redis')).REDIS_URL!);
  t.diagnostic(`apps contained: ${contained}; the app connects to ${new URL(databaseUrl).host} and ${new URL(redisUrl).host}`);

  const postgresPid = (await readFile(join(state, 'addons', 'postgres', 'data', 'postmaster.pid'), 'utf8')).split('\n')[0]!;
  const redisPid = JSON.parse(await readFile(join(state, 'addons', 'redis', 'server.json'), 'utf8')).pid as number;
  assert.ok(servers('postgres').includes(Number(postgresPid)));
  assert.deepEqual(servers('redis'), [redisPid]);

  const db = new pg.Client({ connectionString: databaseUrl });
  db.on('error', () => {});
  await db.connect();
  t.after(() => db.end().catch(() => {}));
  const cache = new Redis(redisUrl, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  cache.on('error', () => {});
  await cache.connect();
  t.after(() => cache.disconnect());
  const backend = (await db.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  const clientId = await cache.client('ID');
  await db.query('CREATE TABLE orders (n int)');
  await db.query('CREATE TABLE ticks (n int)');

  // An app at work throughout: a write on each held connection every 20 ms, and a new database connection every 10th time.
  const load = { stop: false, rounds: 0, fresh: 0, failures: [] as string[] };
  const working = (async () => {
    for (let round = 0; !load.stop && round < 3_000; round++) {
      try {
        await db.query('INSERT INTO ticks VALUES ($1)', [round]);
        await cache.incr('shop:ticks');
        if (round % 10 === 0) {
          const fresh = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
          fresh.on('error', () => {});
          try {
            await fresh.connect();
            await fresh.query('SELECT 1');
            load.fresh++;
          } finally {
            await fresh.end().catch(() => {});
          }
        }
        load.rounds++;
      } catch (err) {
        load.failures.push(`round ${round}: ${(err as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  t.after(async () => {
    load.stop = true;
    await working;
  });
  await eventually('the app is at work', () => load.rounds >= 10);

  await daemon.berth.stop(signal);
  // No daemon: nothing of berth stands between the app and its data.
  await db.query('INSERT INTO orders VALUES (1)');
  assert.equal(await cache.incr('shop:orders'), 1);

  const started = Date.now();
  daemon = await startDaemon(state, 1);
  const readyMs = Date.now() - started;
  assert.match(daemon.berth.output, new RegExp(`postgres: adopted the server a previous daemon left running \\(pid ${postgresPid}\\)`));
  assert.match(daemon.berth.output, new RegExp(`redis: adopted the server a previous daemon left running \\(pid ${redisPid}\\)`));
  assert.doesNotMatch(daemon.berth.output, /(postgres|redis): started \(pid/, 'nothing new was started');
  assert.ok(alive(Number(postgresPid)) && alive(redisPid));
  t.diagnostic(`the second daemon was ready ${readyMs} ms after its start (adoption included)`);
  const roundsAtReady = load.rounds;
  await eventually('the app works on beside the new daemon', () => load.rounds >= roundsAtReady + 10);
  load.stop = true;
  await working;
  assert.deepEqual(load.failures, [], 'not one write or new connection failed');
  t.diagnostic(`through the ${signal} and the start: ${load.rounds} rounds (writes to PostgreSQL and Redis on the held connections), ${load.fresh} new database connections, ${load.failures.length} failures`);

  await db.query('INSERT INTO orders VALUES (2)');
  assert.equal(await cache.incr('shop:orders'), 2);
  assert.equal((await db.query('SELECT pg_backend_pid() AS pid')).rows[0].pid, backend, 'the same database connection throughout');
  assert.equal(await cache.client('ID'), clientId, 'the same Redis connection throughout');
  assert.deepEqual((await db.query('SELECT n FROM orders ORDER BY n')).rows, [{ n: 1 }, { n: 2 }]);

  // A full stop stops them.
  await db.end();
  cache.disconnect();
  await daemon.berth.stop('SIGINT');
  await eventually('the servers are gone', () => !alive(Number(postgresPid)) && !alive(redisPid), 20_000);
  assert.deepEqual([...servers('postgres'), ...servers('redis')], []);
}
