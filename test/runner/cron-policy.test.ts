import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseCronSchedule, type CronSchedule } from '../../src/build/index.ts';
import { CRON_CATCH_UP_MAX_MS, catchUpWindow, cronSlotIso, decideCronSlot, nextCronSlot, type CronDecision, type CronJobTiming } from '../../src/runner/index.ts';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const DAY = 24 * 60 * MINUTE;

function job(schedule: CronSchedule, fields: Partial<Omit<CronJobTiming, 'schedule'>> = {}): CronJobTiming {
  return { schedule, lastSlot: null, since: 0, running: false, ...fields };
}

/** The decision with times as ISO strings, so a failure reads as a calendar. */
function decide(timing: CronJobTiming, now: number) {
  const d: CronDecision = decideCronSlot(timing, now);
  return d.action === 'wait' ? { action: d.action, next: iso(d.next) } : d.action === 'run' ? { action: d.action, slot: iso(d.slot), next: iso(d.next) } : { action: d.action, slot: iso(d.slot), reason: d.reason, next: iso(d.next) };
}

const nightly = parseCronSchedule('0 3 * * *');
const everyTwoSeconds = parseCronSchedule('*/2 * * * * *');
const everyMinute = parseCronSchedule('* * * * *');

test('a slot is due at its exact time and stays due, once, until the next', () => {
  const slot = at('2026-05-01T03:00:00Z');
  assert.deepEqual(decide(job(nightly), slot), { action: 'run', slot: '2026-05-01T03:00:00.000Z', next: '2026-05-02T03:00:00.000Z' });
  assert.deepEqual(decide(job(nightly), slot + 5), { action: 'run', slot: '2026-05-01T03:00:00.000Z', next: '2026-05-02T03:00:00.000Z' });
  assert.deepEqual(decide(job(nightly, { lastSlot: slot }), slot + 5), { action: 'wait', next: '2026-05-02T03:00:00.000Z' }, 'claimed: not again');
  assert.deepEqual(decide(job(nightly, { lastSlot: slot - DAY }), slot - 1), { action: 'wait', next: '2026-05-01T03:00:00.000Z' }, 'a millisecond early: not yet');
});

test('the first run of a job: never a slot from before the job existed', () => {
  const slot = at('2026-05-01T03:00:00Z');
  assert.equal(decide(job(nightly, { since: slot }), slot).action, 'run', 'a job deployed at the very second of its slot runs it');
  assert.deepEqual(decide(job(nightly, { since: slot + 1 }), slot + 2), { action: 'wait', next: '2026-05-02T03:00:00.000Z' }, 'deployed just after its slot: waits for the next one');
  assert.equal(decide(job(everyTwoSeconds, { since: at('2026-05-01T00:00:01Z') }), at('2026-05-01T00:00:01.500Z')).action, 'wait');
  assert.equal(decide(job(everyTwoSeconds, { since: at('2026-05-01T00:00:01Z') }), at('2026-05-01T00:00:02.010Z')).action, 'run');
});

test('a job that ran before may catch up a slot that fell while the scheduler was down, within a minute', () => {
  const slot = at('2026-05-01T03:00:00Z');
  const restarted = slot + 20 * SECOND;
  const base = { lastSlot: slot - DAY, since: restarted };
  assert.deepEqual(decide(job(nightly, base), restarted), { action: 'run', slot: '2026-05-01T03:00:00.000Z', next: '2026-05-02T03:00:00.000Z' });
  assert.deepEqual(decide(job(nightly, base), slot + MINUTE), { action: 'run', slot: '2026-05-01T03:00:00.000Z', next: '2026-05-02T03:00:00.000Z' }, 'exactly a minute late still runs');
  assert.deepEqual(decide(job(nightly, base), slot + MINUTE + 1), { action: 'skip', slot: '2026-05-01T03:00:00.000Z', reason: 'missed', next: '2026-05-02T03:00:00.000Z' });
  assert.deepEqual(decide(job(nightly, { ...base, since: slot + 6 * 60 * MINUTE }), slot + 6 * 60 * MINUTE), { action: 'skip', slot: '2026-05-01T03:00:00.000Z', reason: 'missed', next: '2026-05-02T03:00:00.000Z' }, 'after a long outage the purge does not run at 09:00');
});

test('a series of missed slots is never backfilled: only the newest one counts', () => {
  const lastSlot = at('2026-05-01T00:00:00Z');
  const now = at('2026-05-01T00:10:20Z');
  assert.deepEqual(decide(job(everyMinute, { lastSlot, since: now }), now), { action: 'run', slot: '2026-05-01T00:10:00.000Z', next: '2026-05-01T00:11:00.000Z' });
  assert.deepEqual(
    decide(job(nightly, { lastSlot: lastSlot - 30 * DAY, since: now }), now),
    { action: 'skip', slot: '2026-04-30T03:00:00.000Z', reason: 'missed', next: '2026-05-01T03:00:00.000Z' },
    'a month of missed nights: the newest is hours old, so it is reported missed and none runs',
  );
});

test('the catch-up window is a minute, or half the interval when that is shorter', () => {
  assert.equal(catchUpWindow(nightly, at('2026-05-01T03:00:00Z')), CRON_CATCH_UP_MAX_MS);
  assert.equal(catchUpWindow(everyMinute, at('2026-05-01T03:00:00Z')), 30 * SECOND);
  assert.equal(catchUpWindow(everyTwoSeconds, at('2026-05-01T03:00:00Z')), SECOND);
  const irregular = parseCronSchedule('0 9,17 * * *');
  assert.equal(catchUpWindow(irregular, at('2026-05-01T09:00:00Z')), MINUTE);
  const quickPair = parseCronSchedule('0,1 0 * * * *');
  assert.equal(catchUpWindow(quickPair, at('2026-05-01T03:00:00Z')), 500, 'second 0 is followed by second 1');
  assert.equal(catchUpWindow(quickPair, at('2026-05-01T03:00:01Z')), MINUTE, 'second 1 is followed by the next hour');

  const slot = at('2026-05-01T00:00:10Z');
  const base = { lastSlot: slot - 2 * SECOND, since: slot - 60 * SECOND };
  assert.equal(decide(job(everyTwoSeconds, base), slot + 1000).action, 'run');
  assert.deepEqual(decide(job(everyTwoSeconds, base), slot + 1001), { action: 'skip', slot: '2026-05-01T00:00:10.000Z', reason: 'missed', next: '2026-05-01T00:00:12.000Z' }, 'nearer the next slot than its own: let the next one fire');
});

test('no overlap: a slot due while the previous run goes on is skipped, and not run when the previous run ends', () => {
  const slot = at('2026-05-01T00:00:10Z');
  const running = job(everyTwoSeconds, { lastSlot: slot - 2 * SECOND, since: 0, running: true });
  assert.deepEqual(decide(running, slot + 3), { action: 'skip', slot: '2026-05-01T00:00:10.000Z', reason: 'overlap', next: '2026-05-01T00:00:12.000Z' });
  // The scheduler remembers the skipped slot as passed; when the run ends within the window, the slot stays passed.
  assert.deepEqual(decide({ ...running, running: false, lastSlot: slot }, slot + 500), { action: 'wait', next: '2026-05-01T00:00:12.000Z' });
  assert.equal(decide({ ...running, running: false, lastSlot: slot }, slot + 2 * SECOND).action, 'run', 'the next slot runs');
  assert.equal(decide({ ...running, lastSlot: slot - 10 * SECOND }, slot + 1500).action, 'skip', 'a late slot is missed whether or not a run goes on');
  assert.equal((decideCronSlot({ ...running, lastSlot: slot - 10 * SECOND }, slot + 1500) as { reason: string }).reason, 'missed');
});

test('@-forms fire where cron says they do', () => {
  const from = at('2026-05-01T10:20:30Z'); // a Friday
  const next = (expression: string) => iso(nextCronSlot(parseCronSchedule(expression), from));
  assert.equal(next('@hourly'), '2026-05-01T11:00:00.000Z');
  assert.equal(next('@daily'), '2026-05-02T00:00:00.000Z');
  assert.equal(next('@midnight'), '2026-05-02T00:00:00.000Z');
  assert.equal(next('@weekly'), '2026-05-03T00:00:00.000Z');
  assert.equal(next('@monthly'), '2026-06-01T00:00:00.000Z');
  assert.equal(next('@yearly'), '2027-01-01T00:00:00.000Z');
  assert.equal(next('@annually'), '2027-01-01T00:00:00.000Z');
  const hourly = parseCronSchedule('@hourly');
  assert.deepEqual(decide(job(hourly, { lastSlot: at('2026-05-01T10:00:00Z') }), at('2026-05-01T11:00:00.002Z')), { action: 'run', slot: '2026-05-01T11:00:00.000Z', next: '2026-05-01T12:00:00.000Z' });
});

test('6 fields put seconds first; 5 fields fire on the minute', () => {
  const from = at('2026-05-01T10:20:30.500Z');
  assert.equal(iso(nextCronSlot(everyTwoSeconds, from)), '2026-05-01T10:20:32.000Z');
  assert.equal(iso(nextCronSlot(parseCronSchedule('15 */5 * * * *'), from)), '2026-05-01T10:25:15.000Z');
  assert.equal(iso(nextCronSlot(everyMinute, from)), '2026-05-01T10:21:00.000Z');
  assert.equal(iso(everyTwoSeconds.latestAtOrBefore(from)), '2026-05-01T10:20:30.000Z');
  assert.equal(iso(everyTwoSeconds.latestAtOrBefore(at('2026-05-01T10:20:32Z'))), '2026-05-01T10:20:32.000Z', 'a slot at now is at or before now');
});

test('day-of-month and day-of-week combine with OR, as in Vixie cron', () => {
  const s = parseCronSchedule('0 0 13 * 5'); // the 13th, and every Friday
  assert.deepEqual(
    [at('2026-05-01T00:00:01Z'), at('2026-05-08T00:00:01Z'), at('2026-05-12T00:00:01Z')].map((t) => iso(nextCronSlot(s, t))),
    ['2026-05-08T00:00:00.000Z', '2026-05-13T00:00:00.000Z', '2026-05-13T00:00:00.000Z'],
  );
});

test('time zones: a nightly job runs at 03:00 local time, summer and winter', () => {
  const berlin = parseCronSchedule('0 3 * * *', 'Europe/Berlin');
  assert.equal(berlin.timezone, 'Europe/Berlin');
  assert.equal(iso(nextCronSlot(berlin, at('2026-01-10T12:00:00Z'))), '2026-01-11T02:00:00.000Z');
  assert.equal(iso(nextCronSlot(berlin, at('2026-07-10T12:00:00Z'))), '2026-07-11T01:00:00.000Z');
  const york = parseCronSchedule('30 8 * * 1-5', 'America/New_York');
  assert.equal(iso(nextCronSlot(york, at('2026-05-01T13:00:00Z'))), '2026-05-04T12:30:00.000Z', 'Friday 09:00 EDT → Monday 08:30 EDT');
});

test('DST spring forward: a fixed-time job whose time is skipped runs once, right after the jump', () => {
  const s = parseCronSchedule('30 2 * * *', 'Europe/Berlin'); // 2026-03-29: 02:00 CET → 03:00 CEST
  const previous = at('2026-03-28T01:30:00Z'); // 02:30 CET on the 28th
  const jump = at('2026-03-29T01:00:00Z'); // 03:00 CEST
  assert.equal(iso(nextCronSlot(s, previous)), '2026-03-29T01:00:00.000Z');
  assert.deepEqual(decide(job(s, { lastSlot: previous }), jump + 10), { action: 'run', slot: '2026-03-29T01:00:00.000Z', next: '2026-03-30T00:30:00.000Z' });
  assert.equal(decide(job(s, { lastSlot: jump }), jump + 59 * MINUTE).action, 'wait', 'once');
  const quarterly = parseCronSchedule('*/30 * * * *', 'Europe/Berlin');
  const slots: Array<string | null> = [];
  for (let t = at('2026-03-29T00:00:00Z'), i = 0; i < 4; i++) slots.push(iso((t = nextCronSlot(quarterly, t)!)));
  assert.deepEqual(slots, ['2026-03-29T00:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-29T01:30:00.000Z', '2026-03-29T02:00:00.000Z'], 'an interval job follows the real clock: 01:30 CET, 03:00 CEST, …');
});

test('DST fall back: a fixed-time job whose time repeats runs once; an interval job runs on both passes', () => {
  const s = parseCronSchedule('30 2 * * *', 'Europe/Berlin'); // 2026-10-25: 03:00 CEST → 02:00 CET
  const first = at('2026-10-25T00:30:00Z'); // 02:30 CEST
  const second = at('2026-10-25T01:30:00Z'); // 02:30 CET
  assert.equal(decide(job(s, { lastSlot: first - DAY }), first + 5).action, 'run');
  assert.deepEqual(decide(job(s, { lastSlot: first }), second + 5), { action: 'wait', next: '2026-10-26T01:30:00.000Z' });
  const halfPast = parseCronSchedule('30 * * * *', 'Europe/Berlin');
  assert.deepEqual(decide(job(halfPast, { lastSlot: first }), second + 5), { action: 'run', slot: '2026-10-25T01:30:00.000Z', next: '2026-10-25T02:30:00.000Z' });
});

test('slots are stored as whole-second ISO times', () => {
  assert.equal(cronSlotIso(at('2026-05-01T03:00:00Z')), '2026-05-01T03:00:00.000Z');
  assert.equal(cronSlotIso(at('2026-05-01T03:00:00.999Z')), '2026-05-01T03:00:00.000Z');
});

/**
 * A scheduler's life, simulated: it wakes at random moments, is sometimes
 * down (a restart: `since` moves, memory is lost, only the claims remain),
 * and runs take random times. Whatever happens: no slot runs twice, runs go
 * forward in time, every run is within its catch-up window, no two runs
 * overlap, and a slot that ran came after the job existed.
 */
test('whatever the wake-ups, outages and run lengths: each slot at most once, in order, on time, never overlapping', () => {
  const schedules = ['*/2 * * * * *', '*/7 * * * * *', '0,1,30 * * * * *', '* * * * *', '*/5 * * * *'].map((e) => parseCronSchedule(e));
  fc.assert(
    fc.property(
      fc.constantFrom(...schedules),
      fc.array(fc.record({ gap: fc.integer({ min: 1, max: 90_000 }), restart: fc.boolean(), runFor: fc.integer({ min: 0, max: 20_000 }) }), { minLength: 1, maxLength: 80 }),
      (schedule, steps) => {
        const start = at('2026-05-01T00:00:00.250Z');
        let now = start;
        let since = start;
        let claimed: number | null = null; // the store
        let passed: number | null = null; // the scheduler's memory
        let runningUntil = -Infinity;
        const runs: Array<{ slot: number; startedAt: number; endsAt: number }> = [];
        for (const step of steps) {
          now += step.gap;
          if (step.restart) {
            since = now;
            passed = null;
            runningUntil = -Infinity; // the daemon stopped its runs
          }
          const lastSlot = passed === null ? claimed : claimed === null ? passed : Math.max(claimed, passed);
          const d = decideCronSlot({ schedule, lastSlot, since, running: now < runningUntil }, now);
          if (d.action === 'run') {
            assert.ok(claimed === null || d.slot > claimed, 'a slot is never claimed twice');
            assert.ok(now >= runningUntil, 'no overlap');
            assert.ok(now - d.slot <= catchUpWindow(schedule, d.slot) && d.slot <= now, 'on time');
            assert.ok(claimed !== null || d.slot >= start, 'never before the job existed');
            claimed = d.slot;
            runningUntil = now + step.runFor;
            runs.push({ slot: d.slot, startedAt: now, endsAt: runningUntil });
          } else if (d.action === 'skip') {
            passed = d.slot;
          }
          if (d.next !== null) assert.ok(d.next > now);
        }
        for (let i = 1; i < runs.length; i++) assert.ok(runs[i]!.slot > runs[i - 1]!.slot);
      },
    ),
    { numRuns: 300 },
  );
});
