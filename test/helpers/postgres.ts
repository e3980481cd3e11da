// The system's PostgreSQL (Debian's postgresql-15 "main" cluster on
// 127.0.0.1:5432) as an external server for admin-URL-mode tests, and a
// way for tests to talk to databases as an app would.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';
import { scramSha256Verifier } from '../../src/addons/scram.ts';

const run = promisify(execFile);
const CLUSTER = ['15', 'main'] as const;

async function clusterOnline(): Promise<boolean> {
  const { stdout } = await run('pg_lsclusters', ['--no-header']);
  const line = stdout.split('\n').find((entry) => entry.trim().split(/\s+/).slice(0, 2).join(' ') === CLUSTER.join(' '));
  if (line === undefined) throw new Error(`pg_lsclusters shows no ${CLUSTER.join('/')} cluster: install postgresql-15`);
  return /\bonline\b/.test(line);
}

async function startCluster(): Promise<void> {
  if (await clusterOnline()) return;
  try {
    await run('pg_ctlcluster', [...CLUSTER, 'start']);
  } catch (err) {
    // Another test file may have started it at the same moment.
    if (!(await clusterOnline())) throw err;
  }
}

/** SQL as the postgres superuser (peer authentication over the socket), on stdin. */
export async function psqlAsPostgres(sql: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('runuser', ['-u', 'postgres', '--', 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'postgres'], { cwd: '/', encoding: 'utf8' }, (err, stdout, stderr) =>
      err ? reject(new Error(`psql failed: ${stderr || err.message}`)) : resolve(stdout),
    );
    child.stdin!.end(sql);
  });
}

const ADMIN_ROLE = `berth_admin_${process.pid}`;
let adminUrl: Promise<string> | null = null;

/**
 * A URL for a non-superuser admin (LOGIN CREATEROLE CREATEDB) of the system
 * cluster, made once per test process; the cluster is started when it is down.
 */
export function systemPostgresAdminUrl(): Promise<string> {
  adminUrl ??= (async () => {
    await startCluster();
    const password = randomBytes(24).toString('base64url');
    const verifier = pg.escapeLiteral(scramSha256Verifier(password));
    const role = pg.escapeIdentifier(ADMIN_ROLE);
    await psqlAsPostgres(`
      SELECT format('CREATE ROLE %I', '${ADMIN_ROLE}') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${ADMIN_ROLE}') \\gexec
      ALTER ROLE ${role} LOGIN CREATEROLE CREATEDB NOSUPERUSER PASSWORD ${verifier};
    `);
    return `postgres://${ADMIN_ROLE}:${password}@127.0.0.1:5432/postgres`;
  })();
  return adminUrl;
}

/** Drops this process's admin role (after the roles it made are gone). */
export async function dropSystemPostgresAdmin(): Promise<void> {
  if (adminUrl === null) return;
  adminUrl = null;
  await psqlAsPostgres(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(ADMIN_ROLE)};`);
}

/** Runs `work` with a client logged in through `url` (the app's DATABASE_URL, say). */
export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** The SQLSTATE a connection or query through `url` fails with, or null when it works. */
export async function failureCode(url: string, sql = 'SELECT 1'): Promise<string | null> {
  try {
    await withClient(url, (client) => client.query(sql));
    return null;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

/** A prefix no other test (or test process) uses: "t<hex>_". */
export function uniquePrefix(): string {
  return `t${randomBytes(4).toString('hex')}_`;
}
