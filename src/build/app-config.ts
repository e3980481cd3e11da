import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import type { SiteSettings } from '../edge/index.ts';
import { BerthError } from '../errors.ts';
import { readConfinedText } from '../safe-fs/index.ts';
import { parseSize } from '../units.ts';
import { cronJobs, cronTableSchema, type CronJobConfig } from './cron-jobs.ts';

/**
 * berth.toml: what a Procfile cannot say. Unknown keys are rejected so a typo
 * ("helth") fails loudly instead of silently doing nothing.
 */
export interface AppConfig {
  /** URL prefix → folder inside the app, served by the edge itself. */
  readonly static: ReadonlyArray<{ readonly prefix: string; readonly dir: string }>;
  readonly health: { readonly path: string | null };
  readonly scale: Readonly<Record<string, number>>;
  /**
   * What the edge enforces for this app: the largest request body (null
   * keeps the edge's default), requests per second per client address with
   * a burst (null: no rate limit), and requests in flight per client address
   * (null: none).
   */
  readonly limits: {
    readonly maxBodyBytes: number | null;
    readonly rate: { readonly perSecond: number; readonly burst: number } | null;
    readonly connectionsPerClient: number | null;
  };
  /** HTTPS behaviour ([https]): the Strict-Transport-Security value (null: not sent), and whether plain HTTP redirects. */
  readonly https: { readonly hsts: string | null; readonly redirect: boolean };
  /** The edge's response cache for this app ([cache]): on unless turned off; only responses the app marks cacheable are kept. */
  readonly cache: { readonly enabled: boolean };
  /** Scheduled commands ([cron]), sorted by name. */
  readonly cron: readonly CronJobConfig[];
  /** What each instance may use ([resources]; [resources.TYPE] for one process type), over the server's defaults. */
  readonly resources: AppResources;
  /** How a Python app is built and served ([python]). */
  readonly python: {
    /** The release's virtualenv also sees the system's packages (Debian's python3-* packages). */
    readonly systemSitePackages: boolean;
    /** The server for a detected app; null picks by the app (ASGI → uvicorn, WSGI → gunicorn). */
    readonly server: 'gunicorn' | 'uvicorn' | null;
  };
}

/** Limits berth.toml sets; an absent one keeps the server's default. */
export interface ResourceRequest {
  readonly memoryBytes?: number;
  readonly cpu?: number;
  readonly processes?: number;
}

export interface AppResources {
  /** The app's disk ([resources] disk: releases, cache, home, data and logs together); absent keeps the server's default. */
  readonly diskBytes?: number;
  /** For every process type. */
  readonly all: ResourceRequest;
  /** Per process type, over `all`. */
  readonly byType: Readonly<Record<string, ResourceRequest>>;
}

export const DEFAULT_APP_CONFIG: AppConfig = {
  static: [],
  health: { path: null },
  scale: {},
  limits: { maxBodyBytes: null, rate: null, connectionsPerClient: null },
  https: { hsts: null, redirect: true },
  cache: { enabled: true },
  cron: [],
  resources: { all: {}, byType: {} },
  python: { systemSitePackages: false, server: null },
};

/** A year: the HSTS max-age browsers' preload lists ask for. */
const DEFAULT_HSTS_MAX_AGE = 31_536_000;

const URL_PREFIX = /^\/(?:[A-Za-z0-9._~!$&'()*+,;=:@-]+\/?)*$/;
const PROCESS_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

const schema = z.strictObject({
  static: z.record(z.string().regex(URL_PREFIX, 'a URL prefix such as "/static"'), z.string().min(1)).optional(),
  health: z.strictObject({ path: z.string().regex(/^\/[^\s]*$/, 'a path starting with "/"') }).optional(),
  scale: z.record(z.string().regex(PROCESS_NAME, 'a process type name'), z.int().min(0).max(64)).optional(),
  limits: z
    .strictObject({
      max_body: z.union([z.int().min(1), z.string().regex(/^\d+(\.\d+)?\s*[kKmMgG]?[bB]?$/, 'a size such as "50m"')]).optional(),
      rate: z.number().positive().max(1_000_000).optional(),
      burst: z.int().min(1).max(1_000_000).optional(),
      connections: z.int().min(1).max(100_000).optional(),
    })
    .optional(),
  https: z
    .strictObject({
      hsts: z.boolean().optional(),
      hsts_max_age: z.int().min(0).max(2 * DEFAULT_HSTS_MAX_AGE).optional(),
      hsts_include_subdomains: z.boolean().optional(),
      hsts_preload: z.boolean().optional(),
      redirect: z.boolean().optional(),
    })
    .optional(),
  cache: z.strictObject({ enabled: z.boolean().optional() }).optional(),
  cron: cronTableSchema.optional(),
  python: z.strictObject({ system_site_packages: z.boolean().optional(), server: z.enum(['gunicorn', 'uvicorn']).optional() }).optional(),
  resources: z.record(z.string(), z.unknown()).optional(),
});

const SIZE = z.union([z.int().min(1), z.string().regex(/^\d+(\.\d+)?\s*[kKmMgGtT]?[iI]?[bB]?$/, 'a size such as "512m"')]);
/** The smallest memory limit berth accepts: less cannot run a language runtime. */
export const MIN_MEMORY_BYTES = 16 * 1024 * 1024;
/** The smallest disk limit berth accepts: less cannot hold a release of any runtime. */
export const MIN_DISK_BYTES = 16 * 1024 * 1024;
const resourceSchema = z.strictObject({
  memory: SIZE.optional(),
  cpu: z.number().positive().max(1024).optional(),
  processes: z.int().min(1).max(4_194_304).optional(),
});

function resourceRequest(raw: z.infer<typeof resourceSchema>, where: string, source: string): ResourceRequest {
  const request: { memoryBytes?: number; cpu?: number; processes?: number } = {};
  if (raw.memory !== undefined) {
    const bytes = parseSize(raw.memory);
    if (bytes < MIN_MEMORY_BYTES) throw new BerthError('BERTH_E_APP_CONFIG', `${source}: ${where}.memory: at least 16m`, { hint: 'Give the app enough memory to start its runtime, e.g. memory = "256m".' });
    request.memoryBytes = bytes;
  }
  if (raw.cpu !== undefined) {
    if (raw.cpu < 0.01) throw new BerthError('BERTH_E_APP_CONFIG', `${source}: ${where}.cpu: at least 0.01 (a hundredth of a core)`);
    request.cpu = raw.cpu;
  }
  if (raw.processes !== undefined) request.processes = raw.processes;
  return request;
}

/** [resources] (keys for every type) and [resources.TYPE] sub-tables, strictly. */
function resources(raw: Record<string, unknown> | undefined, source: string): AppResources {
  if (raw === undefined) return { all: {}, byType: {} };
  const own: Record<string, unknown> = {};
  const byType: Record<string, ResourceRequest> = {};
  let diskBytes: number | undefined;
  for (const [key, value] of Object.entries(raw)) {
    if (key === 'disk') {
      diskBytes = diskSize(value, source);
      continue;
    }
    if (key === 'memory' || key === 'cpu' || key === 'processes') {
      own[key] = value;
      continue;
    }
    if (!PROCESS_NAME.test(key) || typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new BerthError('BERTH_E_APP_CONFIG', `${source}: resources: unknown key "${key}"`, { hint: 'Known keys are memory, cpu, processes and disk, and [resources.TYPE] tables for one process type (e.g. [resources.worker]).' });
    }
    if (typeof value === 'object' && 'disk' in value) {
      throw new BerthError('BERTH_E_APP_CONFIG', `${source}: resources.${key}.disk: the disk is the whole app's, not a process type's`, { hint: 'Set disk in [resources] itself (e.g. disk = "2g").' });
    }
    byType[key] = resourceRequest(parseResource(value, `resources.${key}`, source), `resources.${key}`, source);
  }
  const all = resourceRequest(parseResource(own, 'resources', source), 'resources', source);
  return diskBytes === undefined ? { all, byType } : { diskBytes, all, byType };
}

function diskSize(value: unknown, source: string): number {
  const parsed = SIZE.safeParse(value);
  if (!parsed.success) throw new BerthError('BERTH_E_APP_CONFIG', `${source}: resources.disk: a size such as "2g"`, { hint: 'disk = "2g" limits what the app keeps on disk: releases, build cache, home, data and logs.' });
  const bytes = parseSize(parsed.data);
  if (bytes < MIN_DISK_BYTES) throw new BerthError('BERTH_E_APP_CONFIG', `${source}: resources.disk: at least 16m`, { hint: 'Give the app room for its releases, e.g. disk = "1g".' });
  return bytes;
}

function parseResource(value: unknown, where: string, source: string): z.infer<typeof resourceSchema> {
  const result = resourceSchema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues.find((i) => i.code === 'unrecognized_keys') ?? result.error.issues[0]!;
  const path = [where, ...issue.path].join('.');
  const message = issue.code === 'unrecognized_keys' ? `unknown key ${issue.keys.map((k) => `"${k}"`).join(', ')}` : issue.message;
  throw new BerthError('BERTH_E_APP_CONFIG', `${source}: ${path}: ${message}`, { hint: 'memory = "512m", cpu = 0.5 (a share of one core), processes = 256; see the README.' });
}

export function parseAppConfig(text: string, source = 'berth.toml'): AppConfig {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (err) {
    throw new BerthError('BERTH_E_APP_CONFIG', `${source} is not valid TOML: ${(err as Error).message.split('\n')[0]}`, {
      hint: 'Fix the TOML syntax; see the configuration section of the README.',
    });
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    // A misspelt key also makes the key it meant look missing; the
    // misspelling is the more useful thing to report.
    const issue = result.error.issues.find((i) => i.code === 'unrecognized_keys') ?? result.error.issues[0]!;
    const where = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    const message = issue.code === 'unrecognized_keys' ? `unknown key ${issue.keys.map((k) => `"${k}"`).join(', ')}` : issue.message;
    throw new BerthError('BERTH_E_APP_CONFIG', `${source}: ${where}: ${message}`, {
      hint: 'Known sections are [static], [health], [scale], [limits], [https], [cache], [cron], [resources] and [python]; see the README.',
    });
  }
  const data = result.data;
  const staticMounts = Object.entries(data.static ?? {}).map(([prefix, dir]) => {
    if (dir.split(/[\\/]/).includes('..') || dir.startsWith('/')) {
      throw new BerthError('BERTH_E_APP_CONFIG', `${source}: static."${prefix}": "${dir}" must be a folder inside the app`);
    }
    return { prefix: prefix.length > 1 ? prefix.replace(/\/$/, '') : prefix, dir };
  });
  // Longest prefix first, so "/static/img" wins over "/static" at lookup time.
  staticMounts.sort((a, b) => b.prefix.length - a.prefix.length);
  const maxBody = data.limits?.max_body;
  const limits = data.limits;
  if (limits?.burst !== undefined && limits.rate === undefined) {
    throw new BerthError('BERTH_E_APP_CONFIG', `${source}: limits.burst: needs limits.rate`, { hint: 'Set the rate (requests per second per client) the burst applies to, e.g. rate = 10 and burst = 20.' });
  }
  const https = data.https;
  if (https !== undefined && https.hsts !== true && (https.hsts_max_age !== undefined || https.hsts_include_subdomains !== undefined || https.hsts_preload !== undefined)) {
    throw new BerthError('BERTH_E_APP_CONFIG', `${source}: https: the hsts_* keys need hsts = true`, { hint: 'Strict-Transport-Security is opt-in: add hsts = true under [https].' });
  }
  let hsts: string | null = null;
  if (https?.hsts === true) {
    hsts = `max-age=${https.hsts_max_age ?? DEFAULT_HSTS_MAX_AGE}`;
    if (https.hsts_include_subdomains === true) hsts += '; includeSubDomains';
    if (https.hsts_preload === true) hsts += '; preload';
  }
  return {
    static: staticMounts,
    health: { path: data.health?.path ?? null },
    scale: data.scale ?? {},
    limits: {
      maxBodyBytes: maxBody === undefined ? null : parseSize(maxBody),
      // A burst defaults to one second's worth of requests (at least one).
      rate: limits?.rate === undefined ? null : { perSecond: limits.rate, burst: limits.burst ?? Math.max(1, Math.ceil(limits.rate)) },
      connectionsPerClient: limits?.connections ?? null,
    },
    https: { hsts, redirect: https?.redirect ?? true },
    cache: { enabled: data.cache?.enabled ?? true },
    cron: cronJobs(data.cron, source),
    resources: resources(data.resources, source),
    python: { systemSitePackages: data.python?.system_site_packages ?? false, server: data.python?.server ?? null },
  };
}

/** The folder's berth.toml, read confined to the folder (a link out of it is refused, never read). */
export async function readAppConfig(dir: string): Promise<AppConfig> {
  const text = await readConfinedText(dir, 'berth.toml');
  return text === null ? DEFAULT_APP_CONFIG : parseAppConfig(text);
}

/** What an app's berth.toml asks of the edge, as the edge's site settings. Pure. */
export function siteSettings(config: AppConfig): SiteSettings {
  return {
    maxBodyBytes: config.limits.maxBodyBytes,
    hsts: config.https.hsts,
    httpsRedirect: config.https.redirect,
    rateLimit: config.limits.rate,
    connectionsPerClient: config.limits.connectionsPerClient,
    cache: config.cache.enabled,
  };
}
