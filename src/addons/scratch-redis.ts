import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, lchown, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { BerthError } from '../errors.ts';
import { LineSplitter, SUPERVISOR_ENV } from '../runner/index.ts';
import { RecentLines } from './local-server.ts';
import { connectRedis, redisProgram, SHORT_LIVED } from './redis-local.ts';
import { toolEnv } from './run-tool.ts';
import type { AddonUser } from './types.ts';

// The throwaway redis-server processes backups and restores load an RDB
// snapshot into (Unix socket only, no persistence): never the local server,
// never adopted; a killed daemon's are reaped at the next start by their
// tag (the add-ons' marker, without a kind).

/** sun_path is 108 bytes with its NUL; a longer socket path cannot be bound. */
const MAX_SOCKET_PATH = 100;

export interface ScratchRedisOptions {
  /** A folder to make the scratch folder in (it falls back to the system's temp folder when the socket path would be too long). */
  readonly parent: string;
  readonly user: AddonUser | null;
  readonly supervisorMarker: string;
  readonly signal?: AbortSignal;
}

/**
 * A throwaway redis-server that loads one RDB file: listening on a Unix
 * socket only (0700, its user's), saving nothing unless told to. Made in a
 * fresh folder the server's user owns; close() kills it and removes the
 * folder. Used to look inside a snapshot without touching a live server.
 */
export class ScratchRedis {
  readonly dir: string;
  /** Where the server loads its data from at start and where SAVE writes it. */
  readonly rdbFile: string;
  readonly #options: ScratchRedisOptions;
  readonly #recent = new RecentLines();
  #child: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  #client: Redis | null = null;

  private constructor(dir: string, options: ScratchRedisOptions) {
    this.dir = dir;
    this.rdbFile = join(dir, 'dump.rdb');
    this.#options = options;
  }

  /** Makes the folder (the caller puts the RDB at `rdbFile`, then calls start()). */
  static async prepare(options: ScratchRedisOptions): Promise<ScratchRedis> {
    await mkdir(options.parent, { recursive: true, mode: 0o711 });
    let dir = await mkdtemp(join(options.parent, 'scratch-'));
    if (join(dir, 'redis.sock').length > MAX_SOCKET_PATH) {
      await rm(dir, { recursive: true, force: true });
      dir = await mkdtemp(join(tmpdir(), 'berth-redis-'));
    }
    // Closed (mkdtemp makes it 0700; said again) while still root's, then given: once it is the redis user's, in /tmp it could be renamed away and a link left for the chmod to follow.
    await chmod(dir, 0o700);
    if (options.user !== null) await lchown(dir, options.user.uid, options.user.gid);
    return new ScratchRedis(dir, options);
  }

  get #socket(): string {
    return join(this.dir, 'redis.sock');
  }

  /** A connection to the server (after start()). */
  get client(): Redis {
    if (this.#client === null) throw new Error('the scratch Redis server is not running');
    return this.#client;
  }

  /**
   * Starts the server on whatever is at `rdbFile` and resolves once it has
   * loaded it. Rejects (BERTH_E_ADDON_TOOL, with the server's last words)
   * when the server exits instead: the file is not an RDB it can load.
   */
  async start(): Promise<void> {
    const { signal, user } = this.#options;
    const server = await redisProgram('redis-server');
    let size = 0;
    try {
      size = (await stat(this.rdbFile)).size;
    } catch {
      // Nothing to load: an empty server.
    }
    const argv = [
      '--port', '0',
      '--unixsocket', this.#socket,
      '--unixsocketperm', '700',
      '--dir', this.dir,
      '--dbfilename', 'dump.rdb',
      '--save', '',
      '--appendonly', 'no',
      '--daemonize', 'no',
      '--logfile', '',
      '--loglevel', 'warning',
      '--always-show-logo', 'no',
      '--set-proc-title', 'no',
      '--enable-debug-command', 'no',
      '--enable-module-command', 'no',
    ];
    const child = spawn(server, argv, {
      cwd: this.dir,
      env: toolEnv({ [SUPERVISOR_ENV]: this.#options.supervisorMarker }),
      ...(user !== null ? { uid: user.uid, gid: user.gid } : {}),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    for (const stream of [child.stdout!, child.stderr!]) {
      const lines = new LineSplitter((line) => this.#recent.push(line));
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => lines.push(chunk));
      stream.on('end', () => lines.end());
    }
    let gone: string | null = null;
    this.#exited = new Promise((resolve) => {
      child.on('error', (err) => {
        gone = `could not start: ${err.message}`;
        this.#child = null;
        resolve();
      });
      child.on('close', (code, how) => {
        gone ??= how !== null ? `was killed by ${how}` : `exited with code ${code}`;
        this.#child = null;
        resolve();
      });
    });
    const onAbort = () => this.#kill();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // Loading runs at disk speed; allow for a big snapshot.
      const deadline = Date.now() + 30_000 + Math.ceil(size / (20 * 1024 * 1024)) * 1000;
      let last = 'no answer yet';
      for (;;) {
        if (signal?.aborted) throw new BerthError('BERTH_E_ADDON_TOOL', 'redis-server was cancelled while loading the snapshot', { status: 500 });
        if (gone !== null) {
          // Its last lines may still be in the pipes.
          await this.#exited;
          throw new BerthError('BERTH_E_ADDON_TOOL', `redis-server ${gone} while loading the snapshot${this.#recent.said()}`, { status: 500 });
        }
        try {
          const client = await connectRedis({ path: this.#socket, ...SHORT_LIVED, connectTimeout: 1000 });
          try {
            await client.ping();
            this.#client = client;
            return;
          } catch (err) {
            client.disconnect();
            throw err;
          }
        } catch (err) {
          last = (err as Error).message;
        }
        if (Date.now() >= deadline) throw new BerthError('BERTH_E_ADDON_TOOL', `redis-server did not load the snapshot in time (${last})${this.#recent.said()}`, { status: 500 });
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Writes the server's data to `rdbFile` (SAVE: synchronous, complete when it answers). */
  async save(): Promise<void> {
    await this.client.save();
  }

  #kill(): void {
    const child = this.#child;
    if (child?.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }

  /** Kills the server (its data is throwaway) and removes the folder; idempotent. */
  async close(): Promise<void> {
    this.#client?.disconnect();
    this.#client = null;
    this.#kill();
    await this.#exited;
    await rm(this.dir, { recursive: true, force: true });
  }
}
