import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as delay } from 'node:timers/promises';
import { createSqliteProvider } from '../../src/addons/sqlite.ts';
import type { AddonContext, AddonProvider, AddonUser, Provisioned } from '../../src/addons/types.ts';

// The app's side is played by Python's sqlite3 module run as the app's own
// Unix user, as a Python app under berth would be.
const PYTHON = '/usr/bin/python3';
const APP_SCRIPT = String.raw`
import os, sqlite3, sys, time
mode, path = sys.argv[1], sys.argv[2]
db = sqlite3.connect(path, timeout=10, isolation_level=None)
def insert(n, payload):
    db.execute('BEGIN IMMEDIATE')
    db.execute('INSERT INTO a VALUES (?, ?)', (n, payload))
    db.execute('INSERT INTO b VALUES (?, ?)', (n, payload))
    db.execute('COMMIT')
if mode == 'setup':
    db.execute('CREATE TABLE a (id INTEGER PRIMARY KEY, payload TEXT)')
    db.execute('CREATE TABLE b (id INTEGER PRIMARY KEY, payload TEXT)')
    db.execute('BEGIN')
    for n in range(1, int(sys.argv[3]) + 1):
        payload = os.urandom(100).hex()
        db.execute('INSERT INTO a VALUES (?, ?)', (n, payload))
        db.execute('INSERT INTO b VALUES (?, ?)', (n, payload))
    db.execute('COMMIT')
    print(db.execute('PRAGMA journal_mode').fetchone()[0], flush=True)
elif mode == 'writer':
    # Each row goes into a and b in one transaction: a consistent copy has as many of each.
    n = db.execute('SELECT coalesce(max(id), 0) FROM a').fetchone()[0]
    deadline = time.time() + 30
    while time.time() < deadline:
        n += 1
        insert(n, os.urandom(100).hex())
        print(n, flush=True)
elif mode == 'session':
    # One connection kept open across commands, as an app server keeps one.
    for line in sys.stdin:
        try:
            if line.strip() == 'count':
                print(db.execute('SELECT count(*) FROM a').fetchone()[0], db.execute('SELECT count(*) FROM b').fetchone()[0], flush=True)
            elif line.strip() == 'insert':
                n = db.execute('SELECT coalesce(max(id), 0) FROM a').fetchone()[0] + 1
                insert(n, 'from the session')
                print('inserted', n, flush=True)
        except Exception as err:
            print('error', err, flush=True)
`;

interface Fixture {
  readonly provider: AddonProvider;
  readonly context: AddonContext;
  readonly user: AddonUser;
  readonly state: string;
  readonly dataRoot: string;
  readonly logs: string[];
}

/** Cleanups run last-registered first: processes end before their user is removed. */
function cleanups(t: TestContext): (fn: () => unknown) => void {
  const stack: (() => unknown)[] = [];
  t.after(async () => {
    for (const fn of stack.reverse()) await fn();
  });
  return (fn) => stack.push(fn);
}

function fixture(t: TestContext): Fixture & { defer: (fn: () => unknown) => void } {
  const defer = cleanups(t);
  const state = mkdtempSync(join(tmpdir(), 'berth-sqlite-'));
  chmodSync(state, 0o711); // app users pass through the state folder to their data folder
  defer(() => rmSync(state, { recursive: true, force: true }));
  const name = `t${randomBytes(5).toString('hex')}`;
  execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name]);
  defer(() => execFileSync('userdel', [name]));
  const id = (flag: string) => Number(execFileSync('id', [flag, name], { encoding: 'utf8' }).trim());
  const user = { uid: id('-u'), gid: id('-g') };
  const logs: string[] = [];
  const dataRoot = join(state, 'data');
  const provider = createSqliteProvider({ dataRoot, log: (line) => logs.push(line) });
  return { provider, context: { app: 'shop', user }, user, state, dataRoot, logs, defer };
}

/** Runs the app script to completion as the app's user. */
function runAsApp(user: AddonUser, args: readonly string[]): string {
  return execFileSync(PYTHON, ['-c', APP_SCRIPT, ...args], { uid: user.uid, gid: user.gid, encoding: 'utf8', cwd: '/' }).trim();
}

/** A long-running app process as the app's user, with its output as lines. */
class AppProcess {
  readonly lines: string[] = [];
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<unknown>;

  constructor(user: AddonUser, args: readonly string[], defer: (fn: () => unknown) => void) {
    this.child = spawn(PYTHON, ['-c', APP_SCRIPT, ...args], { uid: user.uid, gid: user.gid, cwd: '/', stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = once(this.child, 'close');
    let pending = '';
    this.child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (pending + chunk).split('\n');
      pending = parts.pop()!;
      this.lines.push(...parts);
    });
    let errors = '';
    this.child.stderr.setEncoding('utf8').on('data', (chunk: string) => (errors += chunk));
    this.child.on('close', (code, signal) => {
      if (code !== 0 && signal === null) this.lines.push(`exited ${code}: ${errors.trim()}`);
    });
    defer(() => this.stop());
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Waits (bounded) until some line from index `from` on satisfies `test`; returns it. */
  async waitFor(test: (line: string) => boolean, what: string, from = 0): Promise<string> {
    for (let i = 0; i < 400; i++) {
      const found = this.lines.slice(from).find(test);
      if (found !== undefined) return found;
      if (this.child.exitCode !== null) break;
      await delay(25);
    }
    assert.fail(`the app process never printed ${what}; it printed: ${this.lines.slice(-5).join(' | ')}`);
  }

  /** Sends one command to a session and returns its answer. */
  async ask(command: string): Promise<string> {
    const before = this.lines.length;
    this.child.stdin.write(`${command}\n`);
    return this.waitFor(() => true, `an answer to ${command}`, before);
  }

  /** The newest number a writer printed (rows it committed). */
  get committed(): number {
    for (let i = this.lines.length - 1; i >= 0; i--) if (/^\d+$/.test(this.lines[i]!)) return Number(this.lines[i]);
    return 0;
  }
}

/** Facts about a SQLite file, read by the test (as root) without changing it. */
function inspect(path: string): { integrity: string; a: number; b: number; maxId: number } {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const integrity = db.prepare('PRAGMA integrity_check').all().map((row) => String(Object.values(row)[0])).join('; ');
    const count = (table: string) => Number(db.prepare(`SELECT count(*) AS n FROM ${table}`).get()!.n);
    return { integrity, a: count('a'), b: count('b'), maxId: Number(db.prepare('SELECT coalesce(max(id), 0) AS n FROM a').get()!.n) };
  } finally {
    db.close();
  }
}

const signal = () => new AbortController().signal;

async function provisioned(f: Fixture, rows: number): Promise<Provisioned & { path: string; dir: string }> {
  const made = await f.provider.provision(f.context);
  assert.equal(runAsApp(f.user, ['setup', made.resource.path!, String(rows)]), 'wal');
  return { ...made, path: made.resource.path!, dir: made.resource.dir! };
}

test('provision makes a WAL database owned by the app user (0600) in its own data folder (0700), with SQLAlchemy-style vars', async (t) => {
  const f = fixture(t);
  const made = await f.provider.provision(f.context);
  const dir = join(f.dataRoot, 'shop');
  const path = join(dir, 'db.sqlite3');
  assert.deepEqual(made.resource, { path, dir });
  assert.deepEqual(made.vars, { DATABASE_URL: `sqlite:////${path.slice(1)}`, BERTH_DATA_DIR: dir });
  assert.equal(f.provider.describe(made.resource).path, path);

  const dirFacts = statSync(dir);
  assert.equal(dirFacts.uid, f.user.uid);
  assert.equal(dirFacts.mode & 0o7777, 0o700);
  const fileFacts = statSync(path);
  assert.equal(fileFacts.uid, f.user.uid);
  assert.equal(fileFacts.gid, f.user.gid);
  assert.equal(fileFacts.mode & 0o7777, 0o600);
  // WAL is recorded in the file: bytes 18 and 19 of the header are 2.
  const header = readFileSync(path).subarray(0, 20);
  assert.equal(header.subarray(0, 16).toString('latin1'), 'SQLite format 3\0');
  assert.deepEqual([header[18], header[19]], [2, 2]);
  // Nothing but the database is left behind (no -wal, no -shm, no helper files).
  assert.deepEqual(readdirSync(dir), ['db.sqlite3']);

  // The app, as its user, uses it as it is.
  assert.equal(runAsApp(f.user, ['setup', path, '3']), 'wal');
  await assert.rejects(f.provider.provision(f.context), { code: 'BERTH_E_ADDON_EXISTS' });
  assert.equal(inspect(path).a, 3, 'a second provision changes nothing');
});

test('dump while the app writes continuously in WAL mode gives a consistent copy', async (t) => {
  const f = fixture(t);
  const prefill = 20_000;
  const db = await provisioned(f, prefill);
  const writer = new AppProcess(f.user, ['writer', db.path], f.defer);
  await writer.waitFor((line) => Number(line) >= prefill + 50, 'its first rows');

  const dumps: { file: string; before: number; after: number }[] = [];
  for (let i = 0; i < 3; i++) {
    const file = join(f.state, `dump-${i}.sqlite`);
    const before = writer.committed;
    await f.provider.dump(f.context, db.resource, file, signal());
    dumps.push({ file, before, after: writer.committed });
  }
  await writer.stop();
  const total = inspect(db.path).a;

  assert.ok(dumps.at(-1)!.after > dumps[0]!.before, 'the app kept writing while the dumps ran');
  for (const dump of dumps) {
    const copy = inspect(dump.file);
    assert.equal(copy.integrity, 'ok');
    assert.equal(copy.a, copy.b, 'each transaction is in the copy whole or not at all');
    assert.equal(copy.maxId, copy.a, 'no row is missing in the middle');
    assert.ok(copy.a >= dump.before && copy.a <= total, `${copy.a} rows: at least the ${dump.before} committed before the dump, at most the ${total} ever written`);
  }
  assert.deepEqual(readdirSync(db.dir).filter((name) => name.startsWith('.berth-')), [], 'no helper files left');
  assert.ok(f.logs.some((line) => line.includes('dumped')));
});

test('restore into the app replaces the data under an open connection, which sees it and can still write; owner and mode are kept', async (t) => {
  const f = fixture(t);
  const db = await provisioned(f, 500);
  const dump = join(f.state, 'dump.sqlite');
  await f.provider.dump(f.context, db.resource, dump, signal());

  const session = new AppProcess(f.user, ['session', db.path], f.defer);
  for (let i = 0; i < 3; i++) assert.match(await session.ask('insert'), /^inserted/);
  assert.equal(await session.ask('count'), '503 503');
  const before = statSync(db.path);

  const report = await f.provider.restore(f.context, db.resource, dump, { into: 'app' });
  assert.equal(report.summary, `restored 2 tables into ${db.path}`);
  assert.equal(report.location, null);

  assert.equal(await session.ask('count'), '500 500', 'the open connection sees the restored data');
  assert.equal(await session.ask('insert'), 'inserted 501', 'and the app can still write');
  const after = statSync(db.path);
  assert.equal(after.uid, f.user.uid);
  assert.equal(after.gid, f.user.gid);
  assert.equal(after.mode & 0o7777, 0o600);
  assert.equal(after.ino, before.ino, 'the same file, changed through SQLite, not replaced');
  await session.stop();
  assert.equal(inspect(db.path).integrity, 'ok');
  assert.deepEqual(readdirSync(db.dir).filter((name) => name.startsWith('.berth-')), []);
});

test('restore into the app while the app writes waits for its locks, and the app writes on afterwards', async (t) => {
  const f = fixture(t);
  const db = await provisioned(f, 300);
  const dump = join(f.state, 'dump.sqlite');
  await f.provider.dump(f.context, db.resource, dump, signal());

  const writer = new AppProcess(f.user, ['writer', db.path], f.defer);
  await writer.waitFor((line) => Number(line) >= 400, 'a hundred rows');
  const before = writer.committed;
  await f.provider.restore(f.context, db.resource, dump, { into: 'app' });
  const atEnd = writer.lines.length;
  await writer.waitFor(() => true, 'rows after the restore', atEnd + 20);
  await writer.stop();

  const live = new DatabaseSync(db.path, { readOnly: true });
  try {
    const count = (sql: string) => Number(live.prepare(sql).get()!.n);
    assert.equal(count('SELECT count(*) AS n FROM a WHERE id <= 300'), 300, 'the backup is back');
    assert.equal(count(`SELECT count(*) AS n FROM a WHERE id > 300 AND id <= ${before}`), 0, 'what was written before the restore is gone');
    assert.ok(count(`SELECT count(*) AS n FROM a WHERE id > ${before}`) > 0, 'the writer wrote after the restore');
    assert.equal(count('SELECT count(*) AS n FROM a'), count('SELECT count(*) AS n FROM b'));
  } finally {
    live.close();
  }
  assert.equal(inspect(db.path).integrity, 'ok');
});

test('restore into a new file puts it beside the database, owned by the app user, and leaves the database alone', async (t) => {
  const f = fixture(t);
  const db = await provisioned(f, 50);
  const dump = join(f.state, 'dump.sqlite');
  await f.provider.dump(f.context, db.resource, dump, signal());
  runAsApp(f.user, ['setup', join(db.dir, 'scratch.sqlite3'), '1']); // something else of the app's
  const session = new AppProcess(f.user, ['session', db.path], f.defer);
  await session.ask('insert');

  const report = await f.provider.restore(f.context, db.resource, dump, { into: 'new', tag: 'r7' });
  const copy = join(db.dir, 'restore-r7.sqlite3');
  assert.equal(report.location, copy);
  assert.match(report.summary, /restored 2 tables into .*restore-r7\.sqlite3/);
  const facts = statSync(copy);
  assert.equal(facts.uid, f.user.uid);
  assert.equal(facts.mode & 0o7777, 0o600);
  assert.deepEqual(inspect(copy), { integrity: 'ok', a: 50, b: 50, maxId: 50 });
  assert.equal(await session.ask('count'), '51 51', 'the live database is untouched');
  // The app can open it as its own.
  const other = new AppProcess(f.user, ['session', copy], f.defer);
  assert.equal(await other.ask('insert'), 'inserted 51');

  await assert.rejects(f.provider.restore(f.context, db.resource, dump, { into: 'new', tag: 'r7' }), { code: 'BERTH_E_RESTORE_FAILED', message: /already exists/ });
  await other.stop();
  assert.equal(inspect(copy).a, 51, 'an earlier restore is never overwritten');
});

test('restore of something that is not a sound SQLite database fails and leaves the live data as it was', async (t) => {
  const f = fixture(t);
  const db = await provisioned(f, 2000);
  const dump = join(f.state, 'dump.sqlite');
  await f.provider.dump(f.context, db.resource, dump, signal());
  const session = new AppProcess(f.user, ['session', db.path], f.defer);
  await session.ask('insert');

  const garbage = join(f.state, 'garbage');
  writeFileSync(garbage, randomBytes(64 * 1024));
  const headerOnly = join(f.state, 'header-only');
  writeFileSync(headerOnly, Buffer.concat([Buffer.from('SQLite format 3\0', 'latin1'), randomBytes(8192)]));
  // A real database with one of its table pages overwritten.
  const damaged = join(f.state, 'damaged');
  const bytes = readFileSync(dump);
  randomBytes(4096).copy(bytes, bytes.length - 3 * 4096);
  writeFileSync(damaged, bytes);
  const empty = join(f.state, 'empty');
  writeFileSync(empty, '');

  const cases: [string, RegExp][] = [
    [garbage, /does not start with the SQLite header/],
    [empty, /does not start with the SQLite header/],
    [headerOnly, /the backup is not a usable SQLite database/],
    [damaged, /the backup is not a usable SQLite database/],
  ];
  for (const [file, why] of cases) {
    await assert.rejects(f.provider.restore(f.context, db.resource, file, { into: 'app' }), { code: 'BERTH_E_RESTORE_FAILED', message: why }, file);
    await assert.rejects(f.provider.restore(f.context, db.resource, file, { into: 'new', tag: 'bad' }), { code: 'BERTH_E_RESTORE_FAILED', message: why }, file);
    assert.equal(await session.ask('count'), '2001 2001', file);
  }
  assert.equal(existsSync(join(db.dir, 'restore-bad.sqlite3')), false, 'a failed restore into a new file leaves no file');
  assert.deepEqual(readdirSync(db.dir).filter((name) => name.startsWith('.berth-') || name.startsWith('restore-')), []);
  await session.stop();
  assert.equal(inspect(db.path).integrity, 'ok');
});

test('a dump that is cancelled stops its helper and leaves nothing behind', async (t) => {
  const f = fixture(t);
  const db = await provisioned(f, 100);
  const controller = new AbortController();
  const dumping = f.provider.dump(f.context, db.resource, join(f.state, 'dump.sqlite'), controller.signal);
  setTimeout(() => controller.abort(), 5);
  await assert.rejects(dumping, { code: 'BERTH_E_ADDON_TOOL', message: /cancelled/ });
  assert.deepEqual(readdirSync(db.dir), ['db.sqlite3']);
  // Nothing runs as the app's user any more.
  assert.equal(spawnSync('ps', ['-o', 'pid=', '-u', String(f.user.uid)], { encoding: 'utf8' }).stdout.trim(), '');
});

test('dump and restore refuse a database the app replaced with a link, and never read or write its target', async (t) => {
  const f = fixture(t);
  const db = await provisioned(f, 10);
  const dump = join(f.state, 'dump.sqlite');
  await f.provider.dump(f.context, db.resource, dump, signal());
  // A database only root may read, which the app would like to see.
  const secret = join(f.state, 'secret.sqlite3');
  const root = new DatabaseSync(secret);
  root.exec("CREATE TABLE a (id INTEGER PRIMARY KEY, payload TEXT); CREATE TABLE b (id INTEGER PRIMARY KEY, payload TEXT); INSERT INTO a VALUES (1, 'root only'); INSERT INTO b VALUES (1, 'root only')");
  root.close();
  chmodSync(secret, 0o600);
  const secretBytes = readFileSync(secret);
  unlinkSync(db.path);
  symlinkSync(secret, db.path);

  await assert.rejects(f.provider.dump(f.context, db.resource, join(f.state, 'stolen.sqlite'), signal()), { code: 'BERTH_E_BACKUP_FAILED', message: /symbolic link/ });
  assert.equal(existsSync(join(f.state, 'stolen.sqlite')), false);
  await assert.rejects(f.provider.restore(f.context, db.resource, dump, { into: 'app' }), { code: 'BERTH_E_RESTORE_FAILED', message: /symbolic link/ });
  assert.ok(readFileSync(secret).equals(secretBytes));
});

test('deprovision removes the database and its -wal and -shm, keeps the data folder, and is safe to repeat', async (t) => {
  const f = fixture(t);
  const db = await provisioned(f, 10);
  writeFileSync(join(db.dir, 'upload.png'), 'the app\'s own file');
  const session = new AppProcess(f.user, ['session', db.path], f.defer);
  await session.ask('insert');
  assert.ok(existsSync(`${db.path}-wal`) && existsSync(`${db.path}-shm`), 'an open connection has its -wal and -shm');

  await f.provider.deprovision(f.context, db.resource);
  assert.deepEqual(readdirSync(db.dir), ['upload.png']);
  await session.stop();
  await f.provider.deprovision(f.context, db.resource);
  await f.provider.deprovision({ ...f.context, app: 'never-provisioned' }, {});

  // A new database starts empty.
  const again = await f.provider.provision(f.context);
  assert.equal(runAsApp(f.user, ['setup', again.resource.path!, '1']), 'wal');
  assert.equal(inspect(again.resource.path!).a, 1);
});
