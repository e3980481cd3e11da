import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { BerthError } from '../errors.ts';
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
  /** The largest request body the edge accepts for this app; null keeps the edge's default. */
  readonly limits: { readonly maxBodyBytes: number | null };
  /** Scheduled commands ([cron]), sorted by name. */
  readonly cron: readonly CronJobConfig[];
  /** How a Python app is built and served ([python]). */
  readonly python: {
    /** The release's virtualenv also sees the system's packages (Debian's python3-* packages). */
    readonly systemSitePackages: boolean;
    /** The server for a detected app; null picks by the app (ASGI → uvicorn, WSGI → gunicorn). */
    readonly server: 'gunicorn' | 'uvicorn' | null;
  };
}

export const DEFAULT_APP_CONFIG: AppConfig = { static: [], health: { path: null }, scale: {}, limits: { maxBodyBytes: null }, cron: [], python: { systemSitePackages: false, server: null } };

const URL_PREFIX = /^\/(?:[A-Za-z0-9._~!$&'()*+,;=:@-]+\/?)*$/;
const PROCESS_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

const schema = z.strictObject({
  static: z.record(z.string().regex(URL_PREFIX, 'a URL prefix such as "/static"'), z.string().min(1)).optional(),
  health: z.strictObject({ path: z.string().regex(/^\/[^\s]*$/, 'a path starting with "/"') }).optional(),
  scale: z.record(z.string().regex(PROCESS_NAME, 'a process type name'), z.int().min(0).max(64)).optional(),
  limits: z
    .strictObject({
      max_body: z.union([z.int().min(1), z.string().regex(/^\d+(\.\d+)?\s*[kKmMgG]?[bB]?$/, 'a size such as "50m"')]),
    })
    .optional(),
  cron: cronTableSchema.optional(),
  python: z.strictObject({ system_site_packages: z.boolean().optional(), server: z.enum(['gunicorn', 'uvicorn']).optional() }).optional(),
});

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
      hint: 'Known sections are [static], [health], [scale], [limits], [cron] and [python]; see the README.',
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
  return {
    static: staticMounts,
    health: { path: data.health?.path ?? null },
    scale: data.scale ?? {},
    limits: { maxBodyBytes: maxBody === undefined ? null : parseSize(maxBody) },
    cron: cronJobs(data.cron, source),
    python: { systemSitePackages: data.python?.system_site_packages ?? false, server: data.python?.server ?? null },
  };
}

export async function readAppConfig(dir: string): Promise<AppConfig> {
  let text: string;
  try {
    text = await readFile(join(dir, 'berth.toml'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return DEFAULT_APP_CONFIG;
    throw err;
  }
  return parseAppConfig(text);
}
