import { isBerthError } from '../errors.ts';
import { isLocalName, localName } from './names.ts';

/** What the edge has on hand when a TLS handshake asks for a name. */
export interface AvailableCertificates<T> {
  /** Certificates by exact host name, lowercase (the certificate manager's `certificates()`). */
  readonly exact: ReadonlyMap<string, T>;
  /** Whether local names (`*.localhost`, IP addresses) may get a certificate from the local CA. */
  readonly localCa: boolean;
}

/**
 * The certificate for a handshake: one held for exactly that name; or the
 * local CA's leaf for `name` (canonical: `LocalCa.certificateFor(name)`
 * issues or returns it); or null, when the edge should use its default.
 */
export type CertificateSelection<T> =
  | { readonly source: 'exact'; readonly name: string; readonly certificate: T }
  | { readonly source: 'local-ca'; readonly name: string }
  | null;

/**
 * Which certificate serves `serverName` — the SNI name of a handshake or,
 * when the client sent none (clients never send IP addresses in SNI), the
 * local address it connected to. Case and one trailing dot are ignored;
 * an IPv6 address may come in brackets. Exact names win; then the local CA
 * for "localhost", names under ".localhost" and IP addresses; else null.
 * There are no wildcard matches: berth only asks for exact names.
 */
export function selectCertificate<T>(serverName: string | null | undefined, available: AvailableCertificates<T>): CertificateSelection<T> {
  if (typeof serverName !== 'string' || serverName.length === 0 || serverName.length > 255) return null;
  let name = serverName.toLowerCase();
  if (name.startsWith('[') && name.endsWith(']')) name = name.slice(1, -1);
  if (name.endsWith('.')) name = name.slice(0, -1);
  const exact = available.exact.get(name);
  if (exact !== undefined) return { source: 'exact', name, certificate: exact };
  if (!available.localCa || !isLocalName(name)) return null;
  try {
    return { source: 'local-ca', name: localName(name) };
  } catch (err) {
    // "a..localhost" and the like: not a name anything can be issued for.
    if (isBerthError(err)) return null;
    throw err;
  }
}
