import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStat, parseVmRssKiB, treeOf, treeUsage } from './proc-tree.ts';

test('stat lines parse past a command name with spaces and parentheses', () => {
  const line = '4242 (nginx: worker (x) ) S 4241 4241 4241 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 98765 12345678 1000 18446744073709551615';
  assert.deepEqual(parseStat(line), { pid: 4242, name: 'nginx: worker (x) ', ppid: 4241, state: 'S', startTime: 98765, cpuSeconds: 3 });
});

test('VmRSS in KiB, and none for a zombie', () => {
  assert.equal(parseVmRssKiB('Name:\tnginx\nVmPeak:\t  9000 kB\nVmRSS:\t    4500 kB\nThreads:\t1\n'), 4500);
  assert.equal(parseVmRssKiB('Name:\tnginx\nState:\tZ (zombie)\n'), null);
});

test('a tree is the root and every descendant, nothing else', () => {
  const stat = (pid: number, ppid: number) => ({ pid, name: 'x', ppid, state: 'S', startTime: pid, cpuSeconds: 0 });
  const all = [stat(1, 0), stat(10, 1), stat(11, 10), stat(12, 10), stat(13, 11), stat(20, 1)];
  assert.deepEqual(treeOf(10, all).map((s) => s.pid), [10, 11, 12, 13]);
  assert.deepEqual(treeOf(99, all), []);
});

test('the harness can measure itself', async () => {
  const usage = await treeUsage(process.pid);
  assert.ok(usage.processes >= 1);
  assert.ok(usage.rssKiB > 1024);
  assert.ok(usage.cpuSeconds > 0);
});
