// berth addons, storage and backups against a real daemon, with the SQLite
// add-on (it needs no server): what a user types, end to end. The data
// itself, deploys and the other kinds: test/integration/addons.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { startDaemon } from '../helpers/daemon.ts';
import { berth, testEnv } from '../cli/remote/run-berth.ts';

const MAIN = fileURLToPath(new URL('../cli/remote/remote-main.ts', import.meta.url));

/** A real berth process with no terminal on standard input, as a script runs it. */
async function unattended(env: Record<string, string>, ...argv: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [MAIN, ...argv], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk));
  const [code] = await once(child, 'exit');
  return { code: code as number | null, out, err };
}

function rows(file: string): string[] {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return db.prepare('SELECT text FROM notes ORDER BY id').all().map((row) => String(row.text));
  } finally {
    db.close();
  }
}

test('the add-on commands on a real daemon: sqlite and storage created, backed up, restored beside and over the app, scheduled, destroyed only when confirmed', { timeout: 180_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-addons-cli-'));
  const state = join(root, 'state');
  const daemon = await startDaemon(state, 1);
  t.after(() => daemon.berth.kill());
  t.after(() => rm(root, { recursive: true, force: true }));
  const env = await testEnv(t, { url: daemon.api, token: daemon.token });
  const run = async (...argv: string[]) => {
    const result = await berth(argv, { env });
    return { ...result, text: `berth ${argv.join(' ')} → ${result.code}\n${result.out}${result.err}` };
  };

  assert.equal((await run('apps', 'create', 'shop')).code, 0);
  const created = await run('addons', 'create', 'sqlite', '--app', 'shop');
  assert.equal(created.code, 0, created.text);
  assert.equal(created.out, 'created the sqlite add-on of shop: set DATABASE_URL and BERTH_DATA_DIR\nshop has no release yet: its first deploy gets the change\n');
  const file = join(state, 'data', 'shop', 'db.sqlite3');
  const info = await run('addons', 'info', 'sqlite', '--app', 'shop', '--reveal');
  assert.match(info.out, new RegExp(`\nDATABASE_URL +sqlite:///${file}\n`), info.text);

  // The app's data, written as the app would (the daemon never opens it as root; a test may).
  const db = new DatabaseSync(file);
  db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes (text) VALUES ('kept')");
  db.close();

  const made = await run('backups', 'create', '--app', 'shop');
  assert.equal(made.code, 0, made.text);
  assert.match(made.out, /^backup (\d+) of shop's sqlite is good: /);
  const id = /^backup (\d+)/.exec(made.out)![1]!;
  const later = new DatabaseSync(file);
  later.exec("INSERT INTO notes (text) VALUES ('written after the backup')");
  later.close();
  assert.match((await run('backups', 'list', '--app', 'shop')).out, new RegExp(`\n${id} +sqlite +manual +good `));

  const beside = await run('backups', 'restore', id, '--into', 'new');
  assert.equal(beside.code, 0, beside.text);
  const location = /\nlocation: (.+)\n/.exec(beside.out)?.[1];
  assert.ok(location !== undefined, beside.text);
  assert.match(beside.out, /\nchecksum verified \(sha256 [0-9a-f]{12}…\)\n$/);
  assert.deepEqual(rows(location), ['kept']);
  assert.deepEqual(rows(file), ['kept', 'written after the backup'], 'a restore beside the app leaves its data alone');

  const refused = await unattended(env, 'backups', 'restore', id);
  assert.equal(refused.code, 1);
  assert.match(refused.err, new RegExp(`^berth: restoring backup ${id} over shop's sqlite data needs --confirm shop \\[BERTH_E_CONFIRM\\]\n`));
  assert.deepEqual(rows(file), ['kept', 'written after the backup']);
  const over = await run('backups', 'restore', id, '--confirm', 'shop');
  assert.equal(over.code, 0, over.text);
  assert.match(over.out, new RegExp(`^restored backup ${id} \\(sqlite of shop, .+\\) into the app: `));
  assert.deepEqual(rows(file), ['kept']);

  const scheduled = await run('backups', 'schedule', '--app', 'shop', '--cron', '30 2 * * *', '--keep', '3');
  assert.equal(scheduled.code, 0, scheduled.text);
  assert.match(scheduled.out, /^shop's sqlite is backed up at 30 2 \* \* \* \(UTC\), keeping the newest 3; next at \d{4}-\d\d-\d\d 02:30:00 UTC\n$/);
  assert.match((await run('backups', 'schedule', '--app', 'shop')).out, /^ADDON +SCHEDULE +KEEP +NEXT RUN\nsqlite +30 2 \* \* \* +3 +\d{4}-\d\d-\d\d 02:30:00 UTC\n$/);
  assert.equal((await run('backups', 'schedule', '--app', 'shop', '--off')).code, 0);
  assert.match((await run('backups', 'schedule', '--app', 'shop')).out, /^shop has no backup schedules/);

  const storage = await run('storage', 'create', '--app', 'shop');
  assert.equal(storage.code, 0, storage.text);
  assert.match((await run('addons', 'list', '--app', 'shop')).out, /\nshop +sqlite +.*\nshop +storage +BERTH_DATA_DIR +/);

  const kept = await run('apps', 'destroy', 'shop', '--confirm', 'shop');
  assert.equal(kept.code, 1);
  assert.match(kept.err, /still has sqlite, storage; destroy them first \[BERTH_E_ADDON_EXISTS\]/);
  for (const argv of [
    ['addons', 'destroy', 'sqlite', '--app', 'shop'],
    ['storage', 'destroy', '--app', 'shop'],
  ]) {
    const result = await unattended(env, ...argv);
    assert.equal(result.code, 1, argv.join(' '));
    assert.match(result.err, /needs --confirm shop \[BERTH_E_CONFIRM\]/, argv.join(' '));
  }
  const blocked = await run('storage', 'destroy', '--app', 'shop', '--confirm', 'shop');
  assert.equal(blocked.code, 1);
  assert.match(blocked.err, /keeps its database in the data folder \[BERTH_E_ADDON_EXISTS\]/);

  const destroyed = await run('addons', 'destroy', 'sqlite', '--app', 'shop', '--confirm', 'shop');
  assert.equal(destroyed.code, 0, destroyed.text);
  assert.match(destroyed.out, /^destroyed the sqlite add-on of shop\nfinal backup: (\d+) \(shop-sqlite-\S+\.sqlite\.gz, [^)]+\), never pruned\n/);
  assert.match((await run('backups', 'list', '--app', 'shop')).out, /\n\d+ +sqlite +final +good /);
  assert.equal((await run('storage', 'destroy', '--app', 'shop', '--confirm', 'shop')).code, 0);
  assert.equal((await run('apps', 'destroy', 'shop', '--confirm', 'shop')).code, 0);
});
