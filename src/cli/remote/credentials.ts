import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { BerthError } from '../../errors.ts';
import { writeFileAtomic } from '../../platform/index.ts';
import { findServer, isUrlSelector, NO_SERVERS, parseSavedServers, serializeSavedServers, type SavedServers } from './saved-servers.ts';

/**
 * Where the remote commands send their calls, and the token they prove
 * themselves with. `berth login` saves one entry per server in
 * `$XDG_CONFIG_HOME/berth/credentials.json` (default `~/.config/berth/`),
 * folder 0700 and file 0600, written atomically, and makes it current
 * (saved-servers.ts). A command uses the current server unless `--server
 * NAME|URL` or BERTH_SERVER picks another; BERTH_TOKEN overrides the saved
 * token. The token is a secret: nothing here ever prints it.
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

const LOGIN_HINT = "Run `berth login --server URL --token TOKEN` (the admin token is in the admin-token file of `berth server`'s state folder), or set BERTH_SERVER and BERTH_TOKEN.";

function invalidFile(path: string): BerthError {
  return new BerthError('BERTH_E_CREDENTIALS', `${path} is not a valid berth credentials file`, { hint: 'Move it away and log in again with `berth login --server URL --token TOKEN`.' });
}

/** The saved servers; none when there is no file yet. The single-server file of before reads as one current server. */
export function readSavedServers(path: string): SavedServers {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return NO_SERVERS;
    throw new BerthError('BERTH_E_CREDENTIALS', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      cause: err,
      hint: 'Check the file\'s owner and permissions, or log in again with `berth login --server URL --token TOKEN`.',
    });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw invalidFile(path);
  }
  const saved = parseSavedServers(data, { url: serverUrl, token: apiToken });
  if (saved === null) throw invalidFile(path);
  return saved;
}

/**
 * Saves the servers: the folder is made (and kept) 0700, the file is
 * written 0600 beside its final name, fsynced and renamed over it, so a
 * reader sees the old file or the new one, never half of one, and nobody
 * else can read a token even for a moment. Returns the file's path.
 */
export function saveServers(env: Env, saved: SavedServers): string {
  const dir = credentialsDir(env);
  const path = credentialsPath(env);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    writeFileAtomic(path, serializeSavedServers(saved), 0o600);
  } catch (err) {
    throw new BerthError('BERTH_E_CREDENTIALS', `cannot save the credentials in ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      cause: err,
      hint: `Check that ${dir} can be written; or skip saving and set BERTH_SERVER and BERTH_TOKEN instead.`,
    });
  }
  return path;
}

/**
 * The credentials a remote command uses. The server: `selector` (its
 * --server), else BERTH_SERVER, else the current saved one; a selector is a
 * saved server's name or a URL. The token: BERTH_TOKEN, else the saved
 * server's. A URL nothing was saved for needs BERTH_TOKEN (then the file is
 * not even read): another server's token is never sent to it.
 */
export function resolveCredentials(env: Env, selector?: string): Credentials {
  const chosen = present(selector) ?? present(env.BERTH_SERVER);
  const envToken = present(env.BERTH_TOKEN);
  const token = (saved: string) => (envToken !== undefined ? apiToken(envToken) : saved);
  if (chosen !== undefined && isUrlSelector(chosen) && envToken !== undefined) return { server: serverUrl(chosen), token: apiToken(envToken) };
  const saved = readSavedServers(credentialsPath(env));
  if (chosen !== undefined) {
    const entry = findServer(saved, chosen, serverUrl);
    if (entry !== null) return { server: entry.server, token: token(entry.token) };
    if (isUrlSelector(chosen)) throw new BerthError('BERTH_E_NOT_LOGGED_IN', `not logged in: no token is saved for ${serverUrl(chosen)}`, { hint: LOGIN_HINT });
    const names = saved.servers.map((s) => s.name);
    throw new BerthError('BERTH_E_NOT_LOGGED_IN', `not logged in: no saved server is named "${chosen}"`, {
      hint: names.length === 0 ? LOGIN_HINT : `The saved servers are ${names.join(', ')} (berth servers lists them); or log in with \`berth login --server URL --name ${chosen} --token TOKEN\`.`,
    });
  }
  const current = saved.servers.find((s) => s.server === saved.current);
  if (current !== undefined) return { server: current.server, token: token(current.token) };
  if (saved.servers.length > 0) {
    throw new BerthError('BERTH_E_NOT_LOGGED_IN', `not logged in: ${saved.servers.length} servers are saved and none is current`, {
      hint: `Pick one for every command with \`berth servers use NAME\` (${saved.servers.map((s) => s.name).join(', ')}), or for one command with --server NAME or BERTH_SERVER.`,
    });
  }
  throw new BerthError('BERTH_E_NOT_LOGGED_IN', `not logged in: ${envToken === undefined ? 'no berth server is known' : 'no berth server URL is known'}`, { hint: LOGIN_HINT });
}
