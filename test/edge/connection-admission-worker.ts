// A thread for the connection-admission test: waits for the start signal,
// then admits connections (from one address, or each from its own) until
// `calls` attempts are done, and reports how many were admitted.
import { parentPort, workerData } from 'node:worker_threads';
import { SharedConnectionCounts, type ConnectionCaps, type ConnectionCountBuffers } from '../../src/edge/connection-admission.ts';

export interface AdmitJob {
  readonly buffers: ConnectionCountBuffers;
  readonly caps: ConnectionCaps;
  /** Int32 [0]: 0 until every thread is ready to go. */
  readonly start: SharedArrayBuffer;
  readonly calls: number;
  /** null: every connection from the same address; else addresses PREFIX.0, PREFIX.1, … */
  readonly prefix: string | null;
  /** Release every other admitted connection right away (churn). */
  readonly churn: boolean;
}

const job = workerData as AdmitJob;
const counts = new SharedConnectionCounts(job.buffers, job.caps);
Atomics.wait(new Int32Array(job.start), 0, 0);
let held = 0;
for (let i = 0; i < job.calls; i++) {
  // Addresses are their own client keys (clientKey() of an IPv4 address).
  const address = job.prefix === null ? '192.0.2.1' : `${job.prefix}.${i % 250}`;
  if (counts.admit(address) !== 'admit') continue;
  if (job.churn && i % 2 === 0) counts.release(address);
  else held++;
}
parentPort!.postMessage(held);
