import { isIP } from 'node:net';
import { BerthError } from '../errors.ts';
import { hostname } from '../platform/names.ts';

// Which names get a certificate from where. A public CA can never vouch for
// "localhost", "shop.localhost" (RFC 6761 keeps .localhost on the machine
// itself) or a bare IP address, so those get one from berth's local CA;
// every other valid hostname goes to ACME.

/** Where a name's certificate comes from. */
export type CertificateSource = 'acme' | 'local-ca';

/** True for "localhost" and names under ".localhost" (any case, one trailing dot allowed). */
export function isLocalhostName(name: string): boolean {
  const lower = stripDot(name.toLowerCase());
  return lower === 'localhost' || lower.endsWith('.localhost');
}

/** True for "localhost", "*.localhost" and IP addresses: names only the local CA can certify. */
export function isLocalName(name: string): boolean {
  return isIP(name) !== 0 || isLocalhostName(name);
}

/** The source of a name's certificate: the local CA for local names, else ACME. */
export function certificateSource(name: string): CertificateSource {
  return isLocalName(name) ? 'local-ca' : 'acme';
}

function stripDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/**
 * A name the local CA may certify, in its one canonical form: "localhost"
 * or a valid hostname under ".localhost", lowercased; or an IP address
 * (IPv6 in its compressed lowercase form, "::1"). Throws BERTH_E_NAME
 * otherwise — e.g. for "shop.example.com", which is ACME's.
 */
export function localName(value: unknown): string {
  const hint = 'The local CA certifies "localhost", names under ".localhost" (e.g. "shop.localhost") and IP addresses; other names get their certificate over ACME.';
  if (typeof value === 'string') {
    const family = value.includes('%') ? 0 : isIP(value);
    if (family === 4) return value;
    if (family === 6) return new URL(`http://[${value}]/`).hostname.slice(1, -1);
    if (isLocalhostName(value) && !value.endsWith('.')) return hostname(value);
  }
  const shown = typeof value === 'string' ? JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value) : typeof value;
  throw new BerthError('BERTH_E_NAME', `${shown} is not a name the local CA can certify`, { hint, status: 400 });
}

/**
 * A name that gets its certificate over ACME: a valid hostname
 * (`platform/names.ts` `hostname()`: no IPs, no wildcards), lowercased, that
 * is not under ".localhost". Throws BERTH_E_NAME otherwise.
 */
export function acmeName(value: unknown): string {
  const name = hostname(value);
  if (isLocalhostName(name)) {
    throw new BerthError('BERTH_E_NAME', `${JSON.stringify(name)} cannot get a certificate from a public CA`, {
      hint: 'Names under ".localhost" get their certificate from berth\'s local CA (export its root with `berth tls ca`).',
      status: 400,
    });
  }
  return name;
}
