import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { BerthError } from '../../errors.ts';
import { writeFileAtomic } from '../../platform/index.ts';

/**
 * Where the remote commands send their calls, and the token they prove
 * themselves with. `berth login` saves them in
 * `$XDG_CONFIG_HOME/berth/credentials.json` (default `~/.config/berth/`),
 * folder 0700 and file 0600, written atomically; BERTH_SERVER and
 * BERTH_TOKEN override the saved values, each on its own, for every command.
 * The token is a secret: nothing here ever prints it.
 */
export interface Credentials {
  /** The API's base URL, normalised: `http://127.0.0.1:7070`, no trailing "/". */
  readonly server: string;
  readonly token: string;
}

export type Env = Readonly<Record<string, string | undefined>>;

function present(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** `$XDG_CONFIG_HOME/berth` when that is an absolute path (as the XDG spec asks), else `~/.config/berth`. */
export function credentialsDir(env: Env): string {
  const xdg = present(env.XDG_CONFIG_HOME);
  const base = xdg !== undefined && isAbsolute(xdg) ? xdg : join(present(env.HOME) ?? homedir(), '.config');
  return join(base, 'berth');
}

export function credentialsPath(env: Env): string {
  return join(credentialsDir(env), 'credentials.json');
}

/**
 * A server URL as the user typed it, checked and normalised: http or https,
 * no user:password, query or fragment; a path prefix is kept (an API behind
 * a proxy at /berth), the trailing "/" is not.
 */
export function serverUrl(input: string): string {
  const hint = 'Give the URL of `berth server`\'s API, e.g. --server http://127.0.0.1:7070 (the --api address) or https://berth.example.com.';
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    throw new BerthError('BERTH_E_USAGE', `"${input}" is not a URL`, { hint });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new BerthError('BERTH_E_USAGE', `"${input}" is not an http or https URL`, { hint });
  if (url.username !== '' || url.password !== '') {
    throw new BerthError('BERTH_E_USAGE', 'the server URL must not hold a user name or password', { hint: 'Give the token with --token, never in the URL.' });
  }
  if (url.search !== '' || url.hash !== '') throw new BerthError('BERTH_E_USAGE', `"${input}" has a query or fragment; a server URL has neither`, { hint });
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** A token as it can travel in an Authorization header: printable ASCII, no spaces. Never echoed. */
export function apiToken(input: string): string {
  const token = input.trim();
  if (!/^[\x21-\x7e]{1,1024}$/.test(token)) {
    throw new BerthError('BERTH_E_USAGE', 'the API token is empty or holds characters a token cannot have', {
      hint: 'Use the admin token `berth server` saved in its state folder (admin-token), or one made with `berth tokens create NAME`.',
    });
  }
  return token;
}

/** The saved credentials, or null when there is no file yet. */
export function readSavedCredentials(path: string): Credentials | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new BerthError('BERTH_E_CREDENTIALS', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      cause: err,
      hint: 'Check the file\'s owner and permissions, or log in again with `berth login --server URL --token TOKEN`.',
    });
  }
  const invalid = () =>
    new BerthError('BERTH_E_CREDENTIALS', `${path} is not a valid berth credentials file`, { hint: 'Log in again with `berth login --server URL --token TOKEN`; it rewrites the file.' });
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw invalid();
  }
  if (data === null || typeof data !== 'object') throw invalid();
  const { server, token } = data as Record<string, unknown>;
  if (typeof server !== 'string' || typeof token !== 'string') throw invalid();
  try {
    return { server: serverUrl(server), token: apiToken(token) };
  } catch {
    throw invalid();
  }
}

/**
 * Saves the credentials: the folder is made (and kept) 0700, the file is
 * written 0600 beside its final name, fsynced and renamed over it, so a
 * reader sees the old file or the new one, never half of one, and nobody
 * else can read the token even for a moment. Returns the file's path.
 */
export function saveCredentials(env: Env, credentials: Credentials): string {
  const dir = credentialsDir(env);
  const path = credentialsPath(env);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    writeFileAtomic(path, `${JSON.stringify({ server: credentials.server, token: credentials.token }, null, 2)}\n`, 0o600);
  } catch (err) {
    throw new BerthError('BERTH_E_CREDENTIALS', `cannot save the credentials in ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      cause: err,
      hint: `Check that ${dir} can be written; or skip saving and set BERTH_SERVER and BERTH_TOKEN instead.`,
    });
  }
  return path;
}

/**
 * The credentials a remote command uses: BERTH_SERVER and BERTH_TOKEN when
 * set (each overrides its saved half), else what `berth login` saved.
 */
export function resolveCredentials(env: Env): Credentials {
  const envServer = present(env.BERTH_SERVER);
  const envToken = present(env.BERTH_TOKEN);
  const saved = envServer !== undefined && envToken !== undefined ? null : readSavedCredentials(credentialsPath(env));
  const server = envServer !== undefined ? serverUrl(envServer) : saved?.server;
  const token = envToken !== undefined ? apiToken(envToken) : saved?.token;
  if (server === undefined || token === undefined) {
    const missing = server === undefined && token === undefined ? 'no berth server is known' : server === undefined ? 'no berth server URL is known' : 'no API token is known';
    throw new BerthError('BERTH_E_NOT_LOGGED_IN', `not logged in: ${missing}`, {
      hint: "Run `berth login --server URL --token TOKEN` (the admin token is in the admin-token file of `berth server`'s state folder), or set BERTH_SERVER and BERTH_TOKEN.",
    });
  }
  return { server, token };
}
