// The Authorization header (RFC 9110 §11.6.2): `auth-scheme [ 1*SP
// credentials ]`. The scheme is case-insensitive (§11.1: "bearer" and
// "BEARER" are "Bearer"), so a client or a proxy that spells it differently
// is not turned away. Pure: the API, git's smart HTTP and the metrics
// listener all read credentials through here.

/** The credential a request presented: a bearer token, a basic password, or nothing usable. */
export type PresentedCredential =
  | { readonly kind: 'bearer'; readonly token: string }
  | { readonly kind: 'basic'; readonly password: string }
  | { readonly kind: 'none' };

const SCHEME = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?: +(.*))?$/s;

/**
 * The credential in an Authorization header value. `Bearer` takes its token
 * (RFC 6750's token68, trimmed); `Basic` the password of base64
 * `user:password` (the user name is not used). Any other scheme, an empty
 * credential or a malformed header is `none`.
 */
export function parseAuthorization(header: string | undefined): PresentedCredential {
  if (header === undefined) return { kind: 'none' };
  const match = SCHEME.exec(header.trim());
  if (match === null) return { kind: 'none' };
  const scheme = match[1]!.toLowerCase();
  const credentials = (match[2] ?? '').trim();
  if (credentials === '') return { kind: 'none' };
  if (scheme === 'bearer') return { kind: 'bearer', token: credentials };
  if (scheme === 'basic') {
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon === -1 || colon === decoded.length - 1 ? { kind: 'none' } : { kind: 'basic', password: decoded.slice(colon + 1) };
  }
  return { kind: 'none' };
}
