import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../src/errors.ts';
import { DatabaseSync } from 'node:sqlite';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SCHEMA_VERSION, Store, TOKEN_TOUCH_INTERVAL_MS } from '../../src/platform/index.ts';
import { MIGRATIONS } from '../../src/platform/schema.ts';
import { tempStateDir } from './store-helpers.ts';
import { fakeClock, openTempStore } from './store-helpers.ts';

function refusedWith(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => err instanceof BerthError && err.code === code);
}

test('a cron slot is claimed once: a second claim (another release, a restarted daemon) is refused', (t) => {
  const { dir, store } = openTempStore(t);
  store.createApp('shop');
  const slot = '2026-11-21T03:00:00.000Z';
  assert.equal(store.claimCronSlot('shop', 'nightly', slot, 1), true);
  assert.equal(store.claimCronSlot('shop', 'nightly', slot, 2), false, 'the next release does not run it again');
  assert.equal(store.claimCronSlot('shop', 'nightly', '2026-11-21T03:00:00Z', 2), false, 'one instant, one spelling');
  assert.equal(store.claimCronSlot('shop', 'other', slot, 1), true, 'slots are per job');
  store.close();
  const reopened = Store.open(dir);
  t.after(() => reopened.close());
  assert.equal(reopened.claimCronSlot('shop', 'nightly', slot, 3), false, 'nor after a restart');
  assert.equal(reopened.lastCronSlot('shop', 'nightly'), slot);
  assert.equal(reopened.lastCronSlot('shop', 'never'), null);
});

test('cron runs finish with their exit code; a run the daemon never finished is marked interrupted', (t) => {
  const clock = fakeClock();
  const { store } = openTempStore(t, { now: clock.now });
  store.createApp('shop');
  store.claimCronSlot('shop', 'nightly', '2025-01-01T00:00:00Z', 1);
  clock.advance(5_000);
  const done = store.finishCronRun('shop', 'nightly', '2025-01-01T00:00:00Z', 0);
  assert.equal(done.status, 'succeeded');
  assert.equal(done.exitCode, 0);
  assert.equal(done.finishedAt, '2025-01-01T00:00:05.000Z');
  refusedWith(() => store.finishCronRun('shop', 'nightly', '2025-01-01T00:00:00Z', 1), 'BERTH_E_STATE');
  store.claimCronSlot('shop', 'nightly', '2025-01-01T01:00:00Z', 1);
  assert.equal(store.finishCronRun('shop', 'nightly', '2025-01-01T01:00:00Z', 3).status, 'failed');
  store.claimCronSlot('shop', 'nightly', '2025-01-01T02:00:00Z', 1);
  const recovered = store.failInterrupted();
  assert.deepEqual(recovered.cronRuns.map((r) => [r.slot, r.status]), [['2025-01-01T02:00:00.000Z', 'interrupted']]);
  assert.deepEqual(store.listCronRuns('shop').map((r) => r.status), ['interrupted', 'failed', 'succeeded']);
  assert.deepEqual(store.listCronRuns('shop', { job: 'nightly', limit: 1 }).map((r) => r.slot), ['2025-01-01T02:00:00.000Z']);
});

test('cron input is checked: job names, slot times, and destroying the app removes its runs', (t) => {
  const { store } = openTempStore(t);
  store.createApp('shop');
  refusedWith(() => store.claimCronSlot('shop', 'bad name', '2025-01-01T00:00:00Z', 1), 'BERTH_E_NAME');
  refusedWith(() => store.claimCronSlot('shop', 'nightly', 'tomorrow', 1), 'BERTH_E_USAGE');
  refusedWith(() => store.claimCronSlot('shop', 'nightly', '2025-01-01T00:00:00.500Z', 1), 'BERTH_E_USAGE');
  refusedWith(() => store.claimCronSlot('nope', 'nightly', '2025-01-01T00:00:00Z', 1), 'BERTH_E_APP_NOT_FOUND');
  store.claimCronSlot('shop', 'nightly', '2025-01-01T00:00:00Z', 1);
  store.destroyApp('shop');
  store.createApp('shop');
  assert.equal(store.lastCronSlot('shop', 'nightly'), null, 'a new app of the same name starts clean');
  assert.deepEqual(store.checkIntegrity(), []);
});

const KEY = { fingerprint: 'SHA256:abc', algorithm: 'ssh-ed25519', publicKey: 'ssh-ed25519 AAAAC3Nza' };

test('ssh keys: added under a name, found by fingerprint, revoked for good, names never reused', (t) => {
  const clock = fakeClock();
  const { store } = openTempStore(t, { now: clock.now });
  const key = store.addSshKey('laptop.alice', KEY);
  assert.equal(key.name, 'laptop.alice');
  assert.equal(key.lastUsedAt, null);
  refusedWith(() => store.addSshKey('laptop.alice', { ...KEY, fingerprint: 'SHA256:other' }), 'BERTH_E_KEY_EXISTS');
  refusedWith(() => store.addSshKey('desk.alice', KEY), 'BERTH_E_KEY_EXISTS');
  refusedWith(() => store.addSshKey('Bad Name', KEY), 'BERTH_E_NAME');
  assert.equal(store.findSshKey('SHA256:abc')?.lastUsedAt, '2025-01-01T00:00:00.000Z');
  clock.advance(TOKEN_TOUCH_INTERVAL_MS - 1);
  assert.equal(store.findSshKey('SHA256:abc')?.lastUsedAt, '2025-01-01T00:00:00.000Z', 'touched at most once a minute');
  assert.equal(store.findSshKey('SHA256:nope'), null);
  assert.equal(store.revokeSshKey('laptop.alice').revokedAt !== null, true);
  assert.equal(store.findSshKey('SHA256:abc'), null, 'a revoked key opens nothing');
  assert.equal(store.addSshKey('desk.alice', KEY).fingerprint, 'SHA256:abc', 'the same key may come back under a new name');
  refusedWith(() => store.revokeSshKey('nobody'), 'BERTH_E_KEY_NOT_FOUND');
  assert.deepEqual(store.listSshKeys().map((k) => [k.name, k.revokedAt === null]), [['desk.alice', true], ['laptop.alice', false]]);
});

test('audit actors: token names, ssh:KEY, system and anonymous; anything else is refused', (t) => {
  const { store } = openTempStore(t);
  for (const actor of ['admin', 'ssh:laptop.alice', 'system', 'anonymous']) assert.equal(store.audit({ actor, action: 'x', target: 'y', result: 'ok' }).actor, actor);
  refusedWith(() => store.audit({ actor: 'ssh:Bad Key', action: 'x', target: 'y', result: 'ok' }), 'BERTH_E_NAME');
  refusedWith(() => store.audit({ actor: 'a b', action: 'x', target: 'y', result: 'ok' }), 'BERTH_E_NAME');
});

test('a version 1 database (before cron and keys) is migrated in place, its apps kept', (t) => {
  const dir = tempStateDir(t);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const raw = new DatabaseSync(join(dir, 'berth.db'));
  raw.exec(MIGRATIONS[0]!);
  raw.exec(`INSERT INTO apps (name, created_at) VALUES ('old', '2025-01-01T00:00:00.000Z'); PRAGMA user_version = 1;`);
  raw.close();
  const store = Store.open(dir);
  t.after(() => store.close());
  assert.equal(store.schemaVersion, SCHEMA_VERSION);
  assert.deepEqual(store.listApps().map((a) => a.name), ['old']);
  assert.equal(store.claimCronSlot('old', 'nightly', '2025-01-01T00:00:00Z', 1), true);
  assert.deepEqual(store.checkIntegrity(), []);
});

test("a per-second job's runs are pruned as they finish: the newest keep and the recent window stay, running ones too", (t) => {
  const clock = fakeClock(Date.parse('2026-01-02T00:00:00.000Z'));
  const { store } = openTempStore(t, { now: clock.now, cronRunRetention: { keep: 5, recentMs: 10_000 } });
  store.createApp('shop');
  // A run claimed long ago that never finished (the daemon died): never pruned here.
  store.claimCronSlot('shop', 'tick', '2026-01-01T23:00:00Z', 1);
  store.claimCronSlot('shop', 'other', '2026-01-01T00:00:00Z', 1);
  store.finishCronRun('shop', 'other', '2026-01-01T00:00:00Z', 0);
  for (let i = 0; i < 60; i++) {
    const slot = new Date(clock.now()).toISOString();
    assert.equal(store.claimCronSlot('shop', 'tick', slot, 1), true);
    store.finishCronRun('shop', 'tick', slot, i % 7 === 0 ? 1 : 0);
    clock.advance(1000);
  }
  const runs = store.listCronRuns('shop', { job: 'tick', limit: 1000 });
  // The last prune ran as 00:00:59 finished: the window then began at 00:00:49, so 00:00:49 … 00:00:59 stay (11 > keep 5), and the old running claim.
  assert.deepEqual(runs.map((r) => r.slot.slice(11, 19)), ['00:00:59', '00:00:58', '00:00:57', '00:00:56', '00:00:55', '00:00:54', '00:00:53', '00:00:52', '00:00:51', '00:00:50', '00:00:49', '23:00:00']);
  assert.equal(runs.at(-1)!.status, 'running');
  assert.equal(store.lastCronSlot('shop', 'tick'), '2026-01-02T00:00:59.000Z', 'the newest claim stays, so no older slot can run again');
  assert.equal(store.claimCronSlot('shop', 'tick', '2026-01-02T00:00:59Z', 1), false);
  assert.equal(store.listCronRuns('shop', { job: 'other' }).length, 1, "another job's runs are its own business");
});

test('an hourly job keeps its newest runs up to keep once they are older than the recent window', (t) => {
  const clock = fakeClock(Date.parse('2026-01-02T00:00:00.000Z'));
  const { store } = openTempStore(t, { now: clock.now, cronRunRetention: { keep: 3, recentMs: 0 } });
  store.createApp('shop');
  for (let i = 0; i < 8; i++) {
    const slot = new Date(clock.now()).toISOString();
    store.claimCronSlot('shop', 'hourly', slot, 1);
    clock.advance(60_000);
    store.finishCronRun('shop', 'hourly', slot, 0);
    clock.advance(59 * 60_000);
  }
  assert.deepEqual(store.listCronRuns('shop', { job: 'hourly' }).map((r) => r.slot.slice(11, 16)), ['07:00', '06:00', '05:00']);
});
