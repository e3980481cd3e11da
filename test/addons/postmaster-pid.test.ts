import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgePidFile, parsePostmasterPid, type PidFileFacts, type ProcessFacts } from '../../src/addons/postmaster-pid.ts';

const DATA = '/var/lib/berth/addons/postgres/data';
const REAL = '/srv/berth/addons/postgres/data';
const FILE = `4242\n${DATA}\n1767225600\n5433\n/var/lib/berth/addons/postgres/run\n127.0.0.1\n  5433001     32769\nready   \n`;

const postmaster: ProcessFacts = { kind: 'alive', exe: '/usr/lib/postgresql/15/bin/postgres', cmdline: ['/usr/lib/postgresql/15/bin/postgres', '-D', DATA], cwd: DATA };
const elsewhere: ProcessFacts = { kind: 'alive', exe: '/usr/bin/sleep', cmdline: ['sleep', '30'], cwd: '/root' };

function facts(overrides: Partial<PidFileFacts> = {}): PidFileFacts {
  return { dataDir: DATA, realDataDir: DATA, file: parsePostmasterPid(FILE)!, named: { kind: 'gone' }, holders: [], shmAttached: null, ...overrides };
}

test('parsePostmasterPid: pid, data folder and shared memory from the lines PostgreSQL writes', () => {
  assert.deepEqual(parsePostmasterPid(FILE), { pid: 4242, dataDir: DATA, shmKey: 5433001, shmId: 32769 });
  assert.deepEqual(parsePostmasterPid(`4242\n${DATA}\n0\n0\n\n\n\n`), { pid: 4242, dataDir: DATA, shmKey: null, shmId: null });
  assert.deepEqual(parsePostmasterPid(`-4242\n${DATA}\n`), { pid: 4242, dataDir: DATA, shmKey: null, shmId: null }, 'a standalone backend');
  for (const bad of ['', '\n', 'abc\n/x\n', '0\n/x\n', '4242\n', '4242\nrelative/path\n', '99999999999\n/x\n', '42x\n/x\n']) assert.equal(parsePostmasterPid(bad), null, JSON.stringify(bad));
});

test('no file and nothing running: start', () => {
  assert.deepEqual(judgePidFile(facts({ file: 'missing' })), { action: 'start' });
});

test('the named pid is dead and nothing of the folder runs: start, PostgreSQL judges the stale file itself', () => {
  assert.deepEqual(judgePidFile(facts()), { action: 'start' });
  assert.deepEqual(judgePidFile(facts({ shmAttached: 0 })), { action: 'start' }, 'a segment nobody has attached');
});

test('the postmaster of this folder is alive (stopped, slow, still exiting): wait, naming it', () => {
  const decision = judgePidFile(facts({ named: postmaster, holders: [4242, 4250, 4251] }));
  assert.equal(decision.action, 'wait');
  assert.match((decision as { reason: string }).reason, /the postmaster of this data folder \(pid 4242\) is still running/);
  assert.deepEqual((decision as { pids: readonly number[] }).pids, [4242, 4250, 4251]);
  // Through a link: the kernel reports the real path.
  assert.equal(judgePidFile(facts({ realDataDir: REAL, named: { ...postmaster, cwd: REAL } })).action, 'wait');
});

test('a zombie postmaster (exited, not reaped): wait, whatever its empty command line says', () => {
  const decision = judgePidFile(facts({ named: { kind: 'zombie' } }));
  assert.equal(decision.action, 'wait');
  assert.match((decision as { reason: string }).reason, /has exited but its parent has not reaped it/);
});

test('the postmaster is gone but its children still work in the folder: wait for them', () => {
  const decision = judgePidFile(facts({ holders: [4250, 4251] }));
  assert.deepEqual(decision, { action: 'wait', reason: '2 processes of the previous server still work in this data folder (pid 4250, 4251)', pids: [4250, 4251] });
  assert.equal(judgePidFile(facts({ file: 'missing', holders: [4250] })).action, 'wait', 'even with the file gone');
  assert.equal(judgePidFile(facts({ file: 'damaged', holders: [4250] })).action, 'wait', 'even with the file damaged');
  assert.equal(judgePidFile(facts({ named: elsewhere, holders: [4250] })).action, 'wait', 'even when the pid was reused');
});

test('the shared memory segment is still attached: wait', () => {
  const decision = judgePidFile(facts({ shmAttached: 2 }));
  assert.equal(decision.action, 'wait');
  assert.match((decision as { reason: string }).reason, /shared memory \(key 5433001\) is still attached by 2 processes/);
  assert.equal(judgePidFile(facts({ named: elsewhere, shmAttached: 1 })).action, 'wait');
});

test('a live process of this folder that is not postgres, or one /proc will not describe: wait', () => {
  assert.equal(judgePidFile(facts({ named: { kind: 'alive', exe: null, cmdline: [], cwd: DATA } })).action, 'wait');
  assert.equal(judgePidFile(facts({ named: { kind: 'alive', exe: '/usr/bin/perl', cmdline: ['perl'], cwd: DATA } })).action, 'wait');
  assert.equal(judgePidFile(facts({ named: { kind: 'alive', exe: null, cmdline: [], cwd: null } })).action, 'wait', 'cannot tell where it works');
});

test('the pid now belongs to another process working elsewhere, and nothing of the folder runs: remove', () => {
  const decision = judgePidFile(facts({ named: elsewhere }));
  assert.equal(decision.action, 'remove');
  assert.match((decision as { reason: string }).reason, /its pid 4242 now belongs to sleep/);
  // A postgres of another cluster (the system's) with that pid: PostgreSQL would refuse for ever.
  assert.equal(judgePidFile(facts({ named: { ...postmaster, cwd: '/var/lib/postgresql/15/main' } })).action, 'remove');
});

test('a damaged file with nothing of the folder running: remove; with anything running: wait', () => {
  assert.equal(judgePidFile(facts({ file: 'damaged' })).action, 'remove');
  assert.equal(judgePidFile(facts({ file: 'damaged', holders: [7] })).action, 'wait');
});
