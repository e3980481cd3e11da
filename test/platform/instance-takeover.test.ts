import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InstanceRecords, judgeTakeover, type RecordedInstances } from '../../src/platform/instance-takeover.ts';
import type { InstanceRecord, ProcessNow } from '../../src/runner/index.ts';

const OUT = '/state/logs/shop/output';

function record(type: string, index: number, pid: number, change: Partial<InstanceRecord> = {}): InstanceRecord {
  return {
    type,
    index,
    port: type === 'web' ? 30000 + index : null,
    startedAt: 1_700_000_000_000,
    fingerprint: 'ab12',
    handle: { pid, cgroup: null },
    identity: { pid, startTime: 1000 + pid, pgid: pid, uid: 2001 },
    output: { out: `${OUT}/${type}.${index}-0001.out`, err: `${OUT}/${type}.${index}-0001.err` },
    offsets: { out: 0, err: 0 },
    limits: null,
    ...change,
  };
}

const running = (...records: InstanceRecord[]) => new Map<number, ProcessNow | null>(records.map((r) => [r.identity.pid, { ...r.identity, zombie: false }]));

test('judgeTakeover takes over the current release\'s instances that still run as recorded, one per slot', () => {
  const web1 = record('web', 1, 101);
  const web2 = record('web', 2, 102);
  const worker = record('worker', 1, 103);
  const recorded: RecordedInstances = { release: 3, records: [web1, web2, worker] };
  const verdict = judgeTakeover(recorded, 3, OUT, running(web1, web2, worker), false);
  assert.deepEqual(verdict.adopt, [web1, web2, worker]);
  assert.deepEqual(verdict.dropped, []);
});

test('judgeTakeover drops whatever is not what was recorded, saying why', () => {
  const web1 = record('web', 1, 101);
  const reasons = (recorded: RecordedInstances | null, current: number | null, now: Map<number, ProcessNow | null>) => judgeTakeover(recorded, current, OUT, now, false).dropped.map((d) => d.reason);
  assert.deepEqual(judgeTakeover(null, 3, OUT, new Map(), false), { adopt: [], dropped: [] });
  assert.match(reasons({ release: 3, records: [web1] }, null, running(web1))[0]!, /serves no release/);
  assert.match(reasons({ release: 2, records: [web1] }, 3, running(web1))[0]!, /belongs to v2, not the current v3/);
  assert.match(reasons({ release: 3, records: [web1] }, 3, new Map([[101, null]]))[0]!, /is gone/);
  assert.match(reasons({ release: 3, records: [web1] }, 3, new Map([[101, { ...web1.identity, zombie: true }]]))[0]!, /has ended/);
  assert.match(reasons({ release: 3, records: [web1] }, 3, new Map([[101, { ...web1.identity, startTime: 1, zombie: false }]]))[0]!, /another process/);
  assert.match(reasons({ release: 3, records: [web1] }, 3, new Map([[101, { ...web1.identity, uid: 0, zombie: false }]]))[0]!, /uid 0/);
  const twice = record('web', 1, 105);
  const verdict = judgeTakeover({ release: 3, records: [web1, twice] }, 3, OUT, running(web1, twice), false);
  assert.deepEqual(verdict.adopt, [web1]);
  assert.match(verdict.dropped[0]!.reason, /recorded twice/);
  // Output files anywhere else (a record not written by berth) are never followed.
  for (const out of ['/etc/shadow', `${OUT}/../../other/output/x.out`, `${OUT}/`, `${OUT}/a/b.out`, `${OUT}x/web.1.out`]) {
    const odd = record('web', 1, 101, { output: { out, err: web1.output.err } });
    assert.match(reasons({ release: 3, records: [odd] }, 3, running(odd))[0]!, /not in the app's output folder/, out);
  }
  // A sandbox's record when apps no longer run contained, and the other way round: started afresh, the way apps run now.
  assert.match(reasons({ release: 3, records: [web1] }, 3, running(web1)).join(), /^$/);
  assert.match(judgeTakeover({ release: 3, records: [web1] }, 3, OUT, running(web1), true).dropped[0]!.reason, /run in sandboxes now/);
  const boxed = record('web', 1, 101, { handle: { pid: 101, cgroup: 'shop/web.1-0001' } });
  assert.match(reasons({ release: 3, records: [boxed] }, 3, running(boxed))[0]!, /no longer run in sandboxes/);
  assert.deepEqual(judgeTakeover({ release: 3, records: [boxed] }, 3, OUT, running(boxed), true).adopt, [boxed]);
  const split = record('web', 1, 101, { handle: { pid: 999, cgroup: null } });
  assert.match(reasons({ release: 3, records: [split] }, 3, running(split))[0]!, /does not hold together/);
});

test('InstanceRecords keeps the file root\'s (0600) and reads back only what is well formed', async (t) => {
  const state = await mkdtemp(join(tmpdir(), 'berth-records-'));
  t.after(() => rm(state, { recursive: true, force: true }));
  const records = new InstanceRecords(state);
  const web1 = record('web', 1, 101, { output: { out: join(records.outputDir('shop'), 'web.1-a.out'), err: join(records.outputDir('shop'), 'web.1-a.err') } });
  records.save('shop', 4, [web1]);
  const file = join(state, 'run', 'instances', 'shop.json');
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal((await stat(join(state, 'run', 'instances'))).mode & 0o777, 0o700);
  assert.deepEqual(await records.read('shop'), { release: 4, records: [web1] });
  assert.equal(records.ensureOutputDir('shop'), join(state, 'logs', 'shop', 'output'));
  assert.equal((await stat(records.outputDir('shop'))).mode & 0o777, 0o700);
  for (const broken of ['{', '[]', JSON.stringify({ release: 4, records: [{ ...web1, type: '../x' }] }), JSON.stringify({ release: 0, records: [] }), JSON.stringify({ release: 4, records: [{ ...web1, identity: { ...web1.identity, pid: 1 } }] })]) {
    await writeFile(file, broken);
    assert.equal(await records.read('shop'), null, broken);
  }
  assert.equal(await records.read('nothing'), null);
  // Output files no record names are pruned; named ones stay.
  await mkdir(records.outputDir('shop'), { recursive: true });
  await writeFile(web1.output.out, 'kept\n');
  await writeFile(join(records.outputDir('shop'), 'web.2-b.out'), 'stale\n');
  await records.pruneOutput('shop', new Set([web1.output.out]));
  assert.equal(await readFile(web1.output.out, 'utf8'), 'kept\n');
  await assert.rejects(stat(join(records.outputDir('shop'), 'web.2-b.out')));
  await records.forget('shop');
  await assert.rejects(stat(file));
  await assert.rejects(stat(records.outputDir('shop')));
});
