import { DEFAULT_EDGE_LIMITS, type EdgeLimits } from '../edge/index.ts';
import { BerthError } from '../errors.ts';
import { parseDuration, parseSize } from '../units.ts';

/** The CLI name of a limit: `maxHeaderBytes` → `max-header-bytes`, `headerTimeoutMs` → `header-timeout`. */
function cliName(key: string): string {
  return key.replace(/Ms$/, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

const BY_NAME = new Map<string, keyof EdgeLimits>(Object.keys(DEFAULT_EDGE_LIMITS).map((key) => [cliName(key), key as keyof EdgeLimits]));

/** Every limit the CLI accepts, for --help. */
export const LIMIT_NAMES = [...BY_NAME.keys()].sort();

/**
 * `--limit NAME=VALUE` (repeatable): sizes take units (16k, 10m), timeouts
 * take durations (500ms, 10s), counts are plain numbers.
 */
export function parseLimits(values: readonly string[]): Partial<EdgeLimits> {
  const limits: Record<string, number> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    const key = BY_NAME.get(value.slice(0, eq));
    if (eq <= 0 || key === undefined) {
      throw new BerthError('BERTH_E_USAGE', `"${value}" is not a known limit`, { hint: `Use NAME=VALUE with one of: ${LIMIT_NAMES.join(', ')}.` });
    }
    const raw = value.slice(eq + 1);
    const parsed = key.endsWith('Ms') ? parseDuration(raw) : key.endsWith('Bytes') ? parseSize(raw) : Number(raw);
    if (!Number.isSafeInteger(parsed) || parsed < 1) {
      throw new BerthError('BERTH_E_USAGE', `limit ${value.slice(0, eq)} must be a positive value, got "${raw}"`);
    }
    limits[key] = parsed;
  }
  return limits as Partial<EdgeLimits>;
}
