import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuCgroupDir, parseCpuStat, throttleBetween } from './cpu-throttle.ts';

test('cpu.stat of cgroup v1 (throttled_time in ns) and v2 (throttled_usec) read alike; anything else is null', () => {
  assert.deepEqual(parseCpuStat('nr_periods 69\nnr_throttled 1\nthrottled_time 26704023\nnr_bursts 0\nburst_time 0\n'), { periods: 69, throttled: 1, throttledMs: 26.704023 });
  assert.deepEqual(parseCpuStat('usage_usec 1000\nuser_usec 800\nsystem_usec 200\nnr_periods 10\nnr_throttled 4\nthrottled_usec 12500\n'), { periods: 10, throttled: 4, throttledMs: 12.5 });
  assert.equal(parseCpuStat('usage_usec 1000\n'), null, 'a group without a quota');
  assert.equal(parseCpuStat(''), null);
});

test('the cpu cgroup of a process: v1\'s cpu hierarchy (alone or shared with cpuacct), else the unified one', () => {
  const v1 = '9:name=systemd:/\n4:memory:/process_api/94dd\n1:cpu:/berth/5b6a/bench-node/web.1-9fc5\n2:cpuacct:/berth/5b6a/bench-node/web.1-9fc5\n0::/\n';
  assert.equal(cpuCgroupDir(v1), '/sys/fs/cgroup/cpu/berth/5b6a/bench-node/web.1-9fc5');
  assert.equal(cpuCgroupDir('3:cpu,cpuacct:/berth/x/web.1-a\n0::/\n'), '/sys/fs/cgroup/cpu,cpuacct/berth/x/web.1-a');
  assert.equal(cpuCgroupDir('0::/system.slice/berth.service/berth/x/web.1-a\n'), '/sys/fs/cgroup/system.slice/berth.service/berth/x/web.1-a');
  assert.equal(cpuCgroupDir('1:cpu:/\n'), '/sys/fs/cgroup/cpu');
  assert.equal(cpuCgroupDir('not a cgroup file'), null);
});

test('the counters during a run are the difference of two readings', () => {
  assert.deepEqual(throttleBetween({ periods: 69, throttled: 1, throttledMs: 26 }, { periods: 120, throttled: 4, throttledMs: 80 }), { periods: 51, throttled: 3, throttledMs: 54 });
});
