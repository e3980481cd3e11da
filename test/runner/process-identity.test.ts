import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { identityMismatch, parseIdentityStat, readProcessNow, watchExit, type ProcessIdentity, type ProcessNow } from '../../src/runner/process-identity.ts';

// A stat line as the kernel writes it: 52 fields, comm in parentheses (it may hold spaces and parentheses itself).
function statLine(pid: number, comm: string, state: string, pgid: number, startTime: number): string {
  const rest = [state, '1', String(pgid), String(pgid), '0', '-1', '4194560', '100', '0', '0', '0', '5', '3', '0', '0', '20', '0', '1', '0', String(startTime), '1000', '200'];
  return `${pid} (${comm}) ${rest.join(' ')} ${Array.from({ length: 30 }, () => '0').join(' ')}\n`;
}

test('parseIdentityStat reads pid, state, process group and start time, whatever the command name holds', () => {
  assert.deepEqual(parseIdentityStat(statLine(4321, 'node', 'S', 4321, 987654)), { pid: 4321, state: 'S', pgid: 4321, startTime: 987654 });
  assert.deepEqual(parseIdentityStat(statLine(7, 'we ird) (name', 'Z', 3, 12)), { pid: 7, state: 'Z', pgid: 3, startTime: 12 });
  assert.equal(parseIdentityStat(''), null);
  assert.equal(parseIdentityStat('12 node S 1 2'), null);
  assert.equal(parseIdentityStat('x (node) S 1 2 3'), null);
  assert.equal(parseIdentityStat('12 (node) S'), null, 'too few fields');
});

test('identityMismatch: the same pid is the recorded process only with the same start time, group and uid, and not as a zombie', () => {
  const recorded: ProcessIdentity = { pid: 100, startTime: 5000, pgid: 100, uid: 2001 };
  const now = (change: Partial<ProcessNow>): ProcessNow => ({ ...recorded, zombie: false, ...change });
  assert.equal(identityMismatch(recorded, now({})), null);
  assert.match(identityMismatch(recorded, null)!, /is gone/);
  assert.match(identityMismatch(recorded, now({ zombie: true }))!, /has ended/);
  assert.match(identityMismatch(recorded, now({ startTime: 5001 }))!, /another process/);
  assert.match(identityMismatch(recorded, now({ pgid: 101 }))!, /left its process group/);
  assert.match(identityMismatch(recorded, now({ uid: 0 }))!, /runs as uid 0/);
});

test('readProcessNow and watchExit see a real process: its identity, then its end', async () => {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore', detached: true });
  const now = await readProcessNow(child.pid!);
  assert.ok(now !== null);
  assert.equal(now.pid, child.pid);
  assert.equal(now.pgid, child.pid, 'detached: its own group');
  assert.equal(now.uid, process.getuid!());
  assert.equal(now.zombie, false);
  assert.ok(now.startTime > 0);
  assert.equal(await readProcessNow(1 << 30), null);
  assert.equal(await readProcessNow(-1), null);
  const watch = watchExit(now, 20);
  let ended = false;
  void watch.ended.then(() => (ended = true));
  // A look of its own at the running process, as the watch's: not ended.
  const running = await readProcessNow(child.pid!);
  assert.ok(running !== null && !running.zombie && running.startTime === now.startTime);
  assert.equal(ended, false, 'running: not ended');
  child.kill('SIGKILL');
  // Our child until reaped: a zombie counts as ended.
  await watch.ended;
  // A recorded start time that is not the process's: ended at the first look (the pid was reused).
  const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    const reused = watchExit({ ...(await readProcessNow(other.pid!))!, startTime: 1 }, 20);
    await reused.ended;
  } finally {
    other.kill('SIGKILL');
  }
});
