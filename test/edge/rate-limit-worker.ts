// A thread for the rate-limit test: waits for the start signal, then hammers
// one key of a shared table and reports how many calls were let through.
import { parentPort, workerData } from 'node:worker_threads';
import { SharedLimiterTable } from '../../src/edge/rate-limit.ts';

export interface HammerJob {
  readonly buffer: SharedArrayBuffer;
  /** Int32 [0]: 0 until every thread is ready to go. */
  readonly start: SharedArrayBuffer;
  readonly mode: 'admit' | 'enter';
  readonly calls: number;
  /** The burst for 'admit', maxInFlight for 'enter'. */
  readonly limit: number;
  readonly now: number;
}

const job = workerData as HammerJob;
const table = new SharedLimiterTable(job.buffer);
const start = new Int32Array(job.start);
Atomics.wait(start, 0, 0);

let allowed = 0;
for (let i = 0; i < job.calls; i++) {
  // Keys of other clients in between, so probing and inserting race too.
  if (job.mode === 'admit') {
    if (table.admit('site', '192.0.2.1', job.now, { ratePerSecond: 1, burst: job.limit }).allowed) allowed++;
    table.admit('site', `198.51.100.${i % 200}`, job.now, { ratePerSecond: 1, burst: job.limit });
  } else if (table.enter('site', '192.0.2.1', job.limit)) {
    allowed++;
  }
}
parentPort!.postMessage(allowed);
