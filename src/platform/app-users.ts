import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { BerthError } from '../errors.ts';
import type { RunAs } from '../runner/index.ts';

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

/**
 * Creates the app's system user (no login shell, its own group, `home` as
 * its home directory, not created here) and returns it. A user of that name
 * that already exists is taken over only if its home is this app's home
 * (a crash between useradd and the database left it), or one of
 * `formerHomes` (where an older berth put it; moved to `home`); any other
 * is refused rather than shared, since sharing would let two apps read
 * each other.
 */
export async function createAppUser(name: string, home: string, formerHomes: readonly string[] = []): Promise<UnixUser> {
  const existing = await findUser(name);
  if (existing !== null) {
    if (existing.home === home) return existing;
    if (formerHomes.includes(existing.home)) {
      await setUserHome(existing.name, home);
      return { ...existing, home };
    }
    throw new BerthError('BERTH_E_APP_USER', `the Unix user "${name}" already exists and is not this app's`, {
      status: 409,
      hint: 'Another program (or another berth server on this machine) uses that name. Remove that user, or start berth server with another --user-prefix.',
    });
  }
  try {
    await withLockRetries('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', home, '--shell', '/usr/sbin/nologin', '--comment', 'berth app', name]);
  } catch (err) {
    throw new BerthError('BERTH_E_APP_USER', `cannot create the Unix user "${name}": ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`, {
      status: 500,
      hint: 'berth needs useradd (Debian package passwd) to give each app its own user when running as root.',
      cause: err,
    });
  }
  const created = await findUser(name);
  if (created === null) throw new BerthError('BERTH_E_APP_USER', `useradd succeeded but "${name}" cannot be found`, { status: 500 });
  return created;
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

/** Removes the app's user and its group; a user already gone is fine. */
export async function removeAppUser(name: string): Promise<void> {
  if ((await findUser(name)) === null) return;
  try {
    await withLockRetries('userdel', [name]);
  } catch (err) {
    throw new BerthError('BERTH_E_APP_USER', `cannot remove the Unix user "${name}": ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`, {
      status: 500,
      hint: `Remove it by hand: userdel ${name}`,
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
