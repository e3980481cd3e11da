// App users created by two berth servers at the same moment (each choosing
// the lowest free id, as chooseAppUid does): groupadd and useradd check an
// id before they lock /etc/group and /etc/passwd, so before the machine-wide
// lock both could take the same id, and one failed and left its group
// behind, sharing the other's gid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createAppUser, removeAppUser, type MachineIds } from '../../src/platform/app-users.ts';
import { APP_UID_RANGE, chooseAppUid } from '../../src/platform/uid-allocation.ts';

/** name → id of the entries of `database` (passwd or group) whose names start with `prefix`, and every id in it. */
function entries(database: 'passwd' | 'group', prefix: string): { mine: Map<string, number>; ids: number[] } {
  const mine = new Map<string, number>();
  const ids: number[] = [];
  for (const line of execFileSync('getent', [database], { encoding: 'utf8' }).split('\n')) {
    const [name, , id] = line.split(':');
    if (name === undefined || id === undefined) continue;
    ids.push(Number(id));
    if (name.startsWith(prefix)) mine.set(name, Number(id));
  }
  return { mine, ids };
}

test('app users created at the same moment each get an id of their own, and no half-made group is left', { timeout: 120_000 }, async (t) => {
  assert.equal(process.geteuid?.(), 0, 'app users are made as root');
  // The test-user pattern (t + 6 hex + -): npm test's leftover check counts them.
  const prefix = `t${randomBytes(3).toString('hex')}-`;
  const names = [`${prefix}a`, `${prefix}b`];
  const cleanUp = () => {
    for (const [database, remove] of [['passwd', 'userdel'], ['group', 'groupdel']] as const) {
      for (const name of entries(database, prefix).mine.keys()) execFileSync(remove, [name], { stdio: 'ignore' });
    }
  };
  t.after(cleanUp);
  const lowestFree = (ids: MachineIds) => chooseAppUid({ range: APP_UID_RANGE, everAllocated: new Set(), ...ids })!;
  for (let round = 0; round < 6; round++) {
    const made = await Promise.all(names.map((name) => createAppUser(name, `/nonexistent/${name}`, lowestFree)));
    assert.notEqual(made[0]!.uid, made[1]!.uid, `round ${round}: two apps, one uid`);
    const users = entries('passwd', prefix);
    const groups = entries('group', prefix);
    for (const user of made) {
      assert.equal(users.mine.get(user.name), user.uid);
      assert.equal(groups.mine.get(user.name), user.uid, 'its group has its id');
      assert.equal(users.ids.filter((id) => id === user.uid).length, 1, `round ${round}: uid ${user.uid} is ${user.name}'s alone`);
      assert.equal(groups.ids.filter((id) => id === user.uid).length, 1, `round ${round}: gid ${user.uid} is ${user.name}'s alone`);
    }
    assert.equal(groups.mine.size, 2, 'no other group of theirs');
    for (const user of made) await removeAppUser(user);
    assert.equal(entries('group', prefix).mine.size, 0, 'their groups go with them');
  }
});
