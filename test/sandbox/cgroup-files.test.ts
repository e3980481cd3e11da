import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cpuQuotaUs,
  limitsProblem,
  nameSegments,
  parentCpuWeight,
  parseControllerList,
  parseKeyed,
  parseMountinfo,
  parseProcCgroup,
  parseProcs,
  planV1,
  planV2,
  subtreeControlWrite,
  v1LimitWrites,
  v1Usage,
  v2LimitWrites,
  v2Usage,
} from '../../src/sandbox/cgroup-files.ts';
import { NO_LIMITS } from '../../src/sandbox/index.ts';

// Captured from the test machine (a Firecracker VM): controllers on v1,
// cpu and cpuacct mounted apart, an empty cgroup2 at /sys/fs/cgroup/unified.
const HYBRID_MOUNTINFO = `22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12334792k,nr_inodes=3083698,mode=755
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
28 27 0:25 / /mnt/sandboxing/model_tools_env/v1/python ro,nosuid,nodev,relatime - tmpfs model_tools_unavailable ro,size=4k,mode=755
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
const HYBRID_CGROUP = `9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/cc2ec123dbf9bf4209aa5f1d791411b6
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
`;

// Debian 12 / Ubuntu 22.04: only cgroup2, berth as a systemd service.
const V2_MOUNTINFO = `22 29 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
23 29 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
26 22 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
29 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
`;
const V2_CGROUP = '0::/system.slice/berth.service\n';

// CentOS 7 / Ubuntu 18.04 under systemd: v1 with cpu,cpuacct joined (and the
// cpu and cpuacct symlinks systemd adds, which mountinfo does not show).
const SYSTEMD_V1_MOUNTINFO = `18 62 0:17 / /sys rw,nosuid,nodev,noexec,relatime shared:6 - sysfs sysfs rw
25 18 0:21 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755
26 25 0:22 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw
27 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,name=systemd
30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct
31 25 0:27 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory
32 25 0:28 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,pids
33 25 0:29 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,freezer
34 25 0:30 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,net_cls,net_prio
62 0 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
`;
const SYSTEMD_V1_CGROUP = `12:pids:/system.slice/berth.service
11:freezer:/
8:memory:/system.slice/berth.service
6:net_cls,net_prio:/
4:cpu,cpuacct:/system.slice/berth.service
1:name=systemd:/system.slice/berth.service
0::/system.slice/berth.service
`;

// A Docker container without a cgroup namespace: each hierarchy mounted at the container's own group.
const DOCKER_V1_MOUNTINFO = `700 690 0:60 /docker/4f1e /sys/fs/cgroup/memory ro,nosuid,nodev,noexec,relatime master:20 - cgroup cgroup rw,memory
701 690 0:61 /docker/4f1e /sys/fs/cgroup/cpu,cpuacct ro,nosuid,nodev,noexec,relatime master:21 - cgroup cgroup rw,cpu,cpuacct
702 690 0:62 /docker/4f1e /sys/fs/cgroup/pids ro,nosuid,nodev,noexec,relatime master:22 - cgroup cgroup rw,pids
`;
const DOCKER_V1_CGROUP = `10:pids:/docker/4f1e/app
4:cpu,cpuacct:/docker/4f1e
3:memory:/docker/4f1e
`;

test('parseMountinfo: fields, optional fields and the escapes of a path', () => {
  const [cpu] = parseMountinfo('30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:13 master:2 - cgroup cgroup rw,cpu,cpuacct\n');
  assert.deepEqual(cpu, { device: '0:26', root: '/', mountPoint: '/sys/fs/cgroup/cpu,cpuacct', fsType: 'cgroup', superOptions: ['rw', 'cpu', 'cpuacct'] });
  const [odd] = parseMountinfo('40 1 0:40 /a\\040b /mnt/with\\040space\\011tab rw - cgroup2 cgroup2 rw\n');
  assert.equal(odd?.root, '/a b');
  assert.equal(odd?.mountPoint, '/mnt/with space\ttab');
  assert.deepEqual(parseMountinfo('garbage\n\n1 2 3\n'), []);
  assert.equal(parseMountinfo(HYBRID_MOUNTINFO).length, 16);
});

test('parseProcCgroup: v1 lines with their controllers, the v2 line, paths with colons', () => {
  const entries = parseProcCgroup(`${HYBRID_CGROUP}5:cpu,cpuacct:/a:b\nnot a line\n`);
  assert.deepEqual(entries.find((e) => e.controllers.includes('memory')), { hierarchyId: 4, controllers: ['memory'], path: '/process_api/cc2ec123dbf9bf4209aa5f1d791411b6' });
  assert.deepEqual(entries.find((e) => e.hierarchyId === 0), { hierarchyId: 0, controllers: [], path: '/' });
  assert.deepEqual(entries.at(-1), { hierarchyId: 5, controllers: ['cpu', 'cpuacct'], path: '/a:b' });
  assert.deepEqual(entries.find((e) => e.hierarchyId === 9)?.controllers, ['name=systemd']);
});

test('planV1 on this machine: memory below its process_api group, cpu and cpuacct apart, freezer used', () => {
  const plan = planV1(parseMountinfo(HYBRID_MOUNTINFO), parseProcCgroup(HYBRID_CGROUP));
  assert.ok(plan.ok);
  assert.deepEqual(plan.value, [
    { controllers: ['memory'], ownDir: '/sys/fs/cgroup/memory/process_api/cc2ec123dbf9bf4209aa5f1d791411b6', ownPath: '/process_api/cc2ec123dbf9bf4209aa5f1d791411b6' },
    { controllers: ['cpu'], ownDir: '/sys/fs/cgroup/cpu', ownPath: '/' },
    { controllers: ['cpuacct'], ownDir: '/sys/fs/cgroup/cpuacct', ownPath: '/' },
    { controllers: ['pids'], ownDir: '/sys/fs/cgroup/pids', ownPath: '/' },
    { controllers: ['freezer'], ownDir: '/sys/fs/cgroup/freezer', ownPath: '/' },
  ]);
});

test('planV2 on this machine: the unified mount is found, and its empty controller list is for the driver to see', () => {
  const plan = planV2(parseMountinfo(HYBRID_MOUNTINFO), parseProcCgroup(HYBRID_CGROUP));
  assert.deepEqual(plan, { ok: true, value: { ownDir: '/sys/fs/cgroup/unified', ownPath: '/' } });
});

test('planV1 under systemd: cpu,cpuacct is one hierarchy serving both', () => {
  const plan = planV1(parseMountinfo(SYSTEMD_V1_MOUNTINFO), parseProcCgroup(SYSTEMD_V1_CGROUP));
  assert.ok(plan.ok);
  assert.deepEqual(plan.value, [
    { controllers: ['memory'], ownDir: '/sys/fs/cgroup/memory/system.slice/berth.service', ownPath: '/system.slice/berth.service' },
    { controllers: ['cpu', 'cpuacct'], ownDir: '/sys/fs/cgroup/cpu,cpuacct/system.slice/berth.service', ownPath: '/system.slice/berth.service' },
    { controllers: ['pids'], ownDir: '/sys/fs/cgroup/pids/system.slice/berth.service', ownPath: '/system.slice/berth.service' },
    { controllers: ['freezer'], ownDir: '/sys/fs/cgroup/freezer', ownPath: '/' },
  ]);
  // Its cgroup2 mount is the hybrid's empty one: the driver reads its controllers and moves on to v1.
  assert.deepEqual(planV2(parseMountinfo(SYSTEMD_V1_MOUNTINFO), parseProcCgroup(SYSTEMD_V1_CGROUP)), {
    ok: true,
    value: { ownDir: '/sys/fs/cgroup/unified/system.slice/berth.service', ownPath: '/system.slice/berth.service' },
  });
});

test('planV1 in a container: a hierarchy mounted at the container\'s group maps berth\'s group inside the mount', () => {
  const plan = planV1(parseMountinfo(DOCKER_V1_MOUNTINFO), parseProcCgroup(DOCKER_V1_CGROUP));
  assert.ok(plan.ok);
  assert.deepEqual(
    plan.value.map((h) => [h.controllers.join(','), h.ownDir]),
    [
      ['memory', '/sys/fs/cgroup/memory'],
      ['cpu,cpuacct', '/sys/fs/cgroup/cpu,cpuacct'],
      ['pids', '/sys/fs/cgroup/pids/app'],
    ],
  );
  // A group outside what is mounted (berth moved to another container's group) cannot be used.
  const outside = planV1(parseMountinfo(DOCKER_V1_MOUNTINFO), parseProcCgroup('3:memory:/docker/other\n4:cpu,cpuacct:/docker/4f1e\n10:pids:/docker/4f1e\n'));
  assert.deepEqual(outside, { ok: false, reason: "cgroup v1: no mounted hierarchy holding berth's group for memory" });
});

test('planV1 and planV2 say what is missing', () => {
  assert.deepEqual(planV1(parseMountinfo(V2_MOUNTINFO), parseProcCgroup(V2_CGROUP)), {
    ok: false,
    reason: "cgroup v1: no mounted hierarchy holding berth's group for memory, cpu, cpuacct, pids",
  });
  const noPids = planV1(parseMountinfo(HYBRID_MOUNTINFO.replace(/^39 .*\n/m, '')), parseProcCgroup(HYBRID_CGROUP));
  assert.deepEqual(noPids, { ok: false, reason: "cgroup v1: no mounted hierarchy holding berth's group for pids" });
  // Without a freezer the driver still works (killAll without freezing).
  const noFreezer = planV1(parseMountinfo(HYBRID_MOUNTINFO.replace(/^37 .*\n/m, '')), parseProcCgroup(HYBRID_CGROUP));
  assert.ok(noFreezer.ok && noFreezer.value.every((h) => !h.controllers.includes('freezer')));
  assert.deepEqual(planV2(parseMountinfo(DOCKER_V1_MOUNTINFO), parseProcCgroup(DOCKER_V1_CGROUP)), { ok: false, reason: 'cgroup v2: this process is in no unified group' });
  assert.deepEqual(planV2(parseMountinfo(SYSTEMD_V1_MOUNTINFO.replace(/^26 .*\n/m, '')), parseProcCgroup(SYSTEMD_V1_CGROUP)), {
    ok: false,
    reason: "cgroup v2: no cgroup2 mount holds berth's group",
  });
});

test('planV2 on a pure v2 system, in a cgroup namespace, and after berth moved into its daemon leaf', () => {
  assert.deepEqual(planV2(parseMountinfo(V2_MOUNTINFO), parseProcCgroup(V2_CGROUP)), {
    ok: true,
    value: { ownDir: '/sys/fs/cgroup/system.slice/berth.service', ownPath: '/system.slice/berth.service' },
  });
  assert.deepEqual(planV2(parseMountinfo(V2_MOUNTINFO), parseProcCgroup('0::/\n')), { ok: true, value: { ownDir: '/sys/fs/cgroup', ownPath: '/' } });
  // Its groups stay beside the leaf, never below it.
  assert.deepEqual(planV2(parseMountinfo(V2_MOUNTINFO), parseProcCgroup('0::/system.slice/berth.service/berth-daemon\n')), {
    ok: true,
    value: { ownDir: '/sys/fs/cgroup/system.slice/berth.service', ownPath: '/system.slice/berth.service' },
  });
  assert.deepEqual(planV2(parseMountinfo(V2_MOUNTINFO), parseProcCgroup('0::/berth-daemon\n')), { ok: true, value: { ownDir: '/sys/fs/cgroup', ownPath: '/' } });
});

test('a mount root override moves every mount under /sys/fs/cgroup (a fake tree), and only those', () => {
  assert.deepEqual(planV2(parseMountinfo(V2_MOUNTINFO), parseProcCgroup(V2_CGROUP), '/tmp/fake'), {
    ok: true,
    value: { ownDir: '/tmp/fake/system.slice/berth.service', ownPath: '/system.slice/berth.service' },
  });
  const v1 = planV1(parseMountinfo(SYSTEMD_V1_MOUNTINFO), parseProcCgroup(SYSTEMD_V1_CGROUP), '/tmp/fake');
  assert.ok(v1.ok);
  assert.deepEqual(v1.value[1]?.ownDir, '/tmp/fake/cpu,cpuacct/system.slice/berth.service');
});

test('controller lists and what subtree_control needs', () => {
  assert.deepEqual(parseControllerList('cpuset cpu io memory hugetlb pids rdma misc\n'), ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc']);
  assert.deepEqual(parseControllerList('\n'), []);
  assert.equal(subtreeControlWrite([]), '+memory +cpu +pids');
  assert.equal(subtreeControlWrite(['cpu', 'io']), '+memory +pids');
  assert.equal(subtreeControlWrite(['memory', 'cpu', 'pids', 'io']), null);
});

test('names: app/instance segments, nothing that is a path, a control file or berth\'s daemon leaf', () => {
  assert.deepEqual(nameSegments('shop/web.1-3f2a'), ['shop', 'web.1-3f2a']);
  assert.deepEqual(nameSegments('berth/3f2a9c'), ['berth', '3f2a9c']);
  for (const bad of ['', '/shop', 'shop/', 'shop//web', '.', '..', 'shop/..', '.hidden', 'a b', 'shop/web\n1', 'memory.max', 'shop/cgroup.procs', 'cgroup.anything-new', 'tasks', 'notify_on_release', 'pids.max', 'hugetlb.2MB.limit_in_bytes', 'cpu.1', 'berth-daemon', 'x'.repeat(129), 'a/b/c/d/e/f/g/h/i']) {
    assert.equal(nameSegments(bad), null, JSON.stringify(bad));
  }
  // Apps and process types named like controllers are fine: the launcher's segments end in "-NONCE", and no control file holds a hyphen.
  assert.deepEqual(nameSegments('memory/cpu.1-3f2a'), ['memory', 'cpu.1-3f2a']);
  assert.deepEqual(nameSegments('io/pids.2-9c1d'), ['io', 'pids.2-9c1d']);
  assert.deepEqual(nameSegments('cpus-app/memoryhog'), ['cpus-app', 'memoryhog'], 'a prefix is not a control file');
  assert.deepEqual(nameSegments('shop/cron.nightly-0a1b'), ['shop', 'cron.nightly-0a1b']);
});

test('limits: what is refused, and the CPU quota (rounded, at least the kernel\'s 1 ms)', () => {
  assert.equal(limitsProblem(NO_LIMITS), null);
  assert.equal(limitsProblem({ memoryBytes: 64 << 20, cpu: 0.2, processes: 20 }), null);
  assert.match(limitsProblem({ memoryBytes: 0, cpu: null, processes: null }) ?? '', /memory/);
  assert.match(limitsProblem({ memoryBytes: 1.5, cpu: null, processes: null }) ?? '', /memory/);
  assert.match(limitsProblem({ memoryBytes: null, cpu: 0, processes: null }) ?? '', /cpu/);
  assert.match(limitsProblem({ memoryBytes: null, cpu: Number.NaN, processes: null }) ?? '', /cpu/);
  assert.match(limitsProblem({ memoryBytes: null, cpu: Infinity, processes: null }) ?? '', /cpu/);
  assert.match(limitsProblem({ memoryBytes: null, cpu: null, processes: -1 }) ?? '', /processes/);
  assert.match(limitsProblem({ memoryBytes: null, cpu: null, processes: 2.5 }) ?? '', /processes/);
  assert.equal(cpuQuotaUs(0.2), 20_000);
  assert.equal(cpuQuotaUs(2), 200_000);
  assert.equal(cpuQuotaUs(0.333333), 33_333);
  assert.equal(cpuQuotaUs(0.001), 1_000);
});

const LIMITED = { memoryBytes: 64 * 1024 * 1024, cpu: 0.2, processes: 20 };

test('v1 limit files: memsw lifted, then both to the limit; OOM killer on; swappiness 0 where it may be; CFS quota; pids', () => {
  const show = (writes: ReturnType<typeof v1LimitWrites>) => writes.map((w) => `${w.controller} ${w.file}=${w.value}${w.optional ? ' (optional)' : ''}`);
  assert.deepEqual(show(v1LimitWrites(LIMITED, { memsw: true })), [
    'memory memory.memsw.limit_in_bytes=-1',
    'memory memory.limit_in_bytes=67108864',
    'memory memory.memsw.limit_in_bytes=67108864',
    'memory memory.oom_control=0',
    'memory memory.swappiness=0 (optional)',
    'cpu cpu.cfs_period_us=100000',
    'cpu cpu.cfs_quota_us=20000',
    'pids pids.max=20',
  ]);
  assert.deepEqual(show(v1LimitWrites(NO_LIMITS, { memsw: true })), [
    'memory memory.memsw.limit_in_bytes=-1',
    'memory memory.limit_in_bytes=-1',
    'memory memory.oom_control=0',
    'memory memory.swappiness=0 (optional)',
    'cpu cpu.cfs_period_us=100000',
    'cpu cpu.cfs_quota_us=-1',
    'pids pids.max=max',
  ]);
  // Without swap accounting there is no memsw file.
  assert.deepEqual(show(v1LimitWrites({ memoryBytes: 1 << 30, cpu: 1.5, processes: null }, { memsw: false })), [
    'memory memory.limit_in_bytes=1073741824',
    'memory memory.oom_control=0',
    'memory memory.swappiness=0 (optional)',
    'cpu cpu.cfs_period_us=100000',
    'cpu cpu.cfs_quota_us=150000',
    'pids pids.max=max',
  ]);
});

test('v2 limit files: memory.max with swap held at 0, cpu.max as quota and period, pids.max; "max" for no limit', () => {
  const show = (writes: ReturnType<typeof v2LimitWrites>) => writes.map((w) => `${w.file}=${w.value}`);
  assert.deepEqual(show(v2LimitWrites(LIMITED, { swapMax: true })), ['memory.max=67108864', 'memory.swap.max=0', 'cpu.max=20000 100000', 'pids.max=20']);
  assert.deepEqual(show(v2LimitWrites(NO_LIMITS, { swapMax: true })), ['memory.max=max', 'memory.swap.max=max', 'cpu.max=max 100000', 'pids.max=max']);
  assert.deepEqual(show(v2LimitWrites({ memoryBytes: 512 << 20, cpu: null, processes: 256 }, { swapMax: false })), ['memory.max=536870912', 'cpu.max=max 100000', 'pids.max=256']);
  assert.ok(v2LimitWrites(LIMITED, { swapMax: true }).every((w) => !w.optional));
});

test('parseKeyed and parseProcs', () => {
  assert.deepEqual([...parseKeyed('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n')], [['oom_kill_disable', 0], ['under_oom', 0], ['oom_kill', 3]]);
  assert.deepEqual([...parseKeyed('a 1\nbad line here\nb x\n\nc 2\n')], [['a', 1], ['c', 2]]);
  assert.deepEqual(parseProcs('4378\n4379\n12\n4378\n\n'), [12, 4378, 4379]);
  assert.deepEqual(parseProcs(''), []);
});

// memory.oom_control as this machine's kernel (6.18) writes it after one OOM kill; 4.12 and older have no oom_kill line.
const OOM_CONTROL_618 = 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n';
const OOM_CONTROL_412 = 'oom_kill_disable 0\nunder_oom 0\n';

test('v1 usage: bytes, peak, cpuacct nanoseconds as seconds, pids, OOM kills (none counted before 4.13)', () => {
  const files = { usageInBytes: '229376\n', maxUsageInBytes: '67108864\n', cpuacctUsage: '94943564\n', pidsCurrent: '0\n', oomControl: OOM_CONTROL_618 };
  assert.deepEqual(v1Usage(files), { memoryBytes: 229376, memoryPeakBytes: 67108864, cpuSeconds: 0.094943564, processes: 0, oomKills: 1 });
  assert.equal(v1Usage({ ...files, oomControl: OOM_CONTROL_412 }).oomKills, 0);
  // 13644566266218 ns: this machine's root cpuacct.usage; beyond 2^53 ns the whole seconds stay exact.
  assert.equal(v1Usage({ ...files, cpuacctUsage: '13644566266218\n' }).cpuSeconds, 13644.566266218);
  assert.equal(v1Usage({ ...files, cpuacctUsage: '9007199254740993000\n' }).cpuSeconds, 9007199254.740993);
  assert.throws(() => v1Usage({ ...files, usageInBytes: '' }), /memory.usage_in_bytes/);
  assert.throws(() => v1Usage({ ...files, cpuacctUsage: 'x' }), /cpuacct.usage/);
});

test('v2 usage: memory.current, memory.peak when the kernel has it, cpu.stat usage_usec, pids, memory.events oom_kill', () => {
  const files = {
    memoryCurrent: '5242880\n',
    memoryPeak: '67108864\n',
    cpuStat: 'usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 25\nnr_throttled 20\nthrottled_usec 4000000\nnr_bursts 0\nburst_usec 0\n',
    pidsCurrent: '3\n',
    memoryEvents: 'low 0\nhigh 0\nmax 41\noom 2\noom_kill 2\noom_group_kill 0\n',
  };
  assert.deepEqual(v2Usage(files), { memoryBytes: 5242880, memoryPeakBytes: 67108864, cpuSeconds: 2.5, processes: 3, oomKills: 2 });
  assert.equal(v2Usage({ ...files, memoryPeak: null }).memoryPeakBytes, null);
  assert.throws(() => v2Usage({ ...files, cpuStat: 'user_usec 1\n' }), /usage_usec/);
});

test("the groups above sandboxes weigh as many processes as the machine has cores, within the kernel's bounds", () => {
  assert.deepEqual(parentCpuWeight(1, 2), { file: 'cpu.shares', value: '2048' });
  assert.deepEqual(parentCpuWeight(2, 2), { file: 'cpu.weight', value: '200' });
  assert.deepEqual(parentCpuWeight(1, 0), { file: 'cpu.shares', value: '1024' });
  assert.deepEqual(parentCpuWeight(2, 0.5), { file: 'cpu.weight', value: '100' });
  assert.deepEqual(parentCpuWeight(1, 1000), { file: 'cpu.shares', value: '262144' });
  assert.deepEqual(parentCpuWeight(2, 1000), { file: 'cpu.weight', value: '10000' });
});
