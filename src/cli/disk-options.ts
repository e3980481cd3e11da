import { MIN_DISK_BYTES } from '../build/index.ts';
import { DEFAULT_DISK_BYTES, DISK_CHECK_INTERVAL_MS } from '../disk/index.ts';
import { BerthError } from '../errors.ts';
import { parseDuration, parseSize } from '../units.ts';

/** `berth server --default-disk SIZE|none --disk-check-interval DURATION`. */
export function parseDiskOptions(options: { defaultDisk?: string; checkInterval?: string }): { defaultBytes: number | null; checkIntervalMs: number } {
  let defaultBytes: number | null = DEFAULT_DISK_BYTES;
  if (options.defaultDisk !== undefined) {
    defaultBytes = options.defaultDisk === 'none' ? null : parseSize(options.defaultDisk);
    if (defaultBytes !== null && defaultBytes < MIN_DISK_BYTES) throw new BerthError('BERTH_E_USAGE', `--default-disk ${options.defaultDisk} cannot hold a release`, { hint: 'Give at least 16m (e.g. 10g), or none for no limit.' });
  }
  const checkIntervalMs = options.checkInterval === undefined ? DISK_CHECK_INTERVAL_MS : parseDuration(options.checkInterval);
  if (checkIntervalMs < 100) throw new BerthError('BERTH_E_USAGE', `--disk-check-interval ${options.checkInterval} is too short`, { hint: 'Measure at most ten times a second (e.g. 60s; 1s for a test).' });
  return { defaultBytes, checkIntervalMs };
}
