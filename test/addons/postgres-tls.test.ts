// berth's own PostgreSQL serves TLS with a certificate from berth's local
// CA: sslmode=require works for psql and psycopg2 (the connection is
// encrypted, pg_stat_ssl says so), verify-full works with the CA root the
// add-on points PGSSLROOTCERT at, for every name apps reach the server by,
// and fails for any other name. A URL without sslmode still connects.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createPostgresProvider } from '../../src/addons/postgres.ts';
import { ensurePostgresTls, postgresCertificateNames, postgresTlsArgs, postgresTlsFiles, type ServiceCertificateIssuer } from '../../src/addons/postgres-tls.ts';
import { findUser } from '../../src/platform/app-users.ts';
import { LocalCa } from '../../src/tls/index.ts';
import { withClient } from '../helpers/postgres.ts';

const run = promisify(execFile);
const root = process.getuid!() === 0;
const SERVICE = '169.254.200.1';
let base: string;
let stateDir: string;
let dir: string;
const marker = `test-pg-tls-${process.pid}-${Date.now()}`;
const logs: string[] = [];
const context = { app: 'harbour', user: null };
let provider: ReturnType<typeof createPostgresProvider>;
let vars: Record<string, string>;

function options(serviceAddress: string | null) {
  return {
    adminUrl: null,
    localDir: dir,
    namePrefix: 'berth_',
    supervisorMarker: marker,
    log: (line: string) => logs.push(line),
    tls: { issuer: () => LocalCa.open({ stateDir }), serviceAddress },
  };
}

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'berth-pg-tls-'));
  // The postgres user must get through, as through STATE (0711).
  await chmod(base, 0o711);
  stateDir = join(base, 'state');
  dir = join(stateDir, 'addons', 'postgres');
  provider = createPostgresProvider(options(SERVICE));
  vars = { ...(await provider.provision(context)).vars };
});

after(async () => {
  await provider.close();
  await rm(base, { recursive: true, force: true });
});

/** libpq's keywords for the app's database, over its URL's credentials. */
function libpq(extra: Record<string, string>): { conninfo: string; password: string } {
  const url = new URL(vars.DATABASE_URL!);
  const fields = { host: url.hostname, port: url.port, user: decodeURIComponent(url.username), dbname: url.pathname.slice(1), ...extra };
  return { conninfo: Object.entries(fields).map(([key, value]) => `${key}=${value}`).join(' '), password: decodeURIComponent(url.password) };
}

/** psql with a connection string (the password in PGPASSWORD, never argv): its one-line answer. */
async function psql(conninfo: string, password: string, sql: string, env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run('psql', ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', conninfo, '-c', sql], { env: { PATH: process.env.PATH!, PGPASSWORD: password, PGCONNECT_TIMEOUT: '10', ...env } });
  return stdout.trim();
}

/** psycopg2 (libpq underneath, as Django's backend): pg_stat_ssl's ssl for its own connection, or the error. */
async function psycopg(conninfo: string, password: string, env: Record<string, string> = {}): Promise<string> {
  const script = 'import sys, psycopg2\ntry:\n    c = psycopg2.connect(sys.argv[1])\nexcept psycopg2.OperationalError as e:\n    print("error: " + str(e).strip().replace("\\n", " "))\n    sys.exit(0)\ncur = c.cursor()\ncur.execute("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")\nprint("%s %s" % cur.fetchone())\n';
  const { stdout } = await run('/usr/bin/python3', ['-c', script, conninfo], { env: { PATH: process.env.PATH!, PGPASSWORD: password, PGCONNECT_TIMEOUT: '10', ...env } });
  return stdout.trim();
}

const SSL_QUERY = 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()';

test("the add-on's URL stays as it was (no sslmode), and PGSSLROOTCERT names the local CA's root", async () => {
  assert.doesNotMatch(vars.DATABASE_URL!, /sslmode/);
  const files = postgresTlsFiles(dir);
  assert.equal(vars.PGSSLROOTCERT, files.rootCert);
  assert.equal(await readFile(files.rootCert, 'utf8'), (await LocalCa.open({ stateDir })).rootPem);
  assert.equal((await stat(files.rootCert)).mode & 0o777, 0o644);
  assert.equal((await stat(files.cert)).mode & 0o777, 0o644);
  const key = await stat(files.key);
  assert.equal(key.uid, process.getuid!(), "the key is berth's");
  if (root) {
    assert.equal(key.mode & 0o777, 0o640, "root's key, readable by the postgres group only, as PostgreSQL allows");
    assert.equal(key.gid, (await findUser('postgres'))!.gid);
  } else {
    assert.equal(key.mode & 0o777, 0o600);
  }
  const cert = new X509Certificate(await readFile(files.cert, 'utf8'));
  assert.equal(cert.subjectAltName, `DNS:localhost, IP Address:127.0.0.1, IP Address:${SERVICE}`);
  assert.ok(cert.checkIssued(new X509Certificate(await readFile(files.rootCert, 'utf8'))));
});

test('psql with sslmode=require: the connection is encrypted', async () => {
  const { conninfo, password } = libpq({ sslmode: 'require' });
  assert.equal(await psql(conninfo, password, SSL_QUERY), 't');
  // The URL form a framework builds (DATABASE_URL + ?sslmode=require).
  const url = `${vars.DATABASE_URL}?sslmode=require`;
  const { stdout } = await run('psql', ['-X', '-A', '-t', '-d', url.replace(/:[^:@/]*@/, '@'), '-c', SSL_QUERY], { env: { PATH: process.env.PATH!, PGPASSWORD: password } });
  assert.equal(stdout.trim(), 't');
});

test('psycopg2: sslmode=require encrypts; verify-full checks the name against the local CA (127.0.0.1 and localhost pass, another name fails)', async () => {
  const rootCert = vars.PGSSLROOTCERT!;
  const require = libpq({ sslmode: 'require' });
  assert.match(await psycopg(require.conninfo, require.password), /^True TLSv1\.[23]$/);
  // PGSSLROOTCERT in the environment, as the add-on gives it: require then also verifies the chain.
  assert.match(await psycopg(require.conninfo, require.password, { PGSSLROOTCERT: rootCert }), /^True /);
  for (const host of ['127.0.0.1', 'localhost']) {
    const full = libpq({ host, sslmode: 'verify-full', sslrootcert: rootCert });
    assert.match(await psycopg(full.conninfo, full.password), /^True /, host);
  }
  // The same server reached under a name its certificate does not carry.
  const other = libpq({ host: 'db.example.com', hostaddr: '127.0.0.1', sslmode: 'verify-full', sslrootcert: rootCert });
  assert.match(await psycopg(other.conninfo, other.password), /^error: .*does not match host name "db\.example\.com"/);
  // Trusting another CA (the system's roots) refuses the server.
  const foreign = libpq({ sslmode: 'verify-ca', sslrootcert: '/etc/ssl/certs/ca-certificates.crt' });
  assert.match(await psycopg(foreign.conninfo, foreign.password), /^error: .*certificate verify failed/);
});

test("without sslmode: libpq's default prefers TLS, sslmode=disable and node-postgres connect in plain", async () => {
  const plain = libpq({});
  assert.match(await psycopg(plain.conninfo, plain.password), /^True /);
  const disabled = libpq({ sslmode: 'disable' });
  assert.equal(await psycopg(disabled.conninfo, disabled.password), 'False None');
  await withClient(vars.DATABASE_URL!, async (client) => assert.deepEqual((await client.query(SSL_QUERY)).rows, [{ ssl: false }]));
});

test('a restart keeps the certificate; a new service address gets one that names it', async () => {
  const files = postgresTlsFiles(dir);
  const before = await readFile(files.cert, 'utf8');
  await provider.close();
  provider = createPostgresProvider(options(SERVICE));
  await provider.start();
  assert.equal(await readFile(files.cert, 'utf8'), before, 'still current: not issued again');
  await provider.close();
  provider = createPostgresProvider(options('169.254.201.9'));
  await provider.start();
  const cert = new X509Certificate(await readFile(files.cert, 'utf8'));
  assert.equal(cert.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:169.254.201.9');
  const { conninfo, password } = libpq({ host: 'localhost', sslmode: 'verify-full', sslrootcert: vars.PGSSLROOTCERT! });
  assert.match(await psycopg(conninfo, password), /^True /, 'the restarted server serves the new certificate');
});

test('the names and settings, and a certificate the CA no longer stands by is issued again', async () => {
  assert.deepEqual(postgresCertificateNames(null), ['localhost', '127.0.0.1']);
  assert.deepEqual(postgresCertificateNames(SERVICE), ['localhost', '127.0.0.1', SERVICE]);
  assert.deepEqual(postgresCertificateNames('127.0.0.1'), ['localhost', '127.0.0.1']);
  const files = postgresTlsFiles('/s/addons/postgres');
  assert.deepEqual(files, { dir: '/s/addons/postgres/tls', rootCert: '/s/addons/postgres/tls/root.crt', cert: '/s/addons/postgres/tls/server.crt', key: '/s/addons/postgres/tls/server.key' });
  assert.deepEqual(postgresTlsArgs(files), ['-c', 'ssl=on', '-c', 'ssl_cert_file=/s/addons/postgres/tls/server.crt', '-c', 'ssl_key_file=/s/addons/postgres/tls/server.key', '-c', 'ssl_min_protocol_version=TLSv1.2']);

  const ca = await LocalCa.open({ stateDir });
  let current = true;
  let issued = 0;
  const issuer: ServiceCertificateIssuer = {
    rootPem: ca.rootPem,
    serviceCertificateIsCurrent: (pair, names) => current && ca.serviceCertificateIsCurrent(pair, names),
    issueServiceCertificate: (names) => {
      issued++;
      return ca.issueServiceCertificate(names);
    },
  };
  const scratch = postgresTlsFiles(join(base, 'scratch'));
  await rm(scratch.dir, { recursive: true, force: true });
  const { mkdir } = await import('node:fs/promises');
  await mkdir(join(base, 'scratch'), { mode: 0o711 });
  assert.equal(await ensurePostgresTls(scratch, issuer, ['localhost'], null), true, 'none yet: issued');
  assert.equal(await ensurePostgresTls(scratch, issuer, ['localhost'], null), false, 'current: kept');
  assert.equal(await ensurePostgresTls(scratch, issuer, ['localhost', '127.0.0.1'], null), true, 'a name it lacks: issued again');
  current = false;
  assert.equal(await ensurePostgresTls(scratch, issuer, ['localhost', '127.0.0.1'], null), true, 'due for renewal: issued again');
  assert.equal(issued, 3);
});
