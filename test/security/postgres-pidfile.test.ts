// The attack (by accident, not malice): berth's daemon dies while its local
// PostgreSQL is busy, and the next daemon starts while the old postmaster
// is still exiting — here, deterministically, a postmaster that has died but
// was not yet reaped (a zombie: /proc shows no command line) while its
// children still work in the data folder with the shared memory attached.
// Removing postmaster.pid then would let a second postmaster write the same
// data folder as the old backends. The next start must leave the file, start
// no second postmaster, refuse once its wait is over, and start as soon as
// the old processes are gone.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalPostgres } from '../../src/addons/postgres-local.ts';
import { isBerthError } from '../../src/errors.ts';
import { eventually } from '../helpers/berth-process.ts';
import { withClient } from '../helpers/postgres.ts';

const OLD_DAEMON = fileURLToPath(new URL('./postgres-old-daemon.ts', import.meta.url));

async function stateOf(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

async function childrenOf(pid: number): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(entry));
    } catch {
      // Gone.
    }
  }
  return found;
}

/** Live processes working in `dir`: every postgres process of that data folder. */
async function processesIn(dir: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if ((await readlink(`/proc/${entry}/cwd`)) === dir) found.push(Number(entry));
    } catch {
      // Gone, or a zombie.
    }
  }
  return found.sort((a, b) => a - b);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

test('a postmaster still exiting when the next daemon starts: postmaster.pid stays, no second postmaster, the start waits and then goes ahead', { timeout: 180_000 }, async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'berth-pidfile-'));
  await chmod(base, 0o711);
  const dir = join(base, 'state', 'addons', 'postgres');
  const data = join(dir, 'data');
  const marker = `pidfile-test-${process.pid}-${Date.now()}`;
  const leftovers: number[] = [];
  let oldDaemon: ChildProcess | null = null;
  const clusters: LocalPostgres[] = [];
  t.after(async () => {
    for (const pid of leftovers) signal(pid, 'SIGKILL');
    oldDaemon?.kill('SIGKILL');
    for (const cluster of clusters) await cluster.close();
    await rm(base, { recursive: true, force: true });
  });

  // The old daemon runs the cluster; one client works in it.
  oldDaemon = spawn(process.execPath, [OLD_DAEMON, dir, marker], { stdio: ['ignore', 'pipe', 'pipe'] });
  let said = '';
  oldDaemon.stdout!.setEncoding('utf8').on('data', (chunk: string) => (said += chunk));
  oldDaemon.stderr!.setEncoding('utf8').on('data', (chunk: string) => (said += chunk));
  const postmaster = Number((await eventually('the old daemon started PostgreSQL', () => /READY (\d+)/.exec(said), 120_000, 100))[1]);
  const url = `postgres://berth:${encodeURIComponent((await readFile(join(dir, 'admin-password'), 'utf8')).trim())}@127.0.0.1:${(await readFile(join(dir, 'port'), 'utf8')).trim()}/postgres`;
  await withClient(url, (client) => client.query('CREATE TABLE IF NOT EXISTS kept AS SELECT 1 AS one'));

  // It hangs (so it reaps nothing), and its postmaster dies while its children stay (stopped, like slow ones).
  // Its live children (a backend that just ended may be a zombie, gone in a moment).
  const children: number[] = [];
  for (const pid of await childrenOf(postmaster)) if ((await stateOf(pid)) !== 'Z') children.push(pid);
  assert.ok(children.length > 0, 'the postmaster has its auxiliary processes');
  for (const pid of children) signal(pid, 'SIGSTOP');
  leftovers.push(...children);
  signal(oldDaemon.pid!, 'SIGSTOP');
  signal(postmaster, 'SIGKILL');
  await eventually('the old postmaster is a zombie', async () => (await stateOf(postmaster)) === 'Z', 10_000);
  const before = await processesIn(data);
  assert.ok(before.length > 0 && before.every((pid) => children.includes(pid)), `only the old children work in the data folder: ${before} of ${children}`);

  // The next daemon's start: refused after its wait, the file untouched, no second postmaster.
  const logs: string[] = [];
  const next = new LocalPostgres({ dir, supervisorMarker: marker, log: (line) => logs.push(line), pidFileWaitMs: 1_500, readyTimeoutMs: 8_000 });
  clusters.push(next);
  const refused: unknown = await next.start().then(() => null, (err: unknown) => err);
  const pidFile = await readFile(join(data, 'postmaster.pid'), 'utf8').catch(() => '(removed)');
  assert.equal(pidFile.split('\n')[0], String(postmaster), 'postmaster.pid still names the old postmaster');
  assert.ok(!logs.some((line) => /removing .*postmaster\.pid/.test(line)), logs.join('\n'));
  assert.ok(!logs.some((line) => /postgres: started \(pid/.test(line)), `no second postmaster was launched:\n${logs.join('\n')}`);
  assert.ok(logs.some((line) => /starting a new server: the previous server \(pid \d+\) has exited \(not yet reaped\)/.test(line)), `the zombie named by berth's record is not adopted:\n${logs.join('\n')}`);
  const after = await processesIn(data);
  assert.ok(after.length > 0 && after.every((pid) => before.includes(pid)), `no second postmaster runs on the data folder: ${after}, before ${before}`);
  assert.ok(isBerthError(refused), String(refused));
  assert.equal(refused.code, 'BERTH_E_ADDON_SERVER');
  assert.match(refused.message, /will not start a second PostgreSQL server/);
  assert.match(refused.message, /has exited but its parent has not reaped it/);

  // Once the old processes are gone, a start that is waiting goes ahead.
  const again = new LocalPostgres({ dir, supervisorMarker: marker, log: (line) => logs.push(line), pidFileWaitMs: 60_000 });
  clusters.push(again);
  const starting = again.start();
  await eventually('the start waits', () => logs.some((line) => /waiting before starting/.test(line)), 10_000);
  assert.equal(again.pid, undefined, 'nothing launched while the old processes live');
  for (const pid of children) signal(pid, 'SIGKILL');
  oldDaemon.kill('SIGKILL');
  const adminUrl = await starting;
  assert.equal(adminUrl, url);
  await withClient(adminUrl, async (client) => assert.deepEqual((await client.query('SELECT one FROM kept')).rows, [{ one: 1 }]));
  assert.equal((await readFile(join(data, 'postmaster.pid'), 'utf8')).split('\n')[0], String(again.pid));
});
