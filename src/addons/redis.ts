import { randomBytes } from 'node:crypto';
import { lchown } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { BerthError, isBerthError } from '../errors.ts';
import { appName } from '../platform/names.ts';
import { LOCAL_ADMIN_USER, LocalRedis, connectRedis, copyNoFollow, endpointOptions, redisProgram, redisRunAs, type RedisEndpoint } from './redis-local.ts';
import { ScratchRedis } from './scratch-redis.ts';
import { runTool, toolEnv } from './run-tool.ts';
import type { AddonContext, AddonProvider, Provisioned, RestoreReport, RestoreTarget } from './types.ts';

// The Redis add-on: each app gets an ACL user on one shared Redis server
// (berth's own local one, or the one --redis-admin-url names) that may only
// touch keys and channels under "<app>:". App names cannot contain ":", so
// one app's prefix never contains another's.
//
// Backups are RDB files: the server makes a point-in-time snapshot for a
// replica (what BGSAVE makes), redis-cli --rdb receives it, a throwaway
// redis-server loads it and drops every key that is not the app's, and its
// SAVE is the backup. Restores load an RDB into a throwaway server the same
// way and copy the app's keys to the live server with DUMP/RESTORE.

export interface RedisProviderOptions {
  /** redis://[USER:PASSWORD@]HOST:PORT of an admin on a server berth does not run, or null for the local server. */
  readonly adminUrl: string | null;
  /** STATE/addons/redis: the local server's files, and scratch folders for backups in both modes. */
  readonly localDir: string;
  /** The ACL user of app A is userPrefix + A, e.g. "berth-A". */
  readonly userPrefix: string;
  /** Carried as SUPERVISOR_ENV by every redis-server berth starts. */
  readonly supervisorMarker: string;
  readonly log: (line: string) => void;
  /** The sandboxes' service address: the local server binds it too (null or absent: apps run uncontained). */
  readonly serviceAddress?: string | null;
}

const SCAN_COUNT = 1000;
const COPY_BATCH = 200;
const MIN_MAJOR_VERSION = 7;

const ADMIN_HINT =
  'The admin in --redis-admin-url needs every command on every key and channel (ACL SETUSER <admin> on >PASSWORD ~* &* +@all): berth manages users (ACL), deletes and restores keys (SCAN, UNLINK, DUMP, RESTORE) and takes snapshots (SYNC, as a replica would).';

/**
 * The rules of an app's user, after `reset on >PASSWORD`. Redis 7 checks key
 * and channel patterns on every command (in scripts too, and on SORT's
 * BY/GET patterns), so the work is in denying the commands that act on the
 * whole server or show what other apps have:
 *
 * - -@admin -@dangerous: FLUSHALL, FLUSHDB, KEYS, CONFIG, DEBUG, ACL,
 *   MONITOR, SLOWLOG (other apps' commands with their arguments), CLIENT
 *   LIST/KILL/PAUSE, SHUTDOWN, SAVE/BGSAVE, REPLICAOF, SYNC, MIGRATE,
 *   RESTORE (a crafted payload could crash the server), MODULE, …
 * - +info: server statistics only (memory, client counts, keys per
 *   database), no key names or values; queue libraries (Sidekiq, BullMQ)
 *   read the server version from it and fail without it.
 * - +sort +sort_ro: @dangerous only for their BY/GET patterns, which Redis 7
 *   refuses unless the user may read every key.
 * - -select, -move -copy -swapdb: every app stays in database 0, where
 *   backups, restores and deprovisioning look; keys carried to another
 *   database (COPY … DB n) would outlive the app and be found by the next
 *   app of the same name. Clients send no SELECT for a /0 URL. (Allowing
 *   just "SELECT 0" would need +select|0, a first-argument rule Redis 7
 *   deprecates and logs a warning for.)
 * - -scan -randomkey: SCAN is not filtered by key patterns in Redis 7 — it
 *   lists every app's key names, and key names often hold session ids or
 *   tokens ("session:<id>") that open the other app's front door. Apps that
 *   must enumerate their keys keep a set of them (or use SSCAN/HSCAN on
 *   their own keys, which are allowed).
 * - -client|tracking: in BCAST mode the server pushes invalidations for
 *   every key under any prefix the client names, another app's included.
 * - -pubsub|channels -pubsub|shardchannels: list every app's channels.
 * - -function, -script|flush, -script|kill: functions and the script cache
 *   are server-wide; one app could delete or replace another's library, read
 *   its code, or kill another app's running script. EVAL/EVALSHA and SCRIPT
 *   LOAD stay (their commands are checked against the user's keys).
 */
export function appAclRules(app: string): string[] {
  const prefix = `${app}:`;
  return [
    `~${prefix}*`,
    `&${prefix}*`,
    '+@all',
    '-@admin',
    '-@dangerous',
    '+info',
    '+sort',
    '+sort_ro',
    '-select',
    '-move',
    '-copy',
    '-swapdb',
    '-scan',
    '-randomkey',
    '-client|tracking',
    '-pubsub|channels',
    '-pubsub|shardchannels',
    '-function',
    '-script|flush',
    '-script|kill',
  ];
}

function serverError(message: string, hint?: string, cause?: unknown): BerthError {
  return new BerthError('BERTH_E_ADDON_SERVER', message, { status: 503, hint, cause });
}

function restoreError(message: string, cause?: unknown): BerthError {
  return new BerthError('BERTH_E_RESTORE_FAILED', message, { status: 500, cause });
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function cancelled(what: string): BerthError {
  return new BerthError('BERTH_E_ADDON_TOOL', `the ${what} was cancelled`, { status: 500 });
}

/** host:port, with an IPv6 address in brackets. */
function hostPort(host: string, port: number | string): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The admin URL, split; its password never goes into a message. */
export function parseAdminUrl(url: string): RedisEndpoint {
  const hint = 'Give --redis-admin-url as redis://USER:PASSWORD@HOST:PORT (rediss:// for TLS).';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw serverError('the Redis admin URL is not a URL', hint);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw serverError(`the Redis admin URL has the scheme ${parsed.protocol}, not redis: or rediss:`, hint);
  if (parsed.hostname === '') throw serverError('the Redis admin URL names no host', hint);
  const decode = (part: string, what: string): string | null => {
    if (part === '') return null;
    try {
      return decodeURIComponent(part);
    } catch {
      throw serverError(`the ${what} in the Redis admin URL is not properly %-encoded`, hint);
    }
  };
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port === '' ? 6379 : Number(parsed.port),
    user: decode(parsed.username, 'user name'),
    password: decode(parsed.password, 'password'),
    tls: parsed.protocol === 'rediss:',
  };
}

/** Deletes every key matching `pattern` in database 0, a batch at a time; returns how many. */
async function unlinkMatching(client: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let count = 0;
  do {
    const [next, keys] = await client.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
    cursor = next.toString();
    if (keys.length > 0) count += await client.unlink(...keys);
  } while (cursor !== '0');
  return count;
}

/**
 * Leaves only `prefix`'s keys in a scratch server: other databases flushed,
 * functions (server-wide, never an app's) dropped, other keys of database 0
 * deleted.
 */
async function keepOnlyPrefix(client: Redis, prefix: string, signal: AbortSignal): Promise<void> {
  const keyspace = await client.info('keyspace');
  for (const match of keyspace.matchAll(/^db(\d+):/gm)) {
    if (match[1] === '0') continue;
    await client.call('SELECT', match[1]!);
    await client.flushdb();
  }
  await client.call('SELECT', '0');
  await client.call('FUNCTION', 'FLUSH');
  const wanted = Buffer.from(prefix);
  let cursor = '0';
  do {
    if (signal.aborted) throw cancelled('backup');
    const [next, keys] = await client.scanBuffer(cursor, 'COUNT', SCAN_COUNT);
    cursor = next.toString();
    const others = keys.filter((key) => !key.subarray(0, wanted.length).equals(wanted));
    if (others.length > 0) await client.unlink(...others);
  } while (cursor !== '0');
}

class RedisProvider implements AddonProvider {
  readonly kind = 'redis' as const;
  readonly dumpSuffix = 'rdb';
  readonly #options: RedisProviderOptions;
  readonly #local: LocalRedis | null;
  readonly #external: RedisEndpoint | null;
  #checked: Promise<void> | null = null;

  constructor(options: RedisProviderOptions) {
    this.#options = options;
    this.#external = options.adminUrl === null ? null : parseAdminUrl(options.adminUrl);
    this.#local = options.adminUrl === null ? new LocalRedis({ dir: options.localDir, supervisorMarker: options.supervisorMarker, log: options.log, serviceAddress: options.serviceAddress ?? null }) : null;
  }

  async start(): Promise<void> {
    await this.#endpoint();
  }

  /** The admin endpoint of a server that answers (local: started, or restarted after a crash; external: checked once). */
  async #endpoint(): Promise<RedisEndpoint> {
    if (this.#local !== null) return this.#local.ready();
    const external = this.#external!;
    this.#checked ??= this.#withClient(external, (client) => this.#checkExternal(client, external)).catch((err: unknown) => {
      this.#checked = null;
      throw err;
    });
    await this.#checked;
    return external;
  }

  async #withClient<T>(endpoint: RedisEndpoint, use: (client: Redis) => Promise<T>): Promise<T> {
    let client: Redis;
    try {
      client = await connectRedis(endpointOptions(endpoint));
    } catch (err) {
      const message = messageOf(err);
      const refused = /WRONGPASS|NOAUTH|NOPERM/.test(message);
      throw serverError(
        `cannot ${refused ? 'log in to' : 'reach'} the Redis server at ${hostPort(endpoint.host, endpoint.port)}: ${message}`,
        refused ? 'Check the user name and password in --redis-admin-url.' : this.#local !== null ? `The local server's files are in ${this.#options.localDir}.` : 'Check that the server runs and that --redis-admin-url names it.',
        err,
      );
    }
    try {
      return await use(client);
    } finally {
      client.disconnect();
    }
  }

  async #withAdmin<T>(use: (client: Redis, endpoint: RedisEndpoint) => Promise<T>): Promise<T> {
    const endpoint = await this.#endpoint();
    return this.#withClient(endpoint, (client) => use(client, endpoint));
  }

  /**
   * A server berth does not run must be Redis 7 (per-command key checks in
   * scripts and SORT), must not let anyone in without a password (apps
   * could log in as that user and read each other's keys), and must let the
   * admin do what berth does.
   */
  async #checkExternal(client: Redis, endpoint: RedisEndpoint): Promise<void> {
    const where = hostPort(endpoint.host, endpoint.port);
    const ask = async <T>(what: string, command: Promise<T>): Promise<T> => {
      try {
        return await command;
      } catch (err) {
        throw serverError(`the admin of the Redis server at ${where} cannot run ${what}: ${messageOf(err)}`, ADMIN_HINT, err);
      }
    };
    const info = await ask('INFO', client.info('server'));
    const version = /^redis_version:(\S+)/m.exec(info)?.[1] ?? 'unknown';
    if (!(Number.parseInt(version, 10) >= MIN_MAJOR_VERSION)) {
      throw serverError(`the Redis server at ${where} runs Redis ${version}; berth needs Redis ${MIN_MAJOR_VERSION} or newer`, 'Older versions do not check ACL key patterns in scripts and SORT, so apps could read each other\'s keys.');
    }
    const users = (await ask('ACL LIST', client.call('ACL', 'LIST'))) as string[];
    for (const line of users) {
      const [, name, ...rules] = line.split(' ');
      if (rules.includes('on') && rules.includes('nopass')) {
        throw new BerthError('BERTH_E_ADDON_INSECURE', `the Redis server at ${where} lets anyone in as the user "${name}" without a password`, {
          status: 503,
          hint: `Apps could log in as "${name}" and read each other's keys. Turn it off or give it a password (ACL SETUSER ${name} off, or requirepass for "default"), then try again.`,
        });
      }
    }
    const admin = String(await ask('ACL WHOAMI', client.call('ACL', 'WHOAMI')));
    const needed: string[][] = [['ACL', 'SETUSER', 'x'], ['ACL', 'DELUSER', 'x'], ['ACL', 'GETUSER', 'x'], ['SCAN', '0'], ['UNLINK', 'app:x'], ['DUMP', 'app:x'], ['RESTORE', 'app:x', '0', 'x'], ['SYNC']];
    const missing: string[] = [];
    for (const command of needed) {
      const verdict = String(await ask('ACL DRYRUN', client.call('ACL', 'DRYRUN', admin, ...command)));
      if (verdict !== 'OK') missing.push(command.slice(0, command[0] === 'ACL' ? 2 : 1).join(' '));
    }
    if (missing.length > 0) throw serverError(`the admin "${admin}" of the Redis server at ${where} may not run ${missing.join(', ')}`, ADMIN_HINT);
  }

  /**
   * Makes user changes survive a server restart: ACL SAVE when the server
   * has an ACL file (berth's local one always does), else CONFIG REWRITE
   * (users go to its redis.conf), else a warning — the change holds only
   * until that server restarts.
   */
  async #persistUsers(client: Redis, endpoint: RedisEndpoint, what: string): Promise<void> {
    let reason: string;
    try {
      await client.call('ACL', 'SAVE');
      return;
    } catch (err) {
      if (this.#local !== null) throw serverError(`the local Redis server could not save its users: ${messageOf(err)}`, `Its files are in ${this.#options.localDir}.`, err);
      reason = messageOf(err);
    }
    try {
      await client.call('CONFIG', 'REWRITE');
      return;
    } catch (err) {
      reason = `${reason}; ${messageOf(err)}`;
    }
    this.#options.log(
      `redis: warning: ${what} on ${hostPort(endpoint.host, endpoint.port)} holds only until that server restarts: it has no ACL file and its config cannot be rewritten (${reason}). Give it an aclfile so berth can ACL SAVE.`,
    );
  }

  #userOf(app: string, resource: Readonly<Record<string, string>> = {}): string {
    const stored = resource.user;
    // The stored name wins (the prefix may have changed since), but never one
    // berth did not make: not the default user, not the admin.
    if (stored !== undefined && stored !== '' && stored !== 'default' && stored !== LOCAL_ADMIN_USER && stored !== this.#external?.user && !/\s/.test(stored)) return stored;
    return `${this.#options.userPrefix}${app}`;
  }

  async provision(context: AddonContext): Promise<Provisioned> {
    const app = appName(context.app);
    const user = this.#userOf(app);
    return this.#withAdmin(async (client, endpoint) => {
      if ((await client.call('ACL', 'GETUSER', user)) !== null) {
        throw new BerthError('BERTH_E_ADDON_EXISTS', `the Redis server already has a user ${user}`, {
          status: 409,
          hint: `Destroy the app's redis add-on first, or remove the user on the server (ACL DELUSER ${user}).`,
        });
      }
      // base64url: no character a URL or ACL SETUSER would need escaped.
      const password = randomBytes(32).toString('base64url');
      await client.call('ACL', 'SETUSER', user, 'reset', 'on', `>${password}`, ...appAclRules(app));
      try {
        await this.#persistUsers(client, endpoint, `the user ${user}`);
      } catch (err) {
        await client.call('ACL', 'DELUSER', user).catch(() => {});
        throw err;
      }
      const server = hostPort(endpoint.host, endpoint.port);
      return {
        vars: { REDIS_URL: `${endpoint.tls ? 'rediss' : 'redis'}://${encodeURIComponent(user)}:${password}@${server}/0` },
        resource: { user, password, host: endpoint.host, port: String(endpoint.port), prefix: `${app}:` },
      };
    });
  }

  async deprovision(context: AddonContext, resource: Readonly<Record<string, string>>): Promise<void> {
    const app = appName(context.app);
    const user = this.#userOf(app, resource);
    await this.#withAdmin(async (client, endpoint) => {
      // The user first: DELUSER also disconnects its clients, so nothing
      // writes new keys while the old ones go.
      const deleted = Number(await client.call('ACL', 'DELUSER', user));
      if (deleted > 0) await this.#persistUsers(client, endpoint, `deleting the user ${user}`);
      // The prefix always from the app's name, never from the stored resource.
      const keys = await unlinkMatching(client, `${app}:*`);
      this.#options.log(`redis: removed the user ${user} and ${keys} keys of ${app}`);
    });
  }

  async dump(context: AddonContext, _resource: Readonly<Record<string, string>>, file: string, signal: AbortSignal): Promise<void> {
    const app = appName(context.app);
    if (signal.aborted) throw cancelled('backup');
    const endpoint = await this.#endpoint();
    const cli = await redisProgram('redis-cli');
    const runAs = await redisRunAs();
    const scratch = await ScratchRedis.prepare({ parent: this.#scratchParent(), user: runAs, supervisorMarker: this.#options.supervisorMarker, signal });
    const onAbort = () => void scratch.close();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      try {
        await runTool(
          [
            cli,
            '-h', endpoint.host,
            '-p', String(endpoint.port),
            ...(endpoint.user !== null ? ['--user', endpoint.user] : []),
            ...(endpoint.tls ? ['--tls', '--sni', endpoint.host] : []),
            '--rdb', scratch.rdbFile,
          ],
          // The password in the environment: argv is world-readable in /proc.
          { env: toolEnv(endpoint.password !== null ? { REDISCLI_AUTH: endpoint.password } : {}), user: runAs, cwd: scratch.dir, signal },
        );
      } catch (err) {
        if (signal.aborted || !isBerthError(err)) throw err;
        throw new BerthError(err.code, `cannot take a snapshot of the Redis server at ${hostPort(endpoint.host, endpoint.port)}: ${err.message}`, {
          status: err.status,
          hint: 'redis-cli --rdb asks the server for the snapshot it would send a new replica (a BGSAVE): the admin user must be allowed SYNC and PSYNC, and the server must have the memory and disk to fork and write it.',
          cause: err,
        });
      }
      await scratch.start();
      await keepOnlyPrefix(scratch.client, `${app}:`, signal);
      await scratch.save();
      await copyNoFollow(scratch.rdbFile, file);
    } catch (err) {
      if (signal.aborted && !(isBerthError(err) && err.code === 'BERTH_E_ADDON_TOOL')) throw cancelled('backup');
      throw err;
    } finally {
      signal.removeEventListener('abort', onAbort);
      await scratch.close();
    }
    // A caller that cancelled gets a rejection, even when the cancel came as the work ended.
    if (signal.aborted) throw cancelled('backup');
  }

  async restore(context: AddonContext, _resource: Readonly<Record<string, string>>, file: string, target: RestoreTarget): Promise<RestoreReport> {
    const app = appName(context.app);
    if (target.into === 'new' && !/^[A-Za-z0-9_-]{1,64}$/.test(target.tag)) {
      throw new BerthError('BERTH_E_NAME', `the restore tag ${JSON.stringify(target.tag)} cannot be part of a key prefix`, { hint: 'Tags are letters, digits, "-" and "_".' });
    }
    await this.#endpoint();
    const runAs = await redisRunAs();
    const scratch = await ScratchRedis.prepare({ parent: this.#scratchParent(), user: runAs, supervisorMarker: this.#options.supervisorMarker });
    try {
      try {
        await copyNoFollow(file, scratch.rdbFile);
        if (runAs !== null) await lchown(scratch.rdbFile, runAs.uid, runAs.gid);
        // Loading it is the check that it is an RDB at all: before any live key is touched.
        await scratch.start();
      } catch (err) {
        throw restoreError(`the backup cannot be loaded as a Redis snapshot: ${messageOf(err)}`, err);
      }
      const source = `${app}:`;
      const destination = target.into === 'app' ? source : `${app}:restore-${target.tag}:`;
      const count = await this.#withAdmin((live) => copyKeys(scratch.client, live, app, source, destination));
      return target.into === 'app'
        ? { summary: `restored ${count} keys into the app ${app}`, location: null }
        : { summary: `restored ${count} keys of ${app} under ${destination}`, location: destination };
    } finally {
      await scratch.close();
    }
  }

  describe(resource: Readonly<Record<string, string>>): Record<string, string> {
    return {
      server: hostPort(resource.host ?? '', resource.port ?? ''),
      user: resource.user ?? '',
      prefix: resource.prefix ?? '',
    };
  }

  async close(options: { readonly leaveRunning?: boolean } = {}): Promise<void> {
    await this.#local?.close(options);
  }

  directPort(): number | null {
    return this.#local?.directPort() ?? null;
  }

  /** Scratch folders beside the local server's (on the state disk, not a small tmpfs). */
  #scratchParent(): string {
    return join(this.#options.localDir, 'scratch');
  }
}

/**
 * Copies the app's keys from a scratch server to the live one, their names
 * moved from `source` to `destination`, their expiry times kept. Keys
 * already under `destination` go first; that is only done once the live
 * server has shown it takes this snapshot's DUMP payloads (an older Redis
 * refuses a newer one's), so a snapshot it cannot take leaves the app as it
 * was.
 */
async function copyKeys(scratch: Redis, live: Redis, app: string, source: string, destination: string): Promise<number> {
  const pattern = `${source}*`;
  const from = Buffer.from(source);
  const to = Buffer.from(destination);
  const rename = (key: Buffer) => (source === destination ? key : Buffer.concat([to, key.subarray(from.length)]));

  let first: Buffer | null = null;
  let cursor = '0';
  do {
    const [next, keys] = await scratch.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
    cursor = next.toString();
    first = keys[0] ?? null;
  } while (first === null && cursor !== '0');
  if (first !== null) {
    const probe = `${app}:restore-probe-${randomBytes(6).toString('hex')}`;
    try {
      await live.callBuffer('RESTORE', probe, '0', await scratch.dumpBuffer(first), 'REPLACE');
      await live.unlink(probe);
    } catch (err) {
      throw restoreError(`the Redis server does not take this snapshot's keys (${messageOf(err)}); the app's keys were not changed`, err);
    }
  }

  try {
    await unlinkMatching(live, `${destination}*`);
    let count = 0;
    cursor = '0';
    do {
      const [next, keys] = await scratch.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', COPY_BATCH);
      cursor = next.toString();
      if (keys.length === 0) continue;
      const read = scratch.pipeline();
      for (const key of keys) {
        read.dumpBuffer(key);
        read.pexpiretime(key);
      }
      const values = (await read.exec()) ?? [];
      const write = live.pipeline();
      let writes = 0;
      keys.forEach((key, index) => {
        const [dumpError, payload] = values[index * 2] ?? [null, null];
        const [, expiresAt] = values[index * 2 + 1] ?? [null, -2];
        if (dumpError !== null) throw dumpError;
        // Expired or gone since the scan.
        if (payload === null || expiresAt === -2) return;
        const at = Number(expiresAt);
        write.callBuffer('RESTORE', rename(key), at > 0 ? String(at) : '0', payload as Buffer, 'REPLACE', ...(at > 0 ? ['ABSTTL'] : []));
        writes++;
      });
      if (writes === 0) continue;
      for (const [err] of (await write.exec()) ?? []) if (err !== null) throw err;
      count += writes;
    } while (cursor !== '0');
    return count;
  } catch (err) {
    if (isBerthError(err)) throw err;
    throw restoreError(`the restore stopped part-way (${messageOf(err)}): keys under ${destination} are incomplete; restoring again starts over`, err);
  }
}

/** The Redis add-on provider (see RedisProviderOptions for the two server modes). */
export function createRedisProvider(options: RedisProviderOptions): AddonProvider {
  return new RedisProvider(options);
}
