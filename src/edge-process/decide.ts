// What a starting daemon does with the edge process it finds. Pure.
import { isDeepStrictEqual } from 'node:util';
import type { EdgeSettings, Hello } from './protocol.ts';

/**
 * - spawn: no edge runs; start one.
 * - adopt: the running edge is the wanted one (same code, same settings):
 *   keep it, and its routes until the daemon sets its own.
 * - hand-over: other code (or limits, engines) on the same addresses: a
 *   new edge joins its listening sockets, then the old one retires.
 * - replace: other addresses (or an edge not listening, or leaving): a new
 *   edge listens on the wanted ones, then the old one retires.
 */
export type EdgeStart = 'spawn' | 'adopt' | 'hand-over' | 'replace';

export interface WantedEdge {
  readonly code: string;
  readonly settings: EdgeSettings;
}

export function decideEdgeStart(running: Hello | null, wanted: WantedEdge): EdgeStart {
  if (running === null) return 'spawn';
  // Nothing to keep from an edge that is on its way out or never served.
  if (running.leaving || running.settings === null) return 'replace';
  const sameAddresses = isDeepStrictEqual(addresses(running.settings), addresses(wanted.settings));
  if (!sameAddresses) return 'replace';
  if (!running.listening) return running.code === wanted.code && sameSettings(running.settings, wanted.settings) ? 'adopt' : 'replace';
  if (running.code === wanted.code && sameSettings(running.settings, wanted.settings)) return 'adopt';
  return 'hand-over';
}

/** The addresses as asked (port 0 included: an edge asked for any port is the same edge wherever it got one). */
function addresses(settings: EdgeSettings): unknown {
  return { http: norm(settings.http), https: settings.https === null ? null : norm(settings.https) };
}

function norm(address: { readonly host: string | undefined; readonly port: number }): { host: string; port: number } {
  return { host: address.host ?? '', port: address.port };
}

function sameSettings(a: EdgeSettings, b: EdgeSettings): boolean {
  return a.workers === b.workers && a.accessRecords === b.accessRecords && isDeepStrictEqual(sortedEntries(a.limits), sortedEntries(b.limits));
}

function sortedEntries(limits: object): Array<[string, unknown]> {
  return Object.entries(limits)
    .filter(([, value]) => value !== undefined)
    .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
}
