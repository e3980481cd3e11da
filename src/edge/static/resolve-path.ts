// From request-target to a file inside the root, in two steps:
//
// 1. parseTarget (pure): validate the raw target, decode percent-encoding
//    exactly once, and refuse every path that is not already canonical. We
//    never normalise ('a/./b', 'a//b', 'a/../b'): a path that needs fixing is
//    either a mistake or a probe, and a silently fixed path is one that a
//    proxy in front of us may have read differently.
// 2. resolveInRoot (I/O): find what the candidate leads to (lookupPath: the
//    canonical path and the stats of the one file found) and check that it is
//    still inside the root, so a symlink cannot lead out of it. That says what
//    the path named a moment ago; whoever reads the file opens it again with
//    openVerified, which checks the descriptor, not the path.

import type { Stats } from 'node:fs';
import { lookupPath, ownerAllows } from '../../safe-fs/index.ts';

export type ParsedTarget =
  | {
      ok: true;
      /** Decoded path, starts with '/'. Safe to append to the root. */
      path: string;
      /** The path as it arrived, still percent-encoded. */
      rawPath: string;
      /** '' or the query including its '?'. */
      query: string;
    }
  | { ok: false; status: 400 | 404; reason: string };

// Dot segments are hidden files (.git, .env, .htpasswd): 404 as if absent.
// RFC 8615 well-known URIs are the one exception people need (ACME, security.txt).
const WELL_KNOWN = '.well-known';

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function parseTarget(target: string): ParsedTarget {
  if (target.charCodeAt(0) !== 0x2f) return fail(400, 'the request-target must be an absolute path');

  const q = target.indexOf('?');
  const pathEnd = q === -1 ? target.length : q;
  let hasPercent = false;
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    // RFC 3986 allows none of these raw; they are echoed into Location, so a
    // CR or LF here would also be a header injection.
    if (c <= 0x20 || c >= 0x7f) return fail(400, 'raw control, space or non-ASCII character');
    if (c === 0x23) return fail(400, 'a fragment is not part of a request-target');
    if (i < pathEnd) {
      if (c === 0x5c) return fail(400, 'backslash in path');
      if (c === 0x25) hasPercent = true;
    }
  }

  const rawPath = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q);
  let path = rawPath;
  if (hasPercent) {
    const decoded = percentDecode(rawPath);
    if (!decoded.ok) return fail(400, decoded.reason);
    path = decoded.value;
  }

  // One pass over the decoded path, segment by segment, without splitting.
  let hidden = false;
  let segStart = 1;
  for (let i = 1; i <= path.length; i++) {
    const c = i < path.length ? path.charCodeAt(i) : 0x2f;
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return fail(400, 'control character in path');
    if (c === 0x5c) return fail(400, 'backslash in path');
    if (c !== 0x2f) continue;
    const len = i - segStart;
    if (len === 0) {
      // Only the last segment may be empty: that is the trailing slash.
      if (i !== path.length) return fail(400, 'empty path segment');
    } else if (path.charCodeAt(segStart) === 0x2e) {
      if (len === 1 || (len === 2 && path.charCodeAt(segStart + 1) === 0x2e)) return fail(400, 'dot segment in path');
      if (!(len === WELL_KNOWN.length && path.startsWith(WELL_KNOWN, segStart))) hidden = true;
    }
    segStart = i + 1;
  }
  // 400 outranks 404: a malformed path is reported as such even if it also
  // names a hidden file.
  if (hidden) return fail(404, 'hidden file');
  return { ok: true, path, rawPath, query };
}

type Decoded = { ok: true; value: string } | { ok: false; reason: string };

function percentDecode(raw: string): Decoded {
  const bytes = new Uint8Array(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c !== 0x25) {
      bytes[n++] = c;
      continue;
    }
    if (i + 2 >= raw.length) return { ok: false, reason: 'truncated percent-encoding' };
    const hi = hexValue(raw.charCodeAt(i + 1));
    const lo = hexValue(raw.charCodeAt(i + 2));
    if (hi === -1 || lo === -1) return { ok: false, reason: 'invalid percent-encoding' };
    const b = (hi << 4) | lo;
    // A file name cannot contain '/', so an encoded one is a probe or an
    // ambiguity (a proxy in front may not treat it as a separator).
    if (b === 0x2f) return { ok: false, reason: 'encoded slash in path' };
    bytes[n++] = b;
    i += 2;
  }
  try {
    // fatal: overlong forms (%c0%ae for '.'), surrogates and stray bytes are
    // errors, not U+FFFD. ignoreBOM: a leading %EF%BB%BF must not vanish.
    return { ok: true, value: decoder.decode(bytes.subarray(0, n)) };
  } catch {
    return { ok: false, reason: 'percent-encoding is not valid UTF-8' };
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

function fail(status: 400 | 404, reason: string): ParsedTarget {
  return { ok: false, status, reason };
}

/** Whether `real` (a realpath) is the root itself or below it. */
export function isInsideRoot(root: string, real: string): boolean {
  if (real === root) return true;
  if (!real.startsWith(root)) return false;
  // '/srv/site' must not accept '/srv/site-secrets'.
  return root.endsWith('/') || real.charCodeAt(root.length) === 0x2f;
}

/**
 * Whether a realpath below the root passes through a hidden segment. The
 * request path was checked already, but a symlink 'config' -> '.env' inside
 * the root would otherwise expose the dotfile under another name.
 */
export function hasHiddenSegment(root: string, real: string): boolean {
  let i = root.endsWith('/') ? root.length : root.length + 1;
  while (i < real.length) {
    const slash = real.indexOf('/', i);
    const end = slash === -1 ? real.length : slash;
    if (real.charCodeAt(i) === 0x2e && !(end - i === WELL_KNOWN.length && real.startsWith(WELL_KNOWN, i))) return true;
    i = end + 1;
  }
  return false;
}

export type Resolved =
  | { kind: 'file'; realPath: string; stats: Stats }
  | { kind: 'directory'; realPath: string }
  | { kind: 'absent'; status: 403 | 404 };

const ABSENT: Resolved = Object.freeze({ kind: 'absent', status: 404 });
const FORBIDDEN: Resolved = Object.freeze({ kind: 'absent', status: 403 });

/**
 * Finds what a decoded, validated path names under `root` (itself a
 * canonical path). Everything that is not a regular file or directory inside
 * the root, after following symlinks, is absent, and so is a file the owner
 * rule refuses (`owner`: see ownerAllows). Nothing is opened for reading
 * here: a FIFO or a device is looked at, never opened.
 */
export function resolveInRoot(root: string, path: string, owner: number | null = null): Promise<Resolved> {
  return resolveCandidate(root, root.endsWith('/') ? root + path.slice(1) : root + path, owner);
}

/** Same checks for an absolute path, e.g. an index file in a resolved directory. */
export async function resolveCandidate(root: string, candidate: string, owner: number | null = null): Promise<Resolved> {
  let found;
  try {
    found = await lookupPath(candidate);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') return FORBIDDEN;
    // EMFILE, EIO…: a server fault, not an answer about this path.
    throw err;
  }
  if (found === null) return ABSENT;
  const real = found.path;
  if (!isInsideRoot(root, real) || hasHiddenSegment(root, real)) return ABSENT;
  const stats = found.stats;
  if (stats.isFile()) return ownerAllows(stats, owner) ? { kind: 'file', realPath: real, stats } : ABSENT;
  if (stats.isDirectory()) return { kind: 'directory', realPath: real };
  return ABSENT;
}
