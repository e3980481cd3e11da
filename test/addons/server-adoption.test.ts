// decideAdoption: every way a record, /proc, postmaster.pid and a probe can
// disagree, and what berth does about each: adopt only what every check
// says is ours and fit, end what is ours but unfit, leave alone (and start
// beside) what is not provably ours.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideAdoption, parseServerRecord, type AdoptionFacts, type RecordedProcess, type ServerRecord } from '../../src/addons/server-adoption.ts';
import { parseProcStat } from '../../src/addons/server-facts.ts';

const RECORD: ServerRecord = { pid: 4242, startTime: '987654', bootId: 'boot-a', uid: 105, settings: 'digest-1' };
const ALIVE: RecordedProcess = { kind: 'alive', startTime: '987654', uid: 105, pgid: 4242, exe: '/usr/lib/postgresql/15/bin/postgres', cwd: '/var/lib/berth/addons/postgres/data' };
const EXPECTED = { uid: 105, exe: '/usr/lib/postgresql/15/bin/postgres', cwd: '/var/lib/berth/addons/postgres/data', settings: 'digest-1' };

function facts(change: Partial<AdoptionFacts> = {}): AdoptionFacts {
  return { record: RECORD, bootId: 'boot-a', process: ALIVE, expected: EXPECTED, pidFile: 4242, answers: 'not-asked', ...change };
}

function alive(change: Partial<Extract<RecordedProcess, { kind: 'alive' }>>): RecordedProcess {
  return { ...(ALIVE as Extract<RecordedProcess, { kind: 'alive' }>), ...change };
}

test('everything agrees: probe first, adopt when it answers', () => {
  assert.deepEqual(decideAdoption(facts()), { action: 'probe', pid: 4242 });
  assert.deepEqual(decideAdoption(facts({ answers: 'yes' })), { action: 'adopt', pid: 4242 });
  // Redis has no pid file of its own: null skips that check.
  assert.deepEqual(decideAdoption(facts({ pidFile: null, answers: 'yes' })), { action: 'adopt', pid: 4242 });
});

test('ours but unfit is ended: no answer, a refused password, other settings (settings are judged before any probe)', () => {
  assert.deepEqual(decideAdoption(facts({ answers: 'no' })), { action: 'end', pid: 4242, reason: 'it does not answer' });
  assert.equal(decideAdoption(facts({ answers: 'wrong-password' })).action, 'end');
  for (const answers of ['not-asked', 'yes', 'no'] as const) {
    const decision = decideAdoption(facts({ expected: { ...EXPECTED, settings: 'digest-2' }, answers }));
    assert.equal(decision.action, 'end', answers);
    assert.match((decision as { reason: string }).reason, /settings/);
  }
});

test('nothing to adopt: no record, a damaged one, another boot, an exited server (gone or a zombie) — start, signal nothing', () => {
  const cases: Array<[Partial<AdoptionFacts>, RegExp]> = [
    [{ record: 'missing' }, /no server was left/],
    [{ record: 'damaged' }, /damaged/],
    [{ bootId: 'boot-b' }, /before the last reboot/],
    [{ process: { kind: 'gone' } }, /has exited/],
    [{ process: { kind: 'zombie' } }, /not yet reaped/],
  ];
  for (const [change, reason] of cases) {
    for (const answers of ['not-asked', 'yes'] as const) {
      const decision = decideAdoption(facts({ ...change, answers }));
      assert.equal(decision.action, 'start', JSON.stringify(change));
      assert.match((decision as { reason: string }).reason, reason);
    }
  }
});

test('a live process that fails any identity check is someone else\'s: never adopted, never ended, whatever it answers', () => {
  const cases: Array<[Partial<AdoptionFacts>, RegExp]> = [
    [{ process: alive({ startTime: '987655' }) }, /pid was reused/],
    [{ process: alive({ uid: 0 }) }, /uid 0/],
    [{ process: alive({ uid: 1000 }) }, /uid 1000/],
    [{ record: { ...RECORD, uid: 0 } }, /uid/],
    [{ process: alive({ pgid: 1 }) }, /process group/],
    [{ process: alive({ exe: '/usr/bin/python3' }) }, /python3/],
    [{ process: alive({ exe: null }) }, /unknown/],
    [{ process: alive({ cwd: '/home/berth-shop' }) }, /berth-shop/],
    [{ process: alive({ cwd: null }) }, /unknown folder/],
    [{ pidFile: 'missing' }, /postmaster\.pid is missing/],
    [{ pidFile: 'damaged' }, /postmaster\.pid is damaged/],
    [{ pidFile: 4343 }, /names pid 4343/],
  ];
  for (const [change, reason] of cases) {
    for (const answers of ['not-asked', 'yes', 'no', 'wrong-password'] as const) {
      for (const settings of ['digest-1', 'digest-2']) {
        const decision = decideAdoption(facts({ ...change, answers, expected: { ...EXPECTED, settings } }));
        assert.equal(decision.action, 'start', `${JSON.stringify(change)} ${answers} ${settings}`);
        assert.match((decision as { reason: string }).reason, reason);
        assert.match((decision as { reason: string }).reason, /left alone/);
      }
    }
  }
});

test('a binary replaced by a package upgrade while it runs is still the same program', () => {
  assert.deepEqual(decideAdoption(facts({ process: alive({ exe: `${EXPECTED.exe} (deleted)` }), answers: 'yes' })), { action: 'adopt', pid: 4242 });
});

test('records: only a whole, well-formed one is read', () => {
  assert.deepEqual(parseServerRecord(JSON.stringify(RECORD)), RECORD);
  for (const bad of ['', '{', 'null', '[]', JSON.stringify({ ...RECORD, pid: 0 }), JSON.stringify({ ...RECORD, pid: -1 }), JSON.stringify({ ...RECORD, pid: 1.5 }), JSON.stringify({ ...RECORD, startTime: 12 }), JSON.stringify({ ...RECORD, startTime: '12a' }), JSON.stringify({ ...RECORD, bootId: '' }), JSON.stringify({ ...RECORD, uid: -1 }), JSON.stringify({ ...RECORD, settings: undefined })]) {
    assert.equal(parseServerRecord(bad), 'damaged', bad);
  }
});

test('/proc/PID/stat: state, group and start time, whatever the command name holds', () => {
  const fields = ['S', '1', '4242', '4242', '0', '-1', '4194560', '100', '0', '0', '0', '1', '2', '0', '0', '20', '0', '1', '0', '987654', '1000'];
  assert.deepEqual(parseProcStat(`4242 (post gres) x)) ${fields.join(' ')}\n`), { state: 'S', pgid: 4242, startTime: '987654' });
  assert.equal(parseProcStat('4242 (postgres'), null);
  assert.equal(parseProcStat('4242 (postgres) S 1'), null);
});
