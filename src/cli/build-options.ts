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

/**
 * `--build-env-file FILE`: KEY=VALUE lines every build gets, under each
 * app's own config vars (a private package index for every app, say). It
 * may hold credentials, so a file others can read is refused.
 */
export async function readBuildEnvFile(path: string): Promise<Record<string, string>> {
  const { readFile, stat } = await import('node:fs/promises');
  let mode: number;
  let text: string;
  try {
    mode = (await stat(path)).mode;
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new BerthError('BERTH_E_USAGE', `--build-env-file ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { hint: 'Give a file of KEY=VALUE lines, readable by the user berth runs as.' });
  }
  if ((mode & 0o077) !== 0) throw new BerthError('BERTH_E_USAGE', `--build-env-file ${path} is readable by others (mode ${(mode & 0o777).toString(8)}); it may hold credentials`, { hint: `chmod 600 ${path}` });
  const { parseEnvLines } = await import('./remote/arguments.ts');
  const env = parseEnvLines(text, path);
  for (const key of Object.keys(env)) {
    if (key === 'PATH' || key === 'HOME' || key.startsWith('BERTH_')) throw new BerthError('BERTH_E_USAGE', `--build-env-file ${path}: berth sets ${key} itself`, { hint: 'Remove that line.' });
  }
  return env;
}
