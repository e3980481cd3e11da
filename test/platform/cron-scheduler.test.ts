import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAppConfig } from '../../src/build/index.ts';
import { CronScheduler } from '../../src/platform/cron-scheduler.ts';
import { alive, eventually } from '../helpers/berth-process.ts';
import { openTempStore } from './store-helpers.ts';

// The scheduler with a real store and real commands; the decisions
// themselves are tested exhaustively in test/runner/cron-policy.test.ts.

/** Appends one JSON line per run to runs.jsonl, then (optionally) stays a while. */
const RECORD = `
import { appendFileSync } from 'node:fs';
appendFileSync(process.env.OUT + '/runs.jsonl', JSON.stringify({ pid: process.pid, job: process.env.BERTH_CRON_JOB, slot: process.env.BERTH_CRON_SLOT, greeting: process.env.GREETING, cwd: process.cwd() }) + '\\n');
console.log('ran ' + process.env.BERTH_CRON_SLOT);
const stay = Number(process.argv[2] ?? 0);
if (stay > 0) setTimeout(() => {}, stay);
`;

function setup(t: TestContext, cron: string, held?: (app: string) => string | null) {
  const { store } = openTempStore(t);
  store.createApp('shop');
  const dir = mkdtempSync(join(tmpdir(), 'berth-cron-release-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'record.mjs'), RECORD);
  const lines: Array<{ source: string; line: string }> = [];
  const scheduler = new CronScheduler({ store, appLog: (_app, source, line) => lines.push({ source, line }), log: (line) => lines.push({ source: 'daemon', line }), graceMs: 2_000, ...(held ? { held } : {}) });
  t.after(() => scheduler.stop());
  const release = { version: 1, dir, env: { PATH: process.env.PATH ?? '', OUT: dir, GREETING: 'hello' }, user: null, jobs: parseAppConfig(cron).cron };
  const runs = () => (existsSync(join(dir, 'runs.jsonl')) ? readFileSync(join(dir, 'runs.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { pid: number; job: string; slot: string; greeting: string; cwd: string }) : []);
  return { store, dir, lines, scheduler, release, runs };
}

test('a due slot runs once, in the release folder, with its environment plus BERTH_CRON_JOB and BERTH_CRON_SLOT, and is recorded', { timeout: 30_000 }, async (t) => {
  const { store, dir, lines, scheduler, release, runs } = setup(t, '[cron.beat]\nschedule = "* * * * * *"\ncommand = "node record.mjs"\n');
  scheduler.setRelease('shop', release);
  await eventually('two runs finished', () => store.listCronRuns('shop').filter((run) => run.status === 'succeeded').length >= 2, 10_000);
  await scheduler.stop();
  const seen = runs();
  assert.ok(seen.length >= 2);
  assert.deepEqual(new Set(seen.map((run) => run.slot)).size, seen.length, 'no slot twice');
  for (const run of seen) {
    assert.equal(run.job, 'beat');
    assert.equal(run.greeting, 'hello');
    assert.equal(run.cwd, dir);
    assert.match(run.slot, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
  }
  const recorded = store.listCronRuns('shop', { job: 'beat' });
  for (const run of recorded.filter((r) => r.status === 'succeeded')) {
    assert.equal(run.exitCode, 0);
    assert.equal(run.releaseVersion, 1);
    assert.ok(seen.some((s) => s.slot === run.slot));
  }
  assert.ok(lines.some(({ source, line }) => source === 'cron.beat' && line === `ran ${seen[0]!.slot}`), 'the output is in the app log');
});

test('a held app (over its disk limit) has its due slots skipped with the reason, never claimed; they run again once it is not', { timeout: 30_000 }, async (t) => {
  let reason: string | null = 'the app is over its disk limit';
  const { store, lines, scheduler, release, runs } = setup(t, '[cron.beat]\nschedule = "* * * * * *"\ncommand = "node record.mjs"\n', () => reason);
  scheduler.setRelease('shop', release);
  await eventually('a slot skipped', () => lines.some(({ source, line }) => source === 'cron.beat' && /^skipped the \S+ slot: the app is over its disk limit$/.test(line)), 10_000);
  assert.deepEqual(runs(), []);
  assert.deepEqual(store.listCronRuns('shop'), []);
  reason = null;
  await eventually('a run once it is not held', () => store.listCronRuns('shop').some((run) => run.status === 'succeeded'), 10_000);
});

test('no overlap: a slot due while the previous run goes on is skipped, logged and never claimed', { timeout: 30_000 }, async (t) => {
  const { store, lines, scheduler, release } = setup(t, '[cron.slow]\nschedule = "* * * * * *"\ncommand = "node record.mjs 2300"\n');
  scheduler.setRelease('shop', release);
  await eventually('two runs finished', () => store.listCronRuns('shop').filter((run) => run.status === 'succeeded').length >= 2, 15_000);
  const skipped = lines.filter(({ source, line }) => source === 'cron.slow' && /^skipped the \S+ slot: the run of \S+ is still going$/.test(line));
  assert.ok(skipped.length >= 1, lines.map((l) => l.line).join('\n'));
  const claimed = store.listCronRuns('shop', { limit: 100 }).map((run) => Date.parse(run.slot)).sort((a, b) => a - b);
  for (let i = 1; i < claimed.length; i++) assert.ok(claimed[i]! - claimed[i - 1]! >= 2_000, `runs overlapped: ${claimed.map((c) => new Date(c).toISOString()).join(', ')}`);
  for (const { line } of skipped) {
    const slot = /^skipped the (\S+) slot/.exec(line)![1]!;
    assert.ok(!store.listCronRuns('shop', { limit: 100 }).some((run) => run.slot === slot), `${slot} was skipped but claimed`);
  }
});

test('stop() ends running commands (SIGTERM to their group) and leaves their runs to be marked interrupted', { timeout: 30_000 }, async (t) => {
  const { store, scheduler, release, runs } = setup(t, '[cron.long]\nschedule = "* * * * * *"\ncommand = "node record.mjs 30000"\n');
  scheduler.setRelease('shop', release);
  const [first] = await eventually('a long run started', () => (runs().length > 0 ? runs() : null), 10_000);
  assert.deepEqual(scheduler.jobs('shop').map((job) => [job.name, job.running]), [['long', first!.slot]]);
  await scheduler.stop();
  assert.equal(alive(first!.pid), false, 'the command was stopped with the scheduler');
  assert.deepEqual(store.listCronRuns('shop').map((run) => [run.slot, run.status]), [[first!.slot, 'running']]);
  assert.deepEqual(store.failInterrupted().cronRuns.map((run) => [run.slot, run.status]), [[first!.slot, 'interrupted']]);
  const claims = store.listCronRuns('shop').length;
  for (let i = 0; i < 6; i++) await new Promise((resolve) => setTimeout(resolve, 250));
  assert.equal(store.listCronRuns('shop').length, claims, 'nothing is claimed after stop()');
});

test('removing an app stops its runs and its schedule; a new release keeps an unchanged job running on', { timeout: 30_000 }, async (t) => {
  const { store, scheduler, release, runs } = setup(t, '[cron.long]\nschedule = "* * * * * *"\ncommand = "node record.mjs 30000"\n');
  scheduler.setRelease('shop', release);
  const [first] = await eventually('a long run started', () => (runs().length > 0 ? runs() : null), 10_000);
  // A config release: same job, new environment. The run goes on; no second one starts beside it.
  scheduler.setRelease('shop', { ...release, version: 2, env: { ...release.env, GREETING: 'v2' } });
  assert.equal(scheduler.jobs('shop')[0]!.running, first!.slot);
  await scheduler.removeApp('shop');
  assert.equal(alive(first!.pid), false);
  assert.deepEqual(scheduler.jobs('shop'), []);
  assert.equal(runs().length, 1, 'one run at a time, and none after the app went');
  assert.equal(store.listCronRuns('shop').length, 1);
});

test("berth's own tasks share the scheduler: each slot claimed once under berth.NAME, never overlapping, aborted on stop", { timeout: 30_000 }, async (t) => {
  const { store, lines, scheduler } = setup(t, '');
  const slots: string[] = [];
  let active = 0;
  let overlapped = false;
  let aborted = false;
  scheduler.setTasks('shop', [
    {
      name: 'berth.backup-sqlite',
      schedule: '* * * * * *',
      timezone: 'UTC',
      run: async (slot, signal) => {
        active++;
        if (active > 1) overlapped = true;
        slots.push(slot);
        // The second run outlasts its next slot (skipped), the third waits for the stop.
        const stay = slots.length === 2 ? 1_500 : slots.length >= 3 ? 30_000 : 0;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, stay);
          signal.addEventListener('abort', () => {
            aborted = true;
            clearTimeout(timer);
            resolve();
          });
        });
        active--;
        return true;
      },
    },
  ]);
  await eventually('a third run started', () => slots.length >= 3, 15_000);
  assert.deepEqual(scheduler.tasks('shop').map((task) => [task.name, task.running]), [['berth.backup-sqlite', slots[2]]]);
  assert.equal(overlapped, false);
  assert.equal(new Set(slots).size, slots.length, 'no slot twice');
  assert.ok(lines.some(({ source, line }) => source === 'berth.backup-sqlite' && /^skipped the \S+ slot: the run of \S+ is still going$/.test(line)), 'the slot during the long run was skipped');
  const runs = store.listCronRuns('shop', { job: 'berth.backup-sqlite' });
  assert.ok(runs.filter((run) => run.status === 'succeeded').length >= 2);
  assert.ok(runs.every((run) => run.releaseVersion === 0));
  await scheduler.stop();
  assert.equal(aborted, true, 'the running task was told to stop');
  scheduler.setTasks('shop', []);
});

test('a task that rejects is recorded failed and logged; removing the tasks stops further slots', { timeout: 30_000 }, async (t) => {
  const { store, lines, scheduler } = setup(t, '');
  let calls = 0;
  scheduler.setTasks('shop', [{ name: 'berth.backup-redis', schedule: '* * * * * *', timezone: 'UTC', run: async () => { calls++; throw new Error('the server went away'); } }]);
  await eventually('a failed run recorded', () => store.listCronRuns('shop', { job: 'berth.backup-redis' }).some((run) => run.status === 'failed'), 10_000);
  assert.ok(lines.some(({ line }) => /failed: the server went away$/.test(line)));
  scheduler.setTasks('shop', []);
  assert.deepEqual(scheduler.tasks('shop'), []);
  const before = calls;
  await new Promise((resolve) => setTimeout(resolve, 900));
  assert.ok(calls <= before + 1);
});
