import { createHash, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import pg from 'pg';
import { BerthError } from '../errors.ts';
import type { PostgresTlsOptions } from './postgres-tls.ts';
import { LocalPostgres, postgresBinary } from './postgres-local.ts';
import { runTool, toolEnv } from './run-tool.ts';
import { scramSha256Verifier } from './scram.ts';
import type { AddonContext, AddonProvider, Provisioned, RestoreReport, RestoreTarget } from './types.ts';

// PostgreSQL add-ons: every app gets a database and a role of its own on
// one server berth manages (an external one reached through an admin URL,
// or the local cluster of postgres-local.ts). The role owns its database
// and nothing else: PUBLIC loses CONNECT on it, so other apps' roles cannot
// even log in to it. Admin work goes through node-postgres; dumps and
// restores through pg_dump and pg_restore logged in as the app's own role,
// so a backup can never hold, or a restore touch, more than the app's data.

export interface PostgresProviderOptions {
  /** `berth server --postgres-admin-url`; null: the local cluster in `localDir`. */
  readonly adminUrl: string | null;
  /** STATE/addons/postgres, used when adminUrl is null. */
  readonly localDir: string;
  /** Database and role are this prefix and the app's name with "-" turned into "_" (e.g. "berth_"). */
  readonly namePrefix: string;
  /** SUPERVISOR_ENV=marker goes into the local server's environment. */
  readonly supervisorMarker: string;
  readonly log: (line: string) => void;
  /** The local cluster serves TLS from berth's local CA (absent: it does not). */
  readonly tls?: PostgresTlsOptions;
  /** The sandboxes' service address: the local cluster listens there too (null or absent: apps run uncontained). */
  readonly serviceAddress?: string | null;
}

/** PostgreSQL's identifiers are at most NAMEDATALEN - 1 bytes; longer ones are cut silently. */
export const MAX_IDENTIFIER = 63;
const HASH_CHARS = 6;
const PREFIX = /^[a-z_][a-z0-9_]{0,31}$/;
/** Dumps and restores of big databases take long; the signal, not a timer, is what normally ends them. */
const DUMP_TIMEOUT_MS = 12 * 60 * 60_000;
const CONNECT_TIMEOUT_MS = 10_000;
const MIN_SERVER_VERSION = 130_000;

/** An identifier of at most 63 bytes: the whole text, or its start and a short hash of the whole. */
function fitIdentifier(whole: string): string {
  if (whole.length <= MAX_IDENTIFIER) return whole;
  const hash = createHash('sha256').update(whole).digest('hex').slice(0, HASH_CHARS);
  return `${whole.slice(0, MAX_IDENTIFIER - HASH_CHARS - 1)}_${hash}`;
}

/** The app's database and role name: the prefix and the app's name, "-" → "_". */
export function postgresName(prefix: string, app: string): string {
  return fitIdentifier(`${prefix}${app.replace(/-/g, '_')}`);
}

/** The database a restore `into: 'new'` makes: `<database>_restore_<tag>`. */
export function restoreDatabaseName(database: string, tag: string): string {
  const safeTag = tag.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return fitIdentifier(`${database}_restore_${safeTag}`);
}

/** A URL's host part: IPv6 addresses in brackets. */
function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** What berth knows about the server once start() has checked it. */
interface Server {
  readonly adminUrl: string;
  readonly adminRole: string;
  readonly superuser: boolean;
  readonly host: string;
  readonly port: number;
  /** The admin URL's sslmode, carried to the apps' URLs and to the tools. */
  readonly sslmode: string | null;
  /** The admin URL without its password, for messages. */
  readonly display: string;
}

interface Target {
  readonly host: string;
  readonly port: number;
  readonly sslmode: string | null;
  readonly display: string;
}

function parseAdminUrl(url: string): Target {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new BerthError('BERTH_E_USAGE', 'the PostgreSQL admin URL is not a URL', { hint: 'Give --postgres-admin-url as postgres://USER:PASSWORD@HOST:PORT/DATABASE.' });
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new BerthError('BERTH_E_USAGE', `the PostgreSQL admin URL must start with postgres://, not ${parsed.protocol}//`, { hint: 'Give --postgres-admin-url as postgres://USER:PASSWORD@HOST:PORT/DATABASE.' });
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') {
    throw new BerthError('BERTH_E_USAGE', 'the PostgreSQL admin URL names no host', { hint: 'Apps reach the server over TCP: give its host, e.g. postgres://USER:PASSWORD@127.0.0.1:5432/postgres.' });
  }
  const port = parsed.port === '' ? 5432 : Number(parsed.port);
  const sslmode = parsed.searchParams.get('sslmode');
  const user = decodeURIComponent(parsed.username);
  return { host, port, sslmode, display: `postgres://${user ? `${encodeURIComponent(user)}@` : ''}${urlHost(host)}:${port}${parsed.pathname}` };
}

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

function need(resource: Readonly<Record<string, string>>, key: string): string {
  const value = resource[key];
  if (value === undefined || value === '') throw new BerthError('BERTH_E_ADDON_NOT_FOUND', `the add-on's record has no ${key}`, { status: 500 });
  return value;
}

const ident = pg.escapeIdentifier;
const literal = pg.escapeLiteral;

export function createPostgresProvider(options: PostgresProviderOptions): AddonProvider {
  return new PostgresProvider(options);
}

class PostgresProvider implements AddonProvider {
  readonly kind = 'postgres' as const;
  readonly dumpSuffix = 'pgdump';
  readonly dumpCompressed = true;
  readonly #options: PostgresProviderOptions;
  readonly #local: LocalPostgres | null;
  #server: Promise<Server> | null = null;

  constructor(options: PostgresProviderOptions) {
    if (!PREFIX.test(options.namePrefix)) {
      throw new BerthError('BERTH_E_USAGE', `${JSON.stringify(options.namePrefix)} is not a valid PostgreSQL name prefix`, {
        hint: 'A name prefix is 1 to 32 characters: lowercase letters, digits and "_", starting with a letter or "_" (e.g. "berth_").',
      });
    }
    if (options.namePrefix.startsWith('pg_')) throw new BerthError('BERTH_E_USAGE', 'a PostgreSQL name prefix cannot start with "pg_" (PostgreSQL reserves those role names)');
    if (options.adminUrl !== null) parseAdminUrl(options.adminUrl);
    this.#options = options;
    this.#local = options.adminUrl === null ? new LocalPostgres({ dir: options.localDir, supervisorMarker: options.supervisorMarker, log: options.log, serviceAddress: options.serviceAddress ?? null, ...(options.tls ? { tls: options.tls } : {}) }) : null;
  }

  start(): Promise<void> {
    return this.#ensureServer().then(() => undefined);
  }

  #ensureServer(): Promise<Server> {
    this.#server ??= this.#checkServer().catch((err: unknown) => {
      this.#server = null;
      throw err;
    });
    return this.#server;
  }

  /** Connects once as the admin and checks it may make roles and databases. */
  async #checkServer(): Promise<Server> {
    const adminUrl = this.#local !== null ? await this.#local.start() : this.#options.adminUrl!;
    const target = parseAdminUrl(adminUrl);
    const client = await this.#connect(adminUrl, target.display);
    try {
      const { rows } = await client.query<{ name: string; rolsuper: boolean; rolcreaterole: boolean; rolcreatedb: boolean; version: number }>(
        "SELECT rolname AS name, rolsuper, rolcreaterole, rolcreatedb, current_setting('server_version_num')::int AS version FROM pg_roles WHERE rolname = current_user",
      );
      const admin = rows[0];
      if (admin === undefined) throw new BerthError('BERTH_E_ADDON_SERVER', `${target.display}: the admin's role cannot be found in pg_roles`, { status: 503 });
      // DROP DATABASE … WITH (FORCE) is from 13.
      if (admin.version < MIN_SERVER_VERSION) {
        throw new BerthError('BERTH_E_ADDON_SERVER', `the PostgreSQL server ${target.display} is version ${Math.floor(admin.version / 10_000)}; berth needs 13 or newer`, { status: 503 });
      }
      if (!admin.rolsuper && !(admin.rolcreaterole && admin.rolcreatedb)) {
        const missing = [admin.rolcreaterole ? null : 'CREATEROLE', admin.rolcreatedb ? null : 'CREATEDB'].filter(Boolean).join(' ');
        throw new BerthError('BERTH_E_ADDON_SERVER', `the PostgreSQL admin ${admin.name} (${target.display}) cannot make apps' roles and databases: it lacks ${missing}`, {
          status: 503,
          hint: `As a superuser, run: ALTER ROLE ${ident(admin.name)} CREATEROLE CREATEDB;`,
        });
      }
      return { adminUrl, adminRole: admin.name, superuser: admin.rolsuper, ...target };
    } finally {
      await client.end().catch(() => {});
    }
  }

  async #connect(url: string, display: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, application_name: 'berth' });
    // A server restart ends idle connections with an 'error' event; the query in flight, if any, rejects on its own.
    client.on('error', () => {});
    try {
      await client.connect();
      return client;
    } catch (err) {
      await client.end().catch(() => {});
      const denied = sqlState(err) === '28P01' || sqlState(err) === '28000';
      throw new BerthError('BERTH_E_ADDON_SERVER', `cannot connect to the PostgreSQL server ${display}: ${(err as Error).message}`, {
        status: 503,
        hint: denied
          ? 'The admin URL\'s user or password is wrong, or pg_hba.conf does not let it in from here.'
          : this.#local !== null
            ? `berth's local PostgreSQL server (${this.#options.localDir}) is not answering; the daemon's log says whether it runs, and its own log (data/log/ there) why.`
            : 'Check --postgres-admin-url and that the server runs and listens on that address.',
        cause: err,
      });
    }
  }

  async #withAdmin<T>(work: (client: pg.Client, server: Server) => Promise<T>): Promise<T> {
    const server = await this.#ensureServer();
    const client = await this.#connect(server.adminUrl, server.display);
    try {
      return await work(client, server);
    } finally {
      await client.end().catch(() => {});
    }
  }

  /** The environment pg_dump and pg_restore log in with: the app's role, its password never in argv. */
  #toolEnv(server: Server, role: string, password: string, database: string): Record<string, string> {
    return toolEnv({
      PGHOST: server.host,
      PGPORT: String(server.port),
      PGUSER: role,
      PGPASSWORD: password,
      PGDATABASE: database,
      PGCONNECT_TIMEOUT: String(CONNECT_TIMEOUT_MS / 1000),
      PGAPPNAME: 'berth',
      ...(server.sslmode !== null ? { PGSSLMODE: server.sslmode } : {}),
    });
  }

  #url(server: Server, role: string, password: string | null, database: string): string {
    const credentials = password === null ? encodeURIComponent(role) : `${encodeURIComponent(role)}:${encodeURIComponent(password)}`;
    const query = server.sslmode !== null ? `?sslmode=${encodeURIComponent(server.sslmode)}` : '';
    return `postgres://${credentials}@${urlHost(server.host)}:${server.port}/${encodeURIComponent(database)}${query}`;
  }

  async provision(context: AddonContext): Promise<Provisioned> {
    const name = postgresName(this.#options.namePrefix, context.app);
    const password = randomBytes(32).toString('base64url');
    return this.#withAdmin(async (client, server) => {
      const { rows } = await client.query<{ roles: number; databases: number }>(
        'SELECT (SELECT count(*) FROM pg_roles WHERE rolname = $1)::int AS roles, (SELECT count(*) FROM pg_database WHERE datname = $1)::int AS databases',
        [name],
      );
      if (rows[0]!.roles > 0 || rows[0]!.databases > 0) throw exists(name, server);
      const role = ident(name);
      let madeRole = false;
      let madeDatabase = false;
      try {
        // A verifier, not the password: the server stores it as is, and its logs never see the plaintext.
        await client.query(`CREATE ROLE ${role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD ${literal(scramSha256Verifier(password))}`);
        madeRole = true;
        // Since PostgreSQL 15 a CREATEROLE admin is no member of the roles it
        // makes, and must be one to make the database OWNER that role (and to
        // drop it later).
        if (!server.superuser) await client.query(`GRANT ${role} TO ${ident(server.adminRole)}`);
        await client.query(`CREATE DATABASE ${ident(name)} OWNER ${role}`);
        madeDatabase = true;
        await client.query(`REVOKE ALL ON DATABASE ${ident(name)} FROM PUBLIC`);
      } catch (err) {
        await this.#undo(client, madeDatabase ? [name] : [], madeRole ? name : null);
        if (sqlState(err) === '42710' || sqlState(err) === '42P04') throw exists(name, server);
        throw new BerthError('BERTH_E_ADDON_SERVER', `cannot create the database and role ${name} on ${server.display}: ${(err as Error).message}`, { status: 500, cause: err });
      }
      this.#options.log(`postgres: made the database and role ${name} for ${context.app}`);
      // The local CA's root, where libpq looks for it (sslmode=verify-full; require then verifies too).
      const rootCert = this.#local?.rootCertFile ?? null;
      return {
        vars: { DATABASE_URL: this.#url(server, name, password, name), ...(rootCert === null ? {} : { PGSSLROOTCERT: rootCert }) },
        resource: { database: name, role: name, password, host: server.host, port: String(server.port) },
      };
    });
  }

  /** Drops what a failed step made; its own failures are logged, since the first error is the one to report. */
  async #undo(client: pg.Client, databases: readonly string[], role: string | null): Promise<void> {
    try {
      for (const database of databases) await client.query(`DROP DATABASE IF EXISTS ${ident(database)} WITH (FORCE)`);
      if (role !== null) await client.query(`DROP ROLE IF EXISTS ${ident(role)}`);
    } catch (err) {
      this.#options.log(`postgres: could not undo a failed step (${[...databases, role].filter(Boolean).join(', ')}): ${(err as Error).message}`);
    }
  }

  async deprovision(context: AddonContext, resource: Readonly<Record<string, string>>): Promise<void> {
    const name = postgresName(this.#options.namePrefix, context.app);
    const database = resource.database || name;
    const role = resource.role || name;
    await this.#withAdmin(async (client, server) => {
      try {
        // The app's database and every one its role owns: the role can make
        // none itself, so those are the restores into new databases.
        const { rows } = await client.query<{ datname: string }>(
          'SELECT datname FROM pg_database WHERE datname = $1 OR datdba = (SELECT oid FROM pg_roles WHERE rolname = $2) ORDER BY datname',
          [database, role],
        );
        for (const { datname } of rows) {
          await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [datname]);
          await client.query(`DROP DATABASE IF EXISTS ${ident(datname)} WITH (FORCE)`);
        }
        await client.query(`DROP ROLE IF EXISTS ${ident(role)}`);
        this.#options.log(`postgres: dropped ${rows.length === 0 ? 'no database' : `the databases ${rows.map((row) => row.datname).join(', ')}`} and the role ${role} of ${context.app}`);
      } catch (err) {
        throw new BerthError('BERTH_E_ADDON_SERVER', `cannot drop the database and role ${database} on ${server.display}: ${(err as Error).message}`, { status: 500, cause: err });
      }
    });
  }

  async dump(_context: AddonContext, resource: Readonly<Record<string, string>>, file: string, signal: AbortSignal): Promise<void> {
    const server = await this.#ensureServer();
    const pgDump = await postgresBinary('pg_dump');
    try {
      await runTool([pgDump, '--format=custom', '--no-owner', `--file=${file}`], {
        env: this.#toolEnv(server, need(resource, 'role'), need(resource, 'password'), need(resource, 'database')),
        signal,
        timeoutMs: DUMP_TIMEOUT_MS,
      });
    } catch (err) {
      await rm(file, { force: true });
      throw err;
    }
  }

  async restore(context: AddonContext, resource: Readonly<Record<string, string>>, file: string, target: RestoreTarget): Promise<RestoreReport> {
    const server = await this.#ensureServer();
    const database = need(resource, 'database');
    const role = need(resource, 'role');
    const password = need(resource, 'password');
    const pgRestore = await postgresBinary('pg_restore');
    // Reading the archive's table of contents first refuses a file that is
    // no dump at all before anything is touched.
    const tables = await this.#countTables(pgRestore, file);
    const counted = `${tables} table${tables === 1 ? '' : 's'}`;
    // All or nothing: with --single-transaction a failure halfway rolls the
    // whole restore back, and the app keeps its data as it was.
    const load = async (into: string, clean: boolean) => {
      try {
        await runTool([pgRestore, ...(clean ? ['--clean', '--if-exists'] : []), '--no-owner', '--no-privileges', '--single-transaction', '--exit-on-error', `--dbname=${into}`, file], {
          env: this.#toolEnv(server, role, password, into),
          timeoutMs: DUMP_TIMEOUT_MS,
        });
      } catch (err) {
        throw new BerthError('BERTH_E_RESTORE_FAILED', `the restore into the database ${into} failed, and changed nothing: ${(err as Error).message}`, { status: 500, cause: err });
      }
    };
    if (target.into === 'app') {
      await load(database, true);
      this.#options.log(`postgres: restored ${counted} into ${database} for ${context.app}`);
      return { summary: `restored ${counted} into the database ${database}`, location: null };
    }
    const fresh = restoreDatabaseName(database, target.tag);
    await this.#withAdmin(async (client) => {
      try {
        // template0: what pg_dump's archives are made to be restored into.
        await client.query(`CREATE DATABASE ${ident(fresh)} OWNER ${ident(role)} TEMPLATE template0`);
      } catch (err) {
        if (sqlState(err) === '42P04') {
          throw new BerthError('BERTH_E_RESTORE_FAILED', `the database ${fresh} already exists (an earlier restore of this backup)`, {
            status: 409,
            hint: `Drop it first: connect with the app's DATABASE_URL and run DROP DATABASE ${ident(fresh)};`,
            cause: err,
          });
        }
        throw new BerthError('BERTH_E_RESTORE_FAILED', `cannot create the database ${fresh} to restore into: ${(err as Error).message}`, { status: 500, cause: err });
      }
      try {
        await client.query(`REVOKE ALL ON DATABASE ${ident(fresh)} FROM PUBLIC`);
      } catch (err) {
        await this.#undo(client, [fresh], null);
        throw new BerthError('BERTH_E_RESTORE_FAILED', `cannot close the database ${fresh} to other roles: ${(err as Error).message}`, { status: 500, cause: err });
      }
    });
    try {
      await load(fresh, false);
    } catch (err) {
      await this.#withAdmin((client) => this.#undo(client, [fresh], null)).catch(() => {});
      throw err;
    }
    this.#options.log(`postgres: restored ${counted} into the new database ${fresh} for ${context.app}`);
    return { summary: `restored ${counted} into the new database ${fresh}`, location: this.#url(server, role, null, fresh) };
  }

  async #countTables(pgRestore: string, file: string): Promise<number> {
    try {
      const { stdout } = await runTool([pgRestore, '--list', file]);
      return stdout.split('\n').filter((line) => /^\d+; \d+ \d+ TABLE (?!DATA )/.test(line)).length;
    } catch (err) {
      throw new BerthError('BERTH_E_RESTORE_FAILED', `the backup cannot be read as a PostgreSQL dump: ${(err as Error).message}`, { status: 500, cause: err });
    }
  }

  describe(resource: Readonly<Record<string, string>>): Record<string, string> {
    const server = resource.host !== undefined && resource.port !== undefined ? `${urlHost(resource.host)}:${resource.port}` : 'unknown';
    return { server, database: resource.database ?? '', role: resource.role ?? '' };
  }

  async close(options: { readonly leaveRunning?: boolean } = {}): Promise<void> {
    this.#server = null;
    await this.#local?.close(options);
  }

  directPort(): number | null {
    return this.#local?.directPort() ?? null;
  }
}

function exists(name: string, server: Server): BerthError {
  return new BerthError('BERTH_E_ADDON_EXISTS', `the PostgreSQL server ${server.display} already has a role or database named ${name}`, {
    status: 409,
    hint: 'Something other than this app made it: another berth server sharing this PostgreSQL server with the same name prefix, or someone by hand. Drop it, or use another prefix.',
  });
}
