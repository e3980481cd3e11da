import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

// A SCRAM-SHA-256 verifier (RFC 5802, RFC 7677) in the form PostgreSQL keeps
// in pg_authid.rolpassword. Handing the server a verifier instead of the
// password (CREATE ROLE … PASSWORD '<verifier>' is stored as is) means the
// plaintext never reaches the server, its logs or pg_stat_statements.

/** PostgreSQL's default iteration count (scram_iterations). */
export const SCRAM_ITERATIONS = 4096;
const SALT_BYTES = 16;

/**
 * `SCRAM-SHA-256$<iterations>:<salt b64>$<StoredKey b64>:<ServerKey b64>`.
 * PostgreSQL runs the password through SASLprep first; for the ASCII passwords
 * berth makes that is the identity, and for others NFKC is what SASLprep's
 * mapping mostly amounts to.
 */
export function scramSha256Verifier(password: string, salt: Buffer = randomBytes(SALT_BYTES), iterations = SCRAM_ITERATIONS): string {
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError(`iterations must be a positive integer, not ${iterations}`);
  const normalized = /^[\x20-\x7e]*$/.test(password) ? password : password.normalize('NFKC');
  const salted = pbkdf2Sync(normalized, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** The parts of a verifier, or null when `text` is not one. */
export function parseScramVerifier(text: string): { iterations: number; salt: Buffer; storedKey: Buffer; serverKey: Buffer } | null {
  const match = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(text);
  if (match === null) return null;
  return { iterations: Number(match[1]), salt: Buffer.from(match[2]!, 'base64'), storedKey: Buffer.from(match[3]!, 'base64'), serverKey: Buffer.from(match[4]!, 'base64') };
}
