/** One line of a pre-receive hook's input: a ref moving from `oldRev` to `newRev`. */
export interface RefUpdate {
  readonly oldRev: string;
  readonly newRev: string;
  readonly ref: string;
}

/** What to do with a push: deploy one commit, accept it as it is, or refuse it all. */
export type PushDecision =
  | { readonly kind: 'deploy'; readonly rev: string }
  | { readonly kind: 'accept' }
  | { readonly kind: 'refuse'; readonly message: string };

const OBJECT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const ZERO = /^0+$/;

/**
 * Parses the hook's input (`OLD NEW REF` per line). Returns null when a line
 * is malformed, which a real git never sends.
 */
export function parseRefUpdates(text: string): RefUpdate[] | null {
  const updates: RefUpdate[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const [oldRev, newRev, ref, ...rest] = line.split(' ');
    if (rest.length > 0 || oldRev === undefined || newRev === undefined || ref === undefined) return null;
    if (!OBJECT_ID.test(oldRev) || !OBJECT_ID.test(newRev) || !ref.startsWith('refs/') || ref.length > 1024) return null;
    updates.push({ oldRev, newRev, ref });
  }
  return updates;
}

/**
 * The push policy: only the app's deploy branch may change, and a change of
 * it is a deploy of its new commit. Pushing any other ref (another branch,
 * a tag) or deleting the deploy branch refuses the whole push, so the
 * repository always holds exactly what was deployed. A push that changes
 * nothing (git does not run the hook then, but an empty list may arrive)
 * is accepted.
 *
 * `currentRev` is the deploy branch in the repository now (null: not yet
 * pushed). A push made against another value (the branch moved since the
 * client read it: another push came first) is refused before it deploys;
 * git would refuse its ref update anyway, after the deploy.
 */
export function decidePush(updates: readonly RefUpdate[], deployBranch: string, currentRev: string | null): PushDecision {
  const branchRef = `refs/heads/${deployBranch}`;
  const others = updates.filter((update) => update.ref !== branchRef);
  if (others.length > 0) {
    const shown = others.map((update) => update.ref.replace(/^refs\/heads\//, '')).slice(0, 3).join(', ');
    return {
      kind: 'refuse',
      message: `berth deploys only the branch "${deployBranch}"; refused: ${shown}${others.length > 3 ? ', …' : ''}. Push your branch to it: git push berth HEAD:${deployBranch}`,
    };
  }
  const update = updates.find((candidate) => candidate.ref === branchRef);
  if (update === undefined) return { kind: 'accept' };
  if (ZERO.test(update.newRev)) {
    return { kind: 'refuse', message: `the deploy branch "${deployBranch}" cannot be deleted; to stop the app, use berth apps destroy` };
  }
  if (update.oldRev === update.newRev) return { kind: 'accept' };
  if ((ZERO.test(update.oldRev) ? null : update.oldRev) !== currentRev) {
    return { kind: 'refuse', message: `"${deployBranch}" moved since your git read it (another push came first); fetch, then push again` };
  }
  return { kind: 'deploy', rev: update.newRev };
}
