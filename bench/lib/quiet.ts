// This machine is shared: other sessions' test suites may be running. Before
// each measured run, wait (bounded) until processes outside the harness use
// little CPU, so that runs are not measured against someone else's work.
import { cpuOutsideTree, cpuUsedBetween } from './proc-tree.ts';

/** CPU used by processes outside the harness during `sampleMs`, in % of one core. */
export async function otherCpuPercent(sampleMs = 1_000): Promise<number> {
  const before = await cpuOutsideTree(process.pid);
  await new Promise((resolve) => setTimeout(resolve, sampleMs));
  return (cpuUsedBetween(before, await cpuOutsideTree(process.pid)) / (sampleMs / 1000)) * 100;
}

/**
 * Samples once a second until other work stays under `thresholdPercent`, for
 * at most `maxWaitMs` (0: no look at all). Returns the last sample; the caller goes on either way
 * and the run's own "other CPU" figure tells whether it was disturbed.
 */
export async function waitForQuiet(thresholdPercent: number, maxWaitMs: number, log: (line: string) => void): Promise<number> {
  if (maxWaitMs <= 0) return Number.NaN;
  const deadline = Date.now() + maxWaitMs;
  let percent = await otherCpuPercent();
  if (percent <= thresholdPercent) return percent;
  log(`other processes use ${percent.toFixed(0)} % CPU; waiting up to ${Math.round(maxWaitMs / 1000)} s for a quiet machine`);
  while (percent > thresholdPercent && Date.now() < deadline) percent = await otherCpuPercent();
  if (percent > thresholdPercent) log(`still ${percent.toFixed(0)} %: measuring anyway (the run will be marked ⚠)`);
  return percent;
}
