import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listenersFor, parseProcNetTcp } from '../../src/runner/proc-net.ts';
import { judgePortOwner, portTakenMessage } from '../../src/runner/port-owner.ts';
import { parseStat, parseStatusUids, socketInode } from '../../src/runner/proc-table.ts';

// Captured from a Debian machine (x86-64, little-endian), trimmed.
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000   102        0 8995 1 00000000e8080b45 100 0 0 10 0
   1: 00000000:A0D2 00000000:0000 0A 00000000:00000000 00:00000000 00000000   998        0 44001 1 00000000429334e9 100 0 0 10 0
   2: 0100007F:A0D2 0100007F:C350 01 00000000:00000000 00:00000000 00000000   997        0 44002 1 00000000c0a059e1 20 4 30 10 -1
   3: 0200007F:A0D3 00000000:0000 0A 00000000:00000000 00:00000000 00000000   996        0 44003 1 00000000c0a059e1 100 0 0 10 0
   4: 0100007F:A0D3 00000000:0000 0A 00000000:00000000 00:00000000 00000000   997        0 44004 1 00000000c0a059e1 100 0 0 10 0
garbage line
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:18EB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   102        0 8996 1 0000000044367481 100 0 0 10 0
   1: 00000000000000000000000000000000:A0D4 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   998        0 44005 1 0000000044367481 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:A0D5 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   998        0 44006 1 0000000044367481 100 0 0 10 0
   3: 0000000000000000FFFF00000100007F:A0D5 0000000000000000FFFF00000100007F:D000 01 00000000:00000000 00:00000000 00000000   997        0 44007 1 0000000044367481 20 4 30 10 -1
   4: 000080FE00000000D2A3B4FF5E6F7A8B:A0D6 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   995        0 44008 1 0000000044367481 100 0 0 10 0
`;

test('IPv4 listeners: address, port, uid and inode of LISTEN (0A) lines only', () => {
  assert.deepEqual(parseProcNetTcp(TCP, 4), [
    { family: 4, address: '127.0.0.1', port: 6379, uid: 102, inode: 8995 },
    { family: 4, address: '0.0.0.0', port: 41170, uid: 998, inode: 44001 },
    { family: 4, address: '127.0.0.2', port: 41171, uid: 996, inode: 44003 },
    { family: 4, address: '127.0.0.1', port: 41171, uid: 997, inode: 44004 },
  ]);
});

test('IPv6 listeners: ::1, ::, ::ffff:127.0.0.1 and other addresses; established lines left out', () => {
  assert.deepEqual(parseProcNetTcp(TCP6, 6), [
    { family: 6, address: '::1', port: 6379, uid: 102, inode: 8996 },
    { family: 6, address: '::', port: 41172, uid: 998, inode: 44005 },
    { family: 6, address: '::ffff:127.0.0.1', port: 41173, uid: 998, inode: 44006 },
    { family: 6, address: 'fe80:0:0:0:ffb4:a3d2:8b7a:6f5e', port: 41174, uid: 995, inode: 44008 },
  ]);
});

test('big-endian machines print the words the other way round', () => {
  const line = `header\n   0: 7F000001:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     5        0 77 1\n`;
  assert.deepEqual(parseProcNetTcp(line, 4, false), [{ family: 4, address: '127.0.0.1', port: 8080, uid: 5, inode: 77 }]);
});

test('the listeners reaching 127.0.0.1:PORT: 127.0.0.1, 0.0.0.0, :: and ::ffff:127.0.0.1, never ::1 or 127.0.0.2', () => {
  const all = [...parseProcNetTcp(TCP, 4), ...parseProcNetTcp(TCP6, 6)];
  assert.deepEqual(listenersFor(all, 41170).map((l) => l.address), ['0.0.0.0']);
  assert.deepEqual(listenersFor(all, 41171).map((l) => l.address), ['127.0.0.1']);
  assert.deepEqual(listenersFor(all, 41172).map((l) => l.address), ['::']);
  assert.deepEqual(listenersFor(all, 41173).map((l) => l.address), ['::ffff:127.0.0.1']);
  assert.deepEqual(listenersFor(all, 41174), []);
  assert.deepEqual(listenersFor(all, 6379).map((l) => l.address), ['127.0.0.1']);
});

const listener = (uid: number, inode: number, address = '127.0.0.1') => ({ family: 4 as const, address, port: 4000, uid, inode });

test('by uid: ready only when every listener is the app uid’s', () => {
  const owner = { kind: 'uid', uid: 1001 } as const;
  assert.deepEqual(judgePortOwner([], owner, new Set()), { kind: 'none' });
  assert.deepEqual(judgePortOwner([listener(1001, 1)], owner, new Set()), { kind: 'own' });
  assert.deepEqual(judgePortOwner([listener(1001, 1), listener(1001, 2, '0.0.0.0')], owner, new Set()), { kind: 'own' });
  assert.deepEqual(judgePortOwner([listener(998, 1)], owner, new Set()), { kind: 'foreign', uid: 998, address: '127.0.0.1' });
  assert.deepEqual(judgePortOwner([listener(1001, 1), listener(0, 2, '::')], owner, new Set()), { kind: 'foreign', uid: 0, address: '::' });
});

test('by process group: ready only when every listener’s inode is held by the group', () => {
  const owner = { kind: 'group', pgid: 500 } as const;
  assert.deepEqual(judgePortOwner([listener(0, 7)], owner, new Set([7, 8])), { kind: 'own' });
  assert.deepEqual(judgePortOwner([listener(0, 7), listener(0, 9, '0.0.0.0')], owner, new Set([7, 8])), { kind: 'foreign', uid: 0, address: '0.0.0.0' });
  assert.deepEqual(judgePortOwner([listener(0, 7)], owner, new Set()), { kind: 'foreign', uid: 0, address: '127.0.0.1' });
});

test('the log line names the port, the holder’s uid and the instance', () => {
  assert.equal(portTakenMessage(41234, 998, 'web.1'), 'port 41234 is held by another process (uid 998), not web.1');
});

test('/proc/PID/stat: a comm with spaces and parentheses', () => {
  const rest = '4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 987654 1000 200';
  assert.deepEqual(parseStat(`4242 (my (odd) name) S 1 4242 ${rest}`), { pid: 4242, comm: 'my (odd) name', state: 'S', ppid: 1, pgid: 4242, startTime: 987654 });
  assert.equal(parseStat('4242 (short) S 1 4242 4242 0 -1 4194560 0 0'), null, 'no start time: not a stat line');
  assert.equal(parseStat('nonsense'), null);
});

test('/proc/PID/status: the four uids', () => {
  assert.deepEqual(parseStatusUids('Name:\tnode\nUid:\t1001\t1001\t1001\t1001\nGid:\t1001\t1001\t1001\t1001\n'), [1001, 1001, 1001, 1001]);
  assert.equal(parseStatusUids('Name:\tnode\n'), null);
});

test('fd links: only sockets', () => {
  assert.equal(socketInode('socket:[44001]'), 44001);
  assert.equal(socketInode('pipe:[44001]'), null);
  assert.equal(socketInode('/dev/null'), null);
});
