/**
 * Registry authentication as the distribution spec and Docker do it: a 401
 * names a scheme in WWW-Authenticate. Basic: send the user and password.
 * Bearer: ask the realm (the token service) for a token for the scope,
 * with the user and password if any, then send the token.
 */
export interface Challenge {
  readonly scheme: 'basic' | 'bearer';
  readonly params: Readonly<Record<string, string>>;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;

/** The first Basic or Bearer challenge of a WWW-Authenticate header, or undefined. */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (header === undefined) return undefined;
  let rest = header.trim();
  while (rest.length > 0) {
    const schemeMatch = TOKEN.exec(rest);
    if (!schemeMatch) return undefined;
    const scheme = schemeMatch[0].toLowerCase();
    rest = rest.slice(schemeMatch[0].length).trimStart();
    const params: Record<string, string> = {};
    // auth-params: name=token or name="quoted", separated by commas, until the next scheme.
    for (;;) {
      const name = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*/.exec(rest);
      if (!name) break;
      rest = rest.slice(name[0].length);
      let value: string;
      if (rest.startsWith('"')) {
        let end = 1;
        value = '';
        while (end < rest.length && rest[end] !== '"') {
          if (rest[end] === '\\' && end + 1 < rest.length) end++;
          value += rest[end];
          end++;
        }
        if (end >= rest.length) return undefined;
        rest = rest.slice(end + 1);
      } else {
        const token = TOKEN.exec(rest);
        if (!token) return undefined;
        value = token[0];
        rest = rest.slice(token[0].length);
      }
      params[name[1]!.toLowerCase()] = value;
      rest = rest.trimStart();
      if (!rest.startsWith(',')) break;
      rest = rest.slice(1).trimStart();
    }
    if (scheme === 'basic' || scheme === 'bearer') return { scheme, params };
  }
  return undefined;
}

/** The scope a request needs: pull, or pull and push, on one repository. */
export function repositoryScope(repository: string, push: boolean): string {
  return `repository:${repository}:${push ? 'pull,push' : 'pull'}`;
}

/**
 * The token service URL for a Bearer challenge: the realm with the service
 * and the scopes (ours and the one the registry named, when they differ).
 * A realm that is not http(s), or plain http for a registry reached over
 * https, is refused: credentials would travel in the clear.
 */
export function tokenUrl(challenge: Challenge, scope: string, registryIsHttps: boolean): URL | string {
  const realm = challenge.params['realm'];
  if (realm === undefined) return 'its Bearer challenge names no realm';
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    return 'its Bearer realm is not a URL';
  }
  if (url.protocol !== 'https:' && (url.protocol !== 'http:' || registryIsHttps)) return `its token service is at ${url.protocol}// while the registry is reached over https`;
  if (challenge.params['service'] !== undefined) url.searchParams.set('service', challenge.params['service']);
  url.searchParams.append('scope', scope);
  const named = challenge.params['scope'];
  if (named !== undefined && named !== scope) url.searchParams.append('scope', named);
  return url;
}

export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}
