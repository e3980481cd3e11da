// berth's own PostgreSQL cluster, from the system's binaries: initialised
// once, run as the postgres user when berth is root, supervised (a killed
// postmaster comes back), stopped cleanly and started again with its data.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPostgresProvider } from '../../src/addons/postgres.ts';
import { LocalPostgres } from '../../src/addons/postgres-local.ts';
import { isBerthError } from '../../src/errors.ts';
import { SUPERVISOR_ENV } from '../../src/runner/index.ts';
import { findUser } from '../../src/platform/app-users.ts';
import { eventually } from '../helpers/berth-process.ts';
import { failureCode, withClient } from '../helpers/postgres.ts';

const root = process.getuid!() === 0;
let base: string;
let dir: string;
const marker = `test-local-${process.pid}-${Date.now()}`;
const logs: string[] = [];
let cluster: LocalPostgres;
let adminUrl: string;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The server's own log (data/log, through current_logfiles' last name). */
async function serverLog(): Promise<string> {
  const names = await readdir(join(dir, 'data', 'log'));
  const texts = await Promise.all(names.map((name) => readFile(join(dir, 'data', 'log', name), 'utf8')));
  return texts.join('\n');
}

/** The uid a process runs as. */
async function uidOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^Uid:\s+(\d+)/m.exec(status)![1]);
}

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'berth-pg-local-'));
  // mkdtemp makes it 0700; the postgres user must get through, as through STATE (0711).
  await chmod(base, 0o711);
  dir = join(base, 'state', 'addons', 'postgres');
  cluster = new LocalPostgres({ dir, supervisorMarker: marker, log: (line) => logs.push(line) });
});

after(async () => {
  await cluster.close();
  await rm(base, { recursive: true, force: true });
});

test('the first start initialises a cluster, run by the postgres user, listening on 127.0.0.1 only, on a port kept in a file', async () => {
  adminUrl = await cluster.start();
  assert.ok(logs.some((line) => /initialising a new cluster/.test(line)));
  const url = new URL(adminUrl);
  assert.equal(url.hostname, '127.0.0.1');
  assert.equal(url.username, 'berth');
  assert.equal((await readFile(join(dir, 'port'), 'utf8')).trim(), url.port);
  assert.equal((await readFile(join(dir, 'admin-password'), 'utf8')).trim(), decodeURIComponent(url.password));
  assert.ok(decodeURIComponent(url.password).length >= 32);

  const password = await stat(join(dir, 'admin-password'));
  assert.equal(password.mode & 0o777, 0o600);
  assert.equal(password.uid, process.getuid!(), "the password file is berth's");
  assert.equal((await stat(dir)).mode & 0o777, 0o711);
  const data = await stat(join(dir, 'data'));
  assert.equal(data.mode & 0o777, 0o700);
  const pid = cluster.pid!;
  if (root) {
    const postgres = (await findUser('postgres'))!;
    assert.equal(data.uid, postgres.uid, 'the data folder belongs to the postgres user');
    assert.equal(await uidOf(pid), postgres.uid, 'the server runs as the postgres user');
  } else {
    assert.equal(await uidOf(pid), process.getuid!(), "not root: the server runs as berth's user");
  }
  const environ = await readFile(`/proc/${pid}/environ`, 'utf8');
  assert.ok(environ.split('\0').includes(`${SUPERVISOR_ENV}=${marker}:postgres`), "the server carries the supervisor marker, with its kind (not the backups' tag the daemon reaps at start)");
  assert.ok(!environ.includes(decodeURIComponent(url.password)), 'nor the password');
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
  assert.ok(!cmdline.includes(decodeURIComponent(url.password)));

  await withClient(adminUrl, async (client) => {
    assert.equal((await client.query('SHOW listen_addresses')).rows[0].listen_addresses, '127.0.0.1');
    assert.equal((await client.query('SHOW password_encryption')).rows[0].password_encryption, 'scram-sha-256');
    assert.equal((await client.query('SHOW server_encoding')).rows[0].server_encoding, 'UTF8');
    await client.query('CREATE TABLE kept (note text)');
    await client.query("INSERT INTO kept VALUES ('survives restarts')");
  });
  const wrong = new URL(adminUrl);
  wrong.password = 'not-the-password';
  assert.equal(await failureCode(wrong.href), '28P01', 'host connections need the password');
  assert.equal(await cluster.start(), adminUrl, 'a second start() is the same, cheap');
});

test('a postmaster killed with SIGKILL is started again and accepts connections', async () => {
  const first = cluster.pid!;
  process.kill(first, 'SIGKILL');
  await eventually('a new postmaster', () => cluster.pid !== undefined && cluster.pid !== first, 20_000);
  const rows = await eventually(
    'the restarted server answers',
    () => withClient(adminUrl, async (client) => (await client.query('SELECT note FROM kept')).rows),
    20_000,
    100,
  );
  assert.deepEqual(rows, [{ note: 'survives restarts' }]);
  assert.ok(!alive(first));
});

test('close() stops the server; a new LocalPostgres on the same folder starts the same cluster without initdb', async () => {
  const pid = cluster.pid!;
  await cluster.close();
  await cluster.close();
  assert.equal(cluster.pid, undefined);
  assert.ok(!alive(pid), 'the postmaster is gone');
  assert.match(await serverLog(), /database system is shut down/, 'a clean shutdown, in its own log');
  assert.notEqual(await failureCode(adminUrl), null, 'nothing answers any more');

  const again: string[] = [];
  cluster = new LocalPostgres({ dir, supervisorMarker: marker, log: (line) => again.push(line) });
  assert.equal(await cluster.start(), adminUrl, 'same port and password');
  assert.ok(!again.some((line) => /initialising/.test(line)), 'no initdb the second time');
  await withClient(adminUrl, async (client) => assert.deepEqual((await client.query('SELECT note FROM kept')).rows, [{ note: 'survives restarts' }]));
});

test('the provider on that folder: an app provisioned before a restart of berth keeps its database, credentials and data', async () => {
  await cluster.close();
  const options = { adminUrl: null, localDir: dir, namePrefix: 'berth_', supervisorMarker: marker, log: (line: string) => logs.push(line) };
  const context = { app: 'harbour', user: null };
  const first = createPostgresProvider(options);
  const made = await first.provision(context);
  await withClient(made.vars.DATABASE_URL!, (client) => client.query("CREATE TABLE ships AS SELECT 'Argo'::text AS name"));
  await first.close();
  assert.notEqual(await failureCode(made.vars.DATABASE_URL!), null, 'closed: the server is down');
  logs.length = 0;
  const second = createPostgresProvider(options);
  try {
    await second.start();
    assert.ok(!logs.some((line) => /initialising/.test(line)), 'no initdb');
    await withClient(made.vars.DATABASE_URL!, async (client) => assert.deepEqual((await client.query('SELECT name FROM ships')).rows, [{ name: 'Argo' }]));
    await second.deprovision(context, made.resource);
  } finally {
    await second.close();
  }
});

test('a postmaster.pid naming a live process that is not postgres (a reused pid) does not stop the start', async () => {
  const squatter = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const pidFile = join(dir, 'data', 'postmaster.pid');
    await writeFile(pidFile, `${squatter.pid}\n${join(dir, 'data')}\n0\n0\n\n\n\n`);
    const again: string[] = [];
    cluster = new LocalPostgres({ dir, supervisorMarker: marker, log: (line) => again.push(line) });
    assert.equal(await cluster.start(), adminUrl);
    assert.ok(again.some((line) => line.includes(`pid ${squatter.pid}`)), 'says why it removed the file');
    assert.ok(alive(squatter.pid!), 'and leaves the process alone');
  } finally {
    squatter.kill('SIGKILL');
  }
});

test('a folder the server cannot reach is refused with BERTH_E_ADDON_SERVER before anything is made', async () => {
  const closed = await mkdtemp(join(tmpdir(), 'berth-pg-closed-'));
  try {
    await mkdir(join(closed, 'state'), { mode: 0o711 });
    const unreachable = new LocalPostgres({ dir: join(closed, 'state', 'postgres'), supervisorMarker: marker, log: () => {} });
    if (root) {
      await assert.rejects(unreachable.start(), (err) => {
        assert.ok(isBerthError(err));
        assert.equal(err.code, 'BERTH_E_ADDON_SERVER');
        assert.match(err.message, /is mode 0700/);
        assert.match(err.hint!, /chmod o\+x/);
        return true;
      });
      await assert.rejects(stat(join(closed, 'state', 'postgres', 'data')), { code: 'ENOENT' });
    } else {
      // Not root: the server runs as berth's own user, who can reach its own folders.
      await unreachable.start();
    }
    await unreachable.close();
  } finally {
    await rm(closed, { recursive: true, force: true });
  }
});
