/**
 * What the edge forwards and what it drops. Hop-by-hop headers (RFC 9110
 * §7.6.1) belong to one connection and never cross the proxy, nor does any
 * header the peer listed in `Connection`. Client-supplied forwarding headers
 * are replaced, never trusted: an app behind berth can rely on them.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

// The edge re-frames every message it forwards, so the peer's framing
// header never crosses: the proxy writes its own Content-Length.
const FRAMING = 'content-length';

const FORWARDING = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-real-ip', 'forwarded']);

export function isHopByHop(name: string): boolean {
  return HOP_BY_HOP.has(name);
}

/** Lower-cased header names listed in a Connection header value. */
export function connectionTokens(value: string | undefined): Set<string> | null {
  if (value === undefined) return null;
  const tokens = new Set<string>();
  for (const raw of value.split(',')) {
    const token = raw.trim().toLowerCase();
    if (token !== '') tokens.add(token);
  }
  return tokens;
}

export interface ForwardContext {
  readonly clientAddress: string;
  readonly proto: 'http' | 'https';
  readonly host: string;
  readonly requestId: string | null;
}

/**
 * Builds the header list sent upstream from the client's raw header pairs
 * (`[name, value, name, value, ...]` as node gives them). For an upgrade the
 * caller adds `connection: upgrade` and `upgrade` back itself.
 */
export function upstreamRequestHeaders(rawHeaders: readonly string[], context: ForwardContext): string[] {
  let listed: Set<string> | null = null;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'connection') {
      listed ??= new Set();
      for (const token of connectionTokens(rawHeaders[i + 1]) ?? []) listed.add(token);
    }
  }
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || FORWARDING.has(lower) || lower === FRAMING || (listed !== null && listed.has(lower))) continue;
    if (lower === 'x-request-id' && context.requestId !== null) continue;
    out.push(name, rawHeaders[i + 1]!);
  }
  out.push('X-Forwarded-For', context.clientAddress, 'X-Forwarded-Proto', context.proto, 'X-Forwarded-Host', context.host);
  if (context.requestId !== null) out.push('X-Request-Id', context.requestId);
  return out;
}

/** Filters an upstream response's raw header pairs for the client. */
export function clientResponseHeaders(rawHeaders: readonly string[]): string[] {
  let listed: Set<string> | null = null;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'connection') {
      listed ??= new Set();
      for (const token of connectionTokens(rawHeaders[i + 1]) ?? []) listed.add(token);
    }
  }
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || (listed !== null && listed.has(lower))) continue;
    out.push(name, rawHeaders[i + 1]!);
  }
  return out;
}

/** Client address without the IPv4-mapped IPv6 prefix node reports on dual-stack sockets. */
export function clientAddress(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return 'unknown';
  return remoteAddress.startsWith('::ffff:') ? remoteAddress.slice(7) : remoteAddress;
}
