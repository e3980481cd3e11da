/**
 * Upstream selection: least outstanding requests, ties broken round-robin
 * from a rotating cursor so equal upstreams share load evenly instead of the
 * first one taking every request at low concurrency. Upstreams that are down
 * or already tried for this request are skipped. Pure over plain data.
 */
export interface Candidate {
  readonly active: number;
  readonly up: boolean;
}

/** Index of the chosen candidate, or -1 when none can take the request. */
export function pickUpstream(candidates: readonly Candidate[], cursor: number, tried: ReadonlySet<number> | null): number {
  const n = candidates.length;
  let best = -1;
  let bestActive = Infinity;
  for (let k = 0; k < n; k++) {
    const i = (cursor + k) % n;
    const candidate = candidates[i]!;
    if (!candidate.up || (tried !== null && tried.has(i))) continue;
    if (candidate.active < bestActive) {
      best = i;
      bestActive = candidate.active;
      if (bestActive === 0) break;
    }
  }
  return best;
}
