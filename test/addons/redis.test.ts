import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { copyFile, chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync, statSync, watch } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { Redis, type RedisOptions } from 'ioredis';
import { createRedisProvider } from '../../src/addons/redis.ts';
import type { AddonContext, AddonProvider, Provisioned } from '../../src/addons/types.ts';
import { isBerthError, type ErrorCode } from '../../src/errors.ts';

// Real redis-servers throughout: berth's local one (run as Debian's redis
// user when the tests run as root), servers the tests start themselves for
// the admin-URL mode, and throwaway ones that open the backups.

const run = promisify(execFile);
const alpha: AddonContext = { app: 'alpha', user: null };
const beta: AddonContext = { app: 'beta', user: null };
const gamma: AddonContext = { app: 'gamma', user: null };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function waitFor<T>(what: string, attempt: () => Promise<T | null>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const result = await attempt();
      if (result !== null) return result;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function connect(options: RedisOptions | string): Promise<Redis> {
  const common: RedisOptions = { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false };
  const client = typeof options === 'string' ? new Redis(options, common) : new Redis({ ...common, ...options });
  client.on('error', () => {});
  try {
    await client.connect();
    return client;
  } catch (err) {
    client.disconnect();
    throw err;
  }
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<Error> {
  let caught: unknown = null;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(isBerthError(caught), `expected ${code}, got ${caught === null ? 'success' : String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

/** The raw replies to commands sent on a fresh connection, before any login a client library would do. */
function rawCommands(port: number, commands: string[][]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let replies = '';
    const timer = setTimeout(() => socket.destroy(new Error(`no answer: ${JSON.stringify(replies)}`)), 5000);
    socket.on('data', (chunk: Buffer) => {
      replies += chunk.toString();
      if (replies.split('\r\n').length > commands.length) socket.end();
    });
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(replies);
    });
    socket.write(commands.map((args) => `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`).join(''));
  });
}

/** A redis-server the test runs itself (as the test's user), killed in `after`. */
class TestServer {
  readonly child: ChildProcess;
  readonly port: number;
  output = '';

  constructor(child: ChildProcess, port: number) {
    this.child = child;
    this.port = port;
    child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
  }

  static async start(dir: string, args: string[], auth: RedisOptions = {}, config?: string): Promise<TestServer> {
    const port = await freePort();
    const child = spawn('redis-server', [...(config !== undefined ? [config] : []), '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--logfile', '', ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const server = new TestServer(child, port);
    await waitFor('the test redis-server', async () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited: ${server.output}`);
      const client = await connect({ port, ...auth });
      try {
        return await client.ping();
      } finally {
        client.disconnect();
      }
    });
    return server;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('close', resolve));
    process.kill(-this.child.pid!, 'SIGKILL');
    await exited;
  }
}

/** The keys (of every database) in an RDB file, opened by a throwaway server; redis-check-rdb must pass first. */
async function keysInRdb(file: string): Promise<string[]> {
  await run('redis-check-rdb', [file]);
  const dir = await mkdtemp(join(tmpdir(), 'berth-redis-test-rdb-'));
  const socket = join(dir, 's.sock');
  await copyFile(file, join(dir, 'dump.rdb'));
  const child = spawn('redis-server', ['--port', '0', '--unixsocket', socket, '--dir', dir, '--dbfilename', 'dump.rdb', '--save', '', '--appendonly', 'no', '--logfile', ''], { detached: true, stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('close', resolve));
  try {
    const client = await waitFor('the RDB to load', async () => {
      const candidate = await connect({ path: socket });
      try {
        await candidate.ping();
        return candidate;
      } catch (err) {
        candidate.disconnect();
        throw err;
      }
    });
    try {
      const keys: string[] = [];
      const keyspace = await client.info('keyspace');
      for (const match of keyspace.matchAll(/^db(\d+):/gm)) {
        await client.select(Number(match[1]));
        for (const key of await client.keys('*')) keys.push(match[1] === '0' ? key : `db${match[1]}/${key}`);
      }
      return keys.sort();
    } finally {
      client.disconnect();
    }
  } finally {
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
    await rm(dir, { recursive: true, force: true });
  }
}

/** Pids of processes carrying the marker in their environment. */
function markedProcesses(marker: string): number[] {
  const tag = Buffer.from(`BERTH_SUPERVISOR=${marker}\0`);
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`).includes(tag)) pids.push(Number(entry));
    } catch {
      // Gone.
    }
  }
  return pids;
}

/** Keys of an app's sample data set, written through its own REDIS_URL. */
async function writeSample(url: string, app: string): Promise<void> {
  const client = await connect(url);
  try {
    await client.set(`${app}:s`, 'string value');
    await client.hset(`${app}:h`, { a: '1', b: '2' });
    await client.rpush(`${app}:l`, 'x', 'y', 'z');
    await client.set(`${app}:ttl`, 'expiring', 'EX', 1000);
  } finally {
    client.disconnect();
  }
}

async function assertSample(client: Redis, app: string): Promise<void> {
  assert.equal(await client.get(`${app}:s`), 'string value');
  assert.deepEqual(await client.hgetall(`${app}:h`), { a: '1', b: '2' });
  assert.deepEqual(await client.lrange(`${app}:l`, 0, -1), ['x', 'y', 'z']);
  assert.equal(await client.get(`${app}:ttl`), 'expiring');
  const ttl = await client.pttl(`${app}:ttl`);
  assert.ok(ttl > 900_000 && ttl <= 1_000_000, `the expiry time survives (pttl ${ttl})`);
}

async function tempRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'berth-redis-test-'));
  // The local server runs as the redis user, who must pass through.
  await chmod(root, 0o711);
  return root;
}

describe('the local Redis server', () => {
  const marker = `redis-test-local-${process.pid}`;
  let root: string;
  let localDir: string;
  let provider: AddonProvider;
  let alphaAddon: Provisioned;
  let betaAddon: Provisioned;
  const logs: string[] = [];

  const admin = async (): Promise<Redis> => {
    const password = (await readFile(join(localDir, 'admin-password'), 'utf8')).trim();
    const port = Number((await readFile(join(localDir, 'port'), 'utf8')).trim());
    return connect({ port, username: 'berth', password });
  };

  before(async () => {
    root = await tempRoot();
    localDir = join(root, 'state', 'addons', 'redis');
    provider = createRedisProvider({
      adminUrl: null,
      localDir,
      userPrefix: 'berth-',
      supervisorMarker: marker,
      log: (line) => logs.push(line),
    });
  });

  after(async () => {
    await provider.close();
    await rm(root, { recursive: true, force: true });
  });

  test('start() runs a redis-server that lets nobody in without a password', async () => {
    await provider.start();
    await provider.start(); // cheap and idempotent
    const port = Number((await readFile(join(localDir, 'port'), 'utf8')).trim());
    assert.match(await rawCommands(port, [['SET', 'x', '1']]), /^-NOAUTH/);
    const client = await admin();
    try {
      assert.equal(await client.ping(), 'PONG');
      assert.equal(await client.call('CONFIG', 'GET', 'appendonly').then((reply) => (reply as string[])[1]), 'yes');
    } finally {
      client.disconnect();
    }
  });

  test('provisioning gives each app a REDIS_URL with its own user', async () => {
    alphaAddon = await provider.provision(alpha);
    betaAddon = await provider.provision(beta);
    const port = (await readFile(join(localDir, 'port'), 'utf8')).trim();
    assert.match(alphaAddon.vars.REDIS_URL!, new RegExp(`^redis://berth-alpha:[A-Za-z0-9_-]{43}@127\\.0\\.0\\.1:${port}/0$`));
    assert.deepEqual({ ...alphaAddon.resource, password: '-' }, { user: 'berth-alpha', password: '-', host: '127.0.0.1', port, prefix: 'alpha:' });
    assert.notEqual(alphaAddon.resource.password, betaAddon.resource.password);
    assert.deepEqual(provider.describe(alphaAddon.resource), { server: `127.0.0.1:${port}`, user: 'berth-alpha', prefix: 'alpha:' });
    // The users are saved, so they outlive a restart.
    assert.match(await readFile(join(localDir, 'data', 'users.acl'), 'utf8'), /^user berth-alpha on /m);
  });

  test('provisioning an app twice is refused', async () => {
    await rejectsWith(provider.provision(alpha), 'BERTH_E_ADDON_EXISTS');
  });

  test("an app reaches its own keys and channels, and not another app's", async () => {
    const a = await connect(alphaAddon.vars.REDIS_URL!);
    const b = await connect(betaAddon.vars.REDIS_URL!);
    try {
      assert.equal(await a.set('alpha:k', 'va'), 'OK');
      assert.equal(await a.get('alpha:k'), 'va');
      assert.equal(await b.set('beta:k', 'vb'), 'OK');
      await assert.rejects(a.get('beta:k'), /NOPERM/);
      await assert.rejects(a.set('beta:k', 'stolen'), /NOPERM/);
      await assert.rejects(a.del('beta:k'), /NOPERM/);
      await assert.rejects(a.rename('alpha:k', 'beta:k'), /NOPERM/);
      await assert.rejects(a.set('unprefixed', 'x'), /NOPERM/);
      await assert.rejects(a.set('alphabet:k', 'x'), /NOPERM/);
      await assert.rejects(a.eval("return redis.call('get', 'beta:k')", 0), /can't access|NOPERM/);
      assert.equal(await a.eval("return redis.call('get', KEYS[1])", 1, 'alpha:k'), 'va');
      assert.equal(await a.publish('alpha:events', 'hi'), 0);
      await assert.rejects(a.publish('beta:events', 'hi'), /NOPERM/);
      await assert.rejects(a.call('SUBSCRIBE', 'beta:events'), /NOPERM/);
      await assert.rejects(a.call('PSUBSCRIBE', '*'), /NOPERM/);
      assert.equal(await b.get('beta:k'), 'vb');
    } finally {
      a.disconnect();
      b.disconnect();
    }
  });

  test('an app cannot run commands that act on the whole server or list other apps\' keys', async () => {
    const a = await connect(alphaAddon.vars.REDIS_URL!);
    try {
      await a.rpush('alpha:list', '2', '1');
      const denied: string[][] = [
        ['FLUSHALL'],
        ['FLUSHDB'],
        ['CONFIG', 'GET', '*'],
        ['CONFIG', 'SET', 'maxmemory', '1'],
        ['ACL', 'LIST'],
        ['ACL', 'SETUSER', 'berth-alpha', '~*'],
        ['KEYS', '*'],
        ['SCAN', '0'],
        ['RANDOMKEY'],
        ['SELECT', '1'],
        ['SELECT', '0'],
        ['MOVE', 'alpha:k', '1'],
        ['COPY', 'alpha:k', 'alpha:k2', 'DB', '1'],
        ['SWAPDB', '0', '1'],
        ['MONITOR'],
        ['SLOWLOG', 'GET'],
        ['CLIENT', 'LIST'],
        ['CLIENT', 'KILL', 'ID', '1'],
        ['CLIENT', 'TRACKING', 'ON', 'BCAST'],
        ['PUBSUB', 'CHANNELS'],
        ['FUNCTION', 'FLUSH'],
        ['FUNCTION', 'LIST'],
        ['SCRIPT', 'FLUSH'],
        ['SCRIPT', 'KILL'],
        ['BGSAVE'],
        ['SAVE'],
        ['SHUTDOWN', 'NOSAVE'],
        ['REPLICAOF', '127.0.0.1', '1'],
        ['MIGRATE', '127.0.0.1', '1', 'alpha:k', '0', '1000'],
        ['RESTORE', 'alpha:r', '0', 'payload'],
        ['MODULE', 'LIST'],
      ];
      for (const command of denied) {
        await assert.rejects(a.call(command[0]!, ...command.slice(1)), /NOPERM/, command.join(' '));
      }
      // Refused by the server's config too (enable-debug-command no), whichever answers first.
      await assert.rejects(a.call('DEBUG', 'SLEEP', '0'), /NOPERM|not allowed/);
      await assert.rejects(a.call('SORT', 'alpha:list', 'BY', 'beta:*'), /denied/);
      await assert.rejects(a.call('SORT', 'alpha:list', 'GET', 'beta:*'), /denied/);
      // What apps commonly need still works.
      assert.match(await a.info('server'), /redis_version:7/);
      assert.equal(typeof (await a.dbsize()), 'number');
      assert.deepEqual(await a.sort('alpha:list'), ['1', '2']);
      assert.match(String(await a.call('SCRIPT', 'LOAD', 'return 1')), /^[0-9a-f]{40}$/);
      assert.equal(await a.call('ACL', 'WHOAMI'), 'berth-alpha');
      const [, members] = await a.sscan('alpha:list-set', '0');
      assert.deepEqual(members, []);
    } finally {
      a.disconnect();
    }
  });

  test("a backup holds the app's keys and nobody else's", async () => {
    await writeSample(alphaAddon.vars.REDIS_URL!, 'alpha');
    await writeSample(betaAddon.vars.REDIS_URL!, 'beta');
    const client = await admin();
    try {
      await client.set('unprefixed', 'admin');
      await client.select(1);
      await client.set('alpha:in-db-1', 'not in database 0');
    } finally {
      client.disconnect();
    }
    const file = join(root, 'alpha-1.rdb');
    await provider.dump(alpha, alphaAddon.resource, file, new AbortController().signal);
    assert.deepEqual(await keysInRdb(file), ['alpha:h', 'alpha:k', 'alpha:l', 'alpha:list', 'alpha:s', 'alpha:ttl']);
    assert.deepEqual(await readdir(join(localDir, 'scratch')), [], 'no scratch folder is left');
  });

  test("restoring into the app brings back its keys, values and expiry times, and leaves other apps' keys alone", async () => {
    const a = await connect(alphaAddon.vars.REDIS_URL!);
    const b = await connect(betaAddon.vars.REDIS_URL!);
    try {
      await a.del('alpha:s', 'alpha:ttl');
      await a.hset('alpha:h', 'a', 'changed');
      await a.rpush('alpha:l', 'extra');
      await a.set('alpha:after-backup', 'goes');
      await b.set('beta:s', 'changed after the backup');
      const report = await provider.restore(alpha, alphaAddon.resource, join(root, 'alpha-1.rdb'), { into: 'app' });
      assert.deepEqual(report, { summary: 'restored 6 keys into the app alpha', location: null });
      await assertSample(a, 'alpha');
      assert.equal(await a.exists('alpha:after-backup'), 0);
      assert.equal(await b.get('beta:s'), 'changed after the backup');
      assert.deepEqual(await b.hgetall('beta:h'), { a: '1', b: '2' });
    } finally {
      a.disconnect();
      b.disconnect();
    }
  });

  test("restoring into new puts the keys beside the app's, where the app can read them", async () => {
    const a = await connect(alphaAddon.vars.REDIS_URL!);
    try {
      await a.set('alpha:s', 'current');
      const report = await provider.restore(alpha, alphaAddon.resource, join(root, 'alpha-1.rdb'), { into: 'new', tag: 'r1' });
      assert.deepEqual(report, { summary: 'restored 6 keys of alpha under alpha:restore-r1:', location: 'alpha:restore-r1:' });
      assert.equal(await a.get('alpha:s'), 'current');
      await assertSample(a, 'alpha:restore-r1');
      assert.equal(await a.get('alpha:restore-r1:k'), 'va');
      await a.set('alpha:s', 'string value');
    } finally {
      a.disconnect();
    }
  });

  test('a file that is not an RDB is refused before any live key changes', async () => {
    const garbage = join(root, 'garbage.rdb');
    await writeFile(garbage, 'REDIS0011 but then nothing a server can load\n'.repeat(20));
    await rejectsWith(provider.restore(alpha, alphaAddon.resource, garbage, { into: 'app' }), 'BERTH_E_RESTORE_FAILED');
    const a = await connect(alphaAddon.vars.REDIS_URL!);
    try {
      await assertSample(a, 'alpha');
      assert.equal(await a.get('alpha:k'), 'va');
    } finally {
      a.disconnect();
    }
    assert.deepEqual(await readdir(join(localDir, 'scratch')), []);
  });

  test('a cancelled backup rejects and leaves no process or folder behind', async () => {
    const server = await admin();
    let serverPid: number;
    try {
      serverPid = Number(/^process_id:(\d+)/m.exec(await server.info('server'))![1]);
      // Other apps' keys the throwaway server must delete one by one: time to cancel it at work.
      for (let batch = 0; batch < 10; batch++) {
        const write = server.pipeline();
        for (let index = 0; index < 1000; index++) write.set(`filler:${batch}:${index}`, 'x');
        await write.exec();
      }
    } finally {
      server.disconnect();
    }
    const file = join(root, 'cancelled.rdb');
    await rejectsWith(provider.dump(alpha, alphaAddon.resource, file, AbortSignal.abort()), 'BERTH_E_ADDON_TOOL');

    // While redis-cli receives the snapshot: the server has logged (in its own log file) that it was asked for it.
    const duringTransfer = new AbortController();
    const serverLog = join(localDir, 'data', 'redis.log');
    let offset = statSync(serverLog).size;
    const watcher = watch(serverLog, () => {
      const text = readFileSync(serverLog).subarray(offset);
      offset += text.length;
      if (/asks for synchronization/.test(text.toString('utf8'))) duringTransfer.abort();
    });
    try {
      await rejectsWith(provider.dump(alpha, alphaAddon.resource, file, duringTransfer.signal), 'BERTH_E_ADDON_TOOL');
    } finally {
      watcher.close();
    }
    assert.ok(duringTransfer.signal.aborted);

    // While the throwaway server loads and filters it: its socket is there.
    const duringFilter = new AbortController();
    let settled = false;
    const dumping = provider.dump(alpha, alphaAddon.resource, file, duringFilter.signal).finally(() => (settled = true));
    const scratch = join(localDir, 'scratch');
    const deadline = Date.now() + 15_000;
    while (!settled && !duringFilter.signal.aborted && Date.now() < deadline) {
      for (const entry of await readdir(scratch).catch((): string[] => [])) {
        if ((await readdir(join(scratch, entry)).catch((): string[] => [])).includes('redis.sock')) duringFilter.abort();
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await rejectsWith(dumping, 'BERTH_E_ADDON_TOOL');
    assert.ok(duringFilter.signal.aborted, 'cancelled while the throwaway server ran');

    assert.deepEqual(markedProcesses(marker), [], 'no throwaway server is left (they carry the tag a starting daemon reaps)');
    assert.deepEqual(markedProcesses(`${marker}:redis`), [serverPid], 'the local server runs on (its own tag: adopted, not reaped)');
    assert.deepEqual(await readdir(scratch), []);
    const cleanup = await admin();
    try {
      let cursor = '0';
      do {
        const [next, keys] = await cleanup.scan(cursor, 'MATCH', 'filler:*', 'COUNT', 5000);
        cursor = next;
        if (keys.length > 0) await cleanup.unlink(...keys);
      } while (cursor !== '0');
    } finally {
      cleanup.disconnect();
    }
  });

  test('the server comes back after SIGKILL with its users and data', async () => {
    const before = await admin();
    let pid: number;
    try {
      pid = Number(/^process_id:(\d+)/m.exec(await before.info('server'))![1]);
    } finally {
      before.disconnect();
    }
    process.kill(pid, 'SIGKILL');
    const newPid = await waitFor('the restarted redis-server', async () => {
      const client = await admin();
      try {
        const now = Number(/^process_id:(\d+)/m.exec(await client.info('server'))![1]);
        return now !== pid ? now : null;
      } finally {
        client.disconnect();
      }
    });
    assert.notEqual(newPid, pid);
    await provider.start();
    const a = await connect(alphaAddon.vars.REDIS_URL!);
    try {
      await assertSample(a, 'alpha');
      await assert.rejects(a.get('beta:s'), /NOPERM/);
    } finally {
      a.disconnect();
    }
    assert.ok(logs.some((line) => /redis exited/.test(line)), 'the restart is in the log');
  });

  test("deprovisioning removes the app's keys and user, leaves others, and may be repeated", async () => {
    await provider.deprovision(alpha, alphaAddon.resource);
    const client = await admin();
    try {
      assert.equal(await client.call('ACL', 'GETUSER', 'berth-alpha'), null);
      assert.deepEqual(await client.keys('alpha:*'), []);
      assert.equal(await client.get('beta:s'), 'changed after the backup');
      assert.notEqual(await client.call('ACL', 'GETUSER', 'berth-beta'), null);
    } finally {
      client.disconnect();
    }
    const port = Number(new URL(alphaAddon.vars.REDIS_URL!).port);
    assert.match(await rawCommands(port, [['AUTH', 'berth-alpha', alphaAddon.resource.password!]]), /^-WRONGPASS/);
    assert.doesNotMatch(await readFile(join(localDir, 'data', 'users.acl'), 'utf8'), /berth-alpha/);
    await provider.deprovision(alpha, alphaAddon.resource);
    await provider.deprovision(gamma, {});
  });

  test('close() stops the server, and start() after it starts it again on the same port with the same data', async () => {
    await provider.close();
    await provider.close();
    assert.deepEqual([...markedProcesses(marker), ...markedProcesses(`${marker}:redis`)], []);
    await provider.start();
    const b = await connect(betaAddon.vars.REDIS_URL!);
    try {
      assert.equal(await b.get('beta:s'), 'changed after the backup');
      assert.deepEqual(await b.lrange('beta:l', 0, -1), ['x', 'y', 'z']);
    } finally {
      b.disconnect();
    }
  });
});

describe('a Redis server given by admin URL', () => {
  const marker = `redis-test-external-${process.pid}`;
  let root: string;
  let server: TestServer;
  let provider: AddonProvider;
  let gammaAddon: Provisioned;
  const logs: string[] = [];
  const servers: TestServer[] = [];
  const adminAuth = { username: 'admin', password: 'admin-secret' };

  before(async () => {
    root = await tempRoot();
    const dir = join(root, 'server');
    await mkdir(dir);
    await writeFile(join(dir, 'users.acl'), 'user default off\nuser admin on >admin-secret ~* &* +@all\n');
    // No 5 s wait for more replicas before a snapshot is sent (the default): the test would only be slower.
    server = await TestServer.start(dir, ['--aclfile', join(dir, 'users.acl'), '--repl-diskless-sync-delay', '0'], adminAuth);
    servers.push(server);
    provider = createRedisProvider({
      adminUrl: `redis://admin:admin-secret@127.0.0.1:${server.port}`,
      localDir: join(root, 'state', 'addons', 'redis'),
      userPrefix: 'berth-',
      supervisorMarker: marker,
      log: (line) => logs.push(line),
    });
  });

  after(async () => {
    await provider.close();
    for (const each of servers) await each.stop();
    await rm(root, { recursive: true, force: true });
  });

  test('start() accepts a server with ACL users and no passwordless user', async () => {
    await provider.start();
    await provider.start();
  });

  test('provision, backup, restore and deprovision go through the admin URL', async () => {
    gammaAddon = await provider.provision(gamma);
    assert.equal(gammaAddon.vars.REDIS_URL, `redis://berth-gamma:${gammaAddon.resource.password}@127.0.0.1:${server.port}/0`);
    // The server has an ACL file: the user was saved in it.
    assert.match(await readFile(join(root, 'server', 'users.acl'), 'utf8'), /^user berth-gamma on /m);
    await writeSample(gammaAddon.vars.REDIS_URL!, 'gamma');
    const client = await connect({ port: server.port, ...adminAuth });
    try {
      await client.set('other:key', 'not gamma');
      const file = join(root, 'gamma.rdb');
      await provider.dump(gamma, gammaAddon.resource, file, new AbortController().signal);
      assert.deepEqual(await keysInRdb(file), ['gamma:h', 'gamma:l', 'gamma:s', 'gamma:ttl']);
      await client.del('gamma:s', 'gamma:h');
      await client.set('gamma:new', 'goes');
      assert.equal((await provider.restore(gamma, gammaAddon.resource, file, { into: 'app' })).summary, 'restored 4 keys into the app gamma');
      const g = await connect(gammaAddon.vars.REDIS_URL!);
      try {
        await assertSample(g, 'gamma');
        assert.equal(await g.exists('gamma:new'), 0);
      } finally {
        g.disconnect();
      }
      assert.equal(await client.get('other:key'), 'not gamma');
      await provider.deprovision(gamma, gammaAddon.resource);
      assert.deepEqual(await client.keys('gamma:*'), []);
      assert.equal(await client.call('ACL', 'GETUSER', 'berth-gamma'), null);
      assert.equal(await client.get('other:key'), 'not gamma');
    } finally {
      client.disconnect();
    }
  });

  test('on a server without an ACL file, users are saved by CONFIG REWRITE into its config file', async () => {
    const dir = join(root, 'with-config');
    await mkdir(dir);
    const config = join(dir, 'redis.conf');
    await writeFile(config, 'user default off\nuser admin on >admin-secret ~* &* +@all\n');
    const configured = await TestServer.start(dir, [], adminAuth, config);
    servers.push(configured);
    const other = createRedisProvider({ adminUrl: `redis://admin:admin-secret@127.0.0.1:${configured.port}`, localDir: join(root, 'with-config-state'), userPrefix: 'berth-', supervisorMarker: marker, log: (line) => logs.push(line) });
    await other.provision(gamma);
    assert.match(await readFile(config, 'utf8'), /^user berth-gamma on /m);
    await other.deprovision(gamma, {});
    assert.doesNotMatch(await readFile(config, 'utf8'), /berth-gamma/);
  });

  test('on a server with neither an ACL file nor a config file, provisioning works and warns that the user lasts until a restart', async () => {
    const dir = join(root, 'bare');
    await mkdir(dir);
    const bare = await TestServer.start(dir, ['--user', 'default', 'off', '--user', 'admin', 'on', '>admin-secret', '~*', '&*', '+@all'], adminAuth);
    servers.push(bare);
    const warned: string[] = [];
    const other = createRedisProvider({ adminUrl: `redis://admin:admin-secret@127.0.0.1:${bare.port}`, localDir: join(root, 'bare-state'), userPrefix: 'berth-', supervisorMarker: marker, log: (line) => warned.push(line) });
    const addon = await other.provision(gamma);
    assert.ok(warned.some((line) => /berth-gamma .*holds only until that server restarts/.test(line)), warned.join('\n'));
    const g = await connect(addon.vars.REDIS_URL!);
    try {
      assert.equal(await g.set('gamma:x', '1'), 'OK');
    } finally {
      g.disconnect();
    }
  });

  test('an admin that may not manage users or take snapshots is refused', async () => {
    const client = await connect({ port: server.port, ...adminAuth });
    try {
      await client.call('ACL', 'SETUSER', 'weak', 'on', '>weak-secret', '~*', '+@read', '+@connection', '+info', '+acl|whoami', '+acl|list', '+acl|dryrun');
    } finally {
      client.disconnect();
    }
    const weak = createRedisProvider({ adminUrl: `redis://weak:weak-secret@127.0.0.1:${server.port}`, localDir: join(root, 'weak'), userPrefix: 'berth-', supervisorMarker: marker, log: () => {} });
    const err = await rejectsWith(weak.start(), 'BERTH_E_ADDON_SERVER');
    assert.match(err.message, /may not run .*ACL SETUSER.*SYNC/);
    const wrong = createRedisProvider({ adminUrl: `redis://admin:wrong@127.0.0.1:${server.port}`, localDir: join(root, 'wrong'), userPrefix: 'berth-', supervisorMarker: marker, log: () => {} });
    await rejectsWith(wrong.start(), 'BERTH_E_ADDON_SERVER');
  });

  test('an unreachable server is refused', async () => {
    const nowhere = createRedisProvider({ adminUrl: `redis://admin:x@127.0.0.1:${await freePort()}`, localDir: join(root, 'nowhere'), userPrefix: 'berth-', supervisorMarker: marker, log: () => {} });
    const err = await rejectsWith(nowhere.start(), 'BERTH_E_ADDON_SERVER');
    assert.doesNotMatch(err.message, /x@/, 'no password in the message');
  });

  test('a server whose default user needs no password is refused as insecure', async () => {
    const dir = join(root, 'open');
    await mkdir(dir);
    const open = await TestServer.start(dir, []);
    servers.push(open);
    const insecure = createRedisProvider({ adminUrl: `redis://127.0.0.1:${open.port}`, localDir: join(root, 'open-state'), userPrefix: 'berth-', supervisorMarker: marker, log: () => {} });
    const err = await rejectsWith(insecure.start(), 'BERTH_E_ADDON_INSECURE');
    assert.match(err.message, /"default"/);
    await rejectsWith(insecure.provision(gamma), 'BERTH_E_ADDON_INSECURE');
  });
});
