import type { AppConfig, AppJson, AppPlan } from '../build/index.ts';
import type { CronRunRetention } from './cron-run-policy.ts';
import type { ReleaseKind, ReleaseStatus } from './release-policy.ts';

// The plain, JSON-ready objects the store hands out. Apps are named by name;
// releases carry their id (what a deploy holds) and their version (what a
// user types).

/** building → succeeded | failed | interrupted (the daemon died while it built) → pruned (its folder deleted or to be deleted). */
export type BuildStatus = 'building' | 'succeeded' | 'failed' | 'interrupted' | 'pruned';
export type AuditResult = 'ok' | 'error';

export interface App {
  readonly name: string;
  readonly createdAt: string;
  /** The version serving traffic, or null before the first release succeeds. */
  readonly currentVersion: number | null;
  readonly uid: number | null;
  readonly deployBranch: string;
}

export interface Build {
  readonly id: number;
  readonly app: string;
  readonly createdAt: string;
  readonly sourceDigest: string;
  readonly dir: string;
  readonly status: BuildStatus;
  readonly logPath: string;
  /** Its OCI image by digest (REGISTRY/PATH@sha256:…) once the Kubernetes runtime pushed it; null otherwise. */
  readonly image: string | null;
  /**
   * What the build was detected as and its berth.toml, recorded from the
   * upload before the app could change it; what every release of the build
   * runs. Null for builds that failed before detection, and for builds
   * made before schema version 5 until they are recorded.
   */
  readonly manifest: BuildManifest | null;
}

/** A build's plan and app config, as recorded with it. */
export interface BuildManifest {
  readonly plan: AppPlan;
  readonly config: AppConfig;
  /** Its app.json; null (or absent, for builds recorded before schema version 9) when it had none. */
  readonly appJson?: AppJson | null;
}

/** A process type as the release's Procfile declares it. */
export interface ReleaseProcess {
  readonly name: string;
  readonly command: string;
}

/** A release without its config values: what listings show. */
export interface ReleaseInfo {
  readonly id: number;
  readonly app: string;
  readonly version: number;
  readonly createdAt: string;
  readonly kind: ReleaseKind;
  readonly description: string;
  readonly buildId: number | null;
  readonly status: ReleaseStatus;
  readonly configKeys: readonly string[];
  readonly processes: readonly ReleaseProcess[];
  /** The image it ran on Kubernetes (by digest); null on one machine. */
  readonly image: string | null;
}

/** A release with the config snapshot it runs with (values are secrets). */
export interface Release extends ReleaseInfo {
  readonly config: Readonly<Record<string, string>>;
}

export interface NewRelease {
  readonly kind: ReleaseKind;
  readonly description: string;
  readonly buildId?: number | null;
  /** The snapshot to run with; omitted, the app's config vars as they are now. */
  readonly config?: Readonly<Record<string, string>>;
  readonly processes: readonly ReleaseProcess[];
}

export interface Domain {
  readonly hostname: string;
  readonly app: string;
  readonly createdAt: string;
}

/** A token as listings show it: never the hash, never the plaintext. */
export interface TokenInfo {
  readonly id: number;
  readonly name: string;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
}

/** One fired cron slot. */
export interface CronRun {
  readonly app: string;
  readonly job: string;
  /** The scheduled time this run stands for (ISO-8601 UTC), not when it started. */
  readonly slot: string;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly releaseVersion: number;
  readonly exitCode: number | null;
  readonly status: CronRunStatus;
}

export type CronRunStatus = 'running' | 'succeeded' | 'failed' | 'interrupted';

/** A registered SSH public key, as listings show it. */
export interface SshKeyInfo {
  readonly id: number;
  readonly name: string;
  readonly fingerprint: string;
  readonly algorithm: string;
  readonly publicKey: string;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
}

/** A log drain of an app. `url` may hold a secret (a token): show it only through redactDrainUrl(). */
export interface LogDrainRecord {
  readonly id: number;
  readonly app: string;
  readonly url: string;
  readonly createdAt: string;
}

export type AuditValue = string | number | boolean | null | readonly string[];

export interface AuditEntry {
  /** A token name, "ssh:" and an SSH key's name, "system" or "anonymous" (a request without a valid token). */
  readonly actor: string;
  /** What was asked, e.g. "apps.create", "config.set". */
  readonly action: string;
  /** What it was asked of: an app name, a hostname, a token name. */
  readonly target: string;
  readonly result: AuditResult;
  /** Keys, versions, counts, error codes: never config values or tokens. */
  readonly detail?: Readonly<Record<string, AuditValue>>;
}

export interface AuditRow extends AuditEntry {
  readonly id: number;
  readonly at: string;
  readonly detail: Readonly<Record<string, AuditValue>>;
}

/** What destroyApp removed, so the caller can delete the app's folders and user. */
export interface DestroyedApp {
  readonly app: App;
  readonly releases: number;
  readonly builds: readonly Build[];
  readonly domains: readonly string[];
  readonly configKeys: readonly string[];
  /** Its backups, newest first, kept (files and rows) but no longer listed for the name. */
  readonly backups: readonly BackupRecord[];
}

/** What pruneReleases marked: the releases, and the builds no remaining release uses (delete their dirs). */
export interface PruneResult {
  readonly releases: readonly ReleaseInfo[];
  readonly builds: readonly Build[];
}

export interface StoreOptions {
  /** The clock, in ms since the epoch; tests pass a fake one. */
  readonly now?: () => number;
  /** How many finished cron runs a job keeps (DEFAULT_CRON_RUN_RETENTION). */
  readonly cronRunRetention?: CronRunRetention;
}

/** What an app's add-on row holds: `postgres`, `redis`, `sqlite`, or `storage` (a data folder alone). */
export type AddonRecordKind = 'postgres' | 'redis' | 'sqlite' | 'storage';

export interface AddonRecord {
  readonly id: number;
  readonly app: string;
  readonly kind: AddonRecordKind;
  /** Config vars the add-on gives the app's releases (secrets). */
  readonly vars: Readonly<Record<string, string>>;
  /** The provider's own handle on it (names, a password, a path): never shown. */
  readonly resource: Readonly<Record<string, string>>;
  readonly createdAt: string;
}

export type BackupTrigger = 'manual' | 'scheduled' | 'final';
export type BackupStatus = 'running' | 'good' | 'failed' | 'interrupted';

export interface BackupRecord {
  readonly id: number;
  readonly app: string;
  readonly kind: string;
  readonly trigger: BackupTrigger;
  readonly status: BackupStatus;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  /** Absolute path of the stored file; null until it is complete. */
  readonly file: string | null;
  readonly bytes: number | null;
  readonly sha256: string | null;
  readonly copyFile: string | null;
  readonly copyError: string | null;
  readonly error: string | null;
}

export interface BackupScheduleRecord {
  readonly app: string;
  readonly kind: string;
  readonly schedule: string;
  readonly timezone: string;
  readonly keep: number;
}
