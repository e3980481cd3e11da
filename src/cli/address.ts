import { BerthError } from '../errors.ts';

export interface ListenAddress {
  /** Undefined means every interface. */
  readonly host: string | undefined;
  readonly port: number;
}

function parsePort(text: string, input: string, allowZero: boolean): number {
  if (!/^\d{1,5}$/.test(text)) throw badAddress(input);
  const port = Number(text);
  if (port > 65535 || (!allowZero && port === 0)) throw badAddress(input);
  return port;
}

function badAddress(input: string): BerthError {
  return new BerthError('BERTH_E_ADDRESS', `"${input}" is not a valid address`, {
    hint: 'Use HOST:PORT, :PORT (every interface) or [IPv6]:PORT, for example 127.0.0.1:8080 or :8080.',
  });
}

const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function splitHostPort(input: string): [string, string] {
  if (input.startsWith('[')) {
    const close = input.indexOf(']');
    if (close === -1 || input[close + 1] !== ':') throw badAddress(input);
    return [input.slice(1, close), input.slice(close + 2)];
  }
  const colon = input.lastIndexOf(':');
  if (colon === -1) return ['', input];
  const host = input.slice(0, colon);
  if (host.includes(':')) throw badAddress(input);
  return [host, input.slice(colon + 1)];
}

/** `:8080`, `8080`, `127.0.0.1:8080`, `[::1]:8080`, `localhost:8080`. Port 0 picks a free port. */
export function parseListenAddress(input: string): ListenAddress {
  const [host, port] = splitHostPort(input.trim());
  if (host !== '' && !HOST.test(host) && !/^[0-9a-fA-F:.]+$/.test(host)) throw badAddress(input);
  return { host: host === '' ? undefined : host, port: parsePort(port, input, true) };
}

/** An upstream address: a host is required and port 0 is not an address. */
export function parseUpstreamAddress(input: string): { host: string; port: number } {
  const [host, port] = splitHostPort(input.trim());
  if (host === '' || (!HOST.test(host) && !/^[0-9a-fA-F:.]+$/.test(host))) throw badAddress(input);
  return { host, port: parsePort(port, input, false) };
}

/** `web=2,worker=1` (and repeated flags) → { web: 2, worker: 1 }. */
export function parseScale(values: readonly string[]): Record<string, number> {
  const scale: Record<string, number> = {};
  for (const value of values) {
    for (const part of value.split(',')) {
      const match = /^([A-Za-z0-9][A-Za-z0-9_-]{0,62})=(\d{1,3})$/.exec(part.trim());
      if (!match || Number(match[2]) > 64) {
        throw new BerthError('BERTH_E_USAGE', `"${part}" is not a valid scale`, { hint: 'Use TYPE=COUNT with a count from 0 to 64, e.g. --scale web=2.' });
      }
      scale[match[1]!] = Number(match[2]);
    }
  }
  return scale;
}

/** `--workers N`: 0 runs the edge on the main thread; undefined means one per core. */
export function parseWorkers(input: string | undefined): number | undefined {
  if (input === undefined) return undefined;
  if (!/^\d{1,3}$/.test(input) || Number(input) > 256) {
    throw new BerthError('BERTH_E_USAGE', `"${input}" is not a number of workers`, { hint: 'Use a number from 0 to 256; 0 runs the edge on the main thread.' });
  }
  return Number(input);
}

/** The base domain apps live under: `localhost`, `apps.example.com`. */
export function parseBaseDomain(input: string): string {
  const domain = input.trim().toLowerCase().replace(/\.$/, '');
  if (!HOST.test(domain)) {
    throw new BerthError('BERTH_E_USAGE', `"${input}" is not a domain name`, { hint: 'Use a name such as localhost or apps.example.com; apps get NAME.DOMAIN.' });
  }
  return domain;
}
