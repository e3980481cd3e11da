import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { parseRssBytes, parseStat, readGroupUsage, sumGroups } from '../../src/metrics/proc-usage.ts';

test('a stat line is read from after the last ")": names may hold spaces and parentheses', () => {
  // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime …
  const line = '4242 (web (a) b) S 1 4200 4200 0 -1 4194560 100 0 0 0 250 50 30 20 20 0 1 0 123456 1000000 300 18446744073709551615';
  assert.deepEqual(parseStat(line), { pid: 4242, pgrp: 4200, cpuSeconds: 3.5 });
  assert.equal(parseStat('garbage'), null);
  assert.equal(parseRssBytes('Name:\tnode\nVmRSS:\t   51200 kB\nVmSwap:\t0 kB\n'), 51200 * 1024);
  assert.equal(parseRssBytes('Name:\tzombie\nState:\tZ (zombie)\n'), 0);
});

test('members are summed per process group; other groups are left out', () => {
  const stats = [
    { pid: 10, pgrp: 10, cpuSeconds: 1 },
    { pid: 11, pgrp: 10, cpuSeconds: 2 },
    { pid: 20, pgrp: 20, cpuSeconds: 5 },
    { pid: 30, pgrp: 30, cpuSeconds: 7 },
  ];
  const usage = sumGroups(stats, new Set([10, 20, 99]), (pid) => pid * 1000);
  assert.deepEqual(Object.fromEntries(usage), {
    10: { processes: 2, rssBytes: 21_000, cpuSeconds: 3 },
    20: { processes: 1, rssBytes: 20_000, cpuSeconds: 5 },
  });
});

test('a real process group, read from /proc: every member counted', async (t) => {
  // Its own group (as the runner starts instances), with two children.
  const child = spawn('sh', ['-c', 'sleep 30 & sleep 30 & wait'], { detached: true, stdio: 'ignore' });
  t.after(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {}
  });
  const pgrp = child.pid!;
  let usage = await readGroupUsage(new Set([pgrp]));
  for (let i = 0; i < 100 && (usage.get(pgrp)?.processes ?? 0) < 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    usage = await readGroupUsage(new Set([pgrp]));
  }
  const group = usage.get(pgrp);
  assert.ok(group, 'the group is found');
  assert.equal(group.processes, 3);
  assert.ok(group.rssBytes > 0);
  assert.ok(group.cpuSeconds >= 0);
  assert.equal((await readGroupUsage(new Set([2 ** 22 + 12345]))).size, 0, 'a group that does not exist is absent');
  assert.equal((await readGroupUsage(new Set())).size, 0);
});
