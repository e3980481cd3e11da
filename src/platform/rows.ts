import type { AppConfig, AppJson, AppPlan } from '../build/index.ts';
import { BerthError } from '../errors.ts';
import { configKey, configValue, processType } from './names.ts';
import type { ReleaseKind, ReleaseStatus } from './release-policy.ts';
import type { App, AuditResult, CronRun, CronRunStatus, SshKeyInfo, AuditRow, AuditValue, Build, BuildStatus, Domain, Release, ReleaseInfo, ReleaseProcess, TokenInfo } from './records.ts';

// The store's row plumbing: the SELECTs every read shares, rows → records,
// and the checks run on input before any transaction starts.

export type Row = Record<string, unknown>;

/** Config values shorter than this are not searched for in audit details (too common to mean anything). */
export const REDACT_MIN_LENGTH = 4;
const REDACTED = '[redacted]';

export const APP_SELECT = `SELECT a.name, a.created_at, a.uid, a.deploy_branch, r.version AS current_version
  FROM apps a LEFT JOIN releases r ON r.id = a.current_release_id`;
export const BUILD_SELECT = `SELECT b.id, a.name AS app, b.created_at, b.source_digest, b.dir, b.status, b.log_path, b.plan_json, b.app_config_json, b.app_json, b.image
  FROM builds b JOIN apps a ON a.id = b.app_id`;
export const RELEASE_SELECT = `SELECT r.id, a.name AS app, r.version, r.created_at, r.kind, r.description, r.build_id, r.config_json, r.processes_json, r.status, r.image
  FROM releases r JOIN apps a ON a.id = r.app_id`;
export const DOMAIN_SELECT = `SELECT d.hostname, a.name AS app, d.created_at FROM domains d JOIN apps a ON a.id = d.app_id`;

export function toApp(row: Row): App {
  return {
    name: String(row.name),
    createdAt: String(row.created_at),
    currentVersion: row.current_version === null ? null : Number(row.current_version),
    uid: row.uid === null ? null : Number(row.uid),
    deployBranch: String(row.deploy_branch),
  };
}

export function toBuild(row: Row): Build {
  return {
    id: Number(row.id),
    app: String(row.app),
    createdAt: String(row.created_at),
    sourceDigest: String(row.source_digest),
    dir: String(row.dir),
    status: String(row.status) as BuildStatus,
    logPath: String(row.log_path),
    image: row.image === null || row.image === undefined ? null : String(row.image),
    // Written by the store from values berth made, never from app input: parsed, not re-validated.
    manifest:
      row.plan_json === null || row.app_config_json === null
        ? null
        : {
            plan: JSON.parse(String(row.plan_json)) as AppPlan,
            config: JSON.parse(String(row.app_config_json)) as AppConfig,
            ...(row.app_json === null || row.app_json === undefined ? {} : { appJson: JSON.parse(String(row.app_json)) as AppJson }),
          },
  };
}

export function toRelease(row: Row): Release {
  const config = JSON.parse(String(row.config_json)) as Record<string, string>;
  return {
    id: Number(row.id),
    app: String(row.app),
    version: Number(row.version),
    createdAt: String(row.created_at),
    kind: String(row.kind) as ReleaseKind,
    description: String(row.description),
    buildId: row.build_id === null ? null : Number(row.build_id),
    status: String(row.status) as ReleaseStatus,
    configKeys: Object.keys(config),
    processes: JSON.parse(String(row.processes_json)) as ReleaseProcess[],
    image: row.image === null || row.image === undefined ? null : String(row.image),
    config,
  };
}

export function withoutConfig(release: Release): ReleaseInfo {
  const { config: _config, ...info } = release;
  return info;
}

export function toDomain(row: Row): Domain {
  return { hostname: String(row.hostname), app: String(row.app), createdAt: String(row.created_at) };
}

export function toToken(row: Row): TokenInfo {
  return {
    id: Number(row.id),
    name: String(row.name),
    createdAt: String(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : String(row.last_used_at),
    revokedAt: row.revoked_at === null ? null : String(row.revoked_at),
  };
}

export const CRON_RUN_SELECT = `SELECT a.name AS app, c.job, c.slot, c.started_at, c.finished_at, c.release_version, c.exit_code, c.status
  FROM cron_runs c JOIN apps a ON a.id = c.app_id`;

export function toCronRun(row: Row): CronRun {
  return {
    app: String(row.app),
    job: String(row.job),
    slot: String(row.slot),
    startedAt: String(row.started_at),
    finishedAt: row.finished_at === null ? null : String(row.finished_at),
    releaseVersion: Number(row.release_version),
    exitCode: row.exit_code === null ? null : Number(row.exit_code),
    status: String(row.status) as CronRunStatus,
  };
}

export function toSshKey(row: Row): SshKeyInfo {
  return {
    id: Number(row.id),
    name: String(row.name),
    fingerprint: String(row.fingerprint),
    algorithm: String(row.algorithm),
    publicKey: String(row.public_key),
    createdAt: String(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : String(row.last_used_at),
    revokedAt: row.revoked_at === null ? null : String(row.revoked_at),
  };
}

export function toAudit(row: Row): AuditRow {
  return {
    id: Number(row.id),
    at: String(row.at),
    actor: String(row.actor),
    action: String(row.action),
    target: String(row.target),
    result: String(row.result) as AuditResult,
    detail: JSON.parse(String(row.detail_json)) as Record<string, AuditValue>,
  };
}

export function rowsToConfig(rows: Row[]): Record<string, string> {
  const config: Record<string, string> = {};
  for (const row of rows) config[String(row.key)] = String(row.value);
  return config;
}

export function sortKeys(config: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(config).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Every key and value checked before anything is written, so one bad entry changes nothing. */
export function checkConfig(vars: Readonly<Record<string, string>>): Array<[string, string]> {
  if (typeof vars !== 'object' || vars === null || Array.isArray(vars)) throw new BerthError('BERTH_E_USAGE', 'config vars must be an object of KEY: value');
  return Object.entries(vars).map(([key, value]) => [configKey(key), configValue(key, value)]);
}

export function checkProcesses(processes: readonly ReleaseProcess[]): ReleaseProcess[] {
  if (!Array.isArray(processes)) throw new BerthError('BERTH_E_USAGE', 'a release needs its process types as a list');
  const seen = new Set<string>();
  return processes.map((p) => {
    const name = processType(p?.name);
    if (seen.has(name)) throw new BerthError('BERTH_E_USAGE', `process type "${name}" is listed twice`);
    seen.add(name);
    return { name, command: requireText(`the command of process type "${name}"`, p.command) };
  });
}

export function requireText(what: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '' || value.includes('\0')) {
    throw new BerthError('BERTH_E_USAGE', `${what} must be a non-empty string`);
  }
  return value;
}

export function checkUid(uid: number | null): number | null {
  if (uid !== null && (!Number.isInteger(uid) || uid < 0 || uid > 0xfffffffe)) throw new BerthError('BERTH_E_USAGE', `uid must be a whole number, got ${uid}`);
  return uid;
}

export function checkVersion(version: number): number {
  if (!Number.isInteger(version) || version < 1) {
    throw new BerthError('BERTH_E_NAME', `${version} is not a valid release`, { hint: 'Name a release by its number, e.g. "v12" or "12".', status: 400 });
  }
  return version;
}

export function appNotFound(name: string): BerthError {
  return new BerthError('BERTH_E_APP_NOT_FOUND', `no app is named "${name}"`, { hint: 'See berth apps list.', status: 404 });
}

// A sync transaction body that returns a promise would commit before the
// work it stands for has run; refuse it instead of committing half a change.
export function checkSync<T>(result: T): T {
  if (result instanceof Promise) throw new TypeError('Store.transaction() takes a synchronous function');
  return result;
}

const TOKEN_LIKE = /berth_[A-Za-z0-9_-]{43}/;

export function redact(detail: Readonly<Record<string, AuditValue>>, secrets: readonly string[]): Record<string, AuditValue> {
  const clean = (value: string): string => (TOKEN_LIKE.test(value) || secrets.some((s) => value.includes(s)) ? REDACTED : value);
  const out: Record<string, AuditValue> = {};
  for (const [key, value] of Object.entries(detail)) {
    if (typeof value === 'string') out[key] = clean(value);
    else if (Array.isArray(value)) out[key] = (value as readonly unknown[]).map((v) => clean(String(v)));
    else if (value === null || typeof value === 'number' || typeof value === 'boolean') out[key] = value;
    else out[key] = REDACTED; // Nested objects are not part of the contract; never store what was not checked.
  }
  return out;
}
