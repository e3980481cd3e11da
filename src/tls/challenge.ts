// HTTP-01 challenges (RFC 8555 §8.3): while an order is being validated,
// the CA fetches http://HOST/.well-known/acme-challenge/TOKEN on port 80 and
// expects the key authorization as the body. The ACME client puts tokens in
// through a `ChallengeResponder`; the edge answers those paths with
// `challengeResponse()`, a pure lookup it can run in any thread over a copy
// of the tokens.

/** Where the ACME client publishes the answers the CA will ask for. */
export interface ChallengeResponder {
  set(token: string, keyAuthorization: string): void;
  remove(token: string): void;
}

/** The path prefix of HTTP-01 challenges. */
export const CHALLENGE_PATH_PREFIX = '/.well-known/acme-challenge/';

// RFC 8555 §8.3: a token is base64url, with at least 128 bits of entropy;
// a key authorization is "TOKEN.THUMBPRINT", both base64url.
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;
const KEY_AUTHORIZATION = /^[A-Za-z0-9_-]{1,256}\.[A-Za-z0-9_-]{1,128}$/;

/** True for any path the edge must leave to `challengeResponse()` (and must not redirect to HTTPS). */
export function isChallengePath(path: string): boolean {
  return path.startsWith(CHALLENGE_PATH_PREFIX);
}

/**
 * The body to answer a request for `path` (`/.well-known/acme-challenge/TOKEN`,
 * any query ignored) with: the token's key authorization, as `text/plain`
 * with status 200. Null when the path is not a challenge path or the token is
 * not pending: the edge answers 404 then.
 */
export function challengeResponse(path: string, tokens: ReadonlyMap<string, string>): string | null {
  const query = path.indexOf('?');
  const bare = query === -1 ? path : path.slice(0, query);
  if (!isChallengePath(bare)) return null;
  const token = bare.slice(CHALLENGE_PATH_PREFIX.length);
  if (!TOKEN.test(token)) return null;
  return tokens.get(token) ?? null;
}

/**
 * The tokens of the orders under way, in memory. `onChange` gets a fresh
 * copy on every change, for an edge whose engines run in other threads.
 */
export class ChallengeStore implements ChallengeResponder {
  readonly #tokens = new Map<string, string>();
  readonly #onChange: ((tokens: ReadonlyMap<string, string>) => void) | undefined;

  constructor(options: { onChange?: (tokens: ReadonlyMap<string, string>) => void } = {}) {
    this.#onChange = options.onChange;
  }

  set(token: string, keyAuthorization: string): void {
    // Both come from the CA through the ACME client; refuse anything that is
    // not their documented shape rather than serve it.
    if (!TOKEN.test(token)) throw new TypeError('an ACME challenge token must be base64url');
    if (!KEY_AUTHORIZATION.test(keyAuthorization) || !keyAuthorization.startsWith(`${token}.`)) {
      throw new TypeError('an ACME key authorization must be "TOKEN.THUMBPRINT" for its token');
    }
    this.#tokens.set(token, keyAuthorization);
    this.#onChange?.(this.tokens());
  }

  remove(token: string): void {
    if (this.#tokens.delete(token)) this.#onChange?.(this.tokens());
  }

  /** A copy of the pending tokens. */
  tokens(): ReadonlyMap<string, string> {
    return new Map(this.#tokens);
  }

  /** `challengeResponse(path, this.tokens())` without the copy. */
  respond(path: string): string | null {
    return challengeResponse(path, this.#tokens);
  }
}
