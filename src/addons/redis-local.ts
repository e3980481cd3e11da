import { findFreePort } from '../runner/index.ts';
import { directPortIn, lastWords, LocalServer, requireTraversable, serverError } from './local-server.ts';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { access, chmod, constants, lchown, lstat, mkdir, open, readFile, realpath, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { BerthError } from '../errors.ts';
import { findUser } from '../platform/app-users.ts';
import { writeFileAtomic } from '../platform/atomic-file.ts';
import { SUPERVISOR_ENV } from '../runner/index.ts';
import { toolEnv } from './run-tool.ts';
import type { AddonUser } from './types.ts';

// The local redis-server berth runs from the system binary when no
// --redis-admin-url is given (the throwaway ones backups load snapshots
// into: scratch-redis.ts), and what both share. Layout of the local
// server's folder (STATE/addons/redis, root's, 0711):
//
//   redis.conf       written by berth at every start (no secrets in it)
//   admin-password   the admin user "berth"'s password (0600, berth's)
//   port             the TCP port (127.0.0.1 and the sandboxes' service address), chosen once and kept
//   server.json      berth's record of the running server, for adoption (0600, berth's)
//   server.log       the server's own output (only what it says before it opens its log file)
//   data/            the server's (0700): dump.rdb, appendonlydir/, users.acl,
//                    redis.log (its log; berth moves it to redis.log.1 past 16 MiB)
//
// users.acl lives in data/, not beside redis.conf: ACL SAVE writes a temp
// file next to the ACL file and renames it, so its folder must be the
// server's to write, and the top folder must stay root's (berth reads
// admin-password from it as root; a folder the redis user could change
// would let it swap that file for a link to any file root can read).

export const LOCAL_ADMIN_USER = 'berth';
const DEFAULT_READY_TIMEOUT_MS = 15_000;
const READY_POLL_MS = 100;

/** Where and as whom berth talks to a Redis server. */
export interface RedisEndpoint {
  readonly host: string;
  readonly port: number;
  /** null: the password authenticates the default user (a URL without a user name). */
  readonly user: string | null;
  readonly password: string | null;
  readonly tls: boolean;
}


/** A program from Debian's redis-server / redis-tools packages, found on PATH. */
export async function redisProgram(name: 'redis-server' | 'redis-cli'): Promise<string> {
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':').filter(Boolean)) {
    const file = join(dir, name);
    try {
      await access(file, constants.X_OK);
      return file;
    } catch {
      // Not here.
    }
  }
  throw new BerthError('BERTH_E_ADDON_TOOL', `${name} is not installed (not on PATH)`, {
    status: 500,
    hint: "Install Debian's redis-server and redis-tools packages.",
  });
}

/**
 * Who the redis-server processes berth starts run as: as root, Debian's
 * `redis` user when there is one (a server bug then reaches the server's
 * files only), else berth's own user.
 */
export async function redisRunAs(): Promise<AddonUser | null> {
  if (process.getuid?.() !== 0) return null;
  const user = await findUser('redis');
  return user === null ? null : { uid: user.uid, gid: user.gid };
}

/** ioredis options for one short-lived admin connection: no reconnects, no queueing while down. */
export function endpointOptions(endpoint: RedisEndpoint, connectTimeout = 5000): RedisOptions {
  return {
    host: endpoint.host,
    port: endpoint.port,
    ...(endpoint.user !== null ? { username: endpoint.user } : {}),
    ...(endpoint.password !== null ? { password: endpoint.password } : {}),
    ...(endpoint.tls ? { tls: { servername: endpoint.host } } : {}),
    ...SHORT_LIVED,
    connectTimeout,
  };
}

export const SHORT_LIVED: RedisOptions = {
  db: 0,
  lazyConnect: true,
  retryStrategy: () => null,
  maxRetriesPerRequest: 0,
  enableOfflineQueue: false,
  disableClientInfo: true,
  // RESP2 everywhere: replies have the same shape from every server version.
  protocol: 2,
};

/** Connects (or rejects); the caller quits the client. */
export async function connectRedis(options: RedisOptions): Promise<Redis> {
  const client = new Redis(options);
  // Errors surface through the commands' promises; without a listener
  // ioredis would also print them.
  client.on('error', () => {});
  try {
    await client.connect();
    return client;
  } catch (err) {
    client.disconnect();
    throw err;
  }
}


/** Past this size the local server's log is moved aside (one old file kept): Redis opens its log file anew for every line. */
const LOG_ROTATE_BYTES = 16 * 1024 * 1024;
const LOG_CHECK_INTERVAL_MS = 60_000;
/** How long start() waits for a running server it would adopt to answer PING. */
const DEFAULT_ADOPT_TIMEOUT_MS = 10_000;

/** A value for redis.conf, quoted the way its parser (sdssplitargs) reads it back. */
function confString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}


/** A folder berth made for the server: a real folder (never a link), the server's, 0700. */
async function ownedFolder(path: string, user: AddonUser | null): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  const handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    const facts = await handle.stat();
    if (user !== null && (facts.uid !== user.uid || facts.gid !== user.gid)) await handle.chown(user.uid, user.gid);
    if ((facts.mode & 0o7777) !== 0o700) await handle.chmod(0o700);
  } finally {
    await handle.close();
  }
}

/** Reads a file that must not be a link (it sits in a folder the redis user may write); '' when missing. */
async function readNoFollow(path: string): Promise<string> {
  try {
    const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      return await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

/** Copies `from` to `to` (created 0600, replaced if there), refusing a `from` that is a link. */
export async function copyNoFollow(from: string, to: string): Promise<void> {
  const source = await open(from, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const target = await open(to, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
    try {
      const buffer = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        const { bytesRead } = await source.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) break;
        for (let done = 0; done < bytesRead; ) done += (await target.write(buffer, done, bytesRead - done, null)).bytesWritten;
      }
      await target.sync();
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

export interface LocalRedisOptions {
  /** STATE/addons/redis. */
  readonly dir: string;
  /** Carried as SUPERVISOR_ENV in the server's environment, so a later daemon can reap it. */
  readonly supervisorMarker: string;
  readonly log: (line: string) => void;
  /** How long start() waits for the server to answer PING. */
  readonly readyTimeoutMs?: number;
  /** The sandboxes' service address, bound beside 127.0.0.1 (null or absent: apps run uncontained). */
  readonly serviceAddress?: string | null;
  /** Past this size (checked at start and every minute) its log is moved to redis.log.1; default 16 MiB. */
  readonly logRotateBytes?: number;
}

/** The local server: start() writes its config, starts it and waits until it answers; close() stops it (SIGTERM: it saves first). */
export class LocalRedis {
  readonly #options: LocalRedisOptions;
  readonly #server: LocalServer<RedisEndpoint>;
  #logTimer: NodeJS.Timeout | null = null;

  constructor(options: LocalRedisOptions) {
    this.#options = options;
    this.#server = new LocalServer(options.log);
  }

  get #dataDir(): string {
    return join(this.#options.dir, 'data');
  }

  /** The server's pid while it runs. */
  get pid(): number | undefined {
    return this.#server.pid;
  }

  /** Starts the server (once) and resolves with its admin endpoint once it answers; later calls share that start. */
  start(): Promise<RedisEndpoint> {
    return this.#server.start(() => this.#start());
  }

  /**
   * start(), then a PING as the admin, waiting (bounded) while the server
   * restarts: an operation right after a crash finds the restarted server.
   */
  async ready(): Promise<RedisEndpoint> {
    const endpoint = await this.start();
    await this.#waitUntilReady(endpoint);
    return endpoint;
  }

  /** Stops the server, or with `leaveRunning` lets it run on for the next daemon; idempotent, and safe after a failed start. */
  close(options: { readonly leaveRunning?: boolean } = {}): Promise<void> {
    if (this.#logTimer !== null) clearInterval(this.#logTimer);
    this.#logTimer = null;
    return this.#server.close(options);
  }

  /** The port it listens on at the service address itself (no relay needed), once chosen; null without sandboxes. */
  directPort(): number | null {
    return directPortIn(this.#options.dir, this.#options.serviceAddress ?? null);
  }

  get #logFile(): string {
    return join(this.#dataDir, 'redis.log');
  }

  /** Moves a big log aside; Redis opens the file by name for every line, so it goes on in a new one. (A rename follows no link.) */
  async #rotateLog(): Promise<void> {
    try {
      const facts = await lstat(this.#logFile);
      if (facts.isFile() && facts.size > (this.#options.logRotateBytes ?? LOG_ROTATE_BYTES)) await rename(this.#logFile, `${this.#logFile}.1`);
    } catch {
      // No log yet.
    }
  }

  async #start(): Promise<RedisEndpoint> {
    const { dir } = this.#options;
    const user = await redisRunAs();
    const server = await redisProgram('redis-server');
    await mkdir(dir, { recursive: true, mode: 0o711 });
    const top = await lstat(dir);
    if (!top.isDirectory()) throw serverError(`${dir} is not a folder; berth will not run Redis in it`, 'Move it away (it was not made by berth), then try again.');
    // The server runs as another user, who must get through to data/.
    await chmod(dir, 0o711);
    if (user !== null) await requireTraversable(dir, 'redis');
    await ownedFolder(this.#dataDir, user);
    const password = await this.#adminPassword();
    const port = await this.#port();
    await this.#writeAclFile(password, user);
    const config = join(dir, 'redis.conf');
    const text = this.#config(port);
    writeFileAtomic(config, text, 0o644);
    await this.#rotateLog();

    const argv = [server, config];
    const marker = `${this.#options.supervisorMarker}:redis`;
    const spec = {
      name: 'redis',
      argv,
      env: toolEnv({ [SUPERVISOR_ENV]: marker }),
      cwd: this.#dataDir,
      user,
      stopSignal: 'SIGTERM' as const,
      outputFile: join(dir, 'server.log'),
      recordFile: join(dir, 'server.json'),
      settings: createHash('sha256').update(JSON.stringify([argv, text])).digest('hex'),
      logHint: `its log is ${this.#logFile}`,
    };
    const endpoint: RedisEndpoint = { host: '127.0.0.1', port, user: LOCAL_ADMIN_USER, password, tls: false };
    const adopted = await this.#server.adoptRunning(spec, {
      exe: await realpath(server),
      cwd: await realpath(this.#dataDir),
      marker,
      pidFile: async () => null,
      probe: () => this.#probe(endpoint),
    });
    if (!adopted) this.#server.launch(spec);
    await this.#waitUntilReady(endpoint);
    this.#logTimer ??= setInterval(() => void this.#rotateLog(), LOG_CHECK_INTERVAL_MS);
    this.#logTimer.unref();
    return endpoint;
  }

  #config(port: number): string {
    const data = this.#dataDir;
    const serviceAddress = this.#options.serviceAddress ?? null;
    return [
      '# Written by berth at every start of its local Redis server: changes here are lost.',
      // The service address: sandboxed apps reach the server there, with no relay in the daemon to cut their connections at a restart.
      serviceAddress === null ? 'bind 127.0.0.1' : `bind 127.0.0.1 ${serviceAddress}`,
      `port ${port}`,
      'protected-mode yes',
      'daemonize no',
      'supervised no',
      // Its own file, never a pipe to the daemon: the server outlives daemons.
      `logfile ${confString(this.#logFile)}`,
      'always-show-logo no',
      // A process title written over argv and environ would erase the
      // SUPERVISOR_ENV tag that lets a later daemon reap an orphaned server.
      'set-proc-title no',
      `dir ${confString(data)}`,
      `aclfile ${confString(join(data, 'users.acl'))}`,
      'dbfilename dump.rdb',
      // The AOF keeps every acknowledged write across a crash; RDB saves
      // give compact restart points (and BGSAVE is what backups use).
      'appendonly yes',
      'appendfsync everysec',
      'save 3600 1 300 100 60 10000',
      // Backups ask for the snapshot a new replica would get; there are no
      // replicas to wait for, so no reason to wait the default 5 s.
      'repl-diskless-sync-delay 0',
      'enable-debug-command no',
      'enable-module-command no',
      'enable-protected-configs no',
      '',
    ].join('\n');
  }

  /**
   * The ACL file keeps the users ACL SAVE wrote (the apps'), with the
   * default user off and berth's admin user set from admin-password: the
   * file and the password can never disagree, even after one was lost.
   */
  async #writeAclFile(password: string, user: AddonUser | null): Promise<void> {
    const file = join(this.#dataDir, 'users.acl');
    const kept = (await readNoFollow(file)).split('\n').filter((line) => line.trim() !== '' && !/^user (default|berth) /.test(line));
    const hash = createHash('sha256').update(password).digest('hex');
    const lines = ['user default off resetkeys resetchannels -@all', `user ${LOCAL_ADMIN_USER} on #${hash} ~* &* +@all`, ...kept, ''];
    writeFileAtomic(file, lines.join('\n'), 0o600);
    if (user !== null) await lchown(file, user.uid, user.gid);
  }

  async #adminPassword(): Promise<string> {
    const file = join(this.#options.dir, 'admin-password');
    try {
      const password = (await readFile(file, 'utf8')).trim();
      if (password !== '') return password;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw serverError(`cannot read the local Redis admin password (${file}): ${(err as Error).message}`, undefined, err);
    }
    const password = randomBytes(32).toString('base64url');
    writeFileAtomic(file, `${password}\n`, 0o600);
    return password;
  }

  /** The port chosen on the first start; apps' REDIS_URLs name it, so it never changes. */
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

  /** Whether a running server answers PING as berth's admin (bounded). */
  async #probe(endpoint: RedisEndpoint): Promise<'yes' | 'no' | 'wrong-password'> {
    const deadline = Date.now() + DEFAULT_ADOPT_TIMEOUT_MS;
    for (;;) {
      try {
        const client = await connectRedis(endpointOptions(endpoint, 1000));
        try {
          await client.ping();
          return 'yes';
        } finally {
          client.disconnect();
        }
      } catch (err) {
        if (/WRONGPASS/.test((err as Error).message)) return 'wrong-password';
      }
      if (Date.now() >= deadline) return 'no';
      await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
    }
  }

  async #waitUntilReady(endpoint: RedisEndpoint): Promise<void> {
    const timeoutMs = this.#options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer yet';
    for (;;) {
      try {
        const client = await connectRedis(endpointOptions(endpoint, 1000));
        try {
          await client.ping();
          return;
        } finally {
          client.disconnect();
        }
      } catch (err) {
        last = (err as Error).message;
        if (/WRONGPASS/.test(last)) {
          throw serverError(`the local Redis server refused berth's admin password: ${last}`, `Another server may hold port ${endpoint.port}, or ${join(this.#dataDir, 'users.acl')} was changed by hand.`, err);
        }
      }
      if (Date.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
    }
    throw serverError(
      `the local Redis server did not answer on 127.0.0.1:${endpoint.port} within ${Math.round(timeoutMs / 1000)} s (${last})${await lastWords([join(this.#options.dir, 'server.log'), this.#logFile])}`,
      `Its files are in ${this.#options.dir}.`,
    );
  }
}
