import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APP_UID_RANGE, chooseAppUid, idsOfDatabase, loginDefsRanges, subordinateRanges, type UidAllocationInput } from '../../src/platform/uid-allocation.ts';

const none: UidAllocationInput = { range: { first: 100, last: 110 }, everAllocated: new Set(), usedUids: new Set(), usedGids: new Set(), reserved: [] };

test('the first uid of the range when nothing was given', () => {
  assert.equal(chooseAppUid(none), 100);
});

test('never a uid given before, even one whose user is gone: always above the highest ever given', () => {
  assert.equal(chooseAppUid({ ...none, everAllocated: new Set([100]) }), 101);
  // 101 was never given but lies below 104, which was: a destroyed app's neighbours are not refilled.
  assert.equal(chooseAppUid({ ...none, everAllocated: new Set([100, 104]) }), 105);
  // Ids given outside the range (an older berth's useradd --system) do not move the start.
  assert.equal(chooseAppUid({ ...none, everAllocated: new Set([998, 5]) }), 100);
});

test('skips uids in passwd and gids in group (the group gets the same number)', () => {
  assert.equal(chooseAppUid({ ...none, usedUids: new Set([100, 101]) }), 102);
  assert.equal(chooseAppUid({ ...none, usedGids: new Set([100]) }), 101);
});

test('skips reserved ranges (login.defs, /etc/subuid, /etc/subgid)', () => {
  assert.equal(chooseAppUid({ ...none, reserved: [{ first: 90, last: 103 }] }), 104);
  assert.equal(chooseAppUid({ ...none, reserved: [{ first: 100, last: 100 }, { first: 101, last: 105 }], usedUids: new Set([106]) }), 107);
});

test('a used-up range is null, never a reuse', () => {
  assert.equal(chooseAppUid({ ...none, everAllocated: new Set([110]) }), null);
  assert.equal(chooseAppUid({ ...none, reserved: [{ first: 0, last: 1000 }] }), null);
  assert.equal(chooseAppUid({ ...none, everAllocated: new Set([105]), usedUids: new Set([106, 107, 108, 109, 110]) }), null);
});

test('berth’s range stays clear of Debian’s defaults: regular and system users, systemd’s ids, nobody, subordinate ids', () => {
  const defaults = loginDefsRanges('');
  const reserved = [...defaults, { first: 60001, last: 60513 }, { first: 61184, last: 65519 }, { first: 65534, last: 65535 }, { first: 100000, last: 600100000 }];
  for (const range of reserved) assert.ok(range.last < APP_UID_RANGE.first || range.first > APP_UID_RANGE.last, JSON.stringify(range));
});

test('passwd and group ids', () => {
  assert.deepEqual([...idsOfDatabase('root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/:/usr/sbin/nologin\n\nbroken\n')], [0, 65534]);
  assert.deepEqual([...idsOfDatabase('root:x:0:\nstaff:x:50:alice,bob\n')], [0, 50]);
});

test('/etc/subuid ranges', () => {
  assert.deepEqual(subordinateRanges('alice:100000:65536\nbob:165536:65536\n# comment\nbad:x:1\nzero:5:0\n'), [
    { first: 100000, last: 165535 },
    { first: 165536, last: 231071 },
  ]);
});

test('login.defs ranges, with useradd’s defaults where a key is missing', () => {
  const text = '# comment\nUID_MIN\t\t\t 1000\nUID_MAX\t\t\t60000\n#SYS_UID_MIN\t\t  100\nGID_MIN 2000\nGID_MAX 3000\nSYS_GID_MAX 1999\n';
  assert.deepEqual(loginDefsRanges(text), [
    { first: 1000, last: 60000 },
    { first: 101, last: 999 },
    { first: 2000, last: 3000 },
    { first: 101, last: 1999 },
  ]);
});
