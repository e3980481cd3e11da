import { constants, closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import { BerthError } from '../errors.ts';

// One `berth server` per state folder. The lock is a kernel lock (POSIX
// fcntl, through SQLite's exclusive locking mode on STATE/daemon.lock), so
// it is released by any exit, SIGKILL included, and a stale pid file can
// never keep a daemon from starting. It is taken before anything in the
// folder is made, opened or changed: a second daemon refused must leave the
// running one's folder exactly as it was. Tools that work beside a running
// daemon (berth server reset-admin-token) do not take it.

export const LOCK_FILE = 'daemon.lock';

/** The pid holding a POSIX lock on the file with this inode, from the text of /proc/locks. */
export function lockHolder(procLocks: string, inode: number): number | null {
  for (const line of procLocks.split('\n')) {
    // "1: POSIX  ADVISORY  WRITE 1393 fe:00:2148271 1073741824 1073742335"
    const fields = line.trim().split(/\s+/);
    if (fields[1] !== 'POSIX' || fields.length < 6) continue;
    const ino = Number(fields[5]!.split(':').at(-1));
    const pid = Number(fields[4]);
    if (ino === inode && Number.isInteger(pid) && pid > 0) return pid;
  }
  return null;
}

export class StateLock {
  #db: DatabaseSync | null;

  private constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /**
   * Takes the state folder's lock, creating the folder (0700) only when it
   * does not exist yet. Throws BERTH_E_STATE_LOCKED, naming the holder's
   * pid, when another daemon holds it.
   */
  static acquire(stateDir: string): StateLock {
    const path = join(stateDir, LOCK_FILE);
    let db: DatabaseSync;
    try {
      if (!existsSync(stateDir)) mkdirSync(stateDir, { recursive: true, mode: 0o700 });
      // Made 0600 here (SQLite would make it 0644), never through a link. Only
      // when missing: closing a descriptor of a file drops every POSIX lock
      // this process holds on it.
      if (!existsSync(path)) {
        try {
          closeSync(openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
      }
      db = new DatabaseSync(path, { timeout: 0 });
    } catch (err) {
      throw new BerthError('BERTH_E_STATE', `cannot open the state folder's lock ${path}: ${(err as Error).message}`, {
        status: 500,
        hint: 'Check that the --state folder exists or can be created, and is owned by the user berth runs as.',
        cause: err,
      });
    }
    try {
      db.exec('PRAGMA locking_mode = EXCLUSIVE');
      db.exec('PRAGMA journal_mode = MEMORY');
      // In exclusive locking mode the first write transaction's lock is kept until the connection closes.
      db.exec('BEGIN EXCLUSIVE');
      db.exec('COMMIT');
    } catch (err) {
      db.close();
      const holder = StateLock.#holder(path);
      throw new BerthError('BERTH_E_STATE_LOCKED', `another berth server${holder === null ? '' : ` (pid ${holder})`} is running on ${stateDir}`, {
        status: 500,
        hint: 'Run one berth server per --state folder: stop the other one first, or give this one another --state.',
        cause: err,
      });
    }
    return new StateLock(db);
  }

  /** The pid of the daemon holding `stateDir`'s lock now, or null (none runs, or it cannot be told). */
  static holder(stateDir: string): number | null {
    return StateLock.#holder(join(stateDir, LOCK_FILE));
  }

  static #holder(path: string): number | null {
    try {
      return lockHolder(readFileSync('/proc/locks', 'utf8'), statSync(path).ino);
    } catch {
      return null;
    }
  }

  /** Releases the lock; idempotent. (Any exit of the process releases it too.) */
  release(): void {
    const db = this.#db;
    this.#db = null;
    db?.close();
  }
}
