// `npm run bench:backups`: berth's add-on backups against the plain tool
// pipeline an operator would script today, side by side in one run.
//
//   PostgreSQL  berth: pg_dump --format=custom as the app's role, then
//               sealBackup (gzip + sha256 + fsync + rename), what
//               AddonService does; restore = openBackup (checksum, gunzip)
//               + provider.restore into a new database.
//               baseline: `pg_dump -Fc DB | gzip > FILE`, restore
//               `createdb` + `gzip -dc FILE | pg_restore --no-owner -d NEW`.
//               Reference: `pg_dump -Fc -f FILE` alone (already compressed).
//   Redis       berth: snapshot (redis-cli --rdb, the server's BGSAVE), a
//               throwaway server that drops every other app's keys, SAVE,
//               seal. baseline: `redis-cli --rdb - | gzip > FILE`: the whole
//               server, every app's keys. berth's restore (keys copied under
//               a new prefix) is reported alone: the tool way is to replace
//               dump.rdb and restart the whole server.
//   SQLite      berth: online backup in a helper process (as the app's user;
//               null here: berth's own) + seal. baseline:
//               `sqlite3 DB ".backup FILE" && gzip FILE` (when Debian's
//               sqlite3 is installed); restore = openBackup + provider.restore
//               into a new file (with PRAGMA integrity_check) vs `gzip -dc`.
//
// Every server runs from the system's binaries in one temp folder, stopped
// and removed at the end, on failure and on Ctrl-C too. See bench/README.md
// ("Backups") for the numbers and how to read them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { openBackup, sealBackup } from '../src/addons/backup-files.ts';
import { LocalPostgres, postgresBinary } from '../src/addons/postgres-local.ts';
import { createPostgresProvider, restoreDatabaseName } from '../src/addons/postgres.ts';
import { LOCAL_ADMIN_USER, redisProgram } from '../src/addons/redis-local.ts';
import { createRedisProvider } from '../src/addons/redis.ts';
import { createSqliteProvider } from '../src/addons/sqlite.ts';
import { toolEnv } from '../src/addons/run-tool.ts';
import type { AddonContext, AddonProvider } from '../src/addons/types.ts';
import { cpuOutsideTree, cpuUsedBetween, processTree } from './lib/proc-tree.ts';
import { otherCpuPercent, waitForQuiet } from './lib/quiet.ts';
import { writeJsonAtomically } from './lib/results-file.ts';

const ROOT = join(import.meta.dirname, '..');
const RESULTS = join(ROOT, 'bench', 'results', 'backups.json');
const MB = 1e6;
/** Any one tool run or provider call; a stuck one fails the run instead of hanging it. */
const STEP_TIMEOUT_MS = 15 * 60_000;
const ADDONS = ['postgres', 'redis', 'sqlite'] as const;
type Addon = (typeof ADDONS)[number];

const USAGE = `usage: npm run bench:backups -- [options]      (or: node bench/backups.ts [options])
  --quick            ~30 MB databases and 100k Redis keys per app, 1 round (a check that it all works)
  --rounds N         rounds; each row is the median (default 3, --quick 1)
  --size MB          PostgreSQL and SQLite data size in MB of 10^6 bytes (default 200, --quick 30)
  --keys N           Redis: the app's small keys, and as many of another app (default 500000, --quick 100000)
  --only LIST        add-ons to measure: postgres,redis,sqlite (default all)
  --verbose          print the servers' log lines
Env: BENCH_QUIET_WAIT=SECONDS  before each measured step, wait up to this long for
     other processes to use < 10 % CPU (default 10; 0: do not look)
`;

// ---- measuring -------------------------------------------------------------

interface Sample {
  readonly seconds: number;
  /** CPU seconds of this process and everything it started (servers, their backends, tools), exited children included. */
  readonly cpuSeconds: number;
  /** CPU other processes on the machine used meanwhile, in % of one core. */
  readonly otherCpuPercent: number;
  /** The backup file's size (restores: 0). */
  readonly bytes: number;
}

interface Step {
  readonly addon: Addon;
  readonly step: string;
  /** The size the MB/s are of (the database, or for Redis the whole server's snapshot). */
  readonly sourceBytes: number;
  readonly berth: Sample[];
  readonly baseline: Sample[];
  readonly baselineName: string;
  readonly note: string;
}

/** CPU seconds (user + system, own + reaped children's) summed over a process tree: /proc/PID/stat fields 14-17. */
async function treeCpuSeconds(rootPid: number): Promise<number> {
  const rows: { pid: number; ppid: number; ticks: number }[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let text: string;
    try {
      text = await readFile(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const field = (n: number) => Number(rest[n - 3]);
    rows.push({ pid: Number(name), ppid: field(4), ticks: field(14) + field(15) + field(16) + field(17) });
  }
  const inside = new Set([rootPid]);
  let total = 0;
  for (let grew = true; grew; ) {
    grew = false;
    for (const row of rows) {
      if (!inside.has(row.pid) && inside.has(row.ppid)) {
        inside.add(row.pid);
        grew = true;
      }
    }
  }
  for (const row of rows) if (inside.has(row.pid)) total += row.ticks;
  return total / 100;
}

let quietWaitMs = 10_000;
const log = (line: string) => process.stderr.write(`bench:backups: ${line}\n`);

async function measure(name: string, run: () => Promise<number>): Promise<Sample> {
  await waitForQuiet(10, quietWaitMs, log);
  const otherBefore = await cpuOutsideTree(process.pid);
  const ownBefore = await treeCpuSeconds(process.pid);
  const started = performance.now();
  const bytes = await run();
  const seconds = (performance.now() - started) / 1000;
  const ownAfter = await treeCpuSeconds(process.pid);
  const other = (cpuUsedBetween(otherBefore, await cpuOutsideTree(process.pid)) / seconds) * 100;
  const sample = { seconds, cpuSeconds: ownAfter - ownBefore, otherCpuPercent: other, bytes };
  log(`  ${name}: ${seconds.toFixed(2)} s, ${sample.cpuSeconds.toFixed(1)} CPU s${bytes ? `, ${(bytes / MB).toFixed(1)} MB` : ''}, others ${other.toFixed(0)} %`);
  return sample;
}

// ---- child processes -------------------------------------------------------

/** Every baseline tool running now, so a signal can end them. */
const running = new Set<ChildProcess>();

interface Tool {
  readonly argv: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Runs `A | B | ... > output` (argv arrays, no shell): each stage's stdout is
 * the next one's stdin, the last one's goes to `output` (created 0600) or
 * nowhere. Rejects unless every stage exits 0, like `set -o pipefail`.
 */
async function pipeline(stages: readonly Tool[], output: string | null = null): Promise<void> {
  const outFd = output === null ? null : openSync(output, 'w', 0o600);
  const children: ChildProcess[] = [];
  try {
    let previous: ChildProcess | null = null;
    for (const [index, stage] of stages.entries()) {
      const last = index === stages.length - 1;
      const child: ChildProcess = spawn(stage.argv[0]!, stage.argv.slice(1), {
        env: { ...toolEnv(), ...stage.env },
        stdio: [previous === null ? 'ignore' : previous.stdout!, last ? (outFd ?? 'ignore') : 'pipe', 'pipe'],
      });
      // The child has its own copy of the pipe's read end; ours would keep the writer from seeing EPIPE.
      previous?.stdout!.destroy();
      children.push(child);
      running.add(child);
      previous = child;
    }
  } finally {
    if (outFd !== null) closeSync(outFd);
  }
  const results = await Promise.all(
    children.map(
      (child, index) =>
        new Promise<string | null>((resolve) => {
          let stderr = '';
          child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-2000)));
          const timer = setTimeout(() => child.kill('SIGKILL'), STEP_TIMEOUT_MS);
          child.once('error', (err) => {
            clearTimeout(timer);
            running.delete(child);
            resolve(`${stages[index]!.argv[0]}: ${err.message}`);
          });
          child.once('close', (code, signal) => {
            clearTimeout(timer);
            running.delete(child);
            resolve(code === 0 ? null : `${stages[index]!.argv[0]} ${signal ?? `exited ${code}`}: ${stderr.trim()}`);
          });
        }),
    ),
  );
  const failed = results.filter((result) => result !== null);
  if (failed.length > 0) throw new Error(failed.join('; '));
}

const run = (argv: readonly string[], env?: Readonly<Record<string, string>>) => pipeline([{ argv, ...(env ? { env } : {}) }]);

async function sizeOf(path: string): Promise<number> {
  return (await stat(path)).size;
}

function hasProgram(name: string): boolean {
  return spawnSync(name, ['--version'], { stdio: 'ignore' }).status === 0;
}

const timeout = () => AbortSignal.timeout(STEP_TIMEOUT_MS);

// ---- PostgreSQL ------------------------------------------------------------

interface BenchContext {
  readonly root: string;
  readonly rounds: number;
  readonly sizeBytes: number;
  readonly keys: number;
  readonly marker: string;
  readonly serverLog: (line: string) => void;
  readonly cleanups: (() => Promise<unknown>)[];
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function fillPostgres(url: string, targetBytes: number): Promise<{ rows: number; bytes: number }> {
  return withClient(url, async (client) => {
    await client.query(`CREATE TABLE orders (
      id bigint PRIMARY KEY, customer_id integer NOT NULL, created_at timestamptz NOT NULL, status text NOT NULL,
      total numeric(10,2) NOT NULL, email text NOT NULL, note text, items jsonb NOT NULL)`);
    const batch = 50_000;
    let rows = 0;
    // The index comes last (faster) and adds about 10 %.
    while (Number((await client.query<{ size: string }>('SELECT pg_database_size(current_database()) AS size')).rows[0]!.size) < targetBytes * 0.9) {
      await client.query(
        `INSERT INTO orders SELECT g, (random() * 100000)::int, timestamptz '2026-01-01' - random() * interval '365 days',
           (ARRAY['new','paid','shipped','refunded'])[1 + g % 4], round((random() * 500)::numeric, 2),
           'customer' || (g % 100000) || '@example.com', md5(random()::text) || ' ' || md5(random()::text),
           jsonb_build_array(jsonb_build_object('sku', 'SKU-' || (g % 5000), 'qty', 1 + g % 5, 'price', round((random() * 100)::numeric, 2)))
         FROM generate_series($1::bigint, $2::bigint) AS g`,
        [rows + 1, rows + batch],
      );
      rows += batch;
    }
    await client.query('CREATE INDEX orders_customer ON orders (customer_id)');
    await client.query('VACUUM ANALYZE orders');
    const bytes = Number((await client.query<{ size: string }>('SELECT pg_database_size(current_database()) AS size')).rows[0]!.size);
    return { rows, bytes };
  });
}

async function benchPostgres(ctx: BenchContext): Promise<Step[]> {
  const dir = join(ctx.root, 'postgres');
  const cluster = new LocalPostgres({ dir, supervisorMarker: ctx.marker, log: ctx.serverLog });
  ctx.cleanups.push(() => cluster.close());
  log('postgres: starting a local cluster (initdb)');
  const adminUrl = await cluster.start();
  const admin = new URL(adminUrl);
  const adminEnv = { PGHOST: admin.hostname, PGPORT: admin.port, PGUSER: decodeURIComponent(admin.username), PGPASSWORD: decodeURIComponent(admin.password) };
  // The provider in admin-URL mode on berth's own local cluster: the same dump and restore code as `berth server` runs.
  const provider = createPostgresProvider({ adminUrl, localDir: dir, namePrefix: 'bench_', supervisorMarker: ctx.marker, log: ctx.serverLog });
  ctx.cleanups.push(() => provider.close());
  const context: AddonContext = { app: 'shop', user: null };
  const { vars, resource } = await provider.provision(context);
  const database = resource.database!;
  log(`postgres: filling ${database} with ~${(ctx.sizeBytes / MB).toFixed(0)} MB of rows`);
  const filled = await fillPostgres(vars.DATABASE_URL!, ctx.sizeBytes);
  await withClient(adminUrl, (client) => client.query('CHECKPOINT'));
  log(`postgres: ${filled.rows} rows, ${(filled.bytes / MB).toFixed(1)} MB (pg_database_size)`);
  const [pgDump, pgRestore, gzip] = [await postgresBinary('pg_dump'), await postgresBinary('pg_restore'), 'gzip'];

  const backup: Step = { addon: 'postgres', step: 'backup', sourceBytes: filled.bytes, berth: [], baseline: [], baselineName: '`pg_dump -Fc DB | gzip > FILE`', note: 'berth: pg_dump -Fc as the app role, then gzip + sha256 + fsync (sealBackup)' };
  const reference: Step = { addon: 'postgres', step: 'backup vs `pg_dump -Fc -f FILE` alone', sourceBytes: filled.bytes, berth: [], baseline: [], baselineName: '`pg_dump -Fc -f FILE`', note: 'reference: the custom format is already compressed' };
  const restore: Step = { addon: 'postgres', step: 'restore into a new db', sourceBytes: filled.bytes, berth: [], baseline: [], baselineName: '`createdb` + `gzip -dc FILE | pg_restore --no-owner -d NEW`', note: 'berth: checksum + gunzip (openBackup), pg_restore --single-transaction as the app role' };
  const countRows = (db: string) => withClient(databaseUrl(adminUrl, db), async (client) => Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM orders')).rows[0]!.n));

  for (let round = 0; round < ctx.rounds; round++) {
    log(`postgres: round ${round + 1} of ${ctx.rounds}`);
    const work = join(ctx.root, 'work', `postgres-${round}`);
    await mkdir(work, { recursive: true, mode: 0o700 });
    const berthFile = join(work, 'shop-postgres.pgdump.gz');
    const plainFile = join(work, 'plain.pgdump.gz');
    let sealed = { bytes: 0, sha256: '' };
    const berthBackup = () =>
      measure('berth backup', async () => {
        const raw = join(work, 'dump.pgdump');
        await provider.dump(context, resource, raw, timeout());
        sealed = await sealBackup(raw, berthFile, { alreadyCompressed: true });
        await rm(raw);
        return sealed.bytes;
      });
    const plainBackup = () =>
      measure('pg_dump -Fc | gzip', async () => {
        await pipeline([{ argv: [pgDump, '-Fc', database], env: adminEnv }, { argv: [gzip, '-c'] }], plainFile);
        return sizeOf(plainFile);
      });
    // Alternate who goes first, so neither always gets the warmer cache.
    if (round % 2 === 0) {
      backup.berth.push(await berthBackup());
      backup.baseline.push(await plainBackup());
    } else {
      backup.baseline.push(await plainBackup());
      backup.berth.push(await berthBackup());
    }
    reference.berth.push(backup.berth.at(-1)!);
    const referenceFile = join(work, 'plain.pgdump');
    reference.baseline.push(
      await measure('pg_dump -Fc -f', async () => {
        await run([pgDump, '-Fc', '-f', referenceFile, database], adminEnv);
        return sizeOf(referenceFile);
      }),
    );
    await rm(referenceFile);

    const berthTarget = restoreDatabaseName(database, `b${round}`);
    const plainTarget = `plain_restore_${round}`;
    const berthRestore = () =>
      measure('berth restore', async () => {
        const raw = join(work, 'restore.pgdump');
        await openBackup(berthFile, sealed.sha256, raw, sealed.bytes);
        await provider.restore(context, resource, raw, { into: 'new', tag: `b${round}` });
        await rm(raw);
        return 0;
      });
    const plainRestore = () =>
      measure('gzip -dc | pg_restore', async () => {
        await withClient(adminUrl, (client) => client.query(`CREATE DATABASE ${pg.escapeIdentifier(plainTarget)} TEMPLATE template0`));
        await pipeline([{ argv: [gzip, '-dc', plainFile] }, { argv: [pgRestore, '--no-owner', `--dbname=${plainTarget}`], env: adminEnv }]);
        return 0;
      });
    if (round % 2 === 0) {
      restore.berth.push(await berthRestore());
      restore.baseline.push(await plainRestore());
    } else {
      restore.baseline.push(await plainRestore());
      restore.berth.push(await berthRestore());
    }
    for (const db of [berthTarget, plainTarget]) {
      const count = await countRows(db);
      if (count !== filled.rows) throw new Error(`the restore into ${db} has ${count} rows, not ${filled.rows}`);
    }
    await withClient(adminUrl, async (client) => {
      for (const db of [berthTarget, plainTarget]) await client.query(`DROP DATABASE ${pg.escapeIdentifier(db)} WITH (FORCE)`);
      await client.query('CHECKPOINT');
    });
    await rm(work, { recursive: true, force: true });
  }
  return [backup, reference, restore];
}

// ---- Redis -----------------------------------------------------------------

async function fillRedis(url: string, prefix: string, keys: number, hashes: number): Promise<void> {
  const client = new Redis(url, { disableClientInfo: true, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  try {
    const batch = 10_000;
    for (let start = 0; start < keys; start += batch) {
      const tokens = randomBytes(16 * batch).toString('hex');
      const pipe = client.pipeline();
      for (let i = start; i < Math.min(keys, start + batch); i++) {
        const token = tokens.slice((i - start) * 32, (i - start + 1) * 32);
        pipe.set(`${prefix}session:${i}`, `{"user":${i % 50000},"cart":[${i % 97},${i % 13}],"token":"${token}","seen":${1_780_000_000 + i}}`);
      }
      await pipe.exec();
    }
    for (let start = 0; start < hashes; start += 1000) {
      const pipe = client.pipeline();
      for (let i = start; i < Math.min(hashes, start + 1000); i++) {
        pipe.hset(`${prefix}user:${i}`, { name: `User ${i}`, email: `user${i}@example.com`, plan: ['free', 'pro', 'team'][i % 3]!, visits: String(i * 7), created: String(1_700_000_000 + i), city: 'Lisbon', lang: 'en', theme: 'dark' });
      }
      await pipe.exec();
    }
  } finally {
    client.disconnect();
  }
}

/** Waits until the server is not saving or rewriting (the fill's writes trigger both). */
async function settleRedis(admin: Redis): Promise<void> {
  await admin.bgsave().catch(() => {});
  const deadline = Date.now() + 5 * 60_000;
  for (;;) {
    const info = await admin.info('persistence');
    if (/rdb_bgsave_in_progress:0/.test(info) && /aof_rewrite_in_progress:0/.test(info) && /aof_rewrite_scheduled:0/.test(info)) return;
    if (Date.now() > deadline) throw new Error('the Redis server kept saving for 5 minutes');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function unlinkPrefix(admin: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', pattern, 'COUNT', 5000);
    cursor = next;
    if (keys.length > 0) await admin.unlink(...keys);
  } while (cursor !== '0');
}

async function benchRedis(ctx: BenchContext): Promise<Step[]> {
  const dir = join(ctx.root, 'redis');
  // The provider with no admin URL: berth's local server, as `berth server` runs it.
  const provider = createRedisProvider({ adminUrl: null, localDir: dir, userPrefix: 'bench-', supervisorMarker: ctx.marker, log: ctx.serverLog });
  ctx.cleanups.push(() => provider.close());
  log('redis: starting the local server');
  const context: AddonContext = { app: 'shop', user: null };
  const { vars, resource } = await provider.provision(context);
  const other = await provider.provision({ app: 'other', user: null });
  const port = Number((await readFile(join(dir, 'port'), 'utf8')).trim());
  const password = (await readFile(join(dir, 'admin-password'), 'utf8')).trim();
  const admin = new Redis({ host: '127.0.0.1', port, username: LOCAL_ADMIN_USER, password, disableClientInfo: true, maxRetriesPerRequest: 1 });
  admin.on('error', () => {});
  ctx.cleanups.push(async () => admin.disconnect());
  const hashes = Math.round(ctx.keys / 50);
  log(`redis: ${ctx.keys} keys and ${hashes} hashes for the app, ${ctx.keys} keys for another app`);
  await fillRedis(vars.REDIS_URL!, 'shop:', ctx.keys, hashes);
  await fillRedis(other.vars.REDIS_URL!, 'other:', ctx.keys, 0);
  await settleRedis(admin);
  const appKeys = ctx.keys + hashes;
  const allKeys = await admin.dbsize();
  const cli = await redisProgram('redis-cli');
  const cliArgs = [cli, '-h', '127.0.0.1', '-p', String(port), '--user', LOCAL_ADMIN_USER];
  const cliEnv = { REDISCLI_AUTH: password };
  const whole = join(ctx.root, 'whole.rdb');
  await run([...cliArgs, '--rdb', whole], cliEnv);
  const snapshotBytes = await sizeOf(whole);
  await rm(whole);
  log(`redis: ${allKeys} keys on the server, snapshot ${(snapshotBytes / MB).toFixed(1)} MB`);

  const backup: Step = { addon: 'redis', step: 'backup', sourceBytes: snapshotBytes, berth: [], baseline: [], baselineName: '`redis-cli --rdb - | gzip > FILE`', note: `berth keeps the app's ${appKeys} keys; the baseline is the whole server (${allKeys} keys, every app's)` };
  const restore: Step = { addon: 'redis', step: 'restore under a new prefix', sourceBytes: snapshotBytes, berth: [], baseline: [], baselineName: '—', note: 'no tool baseline: without berth, a restore replaces dump.rdb and restarts the whole server' };
  let rawBytes = 0;
  for (let round = 0; round < ctx.rounds; round++) {
    log(`redis: round ${round + 1} of ${ctx.rounds}`);
    const work = join(ctx.root, 'work', `redis-${round}`);
    await mkdir(work, { recursive: true, mode: 0o700 });
    const berthFile = join(work, 'shop-redis.rdb.gz');
    const plainFile = join(work, 'plain.rdb.gz');
    let sealed = { bytes: 0, sha256: '' };
    const berthBackup = () =>
      measure('berth backup', async () => {
        const raw = join(work, 'dump.rdb');
        await provider.dump(context, resource, raw, timeout());
        rawBytes = await sizeOf(raw);
        sealed = await sealBackup(raw, berthFile);
        await rm(raw);
        return sealed.bytes;
      });
    const plainBackup = () =>
      measure('redis-cli --rdb - | gzip', async () => {
        await pipeline([{ argv: [...cliArgs, '--rdb', '-'], env: cliEnv }, { argv: ['gzip', '-c'] }], plainFile);
        return sizeOf(plainFile);
      });
    if (round % 2 === 0) {
      backup.berth.push(await berthBackup());
      backup.baseline.push(await plainBackup());
    } else {
      backup.baseline.push(await plainBackup());
      backup.berth.push(await berthBackup());
    }
    await settleRedis(admin);
    let restored = 0;
    restore.berth.push(
      await measure('berth restore', async () => {
        const raw = join(work, 'restore.rdb');
        await openBackup(berthFile, sealed.sha256, raw, sealed.bytes);
        const report = await provider.restore(context, resource, raw, { into: 'new', tag: `r${round}` });
        restored = Number(/restored (\d+) keys/.exec(report.summary)?.[1]);
        await rm(raw);
        return 0;
      }),
    );
    if (restored !== appKeys) throw new Error(`berth's restore brought back ${restored} keys, not the app's ${appKeys}`);
    await unlinkPrefix(admin, `shop:restore-r${round}:*`);
    await settleRedis(admin);
    await rm(work, { recursive: true, force: true });
  }
  log(`redis: the app's own snapshot is ${(rawBytes / MB).toFixed(1)} MB before gzip`);
  return [backup, restore];
}

// ---- SQLite ----------------------------------------------------------------

function fillSqlite(path: string, targetBytes: number): { rows: number; bytes: number } {
  const db = new DatabaseSync(path);
  try {
    db.exec(`CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, created_at TEXT NOT NULL, status TEXT NOT NULL,
      total REAL NOT NULL, email TEXT NOT NULL, note TEXT, items TEXT NOT NULL)`);
    const insert = db.prepare(`WITH RECURSIVE g(n) AS (SELECT ? UNION ALL SELECT n + 1 FROM g WHERE n < ?)
      INSERT INTO orders SELECT n, abs(random()) % 100000, datetime(1767225600 - abs(random()) % 31536000, 'unixepoch'),
        (CASE n % 4 WHEN 0 THEN 'new' WHEN 1 THEN 'paid' WHEN 2 THEN 'shipped' ELSE 'refunded' END), round(abs(random()) % 50000 / 100.0, 2),
        'customer' || (n % 100000) || '@example.com', lower(hex(randomblob(16))) || ' ' || lower(hex(randomblob(16))),
        json_array(json_object('sku', 'SKU-' || (n % 5000), 'qty', 1 + n % 5, 'price', round(abs(random()) % 10000 / 100.0, 2)))
      FROM g`);
    const pages = () => Number((db.prepare('PRAGMA page_count').get() as { page_count: number }).page_count) * Number((db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size);
    const batch = 50_000;
    let rows = 0;
    while (pages() < targetBytes * 0.9) {
      insert.run(rows + 1, rows + batch);
      rows += batch;
    }
    db.exec('CREATE INDEX orders_customer ON orders (customer_id)');
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    return { rows, bytes: pages() };
  } finally {
    db.close();
  }
}

async function benchSqlite(ctx: BenchContext): Promise<Step[]> {
  const provider: AddonProvider = createSqliteProvider({ dataRoot: join(ctx.root, 'data'), log: ctx.serverLog });
  const context: AddonContext = { app: 'shop', user: null };
  const { resource } = await provider.provision(context);
  const path = resource.path!;
  log(`sqlite: filling ${path} with ~${(ctx.sizeBytes / MB).toFixed(0)} MB of rows`);
  const filled = fillSqlite(path, ctx.sizeBytes);
  log(`sqlite: ${filled.rows} rows, ${(filled.bytes / MB).toFixed(1)} MB`);
  const sqlite3 = hasProgram('sqlite3') ? 'sqlite3' : null;
  if (sqlite3 === null) log('sqlite: the sqlite3 CLI is not installed (apt-get install sqlite3): berth only');

  const backup: Step = { addon: 'sqlite', step: 'backup', sourceBytes: filled.bytes, berth: [], baseline: [], baselineName: sqlite3 ? '`sqlite3 DB ".backup FILE" && gzip FILE`' : 'sqlite3 not installed', note: 'berth: online backup in a helper process, copied out, then sealBackup' };
  const restore: Step = { addon: 'sqlite', step: 'restore into a new file', sourceBytes: filled.bytes, berth: [], baseline: [], baselineName: '`gzip -dc FILE > NEW`', note: 'berth: checksum + gunzip, copy into the data dir, PRAGMA integrity_check' };
  for (let round = 0; round < ctx.rounds; round++) {
    log(`sqlite: round ${round + 1} of ${ctx.rounds}`);
    const work = join(ctx.root, 'work', `sqlite-${round}`);
    await mkdir(work, { recursive: true, mode: 0o700 });
    const berthFile = join(work, 'shop-sqlite.sqlite.gz');
    const plainRaw = join(work, 'plain.sqlite3');
    let sealed = { bytes: 0, sha256: '' };
    const berthBackup = () =>
      measure('berth backup', async () => {
        const raw = join(work, 'dump.sqlite');
        await provider.dump(context, resource, raw, timeout());
        sealed = await sealBackup(raw, berthFile);
        await rm(raw);
        return sealed.bytes;
      });
    const plainBackup = () =>
      measure('sqlite3 .backup && gzip', async () => {
        await run([sqlite3!, path, `.backup '${plainRaw}'`]);
        await run(['gzip', plainRaw]);
        return sizeOf(`${plainRaw}.gz`);
      });
    if (round % 2 === 0 || sqlite3 === null) {
      backup.berth.push(await berthBackup());
      if (sqlite3 !== null) backup.baseline.push(await plainBackup());
    } else {
      backup.baseline.push(await plainBackup());
      backup.berth.push(await berthBackup());
    }
    const restoredCopy = join(ctx.root, 'data', 'shop', `restore-r${round}.sqlite3`);
    const plainRestored = join(work, 'plain-restored.sqlite3');
    const berthRestore = () =>
      measure('berth restore', async () => {
        const raw = join(work, 'restore.sqlite');
        await openBackup(berthFile, sealed.sha256, raw, sealed.bytes);
        await provider.restore(context, resource, raw, { into: 'new', tag: `r${round}` });
        await rm(raw);
        return 0;
      });
    const plainRestore = () =>
      measure('gzip -dc >', async () => {
        await pipeline([{ argv: ['gzip', '-dc', `${plainRaw}.gz`] }], plainRestored);
        return 0;
      });
    if (round % 2 === 0 || sqlite3 === null) {
      restore.berth.push(await berthRestore());
      if (sqlite3 !== null) restore.baseline.push(await plainRestore());
    } else {
      restore.baseline.push(await plainRestore());
      restore.berth.push(await berthRestore());
    }
    for (const copy of sqlite3 !== null ? [restoredCopy, plainRestored] : [restoredCopy]) {
      const db = new DatabaseSync(copy, { readOnly: true });
      try {
        const count = Number((db.prepare('SELECT count(*) AS n FROM orders').get() as { n: number }).n);
        if (count !== filled.rows) throw new Error(`the restore ${copy} has ${count} rows, not ${filled.rows}`);
      } finally {
        db.close();
      }
    }
    await rm(restoredCopy, { force: true });
    await rm(work, { recursive: true, force: true });
  }
  return [backup, restore];
}

// ---- report ----------------------------------------------------------------

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor(sorted.length / 2)]!;
}

interface Summary {
  readonly seconds: number;
  readonly cpuSeconds: number;
  readonly bytes: number;
  readonly otherCpuPercent: number;
}

function summarize(samples: readonly Sample[]): Summary | null {
  if (samples.length === 0) return null;
  return {
    seconds: median(samples.map((s) => s.seconds)),
    cpuSeconds: median(samples.map((s) => s.cpuSeconds)),
    bytes: median(samples.map((s) => s.bytes)),
    otherCpuPercent: Math.max(...samples.map((s) => s.otherCpuPercent)),
  };
}

function renderTable(steps: readonly Step[], rounds: number): string {
  const lines = [
    `## Backups: berth vs the plain tools (${rounds} round${rounds === 1 ? '' : 's'}, medians; MB = 10^6 bytes)`,
    '',
    '| add-on | step | berth | baseline | berth ÷ baseline (time) | file berth / baseline | CPU s berth / baseline | others\' CPU (max) |',
    '|---|---|---|---|---|---|---|---|',
  ];
  const cell = (s: Summary, source: number) => `${s.seconds.toFixed(2)} s (${(source / MB / s.seconds).toFixed(1)} MB/s)`;
  const flag = (percent: number) => `${percent.toFixed(0)} %${percent > 10 ? ' ⚠' : ''}`;
  // A "|" inside a table cell (even in a code span) ends the cell unless escaped.
  const escape = (text: string) => text.replace(/\|/g, '\\|');
  for (const step of steps) {
    const berth = summarize(step.berth)!;
    const base = summarize(step.baseline);
    const file = berth.bytes > 0 ? `${(berth.bytes / MB).toFixed(1)} MB / ${base ? `${(base.bytes / MB).toFixed(1)} MB (${(berth.bytes / base.bytes).toFixed(2)}×)` : '—'}` : '—';
    lines.push(
      `| ${step.addon} | ${escape(step.step)} | ${cell(berth, step.sourceBytes)} | ${escape(base ? `${cell(base, step.sourceBytes)}: ${step.baselineName}` : step.baselineName)} | ${base ? `**${(berth.seconds / base.seconds).toFixed(2)}×**` : '—'} | ${file} | ${berth.cpuSeconds.toFixed(1)} / ${base ? base.cpuSeconds.toFixed(1) : '—'} | ${flag(Math.max(berth.otherCpuPercent, base?.otherCpuPercent ?? 0))} |`,
    );
  }
  lines.push('', 'Source sizes (MB/s are of these):');
  const seen = new Set<string>();
  for (const step of steps) {
    if (seen.has(step.addon)) continue;
    seen.add(step.addon);
    lines.push(`- ${step.addon}: ${(step.sourceBytes / MB).toFixed(1)} MB${step.addon === 'redis' ? " (the whole server's RDB snapshot)" : step.addon === 'postgres' ? ' (pg_database_size)' : ' (the database file)'}`);
  }
  lines.push('', 'Notes:');
  for (const step of steps) lines.push(`- ${step.addon}, ${step.step}: ${step.note}`);
  return lines.join('\n');
}

// ---- main ------------------------------------------------------------------

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        quick: { type: 'boolean', default: false },
        rounds: { type: 'string' },
        size: { type: 'string' },
        keys: { type: 'string' },
        only: { type: 'string', default: ADDONS.join(',') },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    process.stderr.write(`bench:backups: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const rounds = Number(values.rounds ?? (values.quick ? 1 : 3));
  const sizeMb = Number(values.size ?? (values.quick ? 30 : 200));
  const keys = Number(values.keys ?? (values.quick ? 100_000 : 500_000));
  const only = values.only.split(',') as Addon[];
  quietWaitMs = Number(process.env.BENCH_QUIET_WAIT ?? 10) * 1000;
  if (!(Number.isInteger(rounds) && rounds >= 1) || !(sizeMb > 0) || !(Number.isInteger(keys) && keys >= 1) || only.some((a) => !ADDONS.includes(a)) || !(quietWaitMs >= 0)) {
    process.stderr.write(`bench:backups: bad --rounds, --size, --keys, --only or BENCH_QUIET_WAIT\n\n${USAGE}`);
    return 2;
  }

  const root = await mkdtemp(join(tmpdir(), 'berth-bench-backups-'));
  // PostgreSQL and Redis run as their own users, who must pass through.
  await chmod(root, 0o711);
  const cleanups: (() => Promise<unknown>)[] = [];
  let interrupted = false;
  let cleaned: Promise<void> | null = null;
  const cleanUp = () =>
    (cleaned ??= (async () => {
      for (const child of running) child.kill('SIGKILL');
      for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => log(`cleanup: ${(err as Error).message}`));
      // Anything of ours still running (a throwaway redis-server mid-backup): by pid, our own descendants only.
      for (const stat of (await processTree(process.pid)).slice(1)) {
        try {
          process.kill(stat.pid, 'SIGKILL');
        } catch {
          // Gone already.
        }
      }
      await rm(root, { recursive: true, force: true });
    })());
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      interrupted = true;
      log(`${signal}: stopping the servers and removing ${root}`);
      void cleanUp().finally(() => process.exit(130));
    });
  }

  const ctx: BenchContext = {
    root,
    rounds,
    sizeBytes: sizeMb * MB,
    keys,
    marker: `bench-backups-${process.pid}`,
    serverLog: values.verbose ? (line) => log(`  | ${line}`) : () => {},
    cleanups,
  };
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  const loadAtStart = loadavg().map((n) => n.toFixed(2)).join(' ');
  const othersAtStart = await otherCpuPercent();
  log(`node ${process.version}, commit ${commit}, ${availableParallelism()} cores, load ${loadAtStart}, other processes ${othersAtStart.toFixed(0)} % CPU`);
  log(`${rounds} round(s); PostgreSQL and SQLite ~${sizeMb} MB, Redis ${keys} keys per app; temp folder ${root}`);

  const steps: Step[] = [];
  const errors: string[] = [];
  const started = performance.now();
  try {
    const benches: Record<Addon, (c: BenchContext) => Promise<Step[]>> = { postgres: benchPostgres, redis: benchRedis, sqlite: benchSqlite };
    for (const addon of ADDONS.filter((a) => only.includes(a))) {
      if (interrupted) break;
      try {
        steps.push(...(await benches[addon](ctx)));
      } catch (err) {
        errors.push(`${addon}: ${(err as Error).message}`);
        log(`${addon} FAILED: ${(err as Error).stack ?? err}`);
      }
    }
  } finally {
    await cleanUp();
  }
  const loadAtEnd = loadavg().map((n) => n.toFixed(2)).join(' ');
  const minutes = (performance.now() - started) / 60_000;

  const header = `berth backups — node ${process.version}, commit ${commit}, ${availableParallelism()} cores, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB; load average ${loadAtStart} at start, ${loadAtEnd} at the end; ${minutes.toFixed(1)} min`;
  process.stdout.write(`${header}\n\n${steps.length > 0 ? renderTable(steps, rounds) : '(nothing measured)'}\n${errors.length > 0 ? `\nFAILED:\n${errors.map((e) => `- ${e}`).join('\n')}\n` : ''}`);
  await writeJsonAtomically(RESULTS, {
    node: process.version,
    commit,
    date: new Date().toISOString(),
    options: { rounds, sizeMb, keys, only },
    machine: { nproc: availableParallelism(), memoryGiB: totalmem() / 1024 ** 3, loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadAtEnd, otherCpuPercentAtStart: othersAtStart },
    steps: steps.map((step) => ({ ...step, berthMedian: summarize(step.berth), baselineMedian: summarize(step.baseline) })),
    errors,
  });
  log(`results written to ${RESULTS}`);
  return errors.length > 0 ? 1 : 0;
}

process.exitCode = await main();
