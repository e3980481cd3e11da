/**
 * The key a client is limited by: its address, IPv6 by /64 (one host
 * commonly holds a whole /64, and must not escape its limit by rotating).
 * IPv4-mapped IPv6 addresses are keyed by their IPv4 address. Runs once per
 * connection (and per request of a rate-limited site), so it only splits.
 */
export function clientKey(address: string): string {
  if (!address.includes(':')) return address;
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
  const prefix = ipv6Prefix(address);
  return prefix === null ? address : `${prefix}::/64`;
}

/** The first four groups of an IPv6 address, lower-case, without leading zeros; null when it is not one. */
function ipv6Prefix(address: string): string | null {
  const gap = address.indexOf('::');
  const left = gap === 0 ? NONE : (gap === -1 ? address : address.slice(0, gap)).split(':');
  const right = gap === -1 || gap + 2 === address.length ? NONE : address.slice(gap + 2).split(':');
  const missing = 8 - left.length - right.length;
  if (gap === -1 ? missing !== 0 : missing < 1) return null;
  for (const group of left) if (canonicalGroup(group) === null) return null;
  for (const group of right) if (canonicalGroup(group) === null) return null;
  let out = '';
  for (let i = 0; i < 4; i++) {
    const group = i < left.length ? left[i]! : i < left.length + missing ? '0' : right[i - left.length - missing]!;
    const canonical = canonicalGroup(group);
    if (canonical === null) return null;
    out = i === 0 ? canonical : `${out}:${canonical}`;
  }
  return out;
}

const NONE: readonly string[] = Object.freeze([]);

/** "0DB8" → "db8"; null when not 1-4 hex digits. */
function canonicalGroup(group: string): string | null {
  if (group.length === 0 || group.length > 4) return null;
  let start = 0;
  while (start < group.length - 1 && group.charCodeAt(start) === 0x30) start++;
  for (let i = start; i < group.length; i++) {
    const c = group.charCodeAt(i) | 0x20;
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return null;
  }
  const trimmed = start === 0 ? group : group.slice(start);
  return trimmed.toLowerCase();
}
