// What `ip -j` (iproute2's JSON output) says about interfaces and routes,
// reduced to what the networks need. Pure; a shape berth does not expect is
// an error rather than a guess.

import { BerthError } from '../errors.ts';

export interface Interface {
  readonly ifindex: number;
  readonly ifname: string;
  /** For a veth: its peer's ifindex (in the peer's namespace); null otherwise or when unknown. */
  readonly peerIndex: number | null;
  /** The driver (`veth`, `dummy`, `tun`…); null for plain devices (lo, a NIC). */
  readonly kind: string | null;
  readonly alias: string | null;
  /** Administratively up (`ip link set … up`). */
  readonly up: boolean;
  /** IPv4 addresses as "address/prefix". */
  readonly ipv4: readonly string[];
  /** The label of each IPv4 address ("address/prefix" → "lo:berth") that has one other than the interface's name. */
  readonly labels: Readonly<Record<string, string>>;
  /** IPv6 addresses as "address/prefix" (berth's interfaces must have none). */
  readonly ipv6: readonly string[];
}

export interface DefaultRoute {
  readonly gateway: string | null;
  readonly dev: string;
  readonly prefsrc: string | null;
  readonly metric: number;
}

function malformed(what: string, detail: string): never {
  throw new BerthError('BERTH_E_SANDBOX_NETWORK', `cannot read ${what} from ip's output: ${detail}`, {
    hint: 'berth expects iproute2 5.x or newer (ip -j); check `ip -V`.',
    status: 500,
  });
}

function parseArray(text: string, what: string): unknown[] {
  let value: unknown;
  try {
    // ip prints nothing at all (not "[]") for an empty list in some versions.
    value = text.trim() === '' ? [] : JSON.parse(text);
  } catch {
    malformed(what, 'not JSON');
  }
  if (!Array.isArray(value)) malformed(what, 'not a list');
  return value;
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) malformed(what, 'an entry is not an object');
  return value as Record<string, unknown>;
}

function optionalString(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** The interfaces of `ip -j -d addr show` (or `ip -j addr show`: then kind and alias are null). */
export function parseInterfaces(text: string): Interface[] {
  return parseArray(text, 'interfaces').map((entry) => {
    const e = record(entry, 'interfaces');
    if (typeof e.ifindex !== 'number' || typeof e.ifname !== 'string') malformed('interfaces', 'an entry has no ifindex or ifname');
    const linkinfo = typeof e.linkinfo === 'object' && e.linkinfo !== null ? (e.linkinfo as Record<string, unknown>) : {};
    const flags = Array.isArray(e.flags) ? e.flags : [];
    const ipv4: string[] = [];
    const ipv6: string[] = [];
    const labels: Record<string, string> = {};
    for (const a of Array.isArray(e.addr_info) ? e.addr_info : []) {
      const addr = record(a, 'addresses');
      if (typeof addr.local !== 'string' || typeof addr.prefixlen !== 'number') continue;
      if (addr.family === 'inet') {
        ipv4.push(`${addr.local}/${addr.prefixlen}`);
        if (typeof addr.label === 'string' && addr.label !== e.ifname) labels[`${addr.local}/${addr.prefixlen}`] = addr.label;
      }
      else if (addr.family === 'inet6') ipv6.push(`${addr.local}/${addr.prefixlen}`);
    }
    return {
      ifindex: e.ifindex,
      ifname: e.ifname,
      peerIndex: typeof e.link_index === 'number' ? e.link_index : null,
      kind: optionalString(linkinfo.info_kind),
      alias: optionalString(e.ifalias),
      up: flags.includes('UP'),
      ipv4,
      labels,
      ipv6,
    };
  });
}

/** The IPv4 default routes of `ip -j -4 route show default`, lowest metric first. */
export function parseDefaultRoutes(text: string): DefaultRoute[] {
  const routes = parseArray(text, 'routes').map((entry) => {
    const e = record(entry, 'routes');
    if (e.dst !== 'default' || typeof e.dev !== 'string') return null;
    return {
      gateway: optionalString(e.gateway),
      dev: e.dev,
      prefsrc: optionalString(e.prefsrc),
      metric: typeof e.metric === 'number' ? e.metric : 0,
    };
  });
  return routes.filter((r): r is DefaultRoute => r !== null).sort((a, b) => a.metric - b.metric);
}

/** The source address of `ip -j -4 route get ADDRESS`, or null when the route names none. */
export function parseRouteSource(text: string): string | null {
  const [first] = parseArray(text, 'a route');
  return first === undefined ? null : optionalString(record(first, 'a route').prefsrc);
}

/**
 * The address slirp binds its outgoing sockets to: the source the host
 * uses for its default route. null when the host has no default route.
 */
export function outboundAddress(defaults: readonly DefaultRoute[], gatewaySource: string | null, interfaces: readonly Interface[]): string | null {
  const route = defaults[0];
  if (route === undefined) return null;
  if (route.prefsrc !== null) return route.prefsrc;
  if (gatewaySource !== null) return gatewaySource;
  // A default route without a gateway (a point-to-point link): the device's first address.
  const dev = interfaces.find((i) => i.ifname === route.dev);
  return dev?.ipv4[0]?.split('/')[0] ?? null;
}
