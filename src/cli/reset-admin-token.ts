import { lstatSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BerthError } from '../errors.ts';
import { Store } from '../platform/index.ts';

export interface ResetAdminTokenOptions {
  readonly stateDir: string;
  /** Also print the token alone on `out` (--print-token); otherwise it is only in the file. */
  readonly printToken: boolean;
  /** Standard output: the token, when asked for, and nothing else. */
  readonly out: (text: string) => void;
  /** Standard error: what was done and where. */
  readonly err: (text: string) => void;
}

/**
 * `berth server reset-admin-token`: the way back in when every admin token
 * is lost or revoked. It needs the machine, not the API: whoever can write
 * the state database can already do anything berth can. It opens the
 * database beside a running daemon (WAL) without taking the daemon's
 * single-instance lock or touching any folder's mode, and the daemon reads
 * tokens from the database at every request, so the new token works at
 * once, whether the daemon runs or not.
 */
export function resetAdminToken(options: ResetAdminTokenOptions): void {
  const stateDir = resolve(options.stateDir);
  requireOwner(stateDir);
  const store = Store.openExisting(stateDir);
  try {
    const path = join(stateDir, 'admin-token');
    const { token, info } = store.resetAdminToken(path, { uid: process.getuid?.() ?? -1 });
    options.err(`issued the admin API token "${info.name}" and wrote it to ${path} (mode 0600); other tokens are unchanged\n`);
    options.err(`log in with: berth login --server URL --token-stdin < ${path}\n`);
    if (options.printToken) options.out(`${token}\n`);
  } finally {
    store.close();
  }
}

/**
 * Only the state folder's owner (root for a system daemon) may do this:
 * another user cannot open the database anyway, and root working on a
 * non-root daemon's folder would leave files that daemon cannot read.
 */
function requireOwner(stateDir: string): void {
  const uid = process.getuid?.();
  let owner: number;
  try {
    owner = lstatSync(join(stateDir, 'berth.db')).uid;
  } catch (err) {
    throw new BerthError('BERTH_E_STATE', `${stateDir} holds no berth state database: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      hint: 'Give the --state folder `berth server` runs with (default /var/lib/berth as root), and run as its owner.',
      status: 500,
    });
  }
  if (uid !== undefined && uid !== owner) {
    throw new BerthError('BERTH_E_STATE', `${stateDir} belongs to uid ${owner}, and this runs as uid ${uid}`, {
      hint: 'Run reset-admin-token as the user berth server runs as (root for a system install: sudo berth server reset-admin-token).',
      status: 500,
    });
  }
}
