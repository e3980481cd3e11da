import { createHash } from 'node:crypto';
import { BerthError, isBerthError } from '../errors.ts';
import { readConfinedText } from '../safe-fs/index.ts';
import { parseSize } from '../units.ts';
import { commandToArgv } from './command-line.ts';
import type { AppConfig } from './app-config.ts';
import type { CronJobConfig } from './cron-jobs.ts';
import { parseCronSchedule } from './cron-schedule.ts';

// app.json, Heroku's app manifest (which Dokku reads too): config vars with
// defaults and generated secrets, the first formation, scripts around a
// deploy, and (Dokku's) cron. Read at build time from the unpacked upload,
// like berth.toml, and recorded with the build. What berth does not use is
// ignored with a note (a real app.json carries a logo, buildpacks, add-on
// plans); what berth uses is checked strictly, every mistake named by its
// key path.

/** The largest app.json berth reads. */
export const APP_JSON_MAX_BYTES = 256 * 1024;

/** A config var app.json declares. */
export interface AppJsonVar {
  readonly key: string;
  /** The value to fill in when the app has none; null when app.json gives none. */
  readonly value: string | null;
  /** "secret": a random 64-hex-digit value is filled in instead (Heroku's generator). */
  readonly generator: 'secret' | null;
  /** Without a value or generator, the deploy is refused until the var is set. */
  readonly required: boolean;
  readonly description: string | null;
}

/** A process type's first formation: instances and a memory limit, either absent. */
export interface AppJsonProcess {
  readonly type: string;
  readonly quantity: number | null;
  readonly memoryBytes: number | null;
}

export interface AppJson {
  /** Sorted by key. */
  readonly env: readonly AppJsonVar[];
  /** Sorted by process type. */
  readonly formation: readonly AppJsonProcess[];
  readonly scripts: {
    /** Before each deploy's release is activated (scripts.predeploy, or Dokku's scripts.dokku.predeploy). */
    readonly predeploy: string | null;
    /** Once, after the app's first release serves (Heroku's scripts.postdeploy). */
    readonly postdeploy: string | null;
    /** After every deploy's release serves (Dokku's scripts.dokku.postdeploy). */
    readonly postdeployEach: string | null;
  };
  /** Dokku's cron entries as berth cron jobs, sorted by name. */
  readonly cron: readonly CronJobConfig[];
}

export type AppJsonResult = { readonly ok: true; readonly appJson: AppJson; readonly notes: readonly string[] } | { readonly ok: false; readonly errors: readonly string[] };

// The platform's config var rules (src/platform/names.ts configKey and
// configValue), which the build subsystem cannot import: a test holds them equal.
const CONFIG_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;
const RESERVED_KEYS = new Set(['PORT', 'DYNO']);
const MAX_VALUE_BYTES = 32 * 1024;
const PROCESS_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
/** As `berth scale` takes them. */
const MAX_QUANTITY = 64;
const MIN_MEMORY_BYTES = 16 * 1024 * 1024;
const SIZE = /^\d+(\.\d+)?\s*[kKmMgGtT]?[iI]?[bB]?$/;

/** Keys that describe the app for people and catalogues: nothing to do, nothing to say. */
const DESCRIPTIVE = new Set(['name', 'description', 'keywords', 'website', 'repository', 'logo', 'success_url']);
/** Dokku's formation keys berth has no counterpart for. */
const DOKKU_FORMATION = new Set(['max_parallel', 'autoscaling', 'service']);

/** Add-on plans (Heroku's and Dokku's names) berth has a kind for. */
const ADDON_KINDS: ReadonlyArray<[RegExp, string]> = [
  [/^(heroku-postgresql|dokku-postgres|postgres|postgresql)$/, 'postgres'],
  [/^(heroku-redis|dokku-redis|redis|rediscloud|redistogo|openredis)$/, 'redis'],
];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

const quoted = (keys: readonly string[]) => keys.map((key) => JSON.stringify(key)).join(', ');

/**
 * The manifest in an app.json's text, or every mistake in it (each starting
 * with its key path). Pure: no file, no clock, no randomness.
 */
export function parseAppJson(text: string): AppJsonResult {
  const errors: string[] = [];
  const notes: string[] = [];
  if (Buffer.byteLength(text) > APP_JSON_MAX_BYTES) return { ok: false, errors: [`is larger than ${APP_JSON_MAX_BYTES / 1024} KiB`] };
  let raw: unknown;
  try {
    raw = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    return { ok: false, errors: [`is not valid JSON: ${(err as Error).message}`] };
  }
  if (!isObject(raw)) return { ok: false, errors: [`(top level): an object, not ${kindOf(raw)}`] };

  const ignored: string[] = [];
  for (const key of Object.keys(raw)) {
    if (!['env', 'formation', 'scripts', 'cron', 'addons'].includes(key) && !DESCRIPTIVE.has(key)) ignored.push(key);
  }
  if (ignored.length > 0) notes.push(`app.json: ignoring ${quoted(ignored)} (berth does not use ${ignored.length === 1 ? 'it' : 'them'})`);
  if (raw.addons !== undefined) notes.push(addonsNote(raw.addons));

  const appJson: AppJson = {
    env: env(raw.env, errors),
    formation: formation(raw.formation, errors, notes),
    scripts: scripts(raw.scripts, errors, notes),
    cron: cron(raw.cron, errors, notes),
  };
  return errors.length > 0 ? { ok: false, errors } : { ok: true, appJson, notes };
}

function env(raw: unknown, errors: string[]): AppJsonVar[] {
  if (raw === undefined) return [];
  if (!isObject(raw)) {
    errors.push(`env: an object of config vars, not ${kindOf(raw)}`);
    return [];
  }
  const vars: AppJsonVar[] = [];
  for (const [key, entry] of Object.entries(raw)) {
    const where = `env.${key}`;
    if (!CONFIG_KEY.test(key)) {
      errors.push(`${where}: not a config var name (letters, digits and "_", not starting with a digit)`);
      continue;
    }
    if (RESERVED_KEYS.has(key) || key.startsWith('BERTH_')) {
      errors.push(`${where}: berth sets ${key.startsWith('BERTH_') ? 'BERTH_* variables' : key} itself`);
      continue;
    }
    if (typeof entry === 'string') {
      if (usableValue(entry, `${where}`, errors)) vars.push({ key, value: entry, generator: null, required: true, description: null });
      continue;
    }
    if (!isObject(entry)) {
      errors.push(`${where}: a string (the value) or an object with value, required, generator and description, not ${kindOf(entry)}`);
      continue;
    }
    const before = errors.length;
    const unknown = Object.keys(entry).filter((k) => !['value', 'required', 'generator', 'description'].includes(k));
    if (unknown.length > 0) errors.push(`${where}: unknown key ${quoted(unknown)} (known: value, required, generator, description)`);
    const { value, required, generator, description } = entry;
    if (value !== undefined) {
      if (typeof value !== 'string') errors.push(`${where}.value: a string, not ${kindOf(value)}${typeof value === 'number' || typeof value === 'boolean' ? ` (write "${String(value)}")` : ''}`);
      else usableValue(value, `${where}.value`, errors);
    }
    if (required !== undefined && typeof required !== 'boolean') errors.push(`${where}.required: true or false, not ${kindOf(required)}`);
    if (generator !== undefined && generator !== 'secret') errors.push(`${where}.generator: only "secret" is known, not ${JSON.stringify(generator)}`);
    if (generator !== undefined && value !== undefined) errors.push(`${where}: give a value or a generator, not both`);
    if (description !== undefined && typeof description !== 'string') errors.push(`${where}.description: a string, not ${kindOf(description)}`);
    if (errors.length > before) continue;
    vars.push({
      key,
      value: (value as string | undefined) ?? null,
      generator: generator === 'secret' ? 'secret' : null,
      // Heroku's default: a var is required unless it says otherwise.
      required: (required as boolean | undefined) ?? true,
      description: (description as string | undefined) ?? null,
    });
  }
  return vars.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** True when the value can be an environment string; otherwise records why not. */
function usableValue(value: string, where: string, errors: string[]): boolean {
  if (value.includes('\0')) errors.push(`${where}: contains a NUL byte, which no environment variable can hold`);
  else if (Buffer.byteLength(value) > MAX_VALUE_BYTES) errors.push(`${where}: longer than ${MAX_VALUE_BYTES} bytes`);
  else return true;
  return false;
}

function formation(raw: unknown, errors: string[], notes: string[]): AppJsonProcess[] {
  if (raw === undefined) return [];
  if (!isObject(raw)) {
    errors.push(`formation: an object of process types, not ${kindOf(raw)}`);
    return [];
  }
  const processes: AppJsonProcess[] = [];
  for (const [type, entry] of Object.entries(raw)) {
    const where = `formation.${type}`;
    if (!PROCESS_NAME.test(type)) {
      errors.push(`${where}: not a process type name (letters, digits, "_" and "-", starting with a letter or digit)`);
      continue;
    }
    if (!isObject(entry)) {
      errors.push(`${where}: an object with quantity and size, not ${kindOf(entry)}`);
      continue;
    }
    const before = errors.length;
    const dokku = Object.keys(entry).filter((k) => DOKKU_FORMATION.has(k));
    if (dokku.length > 0) notes.push(`app.json: ${where}: ignoring ${quoted(dokku)} (berth rolls out every instance at once, behind a health check)`);
    const unknown = Object.keys(entry).filter((k) => k !== 'quantity' && k !== 'size' && !DOKKU_FORMATION.has(k));
    if (unknown.length > 0) errors.push(`${where}: unknown key ${quoted(unknown)} (known: quantity, size)`);
    const { quantity, size } = entry;
    if (quantity !== undefined && !(Number.isInteger(quantity) && (quantity as number) >= 0 && (quantity as number) <= MAX_QUANTITY)) {
      errors.push(`${where}.quantity: a whole number from 0 to ${MAX_QUANTITY}, not ${typeof quantity === 'number' ? String(quantity) : kindOf(quantity)}`);
    }
    let memoryBytes: number | null = null;
    if (size !== undefined) {
      if (typeof size === 'string' && SIZE.test(size.trim())) {
        memoryBytes = parseSize(size);
        if (memoryBytes < MIN_MEMORY_BYTES) errors.push(`${where}.size: a memory limit of at least 16m, not ${JSON.stringify(size)}`);
      } else if (typeof size === 'string' && /^[A-Za-z][A-Za-z0-9-]{0,40}$/.test(size)) {
        // Heroku's dyno sizes (standard-1x, performance-m…) name machines berth does not have.
        notes.push(`app.json: ${where}.size: ignoring Heroku's dyno size ${JSON.stringify(size)}; berth takes a memory limit such as "512m"`);
      } else {
        errors.push(`${where}.size: a memory limit such as "512m", not ${typeof size === 'string' ? JSON.stringify(size) : kindOf(size)}`);
      }
    }
    if (errors.length > before) continue;
    processes.push({ type, quantity: (quantity as number | undefined) ?? null, memoryBytes });
  }
  return processes.sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
}

function scripts(raw: unknown, errors: string[], notes: string[]): AppJson['scripts'] {
  const none = { predeploy: null, postdeploy: null, postdeployEach: null };
  if (raw === undefined) return none;
  if (!isObject(raw)) {
    errors.push(`scripts: an object of commands, not ${kindOf(raw)}`);
    return none;
  }
  const ignored = Object.keys(raw).filter((k) => !['predeploy', 'postdeploy', 'dokku'].includes(k));
  if (ignored.length > 0) notes.push(`app.json: ignoring scripts ${quoted(ignored)} (berth runs predeploy, postdeploy and dokku's)`);
  let dokku: Record<string, unknown> = {};
  if (raw.dokku !== undefined) {
    if (!isObject(raw.dokku)) errors.push(`scripts.dokku: an object of commands, not ${kindOf(raw.dokku)}`);
    else {
      dokku = raw.dokku;
      const unknown = Object.keys(dokku).filter((k) => k !== 'predeploy' && k !== 'postdeploy');
      if (unknown.length > 0) errors.push(`scripts.dokku: unknown key ${quoted(unknown)} (known: predeploy, postdeploy)`);
    }
  }
  const predeploy = command(raw.predeploy, 'scripts.predeploy', errors);
  const dokkuPredeploy = command(dokku.predeploy, 'scripts.dokku.predeploy', errors);
  if (predeploy !== null && dokkuPredeploy !== null) errors.push('scripts: predeploy and dokku.predeploy both given; keep one');
  return {
    predeploy: predeploy ?? dokkuPredeploy,
    postdeploy: command(raw.postdeploy, 'scripts.postdeploy', errors),
    postdeployEach: command(dokku.postdeploy, 'scripts.dokku.postdeploy', errors),
  };
}

// A command is checked for shell syntax with every variable set, so "$CMD"
// alone is not mistaken for an empty command.
const ANY_VALUE = new Proxy({}, { get: () => 'x' }) as Record<string, string>;

/** A command as berth runs Procfile commands (no shell), or null when absent or wrong (recorded). */
function command(raw: unknown, where: string, errors: string[]): string | null {
  if (raw === undefined) return null;
  if (typeof raw !== 'string' || raw.trim() === '') {
    errors.push(`${where}: a command, not ${typeof raw === 'string' ? 'an empty string' : kindOf(raw)}`);
    return null;
  }
  try {
    commandToArgv(raw, ANY_VALUE);
  } catch (err) {
    if (!isBerthError(err)) throw err;
    errors.push(`${where}: ${err.message}; berth runs it without a shell: write "sh -c '...'" to use one`);
    return null;
  }
  return raw;
}

function cron(raw: unknown, errors: string[], notes: string[]): CronJobConfig[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    errors.push(`cron: a list of {"command", "schedule"} entries, not ${kindOf(raw)}`);
    return [];
  }
  const jobs: Array<CronJobConfig & { where: string }> = [];
  raw.forEach((entry: unknown, i) => {
    const where = `cron[${i}]`;
    if (!isObject(entry)) {
      errors.push(`${where}: an object with command and schedule, not ${kindOf(entry)}`);
      return;
    }
    const before = errors.length;
    const unknown = Object.keys(entry).filter((k) => !['command', 'schedule', 'maintenance', 'concurrency_policy'].includes(k));
    if (unknown.length > 0) errors.push(`${where}: unknown key ${quoted(unknown)} (known: command, schedule, maintenance, concurrency_policy)`);
    const run = entry.command === undefined ? (errors.push(`${where}.command: missing`), null) : command(entry.command, `${where}.command`, errors);
    let schedule: string | null = null;
    if (typeof entry.schedule !== 'string') errors.push(`${where}.schedule: a cron schedule such as "@daily" or "0 3 * * *", not ${entry.schedule === undefined ? 'missing' : kindOf(entry.schedule)}`);
    else {
      try {
        schedule = parseCronSchedule(entry.schedule).expression;
      } catch (err) {
        if (!isBerthError(err)) throw err;
        errors.push(`${where}.schedule: ${err.message}`);
      }
    }
    if (entry.maintenance !== undefined && typeof entry.maintenance !== 'boolean') errors.push(`${where}.maintenance: true or false, not ${kindOf(entry.maintenance)}`);
    const policy = entry.concurrency_policy;
    if (policy !== undefined && policy !== 'allow' && policy !== 'forbid' && policy !== 'replace') errors.push(`${where}.concurrency_policy: "allow", "forbid" or "replace", not ${JSON.stringify(policy)}`);
    if (errors.length > before || run === null || schedule === null) return;
    if (policy === 'allow' || policy === 'replace') notes.push(`app.json: ${where}: concurrency_policy "${policy}" is not berth's: a slot whose previous run still goes is skipped ("forbid")`);
    if (entry.maintenance === true) {
      notes.push(`app.json: ${where} is in maintenance: not scheduled`);
      return;
    }
    const name = appJsonJobName(schedule, run);
    const twin = jobs.find((job) => job.name === name);
    if (twin !== undefined) errors.push(`${where}: the same command and schedule as ${twin.where}`);
    else jobs.push({ name, schedule, timezone: 'UTC', command: run, timeoutMs: null, where });
  });
  return jobs.map(({ where: _where, ...job }) => job).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * A Dokku cron entry has no name; berth's jobs do (the store claims each
 * slot under it, so a slot never runs twice). The name is the command's
 * words and a digest of the schedule and command: readable in `berth cron`,
 * and the same on every deploy while the entry is.
 */
export function appJsonJobName(schedule: string, command: string): string {
  const words = command.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+/, '').slice(0, 40).replace(/-+$/, '');
  const digest = createHash('sha256').update(`${schedule}\n${command}`).digest('hex').slice(0, 6);
  return `${words === '' ? 'job' : words}-${digest}`;
}

function addonsNote(raw: unknown): string {
  const plans = (Array.isArray(raw) ? raw : []).flatMap((entry: unknown) => {
    if (typeof entry === 'string') return [{ plan: entry, as: null }];
    if (isObject(entry) && typeof entry.plan === 'string') return [{ plan: entry.plan, as: typeof entry.as === 'string' ? entry.as : null }];
    return [];
  });
  const hints: string[] = [];
  const unknown: string[] = [];
  for (const { plan, as } of plans) {
    const service = plan.split(':')[0]!;
    const kind = ADDON_KINDS.find(([pattern]) => pattern.test(service))?.[1];
    if (kind === undefined) unknown.push(plan);
    // Heroku names an attachment's var NAME_URL.
    else hints.push(`berth addons create ${kind}${as !== null && CONFIG_KEY.test(`${as}_URL`) ? ` --as ${as.toUpperCase()}_URL` : ''} (for ${JSON.stringify(plan)})`);
  }
  let note = 'app.json: ignoring "addons" (berth does not provision add-ons from app.json)';
  if (hints.length > 0) note += `; create them with ${hints.join(', ')}`;
  if (unknown.length > 0) note += `; berth has nothing for ${quoted(unknown)}`;
  return note;
}

/**
 * What app.json and berth.toml may not both say: a process type's scale
 * (which would win is not obvious), a cron job of the same name, or the
 * same command on the same schedule (it would run twice). Both files'
 * other cron jobs run side by side.
 */
export function conflictsWithAppConfig(appJson: AppJson, config: AppConfig): string[] {
  const errors: string[] = [];
  for (const { type } of appJson.formation) {
    if (Object.hasOwn(config.scale, type)) errors.push(`formation.${type}: berth.toml [scale] sets ${type} too; keep one`);
  }
  for (const job of appJson.cron) {
    const twin = config.cron.find((other) => other.name === job.name || (other.schedule === job.schedule && other.command === job.command && other.timezone === job.timezone));
    if (twin !== undefined) errors.push(`cron: "${job.command}" (${job.schedule}) is berth.toml's [cron.${twin.name}] too; keep one`);
  }
  return errors;
}

/** Refuses an invalid app.json, naming every mistake (the first few in the message). */
export function appJsonError(errors: readonly string[]): BerthError {
  const shown = errors.slice(0, 5).join('; ');
  const more = errors.length > 5 ? ` (and ${errors.length - 5} more)` : '';
  return new BerthError('BERTH_E_APP_JSON', `app.json: ${shown}${more}`, {
    status: 422,
    hint: 'Fix app.json at the key named; keys berth does not use are ignored, keys it uses are checked. See the README (app.json).',
  });
}

/** The folder's app.json (read confined to the folder, like berth.toml), or null when it has none; an invalid one throws BERTH_E_APP_JSON. */
export async function readAppJson(dir: string): Promise<{ appJson: AppJson; notes: readonly string[] } | null> {
  const text = await readConfinedText(dir, 'app.json', APP_JSON_MAX_BYTES);
  if (text === null) return null;
  const result = parseAppJson(text);
  if (!result.ok) throw appJsonError(result.errors);
  return { appJson: result.appJson, notes: result.notes };
}
