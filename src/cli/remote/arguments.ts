import { parseSize } from '../../units.ts';
import { BerthError } from '../../errors.ts';
import { configKey, configValue, MAX_QUANTITY, processType, releaseRef } from '../../platform/index.ts';

// The remote commands' arguments, checked before any call with the same
// rules the server applies (src/platform/names.ts), so a typo is a clear
// one-line error at once rather than a round trip. Values are never echoed:
// config values are secrets.

/**
 * `KEY=VALUE` arguments of `berth config set`: the key is everything before
 * the first "=", so values may hold "=" (`URL=postgres://h/db?sslmode=require`)
 * and may be empty. A key given twice is refused rather than guessed at.
 */
export function parseConfigPairs(args: readonly string[]): Record<string, string> {
  const hint = 'Use berth config set KEY=VALUE [KEY=VALUE...] --app NAME; the value may contain "=".';
  if (args.length === 0) throw new BerthError('BERTH_E_USAGE', 'nothing to set', { hint });
  const pairs: Record<string, string> = {};
  for (const arg of args) {
    const equals = arg.indexOf('=');
    if (equals === -1) throw new BerthError('BERTH_E_USAGE', `${shown(arg)} is not KEY=VALUE`, { hint });
    const key = checkedKey(arg.slice(0, equals));
    if (Object.hasOwn(pairs, key)) throw new BerthError('BERTH_E_USAGE', `${key} is given twice`, { hint: 'Give each config var once.' });
    pairs[key] = configValue(key, arg.slice(equals + 1));
  }
  return pairs;
}

/**
 * KEY=VALUE lines from standard input (`berth config set --stdin < .env`),
 * so secret values never appear in argv or shell history. Blank lines and
 * lines starting with # are skipped, an `export ` prefix is allowed, and one
 * pair of matching quotes around a value is removed; everything else is
 * taken literally (no escapes, no variable expansion).
 */
export function parseEnvLines(text: string, source = 'standard input'): Record<string, string> {
  const args: string[] = [];
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const body = line.startsWith('export ') ? line.slice(7).trimStart() : line;
    const equals = body.indexOf('=');
    if (equals === -1) throw new BerthError('BERTH_E_USAGE', `${source} line ${index + 1} is not KEY=VALUE`, { hint: 'Give one KEY=VALUE per line; # starts a comment line.' });
    const value = body.slice(equals + 1);
    const quoted = value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0];
    args.push(`${body.slice(0, equals).trim()}=${quoted ? value.slice(1, -1) : value}`);
  }
  return parseConfigPairs(args);
}

// A value typed without its key (`berth config set postgres://u:secret@h/db?x=1`)
// must not come back in an error message: only what looks like a name is shown.
const NAME_LIKE = /^[A-Za-z0-9_.-]{1,64}$/;

function shown(arg: string): string {
  return NAME_LIKE.test(arg) ? `"${arg}"` : 'an argument';
}

function checkedKey(key: string): string {
  if (!NAME_LIKE.test(key)) {
    throw new BerthError('BERTH_E_NAME', `${key === '' ? 'an argument has no key before "="' : 'an argument does not start with a config var name'}`, {
      hint: 'Config var names are letters, digits and "_", not starting with a digit (e.g. DATABASE_URL): berth config set KEY=VALUE.',
    });
  }
  return configKey(key);
}

/** The keys of `berth config unset`, each checked, duplicates dropped. */
export function parseConfigKeys(args: readonly string[]): string[] {
  if (args.length === 0) throw new BerthError('BERTH_E_USAGE', 'nothing to unset', { hint: 'Use berth config unset KEY [KEY...] --app NAME.' });
  for (const arg of args) {
    if (arg.includes('=')) throw new BerthError('BERTH_E_USAGE', 'berth config unset takes keys, not KEY=VALUE', { hint: 'Use berth config unset KEY [KEY...] --app NAME.' });
  }
  return [...new Set(args.map((arg) => checkedKey(arg)))];
}

/** What `berth scale` asks: counts per process type, and memory limits for some (null: back to the defaults). */
export interface ScaleRequest {
  readonly counts: Record<string, number>;
  readonly memory: Record<string, number | null>;
}

/**
 * `web=3 worker=1` (or `web=3,worker=1`) for `berth scale`: process types as
 * a Procfile names them, counts 0 to 64, each optionally with a memory
 * limit (`web=2:1g`; `web=2:default` goes back to berth.toml's or the
 * server's). `--memory SIZE` gives one to every type named without one.
 */
export function parseFormation(args: readonly string[], memoryFlag?: string): ScaleRequest {
  const counts: Record<string, number> = {};
  const memory: Record<string, number | null> = {};
  const hint = `Use TYPE=COUNT (or TYPE=COUNT:SIZE) with a count from 0 to ${MAX_QUANTITY}, e.g. berth scale web=3 worker=1:1g --app NAME.`;
  for (const arg of args) {
    for (const part of arg.split(',')) {
      const match = /^([^=]*)=([^:]*)(?::(.*))?$/.exec(part.trim());
      if (match === null) throw new BerthError('BERTH_E_USAGE', `"${part}" is not TYPE=COUNT`, { hint });
      const type = processType(match[1]);
      if (!/^\d{1,3}$/.test(match[2]!) || Number(match[2]) > MAX_QUANTITY) {
        throw new BerthError('BERTH_E_SCALE', `"${match[2]}" is not a number of ${type} instances`, { hint });
      }
      if (Object.hasOwn(counts, type)) throw new BerthError('BERTH_E_USAGE', `${type} is given twice`, { hint });
      counts[type] = Number(match[2]);
      const size = match[3];
      if (size !== undefined) memory[type] = size === 'default' ? null : scaleSize(size, type, hint);
    }
  }
  if (Object.keys(counts).length === 0) throw new BerthError('BERTH_E_USAGE', 'nothing to scale', { hint });
  if (memoryFlag !== undefined) {
    const bytes = memoryFlag === 'default' ? null : scaleSize(memoryFlag, '--memory', hint);
    for (const type of Object.keys(counts)) if (!Object.hasOwn(memory, type)) memory[type] = bytes;
  }
  return { counts, memory };
}

function scaleSize(size: string, what: string, hint: string): number {
  try {
    return parseSize(size);
  } catch {
    throw new BerthError('BERTH_E_SCALE', `${what}: "${size}" is not a memory size`, { hint });
  }
}

/** `berth rollback v3` or `3`: the version number; undefined (no argument) lets the server pick the previous good release. */
export function parseReleaseArg(arg: string | undefined): number | undefined {
  return arg === undefined ? undefined : releaseRef(arg);
}

/** `--lines N` of `berth logs`: how many past lines, 1 or more. */
export function parseLineCount(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,6}$/.test(value) || Number(value) === 0) {
    throw new BerthError('BERTH_E_USAGE', `"${value}" is not a number of lines`, { hint: 'Use --lines N with N from 1 up; the server keeps the most recent lines of each app.' });
  }
  return Number(value);
}

/**
 * `--process` of `berth logs`: a process type (`web`) as the Procfile names
 * it, or one source of it: an instance (`web.1`) or a cron job (`cron.nightly`).
 */
export function parseProcessArg(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const dot = value.indexOf('.');
  if (dot === -1) return processType(value);
  processType(value.slice(0, dot));
  processType(value.slice(dot + 1));
  return value;
}

/**
 * `berth deploy --message TEXT`: it travels in an HTTP header
 * (x-berth-description), which carries printable ASCII safely and nothing
 * else, so anything else is refused here rather than garbled on the way.
 */
export function parseDeployMessage(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const message = value.trim();
  if (message === '') return undefined;
  if (!/^[\x20-\x7e]*$/.test(message)) {
    throw new BerthError('BERTH_E_USAGE', 'the deploy message must be one line of printable ASCII', { hint: 'Leave out line breaks, tabs and non-ASCII characters; the server keeps the first 200 characters.' });
  }
  return message;
}
