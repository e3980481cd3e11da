import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { BerthError } from '../errors.ts';
import { endProcessesOf, type ProcessEntry, type RunAs } from '../runner/index.ts';
import { holdMachineLock, type HeldLock } from './machine-lock.ts';
import { idsOfDatabase, loginDefsRanges, subordinateRanges, type IdRange } from './uid-allocation.ts';

// Per-app Unix users. When berth runs as root, every app gets a system user
// of its own (created with the app, removed with it): its builds, release
// directories and processes belong to that user, and one app cannot read
// another's files or signal its processes. The decisions (names) are pure;
// the rest is a thin layer over useradd/userdel/getent, run with argv arrays.

const run = promisify(execFile);

/** Linux user names are at most 32 characters (useradd's limit). */
export const MAX_USER_NAME = 32;
const PREFIX = /^[a-z_][a-z0-9_-]{0,15}$/;
const HASH_CHARS = 6;

/** A user prefix as `berth server --user-prefix` takes it ("berth-" by default). */
export function userPrefix(value: string): string {
  if (!PREFIX.test(value)) {
    throw new BerthError('BERTH_E_USAGE', `${JSON.stringify(value)} is not a valid user prefix`, {
      hint: 'A user prefix is 1 to 16 characters: lowercase letters, digits, "_" and "-", starting with a letter or "_" (e.g. "berth-").',
    });
  }
  return value;
}

/**
 * The Unix user name of an app: the prefix and the app's name, or, when
 * that is longer than 32 characters (app names may have 63), as much of the
 * name as fits and a short hash of the whole, so two long names that share
 * a beginning still get different users.
 */
export function appUserName(prefix: string, app: string): string {
  const whole = `${prefix}${app}`;
  if (whole.length <= MAX_USER_NAME) return whole;
  const hash = createHash('sha256').update(app).digest('hex').slice(0, HASH_CHARS);
  const keep = MAX_USER_NAME - prefix.length - HASH_CHARS - 1;
  return `${prefix}${app.slice(0, keep).replace(/-+$/, '')}-${hash}`;
}

export interface UnixUser extends RunAs {
  readonly name: string;
  readonly home: string;
}

/** Parses one line of getent passwd. */
export function parsePasswdLine(line: string): UnixUser | null {
  const fields = line.trim().split(':');
  if (fields.length < 7) return null;
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) return null;
  return { name: fields[0]!, uid, gid, home: fields[5]! };
}

/** The user with this name or uid, or null when there is none. */
export async function findUser(key: string | number): Promise<UnixUser | null> {
  try {
    const { stdout } = await run('getent', ['passwd', String(key)], { encoding: 'utf8' });
    return parsePasswdLine(stdout);
  } catch (err) {
    // getent exits 2 for "no such entry".
    if ((err as { code?: unknown }).code === 2) return null;
    throw new BerthError('BERTH_E_APP_USER', `cannot look up the Unix user ${key}: ${(err as Error).message}`, { status: 500, cause: err });
  }
}

// useradd/userdel take /etc/passwd's lock and give up at once when another
// process holds it (exit 1 or 10); a few short retries ride that out.
const LOCK_RETRIES = 20;
const LOCK_WAIT_MS = 100;
const LOCKED_EXITS = new Set([1, 10]);

async function withLockRetries(file: string, args: readonly string[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await run(file, [...args], { encoding: 'utf8' });
      return;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'number' && LOCKED_EXITS.has(code) && attempt < LOCK_RETRIES) {
        await new Promise((resolve) => setTimeout(resolve, LOCK_WAIT_MS));
        continue;
      }
      throw err;
    }
  }
}

/** What the machine's user and group databases already use, for choosing an app's uid. */
export interface MachineIds {
  readonly usedUids: ReadonlySet<number>;
  readonly usedGids: ReadonlySet<number>;
  /** login.defs' ranges for useradd/groupadd, and /etc/subuid and /etc/subgid. */
  readonly reserved: readonly IdRange[];
}

async function readOptional(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

/** Reads passwd and group (through NSS), login.defs, /etc/subuid and /etc/subgid. */
export async function readMachineIds(): Promise<MachineIds> {
  try {
    const [passwd, group, loginDefs, subuid, subgid] = await Promise.all([
      run('getent', ['passwd'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).then((r) => r.stdout),
      run('getent', ['group'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).then((r) => r.stdout),
      readOptional('/etc/login.defs'),
      readOptional('/etc/subuid'),
      readOptional('/etc/subgid'),
    ]);
    return { usedUids: idsOfDatabase(passwd), usedGids: idsOfDatabase(group), reserved: [...loginDefsRanges(loginDefs), ...subordinateRanges(subuid), ...subordinateRanges(subgid)] };
  } catch (err) {
    throw new BerthError('BERTH_E_APP_USER', `cannot read the machine's users and groups: ${(err as Error).message}`, { status: 500, cause: err });
  }
}

/** useradd/groupadd's exit code for "that id is already used". */
const ID_TAKEN = 4;
/** Ids tried before giving up when other programs keep taking the one chosen. */
const CREATE_ATTEMPTS = 5;

function commandError(err: unknown): string {
  return (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
}

/**
 * Creates the app's system user and its group, both with the uid `choose`
 * names (no login shell, `home` as its home, not created here), and returns
 * it. berth chooses the id itself so that no id is ever given to a second
 * app (see uid-allocation.ts); an id some other program took meanwhile is
 * skipped. berth servers on one machine create users one at a time (a lock
 * at APP_USERS_LOCK): groupadd and useradd check that an id is free before
 * they lock the files, so two at once could both take it. A user of that name whose home is this app's folder (or one of
 * `formerHomes`, where an older berth put it) is a leftover (a crash between useradd and the database, an older berth's
 * failed destroy): its processes are ended and it is removed first, never
 * taken over. Any other user of that name is refused rather than shared.
 */
export async function createAppUser(name: string, home: string, choose: (ids: MachineIds) => number, formerHomes: readonly string[] = []): Promise<UnixUser> {
  const existing = await findUser(name);
  if (existing !== null) {
    if (existing.home !== home && !formerHomes.includes(existing.home)) {
      throw new BerthError('BERTH_E_APP_USER', `the Unix user "${name}" already exists and is not this app's`, {
        status: 409,
        hint: 'Another program (or another berth server on this machine) uses that name. Remove that user, or start berth server with another --user-prefix.',
      });
    }
    await removeAppUser(existing);
  }
  // Two berth servers creating users at once could both take a free id.
  let lock: HeldLock | null;
  try {
    lock = await holdMachineLock(APP_USERS_LOCK, LOCK_TIMEOUT_MS);
  } catch (err) {
    throw new BerthError('BERTH_E_APP_USER', `cannot create the Unix user "${name}": ${(err as Error).message}`, { status: 503, hint: 'Another berth server on this machine is creating an app user; try again.', cause: err });
  }
  try {
    return await createLocked(name, home, choose);
  } finally {
    await lock?.release();
  }
}

/** Where every berth server on the machine serializes its app users' creation. */
export const APP_USERS_LOCK = '/run/berth/app-users.lock';
const LOCK_TIMEOUT_MS = 60_000;

async function createLocked(name: string, home: string, choose: (ids: MachineIds) => number): Promise<UnixUser> {
  for (let attempt = 1; ; attempt++) {
    const uid = choose(await readMachineIds());
    try {
      await withLockRetries('groupadd', ['--system', '--gid', String(uid), name]);
    } catch (err) {
      if ((err as { code?: unknown }).code === ID_TAKEN && attempt < CREATE_ATTEMPTS) continue;
      throw new BerthError('BERTH_E_APP_USER', `cannot create the group "${name}" (gid ${uid}): ${commandError(err)}`, {
        status: 500,
        hint: 'berth needs groupadd and useradd (Debian package passwd) to give each app its own user when running as root.',
        cause: err,
      });
    }
    try {
      // --system: no aging, and no subordinate uid range (which would let the app map other ids in a user namespace).
      await withLockRetries('useradd', ['--system', '--uid', String(uid), '--gid', String(uid), '--no-create-home', '--home-dir', home, '--shell', '/usr/sbin/nologin', '--comment', 'berth app', name]);
    } catch (err) {
      await withLockRetries('groupdel', [name]).catch(() => {});
      if ((err as { code?: unknown }).code === ID_TAKEN && attempt < CREATE_ATTEMPTS) continue;
      throw new BerthError('BERTH_E_APP_USER', `cannot create the Unix user "${name}" (uid ${uid}): ${commandError(err)}`, {
        status: 500,
        hint: 'berth needs useradd (Debian package passwd) to give each app its own user when running as root.',
        cause: err,
      });
    }
    const created = await findUser(name);
    if (created === null || created.uid !== uid) throw new BerthError('BERTH_E_APP_USER', `useradd succeeded but "${name}" with uid ${uid} cannot be found`, { status: 500 });
    return created;
  }
}

/** userdel's exit code while a process of the user still runs (a zombie waiting for init). */
const USER_BUSY = 8;

/**
 * Ends every process of the user, then removes the user and its group. What
 * cannot be ended is reported (BERTH_E_APP_BUSY) and the user stays, so the
 * caller keeps the app and the destroy can be tried again.
 */
export async function removeAppUser(user: UnixUser): Promise<void> {
  const left = await endProcessesOf(user);
  if (left.length > 0) throw processesLeft(user, left);
  for (let attempt = 1; ; attempt++) {
    try {
      await withLockRetries('userdel', [user.name]);
      break;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 6) break; // no such user: already gone
      if (code === USER_BUSY && attempt < 20) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      throw new BerthError('BERTH_E_APP_USER', `cannot remove the Unix user "${user.name}": ${commandError(err)}`, {
        status: 500,
        hint: `Remove it by hand (userdel ${user.name}), then destroy the app again.`,
        cause: err,
      });
    }
  }
  // userdel removes the user's own group when nobody else is in it; a group left behind goes too.
  await withLockRetries('groupdel', [user.name]).catch(() => {});
}

function processesLeft(user: UnixUser, left: readonly ProcessEntry[]): BerthError {
  // A command line is the app's text: control characters are escaped, never passed to a terminal.
  const shown = left.slice(0, 10).map((p) => `${p.pid} (${JSON.stringify(p.command.slice(0, 80)).slice(1, -1)})`).join(', ');
  return new BerthError('BERTH_E_APP_BUSY', `processes of the Unix user "${user.name}" (uid ${user.uid}) could not be ended: ${shown}${left.length > 10 ? `, and ${left.length - 10} more` : ''}`, {
    status: 409,
    hint: 'They did not die from SIGKILL (stuck in the kernel, e.g. on a hung file system). Nothing was removed; end them and destroy the app again.',
  });
}


/** Points the user's home directory (passwd) at `home`; the folder itself is the caller's. */
export async function setUserHome(name: string, home: string): Promise<void> {
  try {
    await withLockRetries('usermod', ['--home', home, name]);
  } catch (err) {
    throw new BerthError('BERTH_E_APP_USER', `cannot set the home of the Unix user "${name}": ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`, {
      status: 500,
      hint: `Set it by hand: usermod --home ${home} ${name}`,
      cause: err,
    });
  }
}

/**
 * App users reach their folders through the state folder's ancestors, so
 * every one of them must let others through (o+x). A 0700 parent (a
 * mkdtemp folder, a home directory) would make every app fail to start with
 * a bare EACCES; this says which folder is in the way instead.
 */
export async function requireTraversable(dir: string): Promise<void> {
  for (let path = dirname(dir); ; path = dirname(path)) {
    const mode = (await stat(path)).mode;
    if ((mode & 0o001) === 0) {
      throw new BerthError('BERTH_E_STATE', `app users cannot reach the state folder: ${path} is mode ${(mode & 0o777).toString(8).padStart(4, '0')} (others may not enter it)`, {
        status: 500,
        hint: `Put --state somewhere every user can pass through (the default /var/lib/berth is), or run: chmod o+x ${path}`,
      });
    }
    if (dirname(path) === path) return;
  }
}
