// Add-ons end to end on a real daemon, as root: a local PostgreSQL cluster
// and a local Redis that berth initialises and supervises from Debian's
// binaries, the Flask example writing through DATABASE_URL and REDIS_URL,
// backups that restore, isolation between apps, and a backup cut short by a
// killed daemon that is never listed as good.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { Redis } from 'ioredis';
import { BerthProcess, EXAMPLES, eventually } from '../helpers/berth-process.ts';
import { apiCall, deployDir, startDaemon, type Daemon } from '../helpers/daemon.ts';

/** One request to an app through the edge, with a JSON body. */
function edge(d: Daemon, app: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const { hostname, port } = new URL(d.edge);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: hostname, port, path, method, agent: false, headers: { host: `${app}.localhost`, ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let json: unknown = text;
          try {
            json = JSON.parse(text);
          } catch {
            // Not JSON: keep the text for the assertion message.
          }
          resolve({ status: res.statusCode!, json });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function ok(d: Daemon, method: string, path: string, body?: unknown): Promise<any> {
  const res = await apiCall(d, method, path, body);
  assert.ok(res.status >= 200 && res.status < 300, `${method} ${path}: ${res.status} ${JSON.stringify(res.json)}`);
  return res.json;
}

async function revealed(d: Daemon, app: string, kind: string, key: string): Promise<string> {
  const info = await ok(d, 'GET', `/apps/${app}/addons/${kind}?reveal=1`);
  const value = info.addon.values?.[key];
  assert.equal(typeof value, 'string', JSON.stringify(info));
  return value as string;
}

async function notes(d: Daemon, app: string): Promise<string[]> {
  const res = await edge(d, app, 'GET', '/notes');
  assert.equal(res.status, 200, JSON.stringify(res.json));
  return (res.json as Array<{ text: string }>).map((note) => note.text);
}

test('postgres and redis add-ons: the Flask example writes through DATABASE_URL and REDIS_URL, backups restore, apps are isolated, a killed backup is never good', { timeout: 300_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-addons-'));
  const state = join(root, 'state');
  let daemon = await startDaemon(state, 1);
  const first = daemon;
  // The daemons stop (and stop their PostgreSQL and Redis) before their folder goes.
  t.after(async () => {
    await first.berth.kill();
    await daemon.berth.kill();
    await rm(root, { recursive: true, force: true });
  });
  const clients: Array<() => unknown> = [];
  t.after(async () => {
    for (const close of clients) await Promise.resolve(close()).catch(() => {});
  });

  for (const name of ['notes', 'other']) await ok(daemon, 'POST', '/apps', { name });
  for (const kind of ['postgres', 'redis']) {
    const created = await ok(daemon, 'POST', '/apps/notes/addons', { kind });
    assert.equal(created.release, null, 'nothing serves yet: the first deploy picks the vars up');
  }
  const again = await apiCall(daemon, 'POST', '/apps/notes/addons', { kind: 'postgres' });
  assert.equal(again.status, 409);
  assert.equal(again.json.code, 'BERTH_E_ADDON_EXISTS');
  const unknown = await apiCall(daemon, 'POST', '/apps/notes/addons', { kind: 'mysql' });
  assert.equal(unknown.json.code, 'BERTH_E_ADDON_KIND');
  const listed = await ok(daemon, 'GET', '/apps/notes/addons');
  assert.deepEqual(listed.addons.map((a: { kind: string; vars: string[] }) => [a.kind, a.vars]), [['postgres', ['DATABASE_URL', 'PGSSLROOTCERT']], ['redis', ['REDIS_URL']]]);
  assert.doesNotMatch(JSON.stringify(listed), /postgres:\/\/[^@]*:[^@]*@|redis:\/\/[^@]*:[^@]*@/, 'no credentials unless revealed');

  const flask = join(root, 'flask-notes');
  await cp(join(EXAMPLES, 'flask-notes'), flask, { recursive: true });
  const deployed = await deployDir(daemon, 'notes', flask);
  assert.equal(deployed.last.result, 'ok', deployed.lines.join('\n'));
  for (const text of ['first', 'second', 'third']) assert.equal((await edge(daemon, 'notes', 'POST', '/notes', { text })).status, 201);
  assert.deepEqual(await notes(daemon, 'notes'), ['first', 'second', 'third']);
  for (let i = 1; i <= 2; i++) assert.deepEqual((await edge(daemon, 'notes', 'POST', '/visits')).json, { visits: i });

  // The rows really are in the app's own PostgreSQL database.
  const databaseUrl = await revealed(daemon, 'notes', 'postgres', 'DATABASE_URL');
  assert.match(databaseUrl, /^postgres:\/\/[^:]+:[^@]+@127\.0\.0\.1:\d+\/\S+$/);
  const db = new pg.Client({ connectionString: databaseUrl });
  clients.push(() => db.end());
  await db.connect();
  assert.equal((await db.query('SELECT count(*)::int AS n FROM notes')).rows[0].n, 3);
  const redisUrl = await revealed(daemon, 'notes', 'redis', 'REDIS_URL');
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  clients.push(() => redis.disconnect());
  await redis.connect();
  assert.equal(await redis.get('notes:visits'), '2');

  const pgBackup = (await ok(daemon, 'POST', '/apps/notes/backups', { addon: 'postgres' })).backup;
  const redisBackup = (await ok(daemon, 'POST', '/apps/notes/backups', { addon: 'redis' })).backup;
  for (const backup of [pgBackup, redisBackup]) {
    assert.equal(backup.status, 'good');
    assert.match(backup.sha256, /^[0-9a-f]{64}$/);
    assert.ok(backup.bytes > 0);
  }
  const ambiguous = await apiCall(daemon, 'POST', '/apps/notes/backups', {});
  assert.equal(ambiguous.json.code, 'BERTH_E_USAGE', 'two add-ons: say which');

  // Destroy the data, restore, and it is back.
  await db.query('DELETE FROM notes');
  await redis.del('notes:visits');
  assert.deepEqual(await notes(daemon, 'notes'), []);
  assert.deepEqual((await edge(daemon, 'notes', 'GET', '/visits')).json, { visits: 0 });
  const unconfirmed = await apiCall(daemon, 'POST', `/backups/${pgBackup.id}/restore`, { into: 'app' });
  assert.equal(unconfirmed.json.code, 'BERTH_E_CONFIRM');
  const restored = (await ok(daemon, 'POST', `/backups/${pgBackup.id}/restore`, { into: 'app', confirm: 'notes' })).restore;
  assert.equal(restored.source, 'primary');
  assert.deepEqual(await notes(daemon, 'notes'), ['first', 'second', 'third']);
  await ok(daemon, 'POST', `/backups/${redisBackup.id}/restore`, { into: 'app', confirm: 'notes' });
  assert.deepEqual((await edge(daemon, 'notes', 'GET', '/visits')).json, { visits: 2 });

  // Into a new database, for inspection: the app's credentials reach it, the answer carries no password.
  const inspect = (await ok(daemon, 'POST', `/backups/${pgBackup.id}/restore`, { into: 'new' })).restore;
  assert.doesNotMatch(inspect.report.location, /:[^/@]+@/);
  const sideUrl = new URL(databaseUrl);
  sideUrl.pathname = new URL(inspect.report.location).pathname;
  const side = new pg.Client({ connectionString: sideUrl.href });
  clients.push(() => side.end());
  await side.connect();
  assert.equal((await side.query('SELECT count(*)::int AS n FROM notes')).rows[0].n, 3);
  await side.end();

  // Isolation: another app's credentials reach neither the database nor the keys.
  for (const kind of ['postgres', 'redis']) await ok(daemon, 'POST', '/apps/other/addons', { kind });
  const intruderUrl = new URL(await revealed(daemon, 'other', 'postgres', 'DATABASE_URL'));
  // A second add-on never silently takes DATABASE_URL: refused, and then attached under another name.
  const taken = await apiCall(daemon, 'POST', '/apps/other/addons', { kind: 'sqlite' });
  assert.equal(taken.status, 409, JSON.stringify(taken.json));
  assert.equal(taken.json.code, 'BERTH_E_ADDON_VAR_TAKEN');
  assert.match(taken.json.hint, /--as SQLITE_URL/);
  assert.deepEqual((await ok(daemon, 'GET', '/apps/other/addons')).addons.map((a: { kind: string }) => a.kind), ['postgres', 'redis'], 'nothing was added');
  const aliased = await apiCall(daemon, 'POST', '/apps/other/addons', { kind: 'sqlite', as: 'SQLITE_URL' });
  assert.equal(aliased.status, 201, JSON.stringify(aliased.json));
  assert.deepEqual([...aliased.json.addon.vars].sort(), ['BERTH_DATA_DIR', 'SQLITE_URL']);
  assert.equal(await revealed(daemon, 'other', 'postgres', 'DATABASE_URL'), intruderUrl.href, "postgres keeps DATABASE_URL");
  intruderUrl.pathname = new URL(databaseUrl).pathname;
  const intruder = new pg.Client({ connectionString: intruderUrl.href });
  await assert.rejects(intruder.connect(), /permission denied|not permitted|does not have CONNECT/i);
  await intruder.end().catch(() => {});
  const otherRedis = new Redis(await revealed(daemon, 'other', 'redis', 'REDIS_URL'), { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  clients.push(() => otherRedis.disconnect());
  await otherRedis.connect();
  await assert.rejects(otherRedis.get('notes:visits'), /NOPERM/);
  await assert.rejects(otherRedis.flushall(), /NOPERM/);
  assert.equal(await otherRedis.set('other:mine', 'yes'), 'OK');

  redis.disconnect();
  otherRedis.disconnect();

  // A backup cut short by a killed daemon: pg_dump waits on a lock the test holds, the daemon dies.
  await db.query('BEGIN');
  await db.query('LOCK TABLE notes IN ACCESS EXCLUSIVE MODE');
  const pending = apiCall(daemon, 'POST', '/apps/notes/backups', { addon: 'postgres' }).catch(() => null);
  const running = await eventually('the backup is running', async () => (await ok(daemon, 'GET', '/apps/notes/backups')).backups.find((b: { status: string }) => b.status === 'running') ?? null, 20_000);
  await daemon.berth.stop('SIGKILL');
  await pending;
  await db.end().catch(() => {});
  daemon = await startDaemon(state, 1);
  const after = (await ok(daemon, 'GET', '/apps/notes/backups')).backups;
  const cut = after.find((b: { id: number }) => b.id === running.id);
  assert.equal(cut.status, 'interrupted');
  assert.equal(cut.file, null);
  assert.equal(after.filter((b: { status: string }) => b.status === 'good').length, 2, 'only the two finished backups are good');
  const files = readdirSync(join(state, 'backups', 'notes'));
  assert.deepEqual(files.filter((f) => f.endsWith('.partial')), []);
  assert.equal(files.length, 2, files.join(', '));
  const list = new BerthProcess(['backups', 'list', '--app', 'notes'], { env: { BERTH_SERVER: daemon.api, BERTH_TOKEN: daemon.token } });
  assert.equal((await list.exited).code, 0, list.output);
  assert.match(list.output, /interrupted/);

  // The app came back on the restarted local servers, with its data.
  await eventually('notes serves again', async () => ((await edge(daemon, 'notes', 'GET', '/notes')).status === 200 ? true : null), 60_000);
  assert.deepEqual(await notes(daemon, 'notes'), ['first', 'second', 'third']);
  const later = (await ok(daemon, 'POST', '/apps/notes/backups', { addon: 'postgres' })).backup;
  assert.equal(later.status, 'good');
  const metrics = await apiCall(daemon, 'GET', '/metrics');
  assert.match(metrics.json, /berth_backups_total\{app="notes",kind="postgres",outcome="succeeded"\} 1/);
  assert.match(metrics.json, /berth_backup_last_failure_timestamp_seconds\{app="notes",kind="postgres"\} \d/);
  assert.match(metrics.json, /berth_backup_last_success_timestamp_seconds\{app="notes",kind="redis"\} \d/);

  // Destroy: confirmation, a final backup, a release without the var; then the app can go.
  assert.equal((await apiCall(daemon, 'DELETE', '/apps/notes/addons/postgres')).json.code, 'BERTH_E_CONFIRM');
  const appDestroy = await apiCall(daemon, 'DELETE', '/apps/notes?confirm=notes');
  assert.equal(appDestroy.json.code, 'BERTH_E_ADDON_EXISTS', 'an app with add-ons is not destroyed');
  const destroyed = await ok(daemon, 'DELETE', '/apps/notes/addons/postgres?confirm=notes');
  assert.equal(destroyed.finalBackup.status, 'good');
  assert.equal(destroyed.finalBackup.trigger, 'final');
  assert.ok(destroyed.release, 'a new release without DATABASE_URL');
  await ok(daemon, 'DELETE', '/apps/notes/addons/redis?confirm=notes');
  const gone = new pg.Client({ connectionString: databaseUrl });
  await assert.rejects(gone.connect(), /password authentication failed|does not exist/);
  await gone.end().catch(() => {});
  await ok(daemon, 'DELETE', '/apps/notes?confirm=notes');
  const kept = (await ok(daemon, 'GET', '/apps/other/backups')).backups;
  assert.deepEqual(kept, [], "other app's backups are its own");
  for (const kind of ['postgres', 'redis']) await ok(daemon, 'DELETE', `/apps/other/addons/${kind}?confirm=other`);
  assert.ok(existsSync(join(state, 'addons', 'postgres')));
});

test('sqlite add-on and storage: the data folder is the app user\'s, survives deploys and rollbacks, and an SQLite backup restores', { timeout: 240_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-addons-sqlite-'));
  const state = join(root, 'state');
  const copies = join(root, 'second-disk');
  const daemon = await startDaemon(state, 1, ['--backup-copy-dir', copies]);
  t.after(async () => {
    await daemon.berth.kill();
    await rm(root, { recursive: true, force: true });
  });
  const flask = join(root, 'flask-notes');
  await cp(join(EXAMPLES, 'flask-notes'), flask, { recursive: true });

  await ok(daemon, 'POST', '/apps', { name: 'jot' });
  const first = await deployDir(daemon, 'jot', flask);
  assert.equal(first.last.result, 'ok', first.lines.join('\n'));
  const created = await ok(daemon, 'POST', '/apps/jot/addons', { kind: 'sqlite' });
  assert.ok(created.release, 'a serving app gets a new release with DATABASE_URL');
  const url = await revealed(daemon, 'jot', 'sqlite', 'DATABASE_URL');
  assert.match(url, /^sqlite:\/\/\/\//);
  const file = url.slice('sqlite:///'.length);
  assert.ok(file.startsWith(join(state, 'data', 'jot')), file);
  const owner = statSync(join(state, 'data', 'jot'));
  assert.notEqual(owner.uid, 0, "the data folder is the app user's");
  assert.equal(owner.mode & 0o777, 0o700);

  for (const text of ['alpha', 'beta']) assert.equal((await edge(daemon, 'jot', 'POST', '/notes', { text })).status, 201);
  // A new deploy and a rollback keep the data: it lives outside the releases.
  const second = await deployDir(daemon, 'jot', flask);
  assert.equal(second.last.result, 'ok', second.lines.join('\n'));
  assert.deepEqual(await notes(daemon, 'jot'), ['alpha', 'beta']);
  await ok(daemon, 'POST', '/apps/jot/rollback', {});
  assert.deepEqual(await notes(daemon, 'jot'), ['alpha', 'beta']);

  const backup = (await ok(daemon, 'POST', '/apps/jot/backups', {})).backup;
  assert.equal(backup.status, 'good');
  assert.equal(backup.kind, 'sqlite');
  const live = new DatabaseSync(file);
  live.exec('DELETE FROM notes');
  live.close();
  assert.deepEqual(await notes(daemon, 'jot'), []);
  const restored = (await ok(daemon, 'POST', `/backups/${backup.id}/restore`, { into: 'app', confirm: 'jot' })).restore;
  assert.match(restored.report.summary, /\S/);
  assert.deepEqual(await notes(daemon, 'jot'), ['alpha', 'beta']);
  assert.equal((await edge(daemon, 'jot', 'POST', '/notes', { text: 'gamma' })).status, 201, 'the app still writes after a restore');

  // The second folder: a damaged primary file fails its checksum, and the verified copy is restored instead.
  assert.equal(backup.copied, true);
  const copy = join(copies, 'jot', backup.file);
  assert.ok(existsSync(copy), copy);
  const primary = join(state, 'backups', 'jot', backup.file);
  const bytes = readFileSync(primary);
  const middle = bytes.length >> 1;
  bytes.writeUInt8(bytes.readUInt8(middle) ^ 0xff, middle);
  writeFileSync(primary, bytes);
  const fromCopy = (await ok(daemon, 'POST', `/backups/${backup.id}/restore`, { into: 'app', confirm: 'jot' })).restore;
  assert.equal(fromCopy.source, 'copy');
  assert.match(fromCopy.warnings.join('\n'), /checksum|size/i);
  assert.deepEqual(await notes(daemon, 'jot'), ['alpha', 'beta']);
  rmSync(copy);
  const corrupt = await apiCall(daemon, 'POST', `/backups/${backup.id}/restore`, { into: 'app', confirm: 'jot' });
  assert.equal(corrupt.json.code, 'BERTH_E_BACKUP_CORRUPT', 'nothing restores from a damaged file');
  assert.deepEqual(await notes(daemon, 'jot'), ['alpha', 'beta']);

  // A scheduled backup from the cron scheduler.
  const scheduled = await ok(daemon, 'PUT', '/apps/jot/backups/schedule', { cron: '*/2 * * * * *', keep: 2 });
  assert.equal(scheduled.schedule.keep, 2);
  await eventually('a scheduled backup', async () => (await ok(daemon, 'GET', '/apps/jot/backups')).backups.some((b: { trigger: string; status: string }) => b.trigger === 'scheduled' && b.status === 'good') || null, 30_000);
  await eventually('retention keeps 2 good backups', async () => ((await ok(daemon, 'GET', '/apps/jot/backups')).backups.filter((b: { status: string }) => b.status === 'good').length <= 2 ? true : null), 30_000);
  await ok(daemon, 'DELETE', '/apps/jot/backups/schedule?addon=sqlite');

  // Storage alone: BERTH_DATA_DIR for an app without SQLite.
  await ok(daemon, 'POST', '/apps', { name: 'files' });
  const storage = await ok(daemon, 'POST', '/apps/files/storage', {});
  assert.deepEqual(storage.addon.vars, ['BERTH_DATA_DIR']);
  const filesDeploy = await deployDir(daemon, 'files', flask);
  assert.equal(filesDeploy.last.result, 'ok', filesDeploy.lines.join('\n'));
  assert.equal((await edge(daemon, 'files', 'POST', '/notes', { text: 'kept' })).status, 201);
  assert.ok(existsSync(join(state, 'data', 'files', 'notes.db')), 'the example keeps its SQLite file in BERTH_DATA_DIR');
  assert.equal((await apiCall(daemon, 'DELETE', '/apps/files/storage')).json.code, 'BERTH_E_CONFIRM');
  await ok(daemon, 'DELETE', '/apps/files/storage?confirm=files');
  assert.equal(existsSync(join(state, 'data', 'files')), false);
  await ok(daemon, 'DELETE', '/apps/jot/addons/sqlite?confirm=jot');
  assert.equal(existsSync(join(state, 'data', 'jot')), false);
});
