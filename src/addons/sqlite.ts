import { randomBytes } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { lstat, open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { BerthError, isBerthError } from '../errors.ts';
import { chunksOf, writerTo } from './backup-files.ts';
import { dataDirOf, ensureDataDir } from './data-dirs.ts';
import { runTool, toolEnv } from './run-tool.ts';
import type { AddonContext, AddonProvider, AddonUser, Provisioned, RestoreReport, RestoreTarget } from './types.ts';

// The SQLite add-on: a database file in the app's data directory
// (STATE/data/APP/db.sqlite3), owned by the app's user, in WAL mode.
//
// berth runs as root and the data directory belongs to the app, which may
// put anything there: a db.sqlite3 that is a link to /etc/shadow or to
// berth's own state database. So berth never opens the app's database with
// SQLite itself. Every SQLite operation runs in a short-lived helper process
// (this Node, WORKER below) as the app's user, which can reach nothing the
// app could not. berth itself only moves bytes between its own files and
// files in the data directory that it creates there (O_EXCL, O_NOFOLLOW) or
// has checked to be the app's own plain files before reading them.

export const SQLITE_DB_FILE = 'db.sqlite3';
/** Files SQLite keeps beside a database, which go with it. */
const SIDE_SUFFIXES = ['-wal', '-shm', '-journal'];
const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
const FILE_MODE = 0o600;
const SETUP_TIMEOUT_MS = 2 * 60_000;
/** Dumps and restores copy the whole database; a big one on a slow disk takes a while. */
const COPY_TIMEOUT_MS = 60 * 60_000;

// The helper, run as `node --input-type=module -e WORKER OP ARGS...`. It
// answers with one JSON line: {ok: true, tables?} or {ok: false, error}; a
// crash or a non-zero exit is the helper failing, not the database.
//
// Copies use SQLite's online backup API in ONE step (rate: all pages): a
// stepwise copy restarts whenever the app writes between steps and may
// never finish under steady writes, while one step reads one consistent
// snapshot (WAL readers do not block the app's writers) or, as a restore,
// writes the destination in one transaction the app's connections see
// through SQLite's own locking. node:sqlite's backup() fails at once when
// the destination is locked (the app mid-write), so a copy is retried for
// a while before it gives up.
const WORKER = String.raw`
import { backup, DatabaseSync } from 'node:sqlite';
import { pathToFileURL } from 'node:url';
process.umask(0o077);
const ALL_PAGES = 2147483647;
const BUSY_FOR_MS = 30000;
const [op, first, second] = process.argv.slice(1);
const answer = (value) => process.stdout.write(JSON.stringify(value) + '\n');

// mode=rw: a database that is not there is an error, never a new empty one.
// Read-write even to read, so that closing the last connection checkpoints
// and removes the -wal and -shm files as the app's own connections do.
function openDb(path) {
  const url = pathToFileURL(path);
  url.search = '?mode=rw';
  return new DatabaseSync(url, { timeout: 5000 });
}

function check(path, what) {
  let db;
  try {
    db = openDb(path);
    const rows = db.prepare('PRAGMA integrity_check').all().map((row) => String(Object.values(row)[0]));
    if (rows.length !== 1 || rows[0] !== 'ok') throw new Error('it fails PRAGMA integrity_check: ' + rows.slice(0, 3).join('; '));
    const tables = db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'").get().n;
    const pageSize = db.prepare('PRAGMA page_size').get().page_size;
    return { tables, pageSize };
  } catch (err) {
    throw new Error(what + ' is not a usable SQLite database: ' + err.message);
  } finally {
    db?.close();
  }
}

function pageSizeOf(path) {
  let db;
  try {
    db = openDb(path);
    return db.prepare('PRAGMA page_size').get().page_size;
  } catch {
    return null;
  } finally {
    db?.close();
  }
}

function transient(err) {
  // A locked destination surfaces as SQLITE_BUSY/LOCKED, or as error 0 ("not an error").
  const code = typeof err.errcode === 'number' ? err.errcode & 0xff : -1;
  return code === 0 || code === 5 || code === 6 || /busy|locked/i.test(err.message);
}

async function copy(sourcePath, destinationPath) {
  const deadline = Date.now() + BUSY_FOR_MS;
  for (;;) {
    const source = openDb(sourcePath);
    try {
      await backup(source, destinationPath, { rate: ALL_PAGES });
      return;
    } catch (err) {
      if (!transient(err) || Date.now() > deadline) throw err;
    } finally {
      source.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 25 + Math.random() * 50));
  }
}

try {
  if (op === 'wal') {
    const db = openDb(first);
    try {
      const mode = db.prepare('PRAGMA journal_mode = WAL').get().journal_mode;
      if (mode !== 'wal') throw new Error('SQLite kept the journal mode ' + mode);
    } finally {
      db.close();
    }
    answer({ ok: true });
  } else if (op === 'dump') {
    await copy(first, second);
    answer({ ok: true, tables: check(second, 'the copy').tables });
  } else if (op === 'check') {
    answer({ ok: true, tables: check(first, 'the backup').tables });
  } else if (op === 'restore') {
    const incoming = check(first, 'the backup');
    // SQLite cannot back up into a WAL database of another page size. (The
    // live database is not checked otherwise: a damaged one is what a
    // restore is for.)
    const livePageSize = pageSizeOf(second);
    if (livePageSize !== null && incoming.pageSize !== livePageSize) throw new Error('the backup has ' + incoming.pageSize + '-byte pages and the database ' + livePageSize + '-byte pages');
    await copy(first, second);
    answer({ ok: true, tables: incoming.tables });
  } else {
    throw new Error('unknown operation ' + op);
  }
} catch (err) {
  answer({ ok: false, error: err.message });
}
`;

type WorkerOp = 'wal' | 'dump' | 'check' | 'restore';

/** A failure the helper reported about the database itself (not the helper failing). */
class DatabaseRefused extends Error {}

export interface SqliteProviderOptions {
  /** STATE/data: the apps' data directories are in it. */
  readonly dataRoot: string;
  readonly log: (line: string) => void;
}

export function createSqliteProvider(options: SqliteProviderOptions): AddonProvider {
  const { dataRoot, log } = options;

  async function work(op: WorkerOp, args: readonly string[], context: AddonContext, cwd: string, timeoutMs: number, signal?: AbortSignal): Promise<{ tables: number }> {
    let stdout: string;
    try {
      ({ stdout } = await runTool([process.execPath, '--disable-warning=ExperimentalWarning', '--input-type=module', '-e', WORKER, op, ...args], {
        env: toolEnv(),
        cwd,
        user: context.user,
        timeoutMs,
        ...(signal ? { signal } : {}),
      }));
    } catch (err) {
      // runTool names the program ("node …"); say what it was for instead.
      const message = (err as Error).message.replace(/^\S+ /, '');
      throw new BerthError('BERTH_E_ADDON_TOOL', `the SQLite helper for ${context.app} ${message}`, {
        status: 500,
        hint: isBerthError(err) ? err.hint : undefined,
        cause: err,
      });
    }
    const last = stdout.trim().split('\n').pop() ?? '';
    let reply: { ok?: unknown; error?: unknown; tables?: unknown };
    try {
      reply = JSON.parse(last) as typeof reply;
    } catch {
      throw new BerthError('BERTH_E_ADDON_TOOL', `the SQLite helper for ${context.app} answered ${JSON.stringify(last.slice(0, 200))}`, { status: 500 });
    }
    if (reply.ok !== true) throw new DatabaseRefused(String(reply.error));
    return { tables: typeof reply.tables === 'number' ? reply.tables : 0 };
  }

  function locate(context: AddonContext): Promise<{ dir: string; path: string }> {
    return ensureDataDir(dataRoot, context.app, context.user).then((dir) => ({ dir, path: join(dir, SQLITE_DB_FILE) }));
  }

  return {
    kind: 'sqlite',
    dumpSuffix: 'sqlite',

    async start(): Promise<void> {
      // Nothing to supervise: the database is a file the app opens itself.
    },

    async close(): Promise<void> {},

    async provision(context: AddonContext): Promise<Provisioned> {
      const { dir, path } = await locate(context);
      let handle: FileHandle;
      try {
        handle = await createOwned(path, context.user);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new BerthError('BERTH_E_ADDON_EXISTS', `the app ${context.app} already has a SQLite database at ${path}`, {
            status: 409,
            hint: 'It was kept from an earlier add-on, or made by the app. Move it away to start empty, or restore a backup into it.',
          });
        }
        throw err;
      }
      await handle.close();
      try {
        // A -wal left by an older database would be replayed into the new one.
        await removeSideFiles(path);
        await work('wal', [path], context, dir, SETUP_TIMEOUT_MS);
      } catch (err) {
        await removeWithSideFiles(path);
        if (err instanceof DatabaseRefused) throw new BerthError('BERTH_E_ADDON_TOOL', `cannot set up the SQLite database ${path}: ${err.message}`, { status: 500 });
        throw err;
      }
      log(`sqlite: created ${path} for ${context.app}`);
      return {
        // SQLAlchemy's form: three slashes, then the absolute path's own.
        vars: { DATABASE_URL: `sqlite:///${path}`, BERTH_DATA_DIR: dir },
        resource: { path, dir },
      };
    },

    async deprovision(context: AddonContext): Promise<void> {
      // The data directory stays: `berth storage` may own it, and the
      // caller removes it once neither uses it.
      await removeWithSideFiles(join(dataDirOf(dataRoot, context.app), SQLITE_DB_FILE));
    },

    async dump(context: AddonContext, _resource: Readonly<Record<string, string>>, file: string, signal: AbortSignal): Promise<void> {
      const { dir, path } = await locate(context);
      await requireDatabase(path, context, 'BERTH_E_BACKUP_FAILED');
      const temp = join(dir, `.berth-dump-${randomBytes(6).toString('hex')}.sqlite3`);
      try {
        const { tables } = await work('dump', [path, temp], context, dir, COPY_TIMEOUT_MS, signal);
        const source = await openOwned(temp, context.user);
        try {
          const out = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, FILE_MODE);
          try {
            await pipeline(chunksOf(source), writerTo(out));
          } finally {
            await out.close();
          }
        } finally {
          await source.close();
        }
        log(`sqlite: dumped ${path} (${tables} table${tables === 1 ? '' : 's'})`);
      } catch (err) {
        if (err instanceof DatabaseRefused) throw new BerthError('BERTH_E_BACKUP_FAILED', `cannot copy the SQLite database of ${context.app}: ${err.message}`, { status: 500 });
        throw err;
      } finally {
        await removeWithSideFiles(temp);
      }
    },

    async restore(context: AddonContext, _resource: Readonly<Record<string, string>>, file: string, target: RestoreTarget): Promise<RestoreReport> {
      await requireSqliteFile(file);
      const { dir, path } = await locate(context);
      const refused = (err: unknown): never => {
        if (err instanceof DatabaseRefused) {
          throw new BerthError('BERTH_E_RESTORE_FAILED', `cannot restore into ${target.into === 'app' ? path : dir}: ${err.message}`, {
            status: 500,
            hint: target.into === 'app' ? 'The database was left as it was.' : undefined,
          });
        }
        throw err;
      };

      if (target.into === 'new') {
        if (!/^[a-z0-9][a-z0-9-]{0,31}$/.test(target.tag)) {
          throw new BerthError('BERTH_E_USAGE', `${JSON.stringify(target.tag)} cannot name a restored database`, { status: 500 });
        }
        const copy = join(dir, `restore-${target.tag}.sqlite3`);
        try {
          await copyInto(file, copy, context.user);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          throw new BerthError('BERTH_E_RESTORE_FAILED', `${copy} already exists`, {
            status: 409,
            hint: 'It is an earlier restore of the same backup. Move it away to restore again.',
            cause: err,
          });
        }
        try {
          const { tables } = await work('check', [copy], context, dir, COPY_TIMEOUT_MS);
          log(`sqlite: restored a backup of ${context.app} into ${copy}`);
          return { summary: `restored ${tables} table${tables === 1 ? '' : 's'} into ${copy}, beside the app's database`, location: copy };
        } catch (err) {
          await removeWithSideFiles(copy);
          return refused(err);
        }
      }

      await requireDatabase(path, context, 'BERTH_E_RESTORE_FAILED');
      const temp = join(dir, `.berth-restore-${randomBytes(6).toString('hex')}.sqlite3`);
      try {
        await copyInto(file, temp, context.user);
        const { tables } = await work('restore', [temp, path], context, dir, COPY_TIMEOUT_MS);
        log(`sqlite: restored a backup into ${path}`);
        return { summary: `restored ${tables} table${tables === 1 ? '' : 's'} into ${path}`, location: null };
      } catch (err) {
        return refused(err);
      } finally {
        await removeWithSideFiles(temp);
      }
    },

    describe(resource: Readonly<Record<string, string>>): Record<string, string> {
      return { path: resource.path ?? '' };
    },
  };
}

/**
 * Creates a new file for the app (never an existing one, never through a
 * link) with mode 0600, owned by its user; EEXIST when the name is taken.
 */
async function createOwned(path: string, user: AddonUser | null): Promise<FileHandle> {
  const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, FILE_MODE);
  try {
    if (user !== null) await handle.chown(user.uid, user.gid);
    return handle;
  } catch (err) {
    await handle.close();
    await unlink(path).catch(() => {});
    throw err;
  }
}

/** Copies berth's file `from` into a new app-owned file `to` (fsynced); EEXIST when `to` is taken. */
async function copyInto(from: string, to: string, user: AddonUser | null): Promise<void> {
  const handle = await createOwned(to, user);
  try {
    try {
      await pipeline(createReadStream(from), writerTo(handle));
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    await unlink(to).catch(() => {});
    throw err;
  }
}

/**
 * Opens a file the helper wrote in the data directory, making sure it is
 * what the helper made and not something the app put in its place: a plain
 * file (not a link: O_NOFOLLOW), owned by the app's user (a hard link to
 * someone else's file is not), with one name.
 */
async function openOwned(path: string, user: AddonUser | null): Promise<FileHandle> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  const facts = await handle.stat();
  const uid = user?.uid ?? process.getuid?.() ?? 0;
  if (!facts.isFile() || facts.uid !== uid || facts.nlink !== 1) {
    await handle.close();
    throw new BerthError('BERTH_E_BACKUP_FAILED', `${path} was replaced while the backup was being made; it was not read`, { status: 500 });
  }
  return handle;
}

/** The app's database must be there (and be a file, not a link) before it is dumped or restored into. */
async function requireDatabase(path: string, context: AddonContext, code: 'BERTH_E_BACKUP_FAILED' | 'BERTH_E_RESTORE_FAILED'): Promise<void> {
  let what: string | null = null;
  try {
    const facts = await lstat(path);
    if (!facts.isFile()) what = facts.isSymbolicLink() ? 'is a symbolic link' : 'is not a file';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    what = 'is missing';
  }
  if (what !== null) {
    throw new BerthError(code, `the SQLite database of ${context.app}, ${path}, ${what}`, {
      status: 500,
      hint: code === 'BERTH_E_RESTORE_FAILED' ? 'Restore into a new file beside it instead, or remove the add-on and create it again.' : 'The app removed or replaced its database file.',
    });
  }
}

/** Refuses anything that does not start as a SQLite database does, before the app's data is touched. */
async function requireSqliteFile(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(SQLITE_MAGIC.length);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    if (bytesRead === head.length && head.equals(SQLITE_MAGIC)) return;
  } finally {
    await handle.close();
  }
  throw new BerthError('BERTH_E_RESTORE_FAILED', `the backup is not a SQLite database (${file} does not start with the SQLite header)`, {
    status: 500,
    hint: 'It was not made by the SQLite add-on. Nothing was changed.',
  });
}

async function removeSideFiles(path: string): Promise<void> {
  for (const suffix of SIDE_SUFFIXES) await removeIfThere(path + suffix);
}

async function removeWithSideFiles(path: string): Promise<void> {
  await removeIfThere(path);
  await removeSideFiles(path);
}

async function removeIfThere(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
