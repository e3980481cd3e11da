// The attack: a hostile app wants berth (root) to adopt a process of its
// choosing as its PostgreSQL or Redis server, or to signal one (a stop, a
// SIGKILL) when it "ends" or reaps a server. What berth adopts by is its
// own record (STATE/addons/KIND/server.json, root's 0600 in root's folder),
// checked against /proc (start time, uid, process group, program, working
// folder) and PostgreSQL's postmaster.pid (in the postgres user's 0700 data
// folder). Shown here: an app's user can write none of them, and a record
// naming the app's process (as if it could) adopts and signals nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmod, lstat, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalPostgres } from '../../src/addons/postgres-local.ts';
import { LocalRedis } from '../../src/addons/redis-local.ts';
import { startTimeOf } from '../../src/addons/server-facts.ts';
import { eventually } from '../helpers/berth-process.ts';

// An app's user: no account needed, a uid berth never gives anything to.
const APP_UID = 64_411;
let base: string;
let postgresDir: string;
let redisDir: string;
const marker = `test-adoption-attack-${process.pid}`;
const closers: Array<() => Promise<void>> = [];
const logs: string[] = [];

before(async () => {
  assert.equal(process.getuid!(), 0, 'this attack needs berth as root, as it runs');
  base = await mkdtemp(join(tmpdir(), 'berth-adopt-attack-'));
  await chmod(base, 0o711);
  postgresDir = join(base, 'state', 'addons', 'postgres');
  redisDir = join(base, 'state', 'addons', 'redis');
  const postgres = new LocalPostgres({ dir: postgresDir, supervisorMarker: marker, log: (line) => logs.push(line) });
  const redis = new LocalRedis({ dir: redisDir, supervisorMarker: marker, log: (line) => logs.push(line) });
  closers.push(() => postgres.close(), () => redis.close());
  await Promise.all([postgres.start(), redis.start()]);
  // A control-plane stop: both run on, their records waiting for the next daemon.
  await Promise.all([postgres.close({ leaveRunning: true }), redis.close({ leaveRunning: true })]);
});

after(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  await rm(base, { recursive: true, force: true });
});

/** Tries to write `file` as the app's user; resolves with Python's error name, or 'written'. */
function writeAsApp(file: string, how: 'write' | 'create-beside-and-rename' = 'write'): Promise<string> {
  const script =
    how === 'write'
      ? 'import sys\ntry:\n  open(sys.argv[1], "w").write("1\\n")\n  print("written")\nexcept OSError as e:\n  print(type(e).__name__)'
      : 'import os, sys\ntry:\n  t = sys.argv[1] + ".evil"\n  open(t, "w").write("{}")\n  os.rename(t, sys.argv[1])\n  print("written")\nexcept OSError as e:\n  print(type(e).__name__)';
  return new Promise((resolve, reject) =>
    execFile('python3', ['-c', script, file], { uid: APP_UID, gid: APP_UID, cwd: '/' }, (err, stdout) => (err ? reject(err) : resolve(stdout.trim()))),
  );
}

test('an app\'s user can write neither berth\'s records of the servers nor postmaster.pid, nor put a file beside them', async () => {
  for (const dir of [postgresDir, redisDir]) {
    const record = await lstat(join(dir, 'server.json'));
    assert.equal(record.uid, 0);
    assert.equal(record.mode & 0o777, 0o600);
    const folder = await lstat(dir);
    assert.equal(folder.uid, 0);
    assert.equal(folder.mode & 0o777, 0o711, "root's: others may pass, not write");
    assert.equal(await writeAsApp(join(dir, 'server.json')), 'PermissionError');
    assert.equal(await writeAsApp(join(dir, 'server.json'), 'create-beside-and-rename'), 'PermissionError');
  }
  assert.equal(await writeAsApp(join(postgresDir, 'data', 'postmaster.pid')), 'PermissionError', "the postgres user's 0700 data folder");
  assert.equal(await writeAsApp(join(redisDir, 'data', 'redis.pid')), 'PermissionError', "the redis user's 0700 data folder");
});

test('a record naming the app\'s own process (as if it could write one) makes berth adopt nothing and signal nothing', async () => {
  // The app's process, made to look its best: its own process group, its start time true.
  const hostile = spawn('sleep', ['120'], { uid: APP_UID, gid: APP_UID, cwd: '/', detached: true, stdio: 'ignore' });
  closers.push(async () => void hostile.kill('SIGKILL'));
  const startTime = await eventually('the hostile process runs', () => startTimeOf(hostile.pid!));
  const running: Record<string, number> = {};
  for (const dir of [postgresDir, redisDir]) {
    const record = JSON.parse(await readFile(join(dir, 'server.json'), 'utf8'));
    running[dir] = record.pid;
    // Even its uid written as the server's: /proc says otherwise.
    await writeFile(join(dir, 'server.json'), JSON.stringify({ ...record, pid: hostile.pid, startTime }), { mode: 0o600 });
  }
  // The real servers stop meanwhile (the operator, a crash): berth must start its own, not take the app's.
  for (const pid of Object.values(running)) process.kill(-pid, 'SIGKILL');
  await eventually('the old servers are gone', async () => (await Promise.all(Object.values(running).map((pid) => startTimeOf(pid)))).every((t) => t === null), 20_000);

  logs.length = 0;
  const postgres = new LocalPostgres({ dir: postgresDir, supervisorMarker: marker, log: (line) => logs.push(line) });
  const redis = new LocalRedis({ dir: redisDir, supervisorMarker: marker, log: (line) => logs.push(line) });
  closers.push(() => postgres.close(), () => redis.close());
  await Promise.all([postgres.start(), redis.start()]);
  assert.notEqual(postgres.pid, hostile.pid);
  assert.notEqual(redis.pid, hostile.pid);
  assert.ok(!logs.some((line) => /adopted/.test(line)), logs.join('\n'));
  assert.equal(logs.filter((line) => line.includes(`pid ${hostile.pid} is not the previous server`) && line.endsWith('it is left alone')).length, 2, logs.join('\n'));
  assert.equal(hostile.exitCode, null, 'never signalled');
  assert.equal(hostile.signalCode, null);
  assert.equal(await startTimeOf(hostile.pid!), startTime, 'the same process, still running');
  await postgres.close();
  await redis.close();
  assert.equal(await startTimeOf(hostile.pid!), startTime, 'a full stop signals only what berth started');
});
