import { timingSafeEqual } from 'node:crypto';

// Cross-site request forgery, refused three ways. The session cookie is
// SameSite=Strict, so another site's request does not carry it in a current
// browser; every mutation must also carry the session's CSRF token as a
// header (which another site cannot read, and cannot set without a CORS
// preflight the dashboard never grants); and a browser's own word on where
// a request comes from (Sec-Fetch-Site, Origin) must say "this origin".

export const CSRF_HEADER = 'x-berth-csrf';

/** What the guard looks at in a request. */
export interface GuardedRequest {
  readonly method: string;
  /** The Host header: the origin the browser thinks it talks to. */
  readonly host: string | undefined;
  readonly scheme: 'http' | 'https';
  readonly origin: string | undefined;
  readonly secFetchSite: string | undefined;
  readonly csrfHeader: string | undefined;
}

/** Methods that change nothing, and need no CSRF token. */
export function isSafeMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

/**
 * Why a request does not come from the dashboard's own pages, or null when
 * nothing says it comes from elsewhere. Browsers send Sec-Fetch-Site and
 * Origin on every POST; a client that sends neither (curl) is judged by
 * the CSRF token alone.
 */
export function foreignOrigin(request: Pick<GuardedRequest, 'host' | 'scheme' | 'origin' | 'secFetchSite'>): string | null {
  if (request.secFetchSite !== undefined && request.secFetchSite !== 'same-origin') return `the request comes from another site (Sec-Fetch-Site: ${request.secFetchSite})`;
  if (request.origin !== undefined) {
    if (request.host === undefined || request.origin !== `${request.scheme}://${request.host}`) return `the request comes from another origin (${request.origin})`;
  }
  return null;
}

/** Why a mutation of the session holding `csrf` must be refused, or null when it may go ahead. Safe methods always may. */
export function refuseMutation(request: GuardedRequest, csrf: string): string | null {
  if (isSafeMethod(request.method)) return null;
  const foreign = foreignOrigin(request);
  if (foreign !== null) return foreign;
  if (request.csrfHeader === undefined || request.csrfHeader === '') return `the ${CSRF_HEADER} header is missing`;
  if (!sameSecret(request.csrfHeader, csrf)) return `the ${CSRF_HEADER} header does not match the session`;
  return null;
}

/** Constant-time comparison of two secrets (their lengths are no secret). */
export function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}
