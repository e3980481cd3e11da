import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

// API tokens. Only the SHA-256 of a token is stored: a leaked database or
// backup does not give anyone access. A plain hash (no salt, no slow KDF) is
// enough because the token is 256 random bits, not a password a person chose.

export const TOKEN_PREFIX = 'berth_';
/** 32 random bytes are 43 base64url characters (no padding). */
const TOKEN_SHAPE = /^berth_[A-Za-z0-9_-]{43}$/;

export interface GeneratedToken {
  /** The plaintext, shown once to whoever created it and never stored. */
  readonly token: string;
  /** sha256 of the plaintext, lowercase hex: what the store keeps. */
  readonly hash: string;
}

export function generateToken(random: (size: number) => Buffer = randomBytes): GeneratedToken {
  // The prefix makes a leaked token recognisable to secret scanners and to
  // a person reading a config file.
  const token = TOKEN_PREFIX + random(32).toString('base64url');
  return { token, hash: hashToken(token) };
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Whether a string has the shape of a berth token; a cheap refusal before any lookup. */
export function looksLikeToken(value: string): boolean {
  return TOKEN_SHAPE.test(value);
}

/**
 * Constant-time comparison of two hex hashes. timingSafeEqual throws on
 * buffers of different lengths, and the length of a hash is no secret, so
 * a length mismatch is simply false.
 */
export function tokensMatch(hashA: string, hashB: string): boolean {
  const a = Buffer.from(hashA, 'utf8');
  const b = Buffer.from(hashB, 'utf8');
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

/** What the revocation policy needs of a token. */
export interface TokenState {
  readonly name: string;
  readonly revokedAt: string | null;
}

/**
 * Whether a token can administer berth. Every active token can until
 * tokens get roles (issue 21): then this is the one place that narrows it.
 */
export function isAdminToken(token: TokenState): boolean {
  return token.revokedAt === null;
}

/**
 * Whether revoking `name` would leave berth with no admin token: nobody
 * could then call the API again, not even to make a token, and only
 * `berth server reset-admin-token` on the host would get back in. Revoking
 * a token that is already revoked, or one that is not an admin, changes
 * nothing and is never refused.
 */
export function revocationLocksOut(tokens: readonly TokenState[], name: string): boolean {
  const target = tokens.find((token) => token.name === name);
  if (target === undefined || !isAdminToken(target)) return false;
  return !tokens.some((token) => token.name !== name && isAdminToken(token));
}

/**
 * The name of the token reset-admin-token issues: "admin" while no token
 * has had it, then "admin-2", "admin-3", … — the first free one, since
 * names are never reused.
 */
export function nextAdminTokenName(taken: readonly string[]): string {
  const names = new Set(taken);
  if (!names.has('admin')) return 'admin';
  for (let n = 2; ; n++) if (!names.has(`admin-${n}`)) return `admin-${n}`;
}
