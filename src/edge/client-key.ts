/**
 * The key a client is limited by: its address, IPv6 by /64 (one host
 * commonly holds a whole /64, and must not escape its limit by rotating).
 * IPv4-mapped IPv6 addresses are keyed by their IPv4 address.
 */
export function clientKey(address: string): string {
  if (!address.includes(':')) return address;
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
  const groups = expandIpv6(address);
  return groups === null ? address : `${groups.slice(0, 4).join(':')}::/64`;
}

function expandIpv6(address: string): string[] | null {
  const [head, tail] = address.toLowerCase().split('::', 2) as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  if (tail === undefined) return left.length === 8 ? left.map(trimZeros) : null;
  const right = tail === '' ? [] : tail.split(':');
  const missing = 8 - left.length - right.length;
  return missing < 0 ? null : [...left, ...Array<string>(missing).fill('0'), ...right].map(trimZeros);
}

/** "0db8" and "db8" are one group. */
function trimZeros(group: string): string {
  return group.replace(/^0+(?=.)/, '');
}
