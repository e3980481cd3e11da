// Mounting a site under a path prefix. Matching is done on the raw
// request-target (before percent-decoding) so that an encoded slash such as
// '/static%2F..' can never be mistaken for the prefix boundary.

/**
 * Returns the target as the mounted site sees it, or null when the target is
 * not under the prefix. '/static' matches '/static', '/static/…' and
 * '/static?…' but never '/staticfoo'.
 */
export function stripMount(prefix: string, target: string): string | null {
  // '/static/' and '/static' name the same mount point.
  let end = prefix.length;
  while (end > 0 && prefix.charCodeAt(end - 1) === 0x2f) end--;
  if (end === 0) return target.charCodeAt(0) === 0x2f ? target : null;
  if (prefix.charCodeAt(0) !== 0x2f) return null;
  if (target.length < end || !target.startsWith(end === prefix.length ? prefix : prefix.slice(0, end))) return null;
  if (target.length === end) return '/';
  const next = target.charCodeAt(end);
  if (next === 0x2f) return target.slice(end);
  if (next === 0x3f) return '/' + target.slice(end);
  return null;
}
