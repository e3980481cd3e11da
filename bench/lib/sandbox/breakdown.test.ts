import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchArgv } from '../../../src/sandbox/index.ts';
import { setprivTail, withoutHandshake } from './breakdown.ts';

const TOOLS = { nsenter: '/usr/bin/nsenter', bwrap: '/usr/bin/bwrap', setpriv: '/usr/bin/setpriv' };
const SPEC = {
  hostname: 'shop',
  user: { uid: 70_001, gid: 70_001 },
  cwd: '/srv/release',
  argv: ['/usr/bin/node', 'server.mjs'],
  mounts: [{ kind: 'bind', source: '/usr', target: '/usr', writable: false }, { kind: 'bind', source: '/srv/release', target: '/srv/release', writable: false }] as const,
  netnsPath: '/run/berth/x/netns/shop',
};

test('the variants run berth\'s own command without the info and block descriptors, and nothing else changed', () => {
  const full = launchArgv(SPEC, TOOLS, { info: 3, block: 4, seccomp: 5 });
  const stripped = withoutHandshake(full);
  assert.ok(full.includes('--info-fd') && full.includes('--block-fd'));
  assert.ok(!stripped.includes('--info-fd') && !stripped.includes('--block-fd'));
  assert.equal(stripped.length, full.length - 4);
  assert.deepEqual(stripped.slice(0, 3), ['/usr/bin/nsenter', '--net=/run/berth/x/netns/shop', '--']);
  assert.ok(stripped.includes('--seccomp'));
  assert.deepEqual(withoutHandshake(['a', '--info-fd']), ['a', '--info-fd'], 'a flag without its value is left as it is');
});

test('setpriv\'s part of the command is what runs once the sandbox is made: the uid drop, then the program', () => {
  const tail = setprivTail(launchArgv(SPEC, TOOLS, { info: 3, block: 4, seccomp: null }), TOOLS.setpriv);
  assert.equal(tail[0], '/usr/bin/setpriv');
  assert.ok(tail.includes('--reuid=70001') && tail.includes('--no-new-privs'));
  assert.deepEqual(tail.slice(-3), ['--', '/usr/bin/node', 'server.mjs']);
  assert.throws(() => setprivTail(['/usr/bin/bwrap', '--', '/bin/true'], TOOLS.setpriv), /no setpriv/);
});
