// The local PostgreSQL and Redis servers outlive a control-plane stop and
// are adopted by the next daemon: real servers, one LocalPostgres/LocalRedis
// standing for the daemon that stops (close({ leaveRunning: true })), a new
// one on the same folder for the daemon that starts. A client connection
// held across it stands for an app's pooled connection. (A SIGKILLed
// daemon's servers, adopted by a real `berth server`:
// test/integration/addon-restart.test.ts.)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, lstat, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { LocalPostgres } from '../../src/addons/postgres-local.ts';
import { LocalRedis } from '../../src/addons/redis-local.ts';
import { bootId, startTimeOf } from '../../src/addons/server-facts.ts';
import { findUser } from '../../src/platform/app-users.ts';
import { alive, eventually } from '../helpers/berth-process.ts';

const root = process.getuid!() === 0;
let base: string;
const marker = `test-adopt-${process.pid}-${Date.now()}`;
/** Every server a test left, stopped in the end whatever happened. */
const closers: Array<() => Promise<void>> = [];

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'berth-adopt-'));
  await chmod(base, 0o711);
});

after(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  await rm(base, { recursive: true, force: true });
});

function postgresAt(dir: string, logs: string[]): LocalPostgres {
  const server = new LocalPostgres({ dir, supervisorMarker: marker, log: (line) => logs.push(line) });
  closers.push(() => server.close());
  return server;
}

function redisAt(dir: string, logs: string[]): LocalRedis {
  const server = new LocalRedis({ dir, supervisorMarker: marker, log: (line) => logs.push(line) });
  closers.push(() => server.close());
  return server;
}

/** The time an awaited start takes, in ms. */
async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await work();
  return [value, Math.round(performance.now() - started)];
}

test('PostgreSQL: a control-plane stop leaves the postmaster running; the next start adopts it (same pid), and an open connection goes on throughout', async (t) => {
  const dir = join(base, 'pg', 'addons', 'postgres');
  const firstLogs: string[] = [];
  const first = postgresAt(dir, firstLogs);
  const [url, freshMs] = await timed(() => first.start());
  const pid = first.pid!;
  assert.ok(firstLogs.some((line) => line.startsWith(`postgres: started (pid ${pid}); its log is in `)), firstLogs.join('\n'));
  const record = JSON.parse(await readFile(join(dir, 'server.json'), 'utf8'));
  assert.deepEqual(record, { pid, startTime: await startTimeOf(pid), bootId: await bootId(), uid: root ? (await findUser('postgres'))!.uid : process.getuid!(), settings: record.settings });
  const facts = await lstat(join(dir, 'server.json'));
  assert.equal(facts.mode & 0o777, 0o600);
  assert.equal(facts.uid, process.getuid!(), "the record is berth's");

  const app = new pg.Client({ connectionString: url });
  app.on('error', () => {});
  await app.connect();
  closers.push(() => app.end());
  const backend = (await app.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  await app.query('CREATE TABLE visits (n int)');

  await first.close({ leaveRunning: true });
  assert.equal(first.pid, undefined);
  assert.ok(alive(pid), 'the postmaster runs on');
  await app.query('INSERT INTO visits VALUES (1)');

  const secondLogs: string[] = [];
  const second = postgresAt(dir, secondLogs);
  const [again, adoptMs] = await timed(() => second.start());
  t.diagnostic(`fresh start ${freshMs} ms (includes initdb), adoption ${adoptMs} ms`);
  assert.equal(again, url);
  assert.equal(second.pid, pid, 'the same postmaster');
  assert.ok(secondLogs.some((line) => line === `postgres: adopted the server a previous daemon left running (pid ${pid})`), secondLogs.join('\n'));
  assert.ok(!secondLogs.some((line) => /started \(pid/.test(line)), 'nothing new was started');
  await app.query('INSERT INTO visits VALUES (2)');
  assert.equal((await app.query('SELECT pg_backend_pid() AS pid')).rows[0].pid, backend, 'the same connection, never cut');
  assert.deepEqual((await app.query('SELECT n FROM visits ORDER BY n')).rows, [{ n: 1 }, { n: 2 }]);

  // Adopted, not its child: a death is seen through /proc and the server restarted.
  process.kill(pid, 'SIGKILL');
  const restarted = await eventually('a new postmaster', () => (second.pid !== undefined && second.pid !== pid ? second.pid : null), 20_000);
  assert.ok(secondLogs.some((line) => line.startsWith(`postgres (pid ${pid}, adopted) is gone; restarting in `)), secondLogs.join('\n'));
  await eventually('the restarted server answers', async () => {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => {});
    try {
      await client.connect();
      return (await client.query('SELECT count(*)::int AS n FROM visits')).rows[0].n === 2;
    } finally {
      await client.end().catch(() => {});
    }
  }, 20_000, 100);

  // A full stop stops it, and the record goes with it.
  await second.close();
  assert.ok(!alive(restarted), 'stopped');
  await assert.rejects(lstat(join(dir, 'server.json')), { code: 'ENOENT' });
});

test('Redis: a control-plane stop leaves the server running; the next start adopts it (same pid), and an open connection goes on throughout', async (t) => {
  const dir = join(base, 'redis', 'addons', 'redis');
  const firstLogs: string[] = [];
  const first = redisAt(dir, firstLogs);
  const [endpoint, freshMs] = await timed(() => first.start());
  const pid = first.pid!;
  const app = new Redis({ host: endpoint.host, port: endpoint.port, username: endpoint.user!, password: endpoint.password!, lazyConnect: true, retryStrategy: () => null });
  app.on('error', () => {});
  await app.connect();
  closers.push(async () => app.disconnect());
  const id = await app.client('ID');
  await app.set('visits', '1');

  await first.close({ leaveRunning: true });
  assert.ok(alive(pid), 'the server runs on');
  assert.equal(await app.incr('visits'), 2);

  const secondLogs: string[] = [];
  const second = redisAt(dir, secondLogs);
  const [, adoptMs] = await timed(() => second.start());
  t.diagnostic(`fresh start ${freshMs} ms, adoption ${adoptMs} ms`);
  assert.equal(second.pid, pid, 'the same server');
  assert.ok(secondLogs.includes(`redis: adopted the server a previous daemon left running (pid ${pid})`), secondLogs.join('\n'));
  assert.equal(await app.incr('visits'), 3);
  assert.equal(await app.client('ID'), id, 'the same connection, never cut');
  // Its log is its own file, the redis user's, in its data folder.
  const log = await lstat(join(dir, 'data', 'redis.log'));
  assert.ok(log.isFile() && log.size > 0);
  if (root) assert.equal(log.uid, (await findUser('redis'))!.uid);

  // Its log is moved aside once big (here: past 1 byte, checked as it starts), and Redis goes on in a new one.
  await second.close({ leaveRunning: true });
  const third = new LocalRedis({ dir, supervisorMarker: marker, log: () => {}, logRotateBytes: 1 });
  closers.push(() => third.close());
  await third.start();
  assert.equal(third.pid, pid);
  const old = await readFile(join(dir, 'data', 'redis.log.1'), 'utf8');
  assert.match(old, /Ready to accept connections/);
  await app.bgsave();
  const fresh = await eventually('Redis logs in a new file', () => readFile(join(dir, 'data', 'redis.log'), 'utf8').catch(() => ''));
  assert.match(fresh, /Background saving started/);
  assert.doesNotMatch(fresh, /Ready to accept connections/);

  await third.close();
  assert.ok(!alive(pid), 'a full stop stops it');
});

test('a record naming a live process that is not the server (a reused pid) is not adopted, and that process is never signalled', async () => {
  const dir = join(base, 'reused', 'addons', 'redis');
  const logs: string[] = [];
  const first = redisAt(dir, logs);
  await first.start();
  const record = JSON.parse(await readFile(join(dir, 'server.json'), 'utf8'));
  await first.close();

  // The pid now belongs to someone else: as the redis user even, in the same group shape, with its true start time.
  const redisUser = root ? await findUser('redis') : null;
  const squatter = spawn('sleep', ['60'], { stdio: 'ignore', detached: true, ...(redisUser ? { uid: redisUser.uid, gid: redisUser.gid } : {}) });
  closers.push(async () => void squatter.kill('SIGKILL'));
  const startTime = await eventually('the squatter runs', () => startTimeOf(squatter.pid!));
  await writeFile(join(dir, 'server.json'), JSON.stringify({ ...record, pid: squatter.pid, startTime }), { mode: 0o600 });

  const second = redisAt(dir, logs);
  await second.start();
  assert.notEqual(second.pid, squatter.pid);
  assert.ok(logs.some((line) => line.includes(`pid ${squatter.pid} is not the previous server (its program is `) && line.endsWith('it is left alone')), logs.join('\n'));
  assert.ok(alive(squatter.pid!), 'left alone');
  assert.equal(squatter.exitCode, null);
  assert.equal(squatter.signalCode, null);
  assert.equal(JSON.parse(await readFile(join(dir, 'server.json'), 'utf8')).pid, second.pid, 'the record names the new server');
  await second.close();
});

test('a server of ours started with other settings is ended and started anew, not adopted', async () => {
  const dir = join(base, 'settings', 'addons', 'redis');
  const logs: string[] = [];
  const first = redisAt(dir, logs);
  await first.start();
  const pid = first.pid!;
  await first.close({ leaveRunning: true });
  // What the daemon would start now differs (here: the record's digest, as a changed flag or service address would make it).
  const record = JSON.parse(await readFile(join(dir, 'server.json'), 'utf8'));
  await writeFile(join(dir, 'server.json'), JSON.stringify({ ...record, settings: 'from an older berth' }), { mode: 0o600 });
  const second = redisAt(dir, logs);
  await second.start();
  assert.ok(logs.includes(`redis: ending the server a previous daemon left running (pid ${pid}): its settings differ from what berth starts it with now`), logs.join('\n'));
  await eventually('the old server is gone', () => !alive(pid), 10_000);
  assert.notEqual(second.pid, pid);
  await second.close();
});
