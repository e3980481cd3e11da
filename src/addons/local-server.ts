import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BerthError } from '../errors.ts';

// What the local PostgreSQL and Redis servers berth runs have in common.

/** A server berth manages cannot be reached, started or used. */
export function serverError(message: string, hint?: string, cause?: unknown): BerthError {
  return new BerthError('BERTH_E_ADDON_SERVER', message, { status: 503, hint, cause });
}

/**
 * The server's Unix user (`who`: "postgres", "redis") must pass through
 * every folder above `dir` (a 0700 mkdtemp or home folder would stop it):
 * refused here with the folder to fix, rather than by the server later
 * with a bare "permission denied".
 */
export async function requireTraversable(dir: string, who: string): Promise<void> {
  for (let path = dirname(dir); ; path = dirname(path)) {
    const mode = (await stat(path)).mode;
    if ((mode & 0o001) === 0) {
      throw serverError(
        `the ${who} user cannot reach ${dir}: ${path} is mode ${(mode & 0o777).toString(8).padStart(4, '0')} (others may not enter it)`,
        `Put --state somewhere every user can pass through (the default /var/lib/berth is), or run: chmod o+x ${path}`,
      );
    }
    if (dirname(path) === path) return;
  }
}
