// The address plan of the apps' links, and the names berth gives what it
// makes on the host. Pure: the same app and slot give the same names and
// addresses on every start, which is how a restarted daemon recognises what
// an earlier one made.

import { createHash } from 'node:crypto';
import { BerthError } from '../errors.ts';

/**
 * Every app's link is a /31 out of this range: the lower half of IPv4
 * link-local space (RFC 3927), which routers never forward, so nothing on
 * it can be reached from off the machine by accident of routing.
 */
export const LINK_RANGE = '169.254.0.0/17';
/**
 * Slots 0–127 would fall in 169.254.0.0/24, which RFC 3927 §2.1 reserves
 * (and which clouds use: Oracle Cloud's boot volumes are iSCSI at
 * 169.254.0.2, which a link route of ours would hijack).
 */
export const FIRST_LINK_SLOT = 128;
/** The last /31 of the range: 169.254.127.254/31. */
export const LAST_LINK_SLOT = 16_383;
/** How many apps can have a network at once: 16,384 /31s less the 128 reserved. */
export const LINK_SLOTS = LAST_LINK_SLOT - FIRST_LINK_SLOT + 1;

const RANGE_BASE = ipv4ToNumber('169.254.0.0');

export interface LinkAddresses {
  /** The host's end: the source of the edge's connections. Even. */
  readonly hostAddress: string;
  /** The app's end, inside its namespace: where the edge connects. Odd. */
  readonly address: string;
  readonly prefixLength: 31;
}

/** The two addresses of slot `slot`'s link: 169.254.0.0 + 2·slot (host) and + 1 (app). */
export function linkAddresses(slot: number): LinkAddresses {
  if (!Number.isInteger(slot) || slot < FIRST_LINK_SLOT || slot > LAST_LINK_SLOT) {
    throw new BerthError('BERTH_E_SANDBOX_NETWORK', `link slot ${String(slot)} is outside ${FIRST_LINK_SLOT}–${LAST_LINK_SLOT}`, {
      hint: `Give every app a slot of its own from ${FIRST_LINK_SLOT} to ${LAST_LINK_SLOT} (${LINK_SLOTS} apps).`,
      status: 500,
    });
  }
  const host = RANGE_BASE + slot * 2;
  return { hostAddress: numberToIpv4(host), address: numberToIpv4(host + 1), prefixLength: 31 };
}

/** Linux limits interface names to 15 characters (IFNAMSIZ less the NUL). */
export const MAX_IFNAME = 15;
const HASH_CHARS = 6;
const LINK_PREFIX = /^[a-z][a-z0-9]{0,5}-$/;

/** A prefix for the host ends' names ("bh-"): 2 to 7 characters ending in "-", so `PREFIX*` in a rule means ours. */
export function linkPrefix(value: string): string {
  if (!LINK_PREFIX.test(value)) {
    throw new BerthError('BERTH_E_USAGE', `${JSON.stringify(value)} is not a valid link prefix`, {
      hint: 'A link prefix is 2 to 7 characters: a lowercase letter, then letters or digits, ending in "-" (e.g. "bh-").',
    });
  }
  return value;
}

/**
 * The name of the host's end of an app's link: the prefix and the app's
 * name when they fit in 15 characters (`bh-shop`, readable in `ip link`),
 * else the prefix, the name's first letters, "_" and a hash of the whole
 * name. App names never hold "_", so the two forms cannot meet.
 */
export function linkName(app: string, prefix = 'bh-'): string {
  const room = MAX_IFNAME - linkPrefix(prefix).length;
  if (app.length <= room) return `${prefix}${app}`;
  const hash = createHash('sha256').update(app).digest('hex').slice(0, HASH_CHARS);
  return `${prefix}${app.slice(0, room - HASH_CHARS - 1)}_${hash}`;
}

/**
 * The alias berth sets on each link's host end: it names the namespace the
 * link belongs to, so two berth servers (two state folders) can never take
 * each other's links for their own.
 */
export function linkAlias(netnsPath: string): string {
  return `berth ${netnsPath}`;
}

/**
 * The label of the service address on `lo`: what marks it as berth's (a
 * label starts with its interface's name). On `lo` rather than a dummy
 * interface: lo exists everywhere, while some kernels are built without
 * the dummy driver.
 */
export const SERVICE_LABEL = 'lo:berth';

export function ipv4ToNumber(address: string): number {
  const parts = address.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) {
    throw new BerthError('BERTH_E_ADDRESS', `${JSON.stringify(address)} is not an IPv4 address`, { hint: 'Use four numbers from 0 to 255 separated by dots.' });
  }
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

export function numberToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Whether `address` lies in `cidr` ("a.b.c.d/len"). */
export function inCidr(address: string, cidr: string): boolean {
  const [base, length] = cidr.split('/');
  const bits = Number(length);
  const size = 2 ** (32 - bits);
  const start = Math.floor(ipv4ToNumber(base!) / size) * size;
  const n = ipv4ToNumber(address);
  return n >= start && n < start + size;
}
