import { BerthError } from '../../errors.ts';

// The servers `berth login` saved, as plain data: one entry per server URL,
// each with a name to type (`--server prod`) and its token, and which one is
// current (the one commands use unless told otherwise), the way kubectl keeps
// contexts. Pure: parsing the file's JSON, adding, choosing and removing;
// credentials.ts reads and writes the file.
//
// The file before several servers held one `{"server", "token"}`: it still
// reads, as one entry that is current, and is written in the new form the
// next time something is saved.

export interface SavedServer {
  readonly name: string;
  /** The API's base URL, normalised (serverUrl()); the entry's key. */
  readonly server: string;
  readonly token: string;
}

export interface SavedServers {
  /** The URL of the current server, or null when none is. */
  readonly current: string | null;
  readonly servers: readonly SavedServer[];
}

export const NO_SERVERS: SavedServers = { current: null, servers: [] };

const FILE_VERSION = 2;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$/;

/** A server's name as the user gave it: letters, digits, ".", "_", ":" and "-", starting with a letter or digit, at most 63. */
export function serverName(input: string): string {
  const name = input.trim();
  if (!NAME.test(name)) {
    throw new BerthError('BERTH_E_USAGE', `"${input}" cannot name a server: use letters, digits, ".", "_", ":" and "-" (at most 63, starting with a letter or digit)`, {
      hint: 'e.g. --name prod',
    });
  }
  return name;
}

/** Whether a --server / BERTH_SERVER value is a URL (else it is a saved server's name). */
export function isUrlSelector(selector: string): boolean {
  return selector.includes('://');
}

/**
 * The file's content as SavedServers, or null when it is not a credentials
 * file berth wrote. `check` validates a URL and a token (serverUrl and
 * apiToken, which throw), so an entry is only ever what login could save.
 */
export function parseSavedServers(data: unknown, check: { url: (s: string) => string; token: (s: string) => string }): SavedServers | null {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return null;
  const record = data as Record<string, unknown>;
  const entry = (value: unknown, name?: unknown): SavedServer | null => {
    if (value === null || typeof value !== 'object') return null;
    const { server, token } = value as Record<string, unknown>;
    if (typeof server !== 'string' || typeof token !== 'string') return null;
    try {
      const url = check.url(server);
      return { name: typeof name === 'string' ? serverName(name) : defaultServerName(url, []), server: url, token: check.token(token) };
    } catch {
      return null;
    }
  };
  if (record.version === undefined) {
    // The single-server file of before.
    const only = entry(record);
    return only === null ? null : { current: only.server, servers: [only] };
  }
  if (record.version !== FILE_VERSION || !Array.isArray(record.servers)) return null;
  const servers: SavedServer[] = [];
  for (const item of record.servers) {
    const parsed = entry(item, (item as Record<string, unknown> | null)?.name);
    if (parsed === null || servers.some((s) => s.server === parsed.server || s.name === parsed.name)) return null;
    servers.push(parsed);
  }
  const current = record.current;
  if (current !== null && (typeof current !== 'string' || !servers.some((s) => s.server === current))) return null;
  return { current, servers };
}

/** The file's text (JSON, one entry per server). */
export function serializeSavedServers(saved: SavedServers): string {
  return `${JSON.stringify({ version: FILE_VERSION, current: saved.current, servers: saved.servers.map(({ name, server, token }) => ({ name, server, token })) }, null, 2)}\n`;
}

/** A name for a server saved without one: its host (and port), made unique among `taken` with -2, -3, … */
export function defaultServerName(url: string, taken: readonly string[]): string {
  const host = new URL(url).host.replace(/^\[|\]/g, '').replace(/[^A-Za-z0-9._:-]/g, '-').slice(0, 56) || 'server';
  const base = NAME.test(host) ? host : `server-${host}`.slice(0, 56);
  if (!taken.includes(base)) return base;
  for (let n = 2; ; n++) if (!taken.includes(`${base}-${n}`)) return `${base}-${n}`;
}

/** The saved server a selector names: a name, or a URL (compared normalised by `url`). */
export function findServer(saved: SavedServers, selector: string, url: (s: string) => string): SavedServer | null {
  if (isUrlSelector(selector)) {
    const wanted = url(selector);
    return saved.servers.find((s) => s.server === wanted) ?? null;
  }
  return saved.servers.find((s) => s.name === selector.trim()) ?? null;
}

/**
 * `berth login`: saves a server's token, replacing the entry of the same URL
 * (its name kept unless a new one is given), and makes it current. A name
 * another server has is refused.
 */
export function saveServer(saved: SavedServers, login: { server: string; token: string; name?: string }): { saved: SavedServers; entry: SavedServer; replaced: boolean } {
  const existing = saved.servers.find((s) => s.server === login.server);
  const others = saved.servers.filter((s) => s.server !== login.server);
  const name = login.name !== undefined ? serverName(login.name) : existing?.name ?? defaultServerName(login.server, others.map((s) => s.name));
  const clash = others.find((s) => s.name === name);
  if (clash !== undefined) {
    throw new BerthError('BERTH_E_USAGE', `the name "${name}" is taken by ${clash.server}`, { hint: 'Choose another with --name, or log out of that server first (berth logout NAME).' });
  }
  const entry = { name, server: login.server, token: login.token };
  const servers = existing === undefined ? [...saved.servers, entry] : saved.servers.map((s) => (s.server === login.server ? entry : s));
  return { saved: { current: entry.server, servers }, entry, replaced: existing !== undefined };
}

/** `berth servers use`: makes a saved server current. */
export function useServer(saved: SavedServers, entry: SavedServer): SavedServers {
  return { ...saved, current: entry.server };
}

/**
 * `berth logout`: forgets a server. When it was current and one other server
 * is left, that one becomes current; with several left none is, rather than
 * sending the next command to a server the user did not pick.
 */
export function removeServer(saved: SavedServers, entry: SavedServer): SavedServers {
  const servers = saved.servers.filter((s) => s.server !== entry.server);
  const current = saved.current !== entry.server ? saved.current : servers.length === 1 ? servers[0]!.server : null;
  return { current, servers };
}
