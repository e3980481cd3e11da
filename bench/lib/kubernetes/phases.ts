// Where a deploy's time goes, from the lines of its stream (each stamped
// with when it arrived) and from when the stand-in kubelet changed the
// release's pods. Pure: the bench gathers the marks, this reads them.

/** A line of the deploy stream and when it arrived, in ms after the request was sent. */
export interface TimedLine {
  readonly at: number;
  readonly line: string;
}

/** The phases of a deploy on the Kubernetes runtime, in ms; a phase whose lines did not come is null. */
export interface DeployPhases {
  /** Upload, unpack, the build (npm ci), until berth starts on the image. */
  readonly build: number | null;
  /** Base (cached), layers written or reused, pushed. */
  readonly image: number | null;
  /** The dry run of every object, the Secret and the Job applied. */
  readonly apply: number | null;
  /** The release Job: applied until berth saw it succeed and read its log. */
  readonly job: number | null;
  /** The rest applied, the rollout awaited, what is gone pruned. */
  readonly rollout: number | null;
  readonly total: number;
}

const MAKING = 'making the image of the build';
const PUSHED = /\bimage [0-9a-f]{12} pushed to /;
const JOB = 'running the release command as Job ';
const WAITING = /\bwaiting for .+ to roll out\b/;

function firstAt(lines: readonly TimedLine[], test: (line: string) => boolean, after = -Infinity): number | null {
  return lines.find((l) => l.at >= after && test(l.line))?.at ?? null;
}

/** Splits a deploy by its stream's marks; `total` is when the outcome line came. */
export function deployPhases(lines: readonly TimedLine[], total: number): DeployPhases {
  const making = firstAt(lines, (l) => l.includes(MAKING));
  const pushed = firstAt(lines, (l) => PUSHED.test(l), making ?? -Infinity);
  const job = firstAt(lines, (l) => l.includes(JOB), pushed ?? -Infinity);
  const waiting = firstAt(lines, (l) => WAITING.test(l), job ?? pushed ?? -Infinity);
  const span = (from: number | null, to: number | null) => (from === null || to === null ? null : to - from);
  return {
    build: making,
    image: span(making, pushed),
    apply: span(pushed, job ?? waiting),
    job: span(job, waiting),
    rollout: span(waiting, total),
    total,
  };
}

/** Nearest-rank percentile (p in 0..100) of the values; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export interface Summary {
  readonly n: number;
  readonly median: number;
  readonly p90: number;
}

export function summarize(values: readonly number[]): Summary {
  return { n: values.length, median: percentile(values, 50), p90: percentile(values, 90) };
}

/** A pod change the stand-in kubelet made: which app, release and process it was for, and when (same clock as the lines). */
export interface PodMark {
  readonly at: number;
  readonly app: string;
  readonly release: string;
  readonly process: string;
}

/**
 * What the stand-in kubelet did for one operation between `from` and `to`
 * (the request sent, the answer received): when the release Job's pod
 * finished and when the last web pod of `release` became ready, both
 * relative to `from`, and how long berth took to answer after the last
 * pod change of the operation.
 */
export function kubeletShare(marks: readonly PodMark[], app: string, release: string, from: number, to: number): { jobDone: number | null; webReady: number | null; afterLastChange: number | null } {
  const mine = marks.filter((m) => m.app === app && m.at >= from && m.at <= to);
  const job = mine.filter((m) => m.process === 'release' && m.release === release).map((m) => m.at);
  const web = mine.filter((m) => m.process !== 'release' && m.release === release).map((m) => m.at);
  const last = mine.length === 0 ? null : Math.max(...mine.map((m) => m.at));
  return {
    jobDone: job.length === 0 ? null : Math.max(...job) - from,
    webReady: web.length === 0 ? null : Math.max(...web) - from,
    afterLastChange: last === null ? null : to - last,
  };
}
