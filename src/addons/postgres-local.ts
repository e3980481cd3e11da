import { findFreePort } from '../runner/index.ts';
import { directPortIn, lastLines, lastWords, LocalServer, readOwnFile, requireTraversable, serverError } from './local-server.ts';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { access, chmod, chown, constants, mkdir, readdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { BerthError } from '../errors.ts';
import { writeFileAtomic } from '../platform/atomic-file.ts';
import { findUser } from '../platform/app-users.ts';
import { SUPERVISOR_ENV } from '../runner/index.ts';
import { ensureDirectory, removeTree } from '../safe-fs/index.ts';
import { readPidFileFacts } from './postmaster-facts.ts';
import { ensurePostgresTls, postgresCertificateNames, postgresTlsArgs, postgresTlsFiles, TLS_CHECK_INTERVAL_MS, type PostgresTlsOptions, type ServiceCertificateIssuer } from './postgres-tls.ts';
import { judgePidFile, parsePostmasterPid } from './postmaster-pid.ts';
import { runTool, toolEnv } from './run-tool.ts';
import type { AddonUser } from './types.ts';

// The PostgreSQL cluster berth runs itself when no --postgres-admin-url is
// given: initialised once from the system's binaries, listening on
// 127.0.0.1 and, when apps run in sandboxes, on their service address,
// supervised like an app instance, and left running through a
// control-plane stop for the next daemon to adopt. Its layout under the
// folder it is given (STATE/addons/postgres):
//
//   data/            the cluster (owned by the user postgres runs as, 0700)
//   data/log/        its own log, postgresql-Mon.log … (a week, rotated daily)
//   run/             its Unix socket and lock files
//   admin-password   the superuser "berth"'s password (0600, berth's)
//   port             the TCP port, chosen once and kept
//   pg_hba.conf      who may connect how, written by berth at every start (berth's)
//   server.json      berth's record of the running postmaster, for adoption (0600, berth's)
//   server.log       the postmaster's own output before its log collector runs (berth's)
//   tls/             its certificate from berth's local CA (postgres-tls.ts)

export const LOCAL_ADMIN_ROLE = 'berth';
const DEFAULT_READY_TIMEOUT_MS = 30_000;
const READY_POLL_MS = 100;
const INITDB_TIMEOUT_MS = 5 * 60_000;
/** How long a start waits for the previous server's processes of the data folder to be gone. */
const DEFAULT_PID_FILE_WAIT_MS = 30_000;
const PID_FILE_POLL_MS = 100;

export interface LocalPostgresOptions {
  /** STATE/addons/postgres. */
  readonly dir: string;
  /** Carried as SUPERVISOR_ENV in the server's environment, so a later daemon can reap it. */
  readonly supervisorMarker: string;
  readonly log: (line: string) => void;
  /** How long start() waits for the server to accept connections. */
  readonly readyTimeoutMs?: number;
  /** How long start() waits for a previous server's processes of the data folder to be gone (default 30 s). */
  readonly pidFileWaitMs?: number;
  /** Serve TLS with a certificate from berth's local CA (absent: plain TCP only). */
  readonly tls?: PostgresTlsOptions;
  /** The sandboxes' service address, listened on beside 127.0.0.1 (null or absent: apps run uncontained). */
  readonly serviceAddress?: string | null;
  /** How long start() waits for a running server it would adopt to answer (default 10 s). */
  readonly adoptTimeoutMs?: number;
}

const DEFAULT_ADOPT_TIMEOUT_MS = 10_000;

/** pg_hba.conf: passwords (SCRAM) only; from this machine only (sandboxes reach the service address through slirp, from one of the host's own addresses). */
export function postgresHba(serviceAddress: string | null): string {
  return [
    '# Written by berth at every start of its local PostgreSQL server: changes here are lost.',
    'local all all scram-sha-256',
    'host all all 127.0.0.1/32 scram-sha-256',
    'host all all ::1/128 scram-sha-256',
    ...(serviceAddress === null ? [] : ['host all all samehost scram-sha-256']),
    '',
  ].join('\n');
}

/** Where the server logs: files under data/log that it rotates itself (one a weekday, each truncated when its day comes again). */
const LOG_ARGS = ['-c', 'logging_collector=on', '-c', 'log_directory=log', '-c', 'log_filename=postgresql-%a.log', '-c', 'log_truncate_on_rotation=on', '-c', 'log_rotation_age=1d', '-c', 'log_rotation_size=0'];

const BIN_ROOT = '/usr/lib/postgresql';

/**
 * Where one of PostgreSQL's programs is: in the newest /usr/lib/postgresql/N/bin
 * that has it (or in N = `version`'s, when given and present), else on PATH.
 * Debian puts only wrappers on PATH, and initdb and postgres not at all.
 */
export async function postgresBinary(name: string, version?: string): Promise<string> {
  let versions: string[] = [];
  try {
    versions = (await readdir(BIN_ROOT)).filter((entry) => /^\d+(\.\d+)?$/.test(entry)).sort((a, b) => Number(b) - Number(a));
  } catch {
    // No Debian layout; PATH is all there is.
  }
  if (version !== undefined && versions.includes(version)) versions = [version, ...versions.filter((entry) => entry !== version)];
  const candidates = [...versions.map((entry) => join(BIN_ROOT, entry, 'bin')), ...(process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':').filter(Boolean)];
  for (const dir of candidates) {
    const file = join(dir, name);
    try {
      await access(file, constants.X_OK);
      return file;
    } catch {
      // Not here.
    }
  }
  throw new BerthError('BERTH_E_ADDON_TOOL', `${name} is not installed (not in ${BIN_ROOT}/*/bin nor on PATH)`, {
    status: 500,
    hint: "Install Debian's postgresql package (postgresql-client is enough with --postgres-admin-url).",
  });
}


async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}


/** The local cluster: start() initialises it the first time, starts it and waits until it answers; close() stops it. */
export class LocalPostgres {
  readonly #options: LocalPostgresOptions;
  readonly #server: LocalServer<string>;
  #issuer: Promise<ServiceCertificateIssuer> | null = null;
  #tlsTimer: NodeJS.Timeout | null = null;

  constructor(options: LocalPostgresOptions) {
    this.#options = options;
    this.#server = new LocalServer(options.log);
  }

  get #dataDir(): string {
    return join(this.#options.dir, 'data');
  }

  get #passwordFile(): string {
    return join(this.#options.dir, 'admin-password');
  }

  /** The postmaster's pid while it runs. */
  get pid(): number | undefined {
    return this.#server.pid;
  }

  /** Starts the cluster (once) and resolves with its superuser's URL. */
  start(): Promise<string> {
    return this.#server.start(() => this.#start());
  }

  /** Stops the server (fast shutdown), or with `leaveRunning` lets it run on for the next daemon; idempotent, and safe after a failed start. */
  close(options: { readonly leaveRunning?: boolean } = {}): Promise<void> {
    if (this.#tlsTimer !== null) clearInterval(this.#tlsTimer);
    this.#tlsTimer = null;
    return this.#server.close(options);
  }

  /** The port it listens on at the service address itself (no relay needed), once chosen; null without sandboxes. */
  directPort(): number | null {
    return directPortIn(this.#options.dir, this.#options.serviceAddress ?? null);
  }

  /** The files the server's own words are in: its output before the log collector, and the collector's current file. */
  async #logFiles(): Promise<string[]> {
    const files = [join(this.#options.dir, 'server.log')];
    const current = (await lastLines(join(this.#dataDir, 'current_logfiles'), 4)).find((line) => line.startsWith('stderr '));
    const name = current?.slice('stderr '.length).trim();
    if (name !== undefined && /^log\/[\w.-]+$/.test(name)) files.push(join(this.#dataDir, name));
    return files;
  }

  /** The local CA's root the server's certificate chains to (PGSSLROOTCERT), or null without TLS. */
  get rootCertFile(): string | null {
    return this.#options.tls === undefined ? null : postgresTlsFiles(this.#options.dir).rootCert;
  }

  /** The certificate files made current; true when the server's changed. */
  async #refreshTls(user: AddonUser | null): Promise<boolean> {
    const tls = this.#options.tls!;
    this.#issuer ??= tls.issuer().catch((err: unknown) => {
      this.#issuer = null;
      throw err;
    });
    return ensurePostgresTls(postgresTlsFiles(this.#options.dir), await this.#issuer, postgresCertificateNames(tls.serviceAddress), user);
  }

  /** While it runs, the certificate is renewed in time and the server told to re-read it. */
  #watchTls(user: AddonUser | null): void {
    if (this.#tlsTimer !== null) return;
    this.#tlsTimer = setInterval(() => {
      this.#refreshTls(user).then(
        (changed) => {
          const pid = this.#server.pid;
          if (!changed || pid === undefined) return;
          process.kill(pid, 'SIGHUP');
          this.#options.log('postgres: renewed its TLS certificate');
        },
        (err: Error) => this.#options.log(`postgres: cannot renew its TLS certificate: ${err.message}`),
      );
    }, TLS_CHECK_INTERVAL_MS);
    this.#tlsTimer.unref();
  }

  async #start(): Promise<string> {
    const { dir } = this.#options;
    const user = await this.#runAs();
    await mkdir(dir, { recursive: true, mode: 0o711 });
    // The server runs as another user, who must get through to data/.
    await chmod(dir, 0o711);
    if (user !== null) await requireTraversable(dir, 'postgres');
    if (!(await exists(join(this.#dataDir, 'PG_VERSION')))) await this.#initialise(user);
    const version = (await readFile(join(this.#dataDir, 'PG_VERSION'), 'utf8')).trim();
    const postgres = await postgresBinary('postgres', version);
    const password = await this.#adminPassword();
    const port = await this.#port();
    const runDir = join(dir, 'run');
    // Owner and mode through a descriptor, never through a link in its place.
    await ensureDirectory(runDir, user ?? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }, 0o700);
    let tlsArgs: string[] = [];
    let tlsChanged = false;
    if (this.#options.tls !== undefined) {
      try {
        tlsChanged = await this.#refreshTls(user);
      } catch (err) {
        throw serverError(`cannot make the local PostgreSQL server's TLS certificate: ${(err as Error).message}`, `Its files are in ${postgresTlsFiles(dir).dir}; the local CA's in STATE/tls/ca.`, err);
      }
      tlsArgs = postgresTlsArgs(postgresTlsFiles(dir));
    }

    const serviceAddress = this.#options.serviceAddress ?? null;
    const hba = postgresHba(serviceAddress);
    const hbaFile = join(dir, 'pg_hba.conf');
    writeFileAtomic(hbaFile, hba, 0o644);
    const listen = serviceAddress === null ? '127.0.0.1' : `127.0.0.1,${serviceAddress}`;
    const argv = [postgres, '-D', this.#dataDir, '-c', `listen_addresses=${listen}`, '-c', `port=${port}`, '-c', `unix_socket_directories=${runDir}`, '-c', `hba_file=${hbaFile}`, ...LOG_ARGS, ...tlsArgs];
    const marker = `${this.#options.supervisorMarker}:postgres`;
    const spec = {
      name: 'postgres',
      argv,
      env: toolEnv({ [SUPERVISOR_ENV]: marker }),
      // The postmaster works in its data folder whatever it is started in.
      cwd: dir,
      user,
      stopSignal: 'SIGINT' as const,
      outputFile: join(dir, 'server.log'),
      recordFile: join(dir, 'server.json'),
      settings: createHash('sha256').update(JSON.stringify([argv, hba])).digest('hex'),
      logHint: `its log is in ${join(this.#dataDir, 'log')}`,
    };
    const url = `postgres://${LOCAL_ADMIN_ROLE}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
    const adopted = await this.#server.adoptRunning(spec, {
      exe: await realpath(postgres),
      cwd: await realpath(this.#dataDir),
      marker,
      pidFile: async () => {
        // The postgres user's folder: never followed through a link.
        const text = await readOwnFile(join(this.#dataDir, 'postmaster.pid'));
        if (text === null) return 'missing';
        return parsePostmasterPid(text)?.pid ?? 'damaged';
      },
      probe: () => this.#probe(url),
    });
    if (!adopted) {
      await this.#settlePidFile();
      this.#server.launch(spec);
    } else if (tlsChanged && this.#server.pid !== undefined) {
      // Renewed while no daemon watched: the adopted server re-reads its files.
      process.kill(this.#server.pid, 'SIGHUP');
    }
    await this.#waitUntilReady(url, port);
    if (this.#options.tls !== undefined) this.#watchTls(user);
    return url;
  }

  /** PostgreSQL refuses to run as root: as root, it runs as Debian's postgres user; otherwise as berth's own. */
  async #runAs(): Promise<AddonUser | null> {
    if (process.getuid?.() !== 0) return null;
    const user = await findUser('postgres');
    if (user === null) {
      throw serverError('berth runs as root and PostgreSQL will not, but there is no "postgres" user to run it as', "Install Debian's postgresql package (it creates the user), or give berth server --postgres-admin-url.");
    }
    return { uid: user.uid, gid: user.gid };
  }

  /**
   * initdb into a staging folder renamed into place only when complete, so
   * an interrupted first start leaves nothing that looks like a cluster.
   */
  async #initialise(user: AddonUser | null): Promise<void> {
    const { dir } = this.#options;
    const initdb = await postgresBinary('initdb');
    const staging = join(dir, 'data.init');
    this.#options.log(`postgres: initialising a new cluster in ${this.#dataDir}`);
    // A staging folder left by an interrupted initdb is the server user's tree: removed without a walk by path.
    await removeTree(staging);
    await mkdir(staging, { mode: 0o700 });
    if (user !== null) await chown(staging, user.uid, user.gid);
    const password = randomBytes(32).toString('base64url');
    writeFileAtomic(this.#passwordFile, `${password}\n`, 0o600);
    // initdb reads the password from a file only the server's user can read; never argv.
    const pwfile = join(dir, `.initdb-password-${randomBytes(6).toString('hex')}`);
    await writeFile(pwfile, password, { mode: 0o600, flag: 'wx' });
    try {
      if (user !== null) await chown(pwfile, user.uid, user.gid);
      await runTool(
        [initdb, '-D', staging, '-U', LOCAL_ADMIN_ROLE, `--pwfile=${pwfile}`, '--auth-local=scram-sha-256', '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C.UTF-8'],
        { user, cwd: dir, timeoutMs: INITDB_TIMEOUT_MS },
      );
    } catch (err) {
      await removeTree(staging);
      throw serverError(`cannot initialise the local PostgreSQL cluster: ${(err as Error).message}`, undefined, err);
    } finally {
      await rm(pwfile, { force: true });
    }
    await rename(staging, this.#dataDir);
  }

  async #adminPassword(): Promise<string> {
    try {
      return (await readFile(this.#passwordFile, 'utf8')).trim();
    } catch (err) {
      throw serverError(`cannot read the local PostgreSQL superuser's password (${this.#passwordFile}): ${(err as Error).message}`, `The cluster in ${this.#dataDir} cannot be used without it: move that folder away to start a new, empty cluster.`, err);
    }
  }

  /** The port chosen on the first start; apps' DATABASE_URLs name it, so it never changes. */
  async #port(): Promise<number> {
    const file = join(this.#options.dir, 'port');
    try {
      const port = Number((await readFile(file, 'utf8')).trim());
      if (Number.isInteger(port) && port > 0 && port < 65536) return port;
    } catch {
      // First start.
    }
    const port = await findFreePort();
    writeFileAtomic(file, `${port}\n`, 0o644);
    return port;
  }

  /**
   * Before a postmaster starts on the data folder: wait (up to
   * pidFileWaitMs) while anything of the folder may still be alive — the
   * previous postmaster, its children, its shared memory — and refuse the
   * start if it outlasts the wait; remove postmaster.pid only where
   * judgePidFile says PostgreSQL would wrongly refuse. A removal never
   * happens while a process of the folder runs (postmaster-pid.ts).
   */
  async #settlePidFile(): Promise<void> {
    const waitMs = this.#options.pidFileWaitMs ?? DEFAULT_PID_FILE_WAIT_MS;
    const deadline = Date.now() + waitMs;
    const file = join(this.#dataDir, 'postmaster.pid');
    let said = false;
    for (;;) {
      const decision = judgePidFile(await readPidFileFacts(this.#dataDir));
      if (decision.action === 'start') return;
      if (decision.action === 'remove') {
        this.#options.log(`postgres: removing ${file}: ${decision.reason}`);
        await rm(file, { force: true });
        return;
      }
      if (Date.now() >= deadline) {
        throw serverError(
          `will not start a second PostgreSQL server on ${this.#dataDir}: ${decision.reason} after ${Math.round(waitMs / 1000)} s of waiting; ${file} is left as it is`,
          `They are the previous server's processes${decision.pids.length > 0 ? ` (pid ${decision.pids.join(', ')})` : ''}, still exiting. berth tries again; if they never end, stop them (ps -fp PID; kill PID), never remove ${file} by hand while they run.`,
        );
      }
      if (!said) this.#options.log(`postgres: waiting before starting on ${this.#dataDir}: ${decision.reason}`);
      said = true;
      await new Promise((resolve) => setTimeout(resolve, PID_FILE_POLL_MS));
    }
  }

  /** Whether a running server answers berth's superuser (bounded: a server a dying daemon had just started may still be starting). */
  async #probe(url: string): Promise<'yes' | 'no' | 'wrong-password'> {
    const started = Date.now();
    let deadline = started + (this.#options.adoptTimeoutMs ?? DEFAULT_ADOPT_TIMEOUT_MS);
    for (;;) {
      const err = await selectOne(url);
      if (err === null) return 'yes';
      const code = (err as { code?: string }).code;
      if (code === '28P01') return 'wrong-password';
      // "The database system is starting up" (recovery after the server's own restart): ending it would only start that over; wait as long as a start would.
      if (code === '57P03') deadline = Math.max(deadline, started + (this.#options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS));
      if (Date.now() >= deadline) return 'no';
      await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
    }
  }

  async #waitUntilReady(url: string, port: number): Promise<void> {
    const timeoutMs = this.#options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer yet';
    for (;;) {
      const err = await selectOne(url);
      if (err === null) return;
      last = err.message;
      if ((err as { code?: string }).code === '28P01') {
        throw serverError(`the local PostgreSQL server refused berth's superuser password: ${last}`, `${this.#passwordFile} does not belong to the cluster in ${this.#dataDir}.`, err);
      }
      if (Date.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
    }
    throw serverError(`the local PostgreSQL server did not accept connections on 127.0.0.1:${port} within ${Math.round(timeoutMs / 1000)} s (${last})${await lastWords(await this.#logFiles())}`, `Its files are in ${this.#options.dir}.`);
  }
}

/** One connection and `SELECT 1` to the server at `url`: null when it answered, else why not (the driver's error, with PostgreSQL's code). */
async function selectOne(url: string): Promise<Error | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    return err as Error;
  } finally {
    await client.end().catch(() => {});
  }
}
