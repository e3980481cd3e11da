import { lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Path rules shared by packing and unpacking an app's source: what an entry
 * path may look like, and whether a symbolic link stays inside its folder.
 */

/**
 * Splits an archive entry path into segments, or says why it is refused.
 * `.` and empty segments (`./a`, `a//b`, a trailing `/`) are dropped: they name
 * nothing new. Everything that could reach outside the folder, or that means
 * different things to different tools, is refused rather than repaired.
 */
export function entrySegments(path: string): { segments: string[] } | { refused: string } {
  if (path.includes('\0')) return { refused: 'contains a NUL byte' };
  // A backslash is a separator on Windows and a plain character here; refusing
  // it keeps one reading of the path for every tool that looks at the upload.
  if (path.includes('\\')) return { refused: 'contains a backslash' };
  if (path.startsWith('/')) return { refused: 'is an absolute path' };
  const segments = path.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.includes('..')) return { refused: 'has a ".." segment' };
  return { segments };
}

/** Links deeper than this are a loop, as the kernel's ELOOP says (Linux allows 40). */
const MAX_LINK_HOPS = 40;

export type LinkResolution = { inside: true } | { inside: false; reason: string };

/**
 * Whether a symbolic link at `linkDir/<name>` with `target` resolves inside
 * `root`, following every link on the way exactly as the kernel would. It
 * reads the real folder (lstat and readlink), so a chain of links that are each
 * harmless (`l -> .`, then `m -> l/..`) is caught, and case-folding or
 * Unicode-normalising file systems cannot hide one. `linkDir` must be a chain
 * of real directories under `root`, which both callers guarantee: the packer
 * never descends into a linked folder and the unpacker never writes through
 * one. Missing components are fine (a link may point at what the build will
 * create) and are resolved by name.
 */
export async function resolveLinkInside(root: string, linkDir: readonly string[], target: string): Promise<LinkResolution> {
  if (target === '') return { inside: false, reason: 'has an empty target' };
  if (target.includes('\0')) return { inside: false, reason: 'has a NUL byte in its target' };
  if (target.startsWith('/')) return { inside: false, reason: `is absolute (-> ${target})` };
  const stack = [...linkDir];
  const pending = target.split('/');
  let hops = 0;
  while (pending.length > 0) {
    const segment = pending.shift()!;
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (stack.length === 0) return { inside: false, reason: `leads outside the folder (-> ${target})` };
      stack.pop();
      continue;
    }
    stack.push(segment);
    let stats;
    try {
      stats = await lstat(join(root, ...stack));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Missing (or below a file) is not a link; later segments are still
      // checked, since `missing/../link` reaches a real link again.
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
      continue;
    }
    if (!stats.isSymbolicLink()) continue;
    if (++hops > MAX_LINK_HOPS) return { inside: false, reason: `is part of a loop of links (-> ${target})` };
    const next = await readlink(join(root, ...stack));
    if (next.startsWith('/')) return { inside: false, reason: `leads through ${stack.join('/')}, an absolute link (-> ${next})` };
    stack.pop();
    pending.unshift(...next.split('/'));
  }
  return { inside: true };
}
