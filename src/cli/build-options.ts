import { DEFAULT_BUILD_LIMITS, type BuildLimits } from '../build/index.ts';
import { BerthError } from '../errors.ts';
import { parseDuration, parseSize } from '../units.ts';

/** The most builds `--build-concurrency` allows at once: more would only make each slower on a small server. */
const MAX_CONCURRENCY = 16;

/**
 * `berth server --build-concurrency N --build-memory SIZE|none --build-timeout DURATION`,
 * each defaulting to DEFAULT_BUILD_LIMITS (one build at a time, 2 GiB per
 * build process, 15 minutes).
 */
export function parseBuildOptions(options: { concurrency?: string; memory?: string; timeout?: string }): { concurrency: number; limits: BuildLimits } {
  let concurrency = 1;
  if (options.concurrency !== undefined) {
    concurrency = Number(options.concurrency);
    if (!/^\d+$/.test(options.concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
      throw new BerthError('BERTH_E_USAGE', `--build-concurrency must be a whole number from 1 to ${MAX_CONCURRENCY}, got ${JSON.stringify(options.concurrency)}`);
    }
  }
  let memoryBytes = DEFAULT_BUILD_LIMITS.memoryBytes;
  if (options.memory !== undefined) {
    memoryBytes = options.memory === 'none' ? null : parseSize(options.memory);
    if (memoryBytes !== null && memoryBytes < 64 * 1024 * 1024) {
      throw new BerthError('BERTH_E_USAGE', `--build-memory ${options.memory} is too small for any build`, { hint: 'Give at least 64m (e.g. 2g), or none for no limit.' });
    }
  }
  const timeoutMs = options.timeout === undefined ? DEFAULT_BUILD_LIMITS.timeoutMs : parseDuration(options.timeout);
  if (timeoutMs < 1000) throw new BerthError('BERTH_E_USAGE', `--build-timeout ${options.timeout} is too short`, { hint: 'Give a duration such as 15m.' });
  return { concurrency, limits: { memoryBytes, timeoutMs, niceness: DEFAULT_BUILD_LIMITS.niceness } };
}
