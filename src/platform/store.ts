import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { chmodSync, closeSync, existsSync, lstatSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError } from '../errors.ts';
import { writeFileAtomic } from './atomic-file.ts';
import { SYSTEM_ACTOR, appName, auditActor, branchName, configKey, cronJobName, hostname, keyName, processType, releaseRef, tokenName } from './names.ts';
import { buildsToPrune, canTransition, DEFAULT_BUILD_KEEP, nextVersion, releasesToPrune, rollbackTarget, type BuildKeep } from './release-policy.ts';
import type { AddonRecord, AddonRecordKind, BackupRecord, BackupScheduleRecord, BackupStatus, BackupTrigger, App, AuditEntry, AuditRow, Build, BuildManifest, CronRun, SshKeyInfo, DestroyedApp, Domain, LogDrainRecord, NewRelease, PruneResult, Release, ReleaseInfo, StoreOptions, TokenInfo } from './records.ts';
import {
  APP_SELECT,
  BUILD_SELECT,
  CRON_RUN_SELECT,
  DOMAIN_SELECT,
  RELEASE_SELECT,
  REDACT_MIN_LENGTH,
  appNotFound,
  checkConfig,
  checkProcesses,
  checkSync,
  checkUid,
  checkVersion,
  redact,
  requireText,
  rowsToConfig,
  sortKeys,
  toApp,
  toAudit,
  toBuild,
  toCronRun,
  toDomain,
  toRelease,
  toSshKey,
  toToken,
  withoutConfig,
  type Row,
} from './rows.ts';
import { MIGRATIONS, SCHEMA_VERSION } from './schema.ts';
import { DEFAULT_CRON_RUN_RETENTION, cronRunsPruneBefore, type CronRunRetention } from './cron-run-policy.ts';
import { generateToken, hashToken, looksLikeToken, nextAdminTokenName, revocationLocksOut, tokensMatch } from './tokens.ts';

// The platform's persistent state: one SQLite database, DIR/berth.db, in WAL
// mode with synchronous=FULL (a committed change survives a power cut). The
// schema and its migrations are in schema.ts.
//
// Every method is synchronous (node:sqlite is) and every change that touches
// more than one row runs in one `BEGIN IMMEDIATE` transaction: a failure
// midway — a bad key among good ones, a crash, a SIGKILL — leaves nothing
// changed. IMMEDIATE takes the write lock up front, so the existence checks
// a method makes before writing cannot be invalidated by another writer.
//
// Apps are named by name everywhere (names are validated with names.ts);
// releases by version within an app, or by id where a deploy holds one.
// Everything returned is a plain, JSON-ready object (records.ts).

/** A cron slot as stored: a whole-second ISO-8601 UTC time, so one instant has one spelling. */
/** berth's own scheduled tasks ("berth.backup-postgres"): a name no berth.toml [cron] job can have. */
const SYSTEM_JOB = /^berth\.[a-z][a-z0-9-]{0,62}$/;

function cronRunName(job: string): string {
  return SYSTEM_JOB.test(job) ? job : cronJobName(job);
}

function cronSlot(value: string): string {
  const ms = Date.parse(value);
  if (typeof value !== 'string' || !Number.isFinite(ms) || ms % 1000 !== 0) throw new BerthError('BERTH_E_USAGE', `a cron slot must be a whole-second time, got ${JSON.stringify(value)}`);
  return new Date(ms).toISOString();
}

/** The smallest memory limit `berth scale` accepts, as berth.toml's [resources]. */
const MIN_SCALE_MEMORY = 16 * 1024 * 1024;
/** The most instances of one process type; the same limit as berth.toml's [scale]. */
export const MAX_QUANTITY = 64;
/** last_used_at is written at most this often per token, so authenticating is not an fsync per request. */
export const TOKEN_TOUCH_INTERVAL_MS = 60_000;
/** The name of the token ensureAdminToken creates. */
export const ADMIN_TOKEN_NAME = 'admin';

const ADDON_SELECT = 'SELECT d.id, a.name AS app, d.kind, d.vars_json, d.resource_json, d.created_at FROM addons d JOIN apps a ON a.id = d.app_id';
const BACKUP_SELECT = 'SELECT id, app, kind, trigger, status, started_at, finished_at, file, bytes, sha256, copy_file, copy_error, error FROM backups';

function toAddon(row: Row): AddonRecord {
  return {
    id: Number(row.id),
    app: String(row.app),
    kind: String(row.kind) as AddonRecordKind,
    vars: JSON.parse(String(row.vars_json)) as Record<string, string>,
    resource: JSON.parse(String(row.resource_json)) as Record<string, string>,
    createdAt: String(row.created_at),
  };
}

function toBackup(row: Row): BackupRecord {
  const text = (value: unknown) => (value === null || value === undefined ? null : String(value));
  return {
    id: Number(row.id),
    app: String(row.app),
    kind: String(row.kind),
    trigger: String(row.trigger) as BackupTrigger,
    status: String(row.status) as BackupStatus,
    startedAt: String(row.started_at),
    finishedAt: text(row.finished_at),
    file: text(row.file),
    bytes: row.bytes === null || row.bytes === undefined ? null : Number(row.bytes),
    sha256: text(row.sha256),
    copyFile: text(row.copy_file),
    copyError: text(row.copy_error),
    error: text(row.error),
  };
}

function addonExists(app: string, kind: AddonRecordKind): BerthError {
  return new BerthError('BERTH_E_ADDON_EXISTS', kind === 'storage' ? `the app "${app}" already has storage` : `the app "${app}" already has a ${kind} add-on`, {
    hint: kind === 'storage' ? `berth storage info --app ${app}` : `berth addons info ${kind} --app ${app}`,
    status: 409,
  });
}

export class Store {
  readonly path: string;
  #db: DatabaseSync | null;
  readonly #now: () => number;
  readonly #statements = new Map<string, StatementSync>();
  #savepoints = 0;

  readonly #cronRunRetention: CronRunRetention;

  private constructor(path: string, db: DatabaseSync, options: StoreOptions) {
    this.path = path;
    this.#db = db;
    this.#now = options.now ?? Date.now;
    this.#cronRunRetention = options.cronRunRetention ?? DEFAULT_CRON_RUN_RETENTION;
  }

  /**
   * Open (creating if needed) DIR/berth.db. DIR is made 0700 and the database
   * 0600 before SQLite touches it: it holds config values, which are secrets,
   * and SQLite gives its -wal and -shm files the database file's mode.
   */
  static open(dir: string, options: StoreOptions = {}): Store {
    const path = join(dir, 'berth.db');
    let db: DatabaseSync;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
      closeSync(openSync(path, 'a', 0o600));
      for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, 0o600);
      db = new DatabaseSync(path, { enableForeignKeyConstraints: true, timeout: 5_000 });
    } catch (err) {
      throw new BerthError('BERTH_E_STATE', `cannot open the state database ${path}: ${(err as Error).message}`, {
        hint: 'Check that the --state folder exists or can be created, and is owned by the user berth runs as.',
        status: 500,
        cause: err,
      });
    }
    return Store.#ready(path, db, options);
  }

  /**
   * Open the database of a state folder berth already made, changing
   * nothing else: no folder is created and no mode touched, so a command
   * run beside a running daemon (reset-admin-token) leaves its folders as
   * the daemon set them. WAL lets both use the database at once.
   */
  static openExisting(dir: string, options: StoreOptions = {}): Store {
    const path = join(dir, 'berth.db');
    let db: DatabaseSync;
    try {
      if (!lstatSync(path).isFile()) throw new Error('not a regular file');
      db = new DatabaseSync(path, { enableForeignKeyConstraints: true, timeout: 5_000 });
    } catch (err) {
      throw new BerthError('BERTH_E_STATE', `${dir} holds no berth state database (${path}: ${(err as Error).message})`, {
        hint: 'Give the --state folder `berth server` runs with (default /var/lib/berth as root), and run as its owner.',
        status: 500,
        cause: err,
      });
    }
    return Store.#ready(path, db, options);
  }

  static #ready(path: string, db: DatabaseSync, options: StoreOptions): Store {
    const store = new Store(path, db, options);
    try {
      store.#configure();
      store.#migrate();
    } catch (err) {
      db.close();
      if (err instanceof BerthError) throw err;
      throw new BerthError('BERTH_E_STATE', `cannot use the state database ${path}: ${(err as Error).message}`, {
        hint: 'The file may be damaged or not a berth database; restore it from a backup.',
        status: 500,
        cause: err,
      });
    }
    return store;
  }

  #configure(): void {
    const db = this.#conn();
    // WAL: readers never block the writer, and a commit is one append.
    // synchronous=FULL: the WAL is fsynced at every commit, so a commit the
    // API acknowledged survives a power cut, not only a process crash.
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = FULL');
    db.exec('PRAGMA foreign_keys = ON');
    db.exec('PRAGMA busy_timeout = 5000');
    // Refuse SQL that could corrupt the file on purpose (writable_schema, …).
    db.enableDefensive(true);
    const mode = this.#get('PRAGMA journal_mode')?.journal_mode;
    if (mode !== 'wal') throw new Error(`journal_mode is ${String(mode)}, not wal`);
  }

  #migrate(): void {
    const db = this.#conn();
    const at = Number(this.#get('PRAGMA user_version')?.user_version ?? 0);
    if (at === SCHEMA_VERSION) return;
    // A migration may rebuild a table (the only way SQLite changes a
    // constraint), which needs foreign keys off; that pragma is ignored
    // inside a transaction, so it goes around it, and the transaction checks
    // every reference before it commits.
    db.exec('PRAGMA foreign_keys = OFF');
    try {
      this.transaction(() => {
        const version = Number(this.#get('PRAGMA user_version')?.user_version ?? 0);
        if (version > SCHEMA_VERSION) {
          throw new BerthError('BERTH_E_STATE', `the state database is at schema version ${version}, newer than this berth knows (${SCHEMA_VERSION})`, {
            hint: 'Run the newer berth that wrote it, or restore a backup made by this version.',
            status: 500,
          });
        }
        for (let v = version; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]!);
        const broken = this.#all('PRAGMA foreign_key_check');
        if (broken.length > 0) throw new Error(`the migration to schema version ${SCHEMA_VERSION} would leave ${broken.length} broken reference(s), first in ${String(broken[0]!.table)}`);
        // user_version lives in the database header and is part of the same
        // transaction: the schema and its number change together or not at all.
        if (version !== SCHEMA_VERSION) db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
      });
    } finally {
      db.exec('PRAGMA foreign_keys = ON');
    }
  }

  /** The schema version the database is at. */
  get schemaVersion(): number {
    return Number(this.#get('PRAGMA user_version')?.user_version ?? 0);
  }

  /** Idempotent; every later call on the store throws. */
  close(): void {
    const db = this.#db;
    if (db === null) return;
    this.#db = null;
    this.#statements.clear();
    db.close();
  }

  /**
   * Run `fn` in one transaction: all of its changes commit together, or a
   * throw rolls every one of them back. Nested calls (the store's own
   * methods inside a caller's transaction) use savepoints, so an inner
   * failure the caller catches undoes only the inner part.
   */
  transaction<T>(fn: () => T): T {
    const db = this.#conn();
    if (db.isTransaction) {
      const name = `berth_sp_${++this.#savepoints}`;
      db.exec(`SAVEPOINT ${name}`);
      try {
        const result = checkSync(fn());
        db.exec(`RELEASE ${name}`);
        return result;
      } catch (err) {
        db.exec(`ROLLBACK TO ${name}`);
        db.exec(`RELEASE ${name}`);
        throw err;
      } finally {
        this.#savepoints--;
      }
    }
    db.exec('BEGIN IMMEDIATE');
    try {
      const result = checkSync(fn());
      db.exec('COMMIT');
      return result;
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw err;
    }
  }

  // ---- apps ---------------------------------------------------------------

  createApp(name: string, options: { uid?: number | null; deployBranch?: string } = {}): App {
    appName(name);
    const branch = branchName(options.deployBranch ?? 'main');
    const uid = checkUid(options.uid ?? null);
    return this.transaction(() => {
      if (this.#get('SELECT 1 AS x FROM apps WHERE name = ?', name) !== undefined) {
        throw new BerthError('BERTH_E_APP_EXISTS', `an app named "${name}" already exists`, { hint: 'Pick another name, or use the existing app.', status: 409 });
      }
      this.#run('INSERT INTO apps (name, created_at, uid, deploy_branch) VALUES (?, ?, ?, ?)', name, this.#time(), uid, branch);
      // Whatever gave the uid, it is now given for good (see allocateUid).
      if (uid !== null) this.#run('INSERT OR IGNORE INTO app_uids (uid, app, allocated_at) VALUES (?, ?, ?)', uid, name, this.#time());
      return this.getApp(name);
    });
  }

  /**
   * Gives `app` a uid for its Unix user: `choose` gets every uid ever given
   * (destroyed apps' too) and names one, which is recorded in the same
   * transaction, before the user exists, so it is never chosen again, even
   * if creating the user then fails.
   */
  allocateUid(app: string, choose: (everAllocated: ReadonlySet<number>) => number): number {
    appName(app);
    return this.transaction(() => {
      const ever = new Set(this.#all('SELECT uid FROM app_uids').map((r) => Number(r.uid)));
      const uid = checkUid(choose(ever))!;
      if (ever.has(uid)) throw new BerthError('BERTH_E_APP_USER', `uid ${uid} was given to an app before`, { status: 500 });
      this.#run('INSERT INTO app_uids (uid, app, allocated_at) VALUES (?, ?, ?)', uid, app, this.#time());
      return uid;
    });
  }

  /** Every uid berth has given an app's user, with the app it was given to. */
  allocatedUids(): Array<{ uid: number; app: string }> {
    return this.#all('SELECT uid, app FROM app_uids ORDER BY uid').map((r) => ({ uid: Number(r.uid), app: String(r.app) }));
  }

  getApp(name: string): App {
    appName(name);
    const row = this.#get(`${APP_SELECT} WHERE a.name = ?`, name);
    if (row === undefined) throw appNotFound(name);
    return toApp(row);
  }

  listApps(): App[] {
    return this.#all(`${APP_SELECT} ORDER BY a.name`).map(toApp);
  }

  /** Change an app's Unix user or deploy branch. */
  updateApp(name: string, changes: { uid?: number | null; deployBranch?: string }): App {
    const branch = changes.deployBranch === undefined ? undefined : branchName(changes.deployBranch);
    const uid = changes.uid === undefined ? undefined : checkUid(changes.uid);
    return this.transaction(() => {
      const id = this.#appId(name);
      if (uid !== undefined) this.#run('UPDATE apps SET uid = ? WHERE id = ?', uid, id);
      if (branch !== undefined) this.#run('UPDATE apps SET deploy_branch = ? WHERE id = ?', branch, id);
      return this.getApp(name);
    });
  }

  /** Delete the app and every row that belongs to it (the audit history stays). */
  destroyApp(name: string): DestroyedApp {
    return this.transaction(() => {
      const app = this.getApp(name);
      const id = this.#appId(name);
      this.requireNoAddons(name);
      const builds = this.listBuilds(name);
      const domains = this.#all('SELECT hostname FROM domains WHERE app_id = ? ORDER BY hostname', id).map((r) => String(r.hostname));
      const configKeys = Object.keys(this.getConfig(name));
      // The app points at a release and releases point at the app: unhook first.
      this.#run('UPDATE apps SET current_release_id = NULL WHERE id = ?', id);
      for (const table of ['config_vars', 'formation', 'domains', 'cron_runs', 'log_drains', 'backup_schedules', 'app_json_keys']) this.#run(`DELETE FROM ${table} WHERE app_id = ?`, id);
      const releases = Number(this.#run('DELETE FROM releases WHERE app_id = ?', id).changes);
      this.#run('DELETE FROM builds WHERE app_id = ?', id);
      this.#run('DELETE FROM apps WHERE id = ?', id);
      // Its backups stay, files and rows, but no longer belong to the name: a new app of that name starts with none.
      const backups = this.#all(`${BACKUP_SELECT} WHERE app = ? AND app_destroyed_at IS NULL ORDER BY id DESC`, name).map(toBackup);
      this.#run('UPDATE backups SET app_destroyed_at = ? WHERE app = ? AND app_destroyed_at IS NULL', this.#time(), name);
      return { app, releases, builds, domains, configKeys, backups };
    });
  }

  // ---- builds -------------------------------------------------------------

  createBuild(app: string, build: { sourceDigest: string; dir: string; logPath: string }): Build {
    return this.transaction(() => {
      const id = this.#appId(app);
      const result = this.#run(
        `INSERT INTO builds (app_id, created_at, source_digest, dir, status, log_path) VALUES (?, ?, ?, ?, 'building', ?)`,
        id,
        this.#time(),
        requireText('source digest', build.sourceDigest),
        requireText('build dir', build.dir),
        requireText('log path', build.logPath),
      );
      return this.getBuild(Number(result.lastInsertRowid));
    });
  }

  getBuild(id: number): Build {
    const row = this.#get(`${BUILD_SELECT} WHERE b.id = ?`, id);
    if (row === undefined) throw new BerthError('BERTH_E_BUILD_NOT_FOUND', `build ${id} does not exist`, { status: 404 });
    return toBuild(row);
  }

  listBuilds(app: string): Build[] {
    const id = this.#appId(app);
    return this.#all(`${BUILD_SELECT} WHERE b.app_id = ? ORDER BY b.id`, id).map(toBuild);
  }

  /**
   * Finish a build: building → succeeded (with what it was detected as and
   * its berth.toml, which its releases run) or failed.
   */
  markBuild(id: number, status: 'succeeded', manifest: BuildManifest): Build;
  markBuild(id: number, status: 'failed'): Build;
  markBuild(id: number, status: 'succeeded' | 'failed', manifest?: BuildManifest): Build {
    return this.transaction(() => {
      const build = this.getBuild(id);
      if (build.status !== 'building') {
        throw new BerthError('BERTH_E_RELEASE_STATE', `build ${id} is ${build.status}, not building`, { status: 409 });
      }
      this.#run('UPDATE builds SET status = ? WHERE id = ?', status, id);
      if (manifest !== undefined) this.#writeManifest(id, manifest);
      return this.getBuild(id);
    });
  }

  /** Record the manifest of a build made before manifests were (schema version 5); one already recorded is kept. */
  recordManifest(id: number, manifest: BuildManifest): Build {
    return this.transaction(() => {
      const build = this.getBuild(id);
      if (build.manifest === null) this.#writeManifest(id, manifest);
      return this.getBuild(id);
    });
  }

  /** The build's image, pushed by the Kubernetes runtime (REGISTRY/PATH@sha256:HEX). */
  setBuildImage(id: number, image: string): Build {
    this.#run('UPDATE builds SET image = ? WHERE id = ?', requireText('image', image), id);
    return this.getBuild(id);
  }

  /** The image a release runs on Kubernetes, recorded once it is known (before its rollout, so a failed one says what it tried). */
  setReleaseImage(id: number, image: string): void {
    this.#run('UPDATE releases SET image = ? WHERE id = ?', requireText('image', image), id);
  }

  #writeManifest(id: number, manifest: BuildManifest): void {
    this.#run('UPDATE builds SET plan_json = ?, app_config_json = ?, app_json = ? WHERE id = ?', JSON.stringify(manifest.plan), JSON.stringify(manifest.config), manifest.appJson ? JSON.stringify(manifest.appJson) : null, id);
  }

  /**
   * Mark pruned the app's builds that never became a release and are past
   * keeping (release-policy's buildsToPrune); the caller deletes their
   * folders. Only while no deploy of the app runs.
   */
  pruneBuilds(app: string, keep: BuildKeep = DEFAULT_BUILD_KEEP): Build[] {
    return this.transaction(() => {
      const id = this.#appId(app);
      const builds = this.#all(`${BUILD_SELECT} WHERE b.app_id = ? ORDER BY b.id`, id).map(toBuild);
      const releases = this.#all('SELECT build_id, status FROM releases WHERE app_id = ?', id).map((r) => ({ buildId: r.build_id === null ? null : Number(r.build_id), status: String(r.status) as ReleaseInfo['status'] }));
      const doomed = buildsToPrune(builds, releases, this.#now(), keep);
      for (const build of doomed) this.#run(`UPDATE builds SET status = 'pruned' WHERE id = ?`, build.id);
      return doomed.map((b) => ({ ...b, status: 'pruned' as const }));
    });
  }

  // ---- config vars --------------------------------------------------------

  getConfig(app: string): Record<string, string> {
    const id = this.#appId(app);
    return rowsToConfig(this.#all('SELECT key, value FROM config_vars WHERE app_id = ? ORDER BY key', id));
  }

  /** Set some vars, keeping the others; returns the whole new config. All keys are checked before any is written. */
  setConfig(app: string, vars: Readonly<Record<string, string>>): Record<string, string> {
    const checked = checkConfig(vars);
    return this.transaction(() => {
      const id = this.#appId(app);
      for (const [key, value] of checked) {
        this.#run('INSERT INTO config_vars (app_id, key, value) VALUES (?, ?, ?) ON CONFLICT (app_id, key) DO UPDATE SET value = excluded.value', id, key, value);
      }
      return this.getConfig(app);
    });
  }

  /** Remove vars (absent keys are fine, malformed ones are not); returns the whole new config. */
  unsetConfig(app: string, keys: readonly string[]): Record<string, string> {
    const checked = keys.map((key) => configKey(key));
    return this.transaction(() => {
      const id = this.#appId(app);
      for (const key of checked) this.#run('DELETE FROM config_vars WHERE app_id = ? AND key = ?', id, key);
      return this.getConfig(app);
    });
  }

  /** Make the config exactly `vars` (a rollback restores its target's snapshot this way). */
  replaceConfig(app: string, vars: Readonly<Record<string, string>>): Record<string, string> {
    const checked = checkConfig(vars);
    return this.transaction(() => {
      const id = this.#appId(app);
      this.#run('DELETE FROM config_vars WHERE app_id = ?', id);
      for (const [key, value] of checked) this.#run('INSERT INTO config_vars (app_id, key, value) VALUES (?, ?, ?)', id, key, value);
      return this.getConfig(app);
    });
  }

  // ---- releases -----------------------------------------------------------

  /** A new pending release with the next version. A deploy needs a succeeded build of the same app. */
  createRelease(app: string, release: NewRelease): Release {
    if (!['deploy', 'config', 'rollback'].includes(release.kind)) {
      throw new BerthError('BERTH_E_USAGE', `unknown release kind ${JSON.stringify(release.kind)}`);
    }
    const description = requireText('release description', release.description);
    const processes = checkProcesses(release.processes);
    const given = release.config === undefined ? undefined : checkConfig(release.config);
    const buildId = release.buildId ?? null;
    if (release.kind === 'deploy' && buildId === null) {
      throw new BerthError('BERTH_E_BUILD_NOT_FOUND', 'a deploy release needs a build', { status: 404 });
    }
    return this.transaction(() => {
      const id = this.#appId(app);
      if (buildId !== null) {
        const build = this.#get('SELECT app_id, status FROM builds WHERE id = ?', buildId);
        if (build === undefined || Number(build.app_id) !== id) {
          throw new BerthError('BERTH_E_BUILD_NOT_FOUND', `app "${app}" has no build ${buildId}`, { status: 404 });
        }
        if (build.status !== 'succeeded') {
          throw new BerthError('BERTH_E_RELEASE_STATE', `build ${buildId} is ${String(build.status)}; only a succeeded build can be released`, { status: 409 });
        }
      }
      const config = given === undefined ? this.getConfig(app) : Object.fromEntries(given);
      const versions = this.#all('SELECT version FROM releases WHERE app_id = ?', id).map((r) => Number(r.version));
      const version = nextVersion(versions);
      const result = this.#run(
        `INSERT INTO releases (app_id, version, created_at, kind, description, build_id, config_json, processes_json, status)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending')`,
        id,
        version,
        this.#time(),
        release.kind,
        description,
        buildId,
        JSON.stringify(sortKeys(config)),
        JSON.stringify(processes),
      );
      return this.#releaseById(Number(result.lastInsertRowid));
    });
  }

  /** Finish a deploy: pending → succeeded or failed. Pruning goes through pruneReleases. */
  markRelease(id: number, status: 'succeeded' | 'failed'): Release {
    return this.transaction(() => {
      const release = this.#releaseById(id);
      if (!canTransition(release.status, status)) {
        throw new BerthError('BERTH_E_RELEASE_STATE', `v${release.version} of "${release.app}" is ${release.status} and cannot become ${status}`, { status: 409 });
      }
      this.#run('UPDATE releases SET status = ? WHERE id = ?', status, id);
      return this.#releaseById(id);
    });
  }

  /** Make a succeeded release of the app the one that serves. */
  setCurrentRelease(app: string, releaseId: number): App {
    return this.transaction(() => {
      const id = this.#appId(app);
      const row = this.#get('SELECT app_id, version, status FROM releases WHERE id = ?', releaseId);
      if (row === undefined || Number(row.app_id) !== id) {
        throw new BerthError('BERTH_E_RELEASE_NOT_FOUND', `app "${app}" has no release with id ${releaseId}`, { status: 404 });
      }
      if (row.status !== 'succeeded') {
        throw new BerthError('BERTH_E_RELEASE_STATE', `v${Number(row.version)} is ${String(row.status)}; only a succeeded release can serve`, { status: 409 });
      }
      this.#run('UPDATE apps SET current_release_id = ? WHERE id = ?', releaseId, id);
      return this.getApp(app);
    });
  }

  /** The release serving traffic, with its config, or null. */
  currentRelease(app: string): Release | null {
    const id = this.#appId(app);
    const row = this.#get(`${RELEASE_SELECT} WHERE r.id = (SELECT current_release_id FROM apps WHERE id = ?)`, id);
    return row === undefined ? null : toRelease(row);
  }

  /** Every release of the app, newest first, without config values. */
  listReleases(app: string): ReleaseInfo[] {
    const id = this.#appId(app);
    return this.#all(`${RELEASE_SELECT} WHERE r.app_id = ? ORDER BY r.version DESC`, id).map((row) => withoutConfig(toRelease(row)));
  }

  /** One release by version (12 or "v12"), with its config snapshot. */
  getRelease(app: string, version: number | string): Release {
    const v = typeof version === 'number' ? checkVersion(version) : releaseRef(version);
    const id = this.#appId(app);
    const row = this.#get(`${RELEASE_SELECT} WHERE r.app_id = ? AND r.version = ?`, id, v);
    if (row === undefined) {
      throw new BerthError('BERTH_E_RELEASE_NOT_FOUND', `app "${app}" has no release v${v}`, { hint: `See berth releases --app ${app}.`, status: 404 });
    }
    return toRelease(row);
  }

  /** Where `berth rollback [vN]` goes (release-policy's rules), with its config. */
  rollbackTarget(app: string, requested?: number | string): Release {
    const v = requested === undefined ? undefined : typeof requested === 'number' ? checkVersion(requested) : releaseRef(requested);
    const id = this.#appId(app);
    const releases = this.#all(`${RELEASE_SELECT} WHERE r.app_id = ?`, id).map(toRelease);
    return rollbackTarget(releases, this.getApp(app).currentVersion, v);
  }

  /**
   * Mark old releases pruned (release-policy decides which) and the builds
   * that no remaining release uses. The rows are marked before the caller
   * deletes the folders, so a crash in between leaves folders a later sweep
   * of pruned builds can delete — never a live release without its build.
   */
  pruneReleases(app: string, keep: number): PruneResult {
    return this.transaction(() => {
      const id = this.#appId(app);
      const releases = this.#all(`${RELEASE_SELECT} WHERE r.app_id = ?`, id).map((row) => withoutConfig(toRelease(row)));
      const doomed = releasesToPrune(releases, this.getApp(app).currentVersion, keep);
      for (const release of doomed) this.#run(`UPDATE releases SET status = 'pruned' WHERE id = ?`, release.id);
      const builds: Build[] = [];
      for (const buildId of new Set(doomed.map((r) => r.buildId).filter((b) => b !== null))) {
        const inUse = this.#get(`SELECT 1 AS x FROM releases WHERE build_id = ? AND status <> 'pruned'`, buildId);
        if (inUse !== undefined) continue;
        this.#run(`UPDATE builds SET status = 'pruned' WHERE id = ?`, buildId);
        builds.push(this.getBuild(buildId));
      }
      return { releases: doomed.map((r) => ({ ...r, status: 'pruned' as const })), builds };
    });
  }

  /**
   * At startup, before anything else: a release still pending or a build
   * still building was interrupted by a crash and nothing will finish it.
   * Marks the releases failed and the builds interrupted, and returns them.
   */
  failInterrupted(): { releases: ReleaseInfo[]; builds: Build[]; cronRuns: CronRun[] } {
    return this.transaction(() => {
      const releases = this.#all(`${RELEASE_SELECT} WHERE r.status = 'pending' ORDER BY r.id`).map((row) => withoutConfig(toRelease(row)));
      const builds = this.#all(`${BUILD_SELECT} WHERE b.status = 'building' ORDER BY b.id`).map(toBuild);
      const cronRuns = this.#all(`${CRON_RUN_SELECT} WHERE c.status = 'running' ORDER BY c.started_at`).map(toCronRun);
      this.#run(`UPDATE releases SET status = 'failed' WHERE status = 'pending'`);
      this.#run(`UPDATE builds SET status = 'interrupted' WHERE status = 'building'`);
      this.#run(`UPDATE cron_runs SET status = 'interrupted', finished_at = ? WHERE status = 'running'`, this.#time());
      return {
        releases: releases.map((r) => ({ ...r, status: 'failed' as const })),
        builds: builds.map((b) => ({ ...b, status: 'interrupted' as const })),
        cronRuns: cronRuns.map((c) => ({ ...c, status: 'interrupted' as const })),
      };
    });
  }

  // ---- app.json -----------------------------------------------------------

  /** The config var keys app.json has set up for the app (see app-json-setup.ts). */
  appJsonKeys(app: string): Set<string> {
    const id = this.#appId(app);
    return new Set(this.#all('SELECT key FROM app_json_keys WHERE app_id = ?', id).map((row) => String(row.key)));
  }

  /**
   * What a deploy's app.json sets up, at once: config vars the app still
   * lacks (one set meanwhile is kept), the keys to remember, and formation
   * for types that have none yet. Returns what it filled and scaled.
   */
  setUpAppJson(app: string, setup: { fill: Readonly<Record<string, string>>; keys: readonly string[]; quantities: Readonly<Record<string, number>>; memory: Readonly<Record<string, number>> }): { filled: string[]; scaled: string[] } {
    const vars = checkConfig(setup.fill);
    const keys = setup.keys.map((key) => configKey(key));
    const quantities = Object.entries(setup.quantities).map(([type, quantity]): [string, number] => {
      processType(type);
      if (!Number.isInteger(quantity) || quantity < 0 || quantity > MAX_QUANTITY) throw new BerthError('BERTH_E_SCALE', `${type}=${String(quantity)}: a quantity is a whole number from 0 to ${MAX_QUANTITY}`);
      const bytes = setup.memory[type];
      if (bytes !== undefined && !(Number.isSafeInteger(bytes) && bytes >= MIN_SCALE_MEMORY)) throw new BerthError('BERTH_E_SCALE', `${type}: a memory limit is at least 16m`);
      return [type, quantity];
    });
    return this.transaction(() => {
      const id = this.#appId(app);
      const at = this.#time();
      const filled: string[] = [];
      for (const [key, value] of vars) {
        if (Number(this.#run('INSERT INTO config_vars (app_id, key, value) VALUES (?, ?, ?) ON CONFLICT (app_id, key) DO NOTHING', id, key, value).changes) > 0) filled.push(key);
      }
      for (const key of keys) this.#run('INSERT INTO app_json_keys (app_id, key, set_up_at) VALUES (?, ?, ?) ON CONFLICT (app_id, key) DO NOTHING', id, key, at);
      const scaled: string[] = [];
      for (const [type, quantity] of quantities) {
        const inserted = this.#run('INSERT INTO formation (app_id, process_type, quantity, memory_bytes) VALUES (?, ?, ?, ?) ON CONFLICT (app_id, process_type) DO NOTHING', id, type, quantity, setup.memory[type] ?? null);
        if (Number(inserted.changes) > 0) scaled.push(type);
      }
      return { filled, scaled };
    });
  }

  // ---- formation ----------------------------------------------------------

  /**
   * Set instance counts for some process types, keeping the others; returns
   * the whole formation. Once the app has a current release, only its
   * process types can be scaled; before that, any well-formed name (the
   * count applies when a release declares the type).
   */
  setFormation(app: string, quantities: Readonly<Record<string, number>>, memory: Readonly<Record<string, number | null>> = {}): Record<string, number> {
    const entries = Object.entries(quantities).map(([type, quantity]): [string, number] => {
      processType(type);
      if (!Number.isInteger(quantity) || quantity < 0 || quantity > MAX_QUANTITY) {
        throw new BerthError('BERTH_E_SCALE', `${type}=${String(quantity)}: a quantity is a whole number from 0 to ${MAX_QUANTITY}`, {
          hint: 'e.g. berth scale web=2 worker=1',
          status: 400,
        });
      }
      return [type, quantity];
    });
    for (const [type, bytes] of Object.entries(memory)) {
      processType(type);
      if (bytes !== null && !(Number.isSafeInteger(bytes) && bytes >= MIN_SCALE_MEMORY)) {
        throw new BerthError('BERTH_E_SCALE', `${type}: a memory limit is at least 16m`, { hint: 'e.g. berth scale web=2:512m', status: 400 });
      }
      if (!Object.hasOwn(quantities, type)) throw new BerthError('BERTH_E_SCALE', `${type}: a memory limit goes with a count`, { hint: 'e.g. berth scale web=2:512m', status: 400 });
    }
    return this.transaction(() => {
      const id = this.#appId(app);
      const current = this.currentRelease(app);
      if (current !== null) {
        const declared = new Set(current.processes.map((p) => p.name));
        for (const [type] of entries) {
          if (!declared.has(type)) {
            throw new BerthError('BERTH_E_PROCESS_TYPE_NOT_FOUND', `v${current.version} of "${app}" has no process type "${type}"`, {
              hint: `Its process types: ${[...declared].join(', ') || 'none'}.`,
              status: 404,
            });
          }
        }
      }
      for (const [type, quantity] of entries) {
        this.#run(
          'INSERT INTO formation (app_id, process_type, quantity) VALUES (?, ?, ?) ON CONFLICT (app_id, process_type) DO UPDATE SET quantity = excluded.quantity',
          id,
          type,
          quantity,
        );
        // A count alone keeps the type's memory limit; one given (or null: back to the defaults) replaces it.
        if (Object.hasOwn(memory, type)) this.#run('UPDATE formation SET memory_bytes = ? WHERE app_id = ? AND process_type = ?', memory[type] ?? null, id, type);
      }
      return this.getFormation(app);
    });
  }

  /** The memory limits `berth scale TYPE=N:SIZE` set, by process type (types without one are absent). */
  getFormationMemory(app: string): Record<string, number> {
    const id = this.#appId(app);
    const memory: Record<string, number> = {};
    for (const row of this.#all('SELECT process_type, memory_bytes FROM formation WHERE app_id = ? AND memory_bytes IS NOT NULL ORDER BY process_type', id)) {
      memory[String(row.process_type)] = Number(row.memory_bytes);
    }
    return memory;
  }

  getFormation(app: string): Record<string, number> {
    const id = this.#appId(app);
    const formation: Record<string, number> = {};
    for (const row of this.#all('SELECT process_type, quantity FROM formation WHERE app_id = ? ORDER BY process_type', id)) {
      formation[String(row.process_type)] = Number(row.quantity);
    }
    return formation;
  }

  // ---- domains ------------------------------------------------------------

  /** Attach a hostname to the app. Adding one the app already has is a no-op; one another app has is refused. */
  addDomain(app: string, host: string): Domain {
    const name = hostname(host);
    return this.transaction(() => {
      const id = this.#appId(app);
      const owner = this.#get('SELECT a.name FROM domains d JOIN apps a ON a.id = d.app_id WHERE d.hostname = ?', name);
      if (owner !== undefined && owner.name !== app) {
        throw new BerthError('BERTH_E_DOMAIN_TAKEN', `${name} already belongs to the app "${String(owner.name)}"`, {
          hint: `Remove it there first: berth domains remove ${name} --app ${String(owner.name)}.`,
          status: 409,
        });
      }
      if (owner === undefined) this.#run('INSERT INTO domains (hostname, app_id, created_at) VALUES (?, ?, ?)', name, id, this.#time());
      return toDomain(this.#get(`${DOMAIN_SELECT} WHERE d.hostname = ?`, name)!);
    });
  }

  removeDomain(app: string, host: string): void {
    const name = hostname(host);
    this.transaction(() => {
      const id = this.#appId(app);
      if (Number(this.#run('DELETE FROM domains WHERE hostname = ? AND app_id = ?', name, id).changes) === 0) {
        throw new BerthError('BERTH_E_DOMAIN_NOT_FOUND', `the app "${app}" has no domain ${name}`, { hint: `See berth domains list --app ${app}.`, status: 404 });
      }
    });
  }

  /** The app's domains, or every app's (what the edge routes) without an app. */
  listDomains(app?: string): Domain[] {
    if (app === undefined) return this.#all(`${DOMAIN_SELECT} ORDER BY d.hostname`).map(toDomain);
    const id = this.#appId(app);
    return this.#all(`${DOMAIN_SELECT} WHERE d.app_id = ? ORDER BY d.hostname`, id).map(toDomain);
  }

  // ---- tokens -------------------------------------------------------------

  /** A new token; the plaintext is in the answer and nowhere else, ever. */
  createToken(name: string): { token: string; info: TokenInfo } {
    tokenName(name);
    const { token, hash } = generateToken();
    const info = this.transaction(() => {
      this.#insertToken(name, hash);
      return this.#tokenByName(name)!;
    });
    return { token, info };
  }

  /**
   * The token a request presented, or null when it is malformed, unknown or
   * revoked. Looked up by hash (the index does not see the plaintext, and a
   * timing difference on a SHA-256 prefix tells an attacker nothing useful),
   * then compared in constant time anyway.
   */
  verifyToken(plaintext: string): TokenInfo | null {
    if (typeof plaintext !== 'string' || !looksLikeToken(plaintext)) return null;
    const hash = hashToken(plaintext);
    const row = this.#get('SELECT id, name, hash, created_at, last_used_at, revoked_at FROM tokens WHERE hash = ?', hash);
    if (row === undefined || !tokensMatch(String(row.hash), hash) || row.revoked_at !== null) return null;
    const now = this.#now();
    const last = row.last_used_at === null ? null : Date.parse(String(row.last_used_at));
    if (last === null || now - last >= TOKEN_TOUCH_INTERVAL_MS || now < last) {
      this.#run('UPDATE tokens SET last_used_at = ? WHERE id = ?', new Date(now).toISOString(), Number(row.id));
      return this.#tokenByName(String(row.name));
    }
    return toToken(row);
  }

  listTokens(): TokenInfo[] {
    return this.#all('SELECT id, name, created_at, last_used_at, revoked_at FROM tokens ORDER BY name').map(toToken);
  }

  /**
   * Revoke a token for good (revoking it again is a no-op). Its name stays
   * taken. The last admin token is never revoked: the check and the change
   * are one IMMEDIATE transaction, so two revocations at once (from this
   * daemon or another process on the database) cannot both pass it.
   */
  revokeToken(name: string): TokenInfo {
    tokenName(name);
    return this.transaction(() => {
      const token = this.#tokenByName(name);
      if (token === null) throw new BerthError('BERTH_E_TOKEN_NOT_FOUND', `no token is named "${name}"`, { hint: 'See berth tokens list.', status: 404 });
      if (revocationLocksOut(this.listTokens(), name)) {
        throw new BerthError('BERTH_E_LAST_ADMIN_TOKEN', `"${name}" is the last admin token; revoking it would lock everyone out of berth`, {
          hint: 'Create another token first (berth tokens create NAME) and revoke this one with it. If every token is lost, run `berth server reset-admin-token` as root on the server.',
          status: 409,
        });
      }
      if (token.revokedAt === null) this.#run('UPDATE tokens SET revoked_at = ? WHERE id = ?', this.#time(), token.id);
      return this.#tokenByName(name)!;
    });
  }

  /**
   * On first start: create the "admin" token and write its plaintext to
   * `path` (mode 0600). Returns whether it did. The file is written before
   * the row: a crash in between leaves a file and no row, and the next start
   * simply makes a new token; the other order could leave a token nobody
   * can read. A revoked admin token counts as existing, so a restart never
   * undoes a revocation.
   */
  ensureAdminToken(path: string): boolean {
    if (this.#tokenByName(ADMIN_TOKEN_NAME) !== null) return false;
    const { token, hash } = generateToken();
    writeFileAtomic(path, `${token}\n`, 0o600);
    this.transaction(() => this.#insertToken(ADMIN_TOKEN_NAME, hash));
    return true;
  }

  /**
   * `berth server reset-admin-token`: a new admin token (named by
   * nextAdminTokenName), its plaintext written to `path` (0600, atomically),
   * audited. Other tokens are left as they are. The row and the file change
   * together: the file is replaced inside the transaction, so a failure to
   * write it leaves no token nobody can read and the old file intact.
   * Works beside a running daemon: it reads tokens from the database at
   * every request, so the new one is accepted as soon as this commits.
   */
  resetAdminToken(path: string, detail: Record<string, string | number> = {}): { token: string; info: TokenInfo } {
    const { token, hash } = generateToken();
    const info = this.transaction(() => {
      const name = nextAdminTokenName(this.listTokens().map((t) => t.name));
      this.#insertToken(name, hash);
      this.audit({ actor: SYSTEM_ACTOR, action: 'tokens.reset-admin', target: name, result: 'ok', detail });
      writeFileAtomic(path, `${token}\n`, 0o600);
      return this.#tokenByName(name)!;
    });
    return { token, info };
  }

  #insertToken(name: string, hash: string): void {
    if (this.#get('SELECT 1 AS x FROM tokens WHERE name = ?', name) !== undefined) {
      throw new BerthError('BERTH_E_TOKEN_EXISTS', `a token named "${name}" exists or existed`, {
        hint: 'Token names are never reused, so the audit log always means one token; pick another name.',
        status: 409,
      });
    }
    this.#run('INSERT INTO tokens (name, hash, created_at) VALUES (?, ?, ?)', name, hash, this.#time());
  }

  #tokenByName(name: string): TokenInfo | null {
    const row = this.#get('SELECT id, name, created_at, last_used_at, revoked_at FROM tokens WHERE name = ?', name);
    return row === undefined ? null : toToken(row);
  }

  // ---- cron -------------------------------------------------------------

  /**
   * Claim a cron slot before running it: true when this call inserted the
   * row, false when the slot was already claimed (by this daemon before a
   * restart, or before a deploy). The claim commits before the command
   * starts, so a crash after it skips the slot rather than running it twice.
   */
  claimCronSlot(app: string, job: string, slot: string, releaseVersion: number): boolean {
    cronRunName(job);
    const at = cronSlot(slot);
    // berth's own tasks (scheduled backups) run in no release: version 0.
    if (!SYSTEM_JOB.test(job) || releaseVersion !== 0) checkVersion(releaseVersion);
    return this.transaction(() => {
      const id = this.#appId(app);
      const result = this.#run(
        `INSERT OR IGNORE INTO cron_runs (app_id, job, slot, started_at, release_version, status) VALUES (?, ?, ?, ?, ?, 'running')`,
        id,
        job,
        at,
        this.#time(),
        releaseVersion,
      );
      return Number(result.changes) === 1;
    });
  }

  /**
   * Record how a claimed slot's command ended, and prune the job's old
   * finished runs in the same transaction (cronRunsPruneBefore: the newest
   * `keep` and the last hour's stay).
   */
  finishCronRun(app: string, job: string, slot: string, exitCode: number | null): CronRun {
    cronRunName(job);
    const at = cronSlot(slot);
    return this.transaction(() => {
      const id = this.#appId(app);
      const status = exitCode === 0 ? 'succeeded' : 'failed';
      const result = this.#run(`UPDATE cron_runs SET finished_at = ?, exit_code = ?, status = ? WHERE app_id = ? AND job = ? AND slot = ? AND status = 'running'`, this.#time(), exitCode, status, id, job, at);
      if (Number(result.changes) !== 1) throw new BerthError('BERTH_E_STATE', `cron ${app}/${job} has no running slot ${at}`, { status: 500 });
      const finished = toCronRun(this.#get(`${CRON_RUN_SELECT} WHERE c.app_id = ? AND c.job = ? AND c.slot = ?`, id, job, at)!);
      const retention = this.#cronRunRetention;
      const keepth = this.#get('SELECT slot FROM cron_runs WHERE app_id = ? AND job = ? ORDER BY slot DESC LIMIT 1 OFFSET ?', id, job, retention.keep - 1);
      const cutoff = cronRunsPruneBefore(keepth === undefined ? null : String(keepth.slot), this.#now(), retention);
      if (cutoff !== null) this.#run(`DELETE FROM cron_runs WHERE app_id = ? AND job = ? AND slot < ? AND status <> 'running'`, id, job, cutoff);
      return finished;
    });
  }

  /** The newest slot claimed for a job, or null when it never fired. */
  lastCronSlot(app: string, job: string): string | null {
    cronRunName(job);
    const row = this.#get('SELECT max(slot) AS slot FROM cron_runs WHERE app_id = ? AND job = ?', this.#appId(app), job);
    return row === undefined || row.slot === null ? null : String(row.slot);
  }

  /** The newest runs first, of one job or of all the app's jobs. */
  listCronRuns(app: string, options: { job?: string; limit?: number } = {}): CronRun[] {
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1) throw new BerthError('BERTH_E_USAGE', `limit must be a positive whole number, got ${limit}`);
    const id = this.#appId(app);
    if (options.job === undefined) return this.#all(`${CRON_RUN_SELECT} WHERE c.app_id = ? ORDER BY c.slot DESC, c.job LIMIT ?`, id, limit).map(toCronRun);
    cronRunName(options.job);
    return this.#all(`${CRON_RUN_SELECT} WHERE c.app_id = ? AND c.job = ? ORDER BY c.slot DESC LIMIT ?`, id, options.job, limit).map(toCronRun);
  }

  // ---- ssh keys -----------------------------------------------------------

  /** Register a public key under a new name (names are never reused). */
  addSshKey(name: string, key: { fingerprint: string; algorithm: string; publicKey: string }): SshKeyInfo {
    keyName(name);
    const fingerprint = requireText('key fingerprint', key.fingerprint);
    const algorithm = requireText('key algorithm', key.algorithm);
    const publicKey = requireText('public key', key.publicKey);
    return this.transaction(() => {
      if (this.#get('SELECT 1 AS x FROM ssh_keys WHERE name = ?', name) !== undefined) {
        throw new BerthError('BERTH_E_KEY_EXISTS', `a key named "${name}" exists or existed`, { hint: 'Key names are never reused, so the audit log always means one key; pick another name.', status: 409 });
      }
      const same = this.#get('SELECT name FROM ssh_keys WHERE fingerprint = ? AND revoked_at IS NULL', fingerprint);
      if (same !== undefined) {
        throw new BerthError('BERTH_E_KEY_EXISTS', `this key is already registered as "${String(same.name)}"`, { hint: 'One key, one name: revoke the other name first if you mean to rename it.', status: 409 });
      }
      this.#run('INSERT INTO ssh_keys (name, fingerprint, algorithm, public_key, created_at) VALUES (?, ?, ?, ?, ?)', name, fingerprint, algorithm, publicKey, this.#time());
      return toSshKey(this.#get('SELECT * FROM ssh_keys WHERE name = ?', name)!);
    });
  }

  listSshKeys(): SshKeyInfo[] {
    return this.#all('SELECT * FROM ssh_keys ORDER BY name').map(toSshKey);
  }

  /** The active key with this fingerprint (marking it used), or null. */
  findSshKey(fingerprint: string): SshKeyInfo | null {
    if (typeof fingerprint !== 'string' || fingerprint.length === 0) return null;
    const row = this.#get('SELECT * FROM ssh_keys WHERE fingerprint = ? AND revoked_at IS NULL', fingerprint);
    if (row === undefined) return null;
    const now = this.#now();
    const last = row.last_used_at === null ? null : Date.parse(String(row.last_used_at));
    if (last === null || now - last >= TOKEN_TOUCH_INTERVAL_MS || now < last) {
      this.#run('UPDATE ssh_keys SET last_used_at = ? WHERE id = ?', new Date(now).toISOString(), Number(row.id));
      return toSshKey(this.#get('SELECT * FROM ssh_keys WHERE id = ?', Number(row.id))!);
    }
    return toSshKey(row);
  }

  /** Revoke a key for good (again is a no-op). Its name stays taken. */
  revokeSshKey(name: string): SshKeyInfo {
    keyName(name);
    return this.transaction(() => {
      const row = this.#get('SELECT * FROM ssh_keys WHERE name = ?', name);
      if (row === undefined) throw new BerthError('BERTH_E_KEY_NOT_FOUND', `no SSH key is named "${name}"`, { hint: 'See berth keys list.', status: 404 });
      if (row.revoked_at === null) this.#run('UPDATE ssh_keys SET revoked_at = ? WHERE id = ?', this.#time(), Number(row.id));
      return toSshKey(this.#get('SELECT * FROM ssh_keys WHERE name = ?', name)!);
    });
  }

  // ---- log drains ---------------------------------------------------------

  /** Attach a drain (its URL checked by the caller, src/platform/drain-policy.ts); the same URL twice, or more than `max`, is refused. */
  addDrain(app: string, url: string, max: number): LogDrainRecord {
    requireText('drain URL', url);
    return this.transaction(() => {
      const id = this.#appId(app);
      const existing = this.#get('SELECT id FROM log_drains WHERE app_id = ? AND url = ?', id, url);
      if (existing !== undefined) {
        throw new BerthError('BERTH_E_DRAIN_EXISTS', `the app "${app}" already has this drain (${String(existing.id)})`, { hint: `See berth drains list --app ${app}.`, status: 409 });
      }
      if (Number(this.#get('SELECT count(*) AS n FROM log_drains WHERE app_id = ?', id)?.n ?? 0) >= max) {
        throw new BerthError('BERTH_E_USAGE', `the app "${app}" has ${max} drains, the most it can have`, { hint: `Remove one first: berth drains remove ID --app ${app}.`, status: 409 });
      }
      const result = this.#run('INSERT INTO log_drains (app_id, url, created_at) VALUES (?, ?, ?)', id, url, this.#time());
      return this.#drain(Number(result.lastInsertRowid))!;
    });
  }

  /** The app's drains, or every app's (what the daemon starts with) without an app; oldest first. */
  listDrains(app?: string): LogDrainRecord[] {
    const select = 'SELECT d.id, a.name AS app, d.url, d.created_at FROM log_drains d JOIN apps a ON a.id = d.app_id';
    const rows = app === undefined ? this.#all(`${select} ORDER BY d.id`) : this.#all(`${select} WHERE d.app_id = ? ORDER BY d.id`, this.#appId(app));
    return rows.map((row) => ({ id: Number(row.id), app: String(row.app), url: String(row.url), createdAt: String(row.created_at) }));
  }

  removeDrain(app: string, id: number): LogDrainRecord {
    return this.transaction(() => {
      const appId = this.#appId(app);
      const drain = Number.isSafeInteger(id) ? this.#drain(id) : null;
      if (drain === null || drain.app !== app) throw new BerthError('BERTH_E_DRAIN_NOT_FOUND', `the app "${app}" has no drain ${id}`, { hint: `See berth drains list --app ${app}.`, status: 404 });
      this.#run('DELETE FROM log_drains WHERE id = ? AND app_id = ?', id, appId);
      return drain;
    });
  }

  #drain(id: number): LogDrainRecord | null {
    const row = this.#get('SELECT d.id, a.name AS app, d.url, d.created_at FROM log_drains d JOIN apps a ON a.id = d.app_id WHERE d.id = ?', id);
    return row === undefined ? null : { id: Number(row.id), app: String(row.app), url: String(row.url), createdAt: String(row.created_at) };
  }

  // ---- add-ons and backups -------------------------------------------------

  /** Refuses while the app has add-ons or storage: their data would be orphaned on a server berth no longer tracks. */
  requireNoAddons(app: string): void {
    const kinds = this.listAddons(app).map((addon) => addon.kind);
    if (kinds.length === 0) return;
    throw new BerthError('BERTH_E_ADDON_EXISTS', `the app "${app}" still has ${kinds.join(', ')}; destroy ${kinds.length === 1 ? 'it' : 'them'} first`, {
      hint: `berth addons destroy ${kinds.find((k) => k !== 'storage') ?? 'KIND'} --app ${app} keeps a final backup; berth storage destroy --app ${app} removes the data folder.`,
      status: 409,
    });
  }

  /** Refuses (BERTH_E_ADDON_EXISTS) when the app already has an add-on of that kind. */
  requireNoAddon(app: string, kind: AddonRecordKind): void {
    if (this.findAddon(app, kind) !== null) throw addonExists(app, kind);
  }

  addAddon(app: string, kind: AddonRecordKind, vars: Readonly<Record<string, string>>, resource: Readonly<Record<string, string>>): AddonRecord {
    return this.transaction(() => {
      const id = this.#appId(app);
      if (this.findAddon(app, kind) !== null) throw addonExists(app, kind);
      const result = this.#run('INSERT INTO addons (app_id, kind, vars_json, resource_json, created_at) VALUES (?, ?, ?, ?, ?)', id, kind, JSON.stringify(vars), JSON.stringify(resource), this.#time());
      return this.#addonById(Number(result.lastInsertRowid))!;
    });
  }

  /** The app's add-ons (or every app's, for the daemon start), by app then kind. */
  listAddons(app?: string): AddonRecord[] {
    const rows = app === undefined ? this.#all(`${ADDON_SELECT} ORDER BY a.name, d.kind`) : this.#all(`${ADDON_SELECT} WHERE d.app_id = ? ORDER BY d.kind`, this.#appId(app));
    return rows.map(toAddon);
  }

  findAddon(app: string, kind: AddonRecordKind): AddonRecord | null {
    const row = this.#get(`${ADDON_SELECT} WHERE d.app_id = ? AND d.kind = ?`, this.#appId(app), kind);
    return row === undefined ? null : toAddon(row);
  }

  getAddon(app: string, kind: AddonRecordKind): AddonRecord {
    const addon = this.findAddon(app, kind);
    if (addon === null) {
      throw new BerthError('BERTH_E_ADDON_NOT_FOUND', kind === 'storage' ? `the app "${app}" has no storage` : `the app "${app}" has no ${kind} add-on`, {
        hint: kind === 'storage' ? `berth storage create --app ${app}` : `berth addons list --app ${app}; create one with berth addons create ${kind} --app ${app}.`,
        status: 404,
      });
    }
    return addon;
  }

  removeAddon(app: string, kind: AddonRecordKind): void {
    this.transaction(() => {
      const id = this.#appId(app);
      this.getAddon(app, kind);
      this.#run('DELETE FROM addons WHERE app_id = ? AND kind = ?', id, kind);
      this.#run('DELETE FROM backup_schedules WHERE app_id = ? AND kind = ?', id, kind);
    });
  }

  /** The config vars every add-on of the app gives its releases, merged. */
  addonVars(app: string): Record<string, string> {
    const vars: Record<string, string> = {};
    for (const addon of this.listAddons(app)) Object.assign(vars, addon.vars);
    return vars;
  }

  #addonById(id: number): AddonRecord | null {
    const row = this.#get(`${ADDON_SELECT} WHERE d.id = ?`, id);
    return row === undefined ? null : toAddon(row);
  }

  /** A backup begins: its row says running until finishBackup. */
  startBackup(backup: { app: string; kind: string; trigger: BackupTrigger }): BackupRecord {
    const result = this.#run(`INSERT INTO backups (app, kind, trigger, status, started_at) VALUES (?, ?, ?, 'running', ?)`, backup.app, backup.kind, backup.trigger, this.#time());
    return this.getBackup(Number(result.lastInsertRowid));
  }

  /** Good only with its complete file; failed with the reason. A row that is no longer running is left alone. */
  finishBackup(id: number, outcome: { status: 'good'; file: string; bytes: number; sha256: string } | { status: 'failed'; error: string }): BackupRecord {
    if (outcome.status === 'good') {
      this.#run(`UPDATE backups SET status = 'good', finished_at = ?, file = ?, bytes = ?, sha256 = ? WHERE id = ? AND status = 'running'`, this.#time(), outcome.file, outcome.bytes, outcome.sha256, id);
    } else {
      this.#run(`UPDATE backups SET status = 'failed', finished_at = ?, error = ? WHERE id = ? AND status = 'running'`, this.#time(), outcome.error, id);
    }
    return this.getBackup(id);
  }

  setBackupCopy(id: number, copy: { file: string } | { error: string }): BackupRecord {
    if ('file' in copy) this.#run('UPDATE backups SET copy_file = ?, copy_error = NULL WHERE id = ?', copy.file, id);
    else this.#run('UPDATE backups SET copy_file = NULL, copy_error = ? WHERE id = ?', copy.error, id);
    return this.getBackup(id);
  }

  getBackup(id: number): BackupRecord {
    const row = Number.isSafeInteger(id) ? this.#get(`${BACKUP_SELECT} WHERE id = ?`, id) : undefined;
    if (row === undefined) throw new BerthError('BERTH_E_BACKUP_NOT_FOUND', `there is no backup ${id}`, { hint: 'berth backups list --app NAME shows each backup\'s id.', status: 404 });
    return toBackup(row);
  }

  /** Newest first; every app's without an app. Only apps that exist: a destroyed app's backups (getBackup still finds them) are no namesake's. */
  listBackups(app?: string, kind?: string): BackupRecord[] {
    if (app === undefined) return this.#all(`${BACKUP_SELECT} WHERE app_destroyed_at IS NULL ORDER BY id DESC`).map(toBackup);
    if (kind === undefined) return this.#all(`${BACKUP_SELECT} WHERE app = ? AND app_destroyed_at IS NULL ORDER BY id DESC`, app).map(toBackup);
    return this.#all(`${BACKUP_SELECT} WHERE app = ? AND kind = ? AND app_destroyed_at IS NULL ORDER BY id DESC`, app, kind).map(toBackup);
  }

  deleteBackup(id: number): void {
    this.#run('DELETE FROM backups WHERE id = ?', id);
  }

  /** At daemon start: backups a previous daemon left running died with it. */
  interruptBackups(): BackupRecord[] {
    return this.transaction(() => {
      const rows = this.#all(`${BACKUP_SELECT} WHERE status = 'running' ORDER BY id`).map(toBackup);
      this.#run(`UPDATE backups SET status = 'interrupted', finished_at = ?, error = 'the daemon stopped while it ran' WHERE status = 'running'`, this.#time());
      return rows;
    });
  }

  setBackupSchedule(app: string, kind: string, schedule: { schedule: string; timezone: string; keep: number }): BackupScheduleRecord {
    const id = this.#appId(app);
    this.#run(
      'INSERT INTO backup_schedules (app_id, kind, schedule, timezone, keep) VALUES (?, ?, ?, ?, ?) ON CONFLICT (app_id, kind) DO UPDATE SET schedule = excluded.schedule, timezone = excluded.timezone, keep = excluded.keep',
      id,
      kind,
      schedule.schedule,
      schedule.timezone,
      schedule.keep,
    );
    return { app, kind, ...schedule };
  }

  removeBackupSchedule(app: string, kind: string): boolean {
    return Number(this.#run('DELETE FROM backup_schedules WHERE app_id = ? AND kind = ?', this.#appId(app), kind).changes) > 0;
  }

  listBackupSchedules(app?: string): BackupScheduleRecord[] {
    const select = 'SELECT a.name AS app, s.kind, s.schedule, s.timezone, s.keep FROM backup_schedules s JOIN apps a ON a.id = s.app_id';
    const rows = app === undefined ? this.#all(`${select} ORDER BY a.name, s.kind`) : this.#all(`${select} WHERE s.app_id = ? ORDER BY s.kind`, this.#appId(app));
    return rows.map((row) => ({ app: String(row.app), kind: String(row.kind), schedule: String(row.schedule), timezone: String(row.timezone), keep: Number(row.keep) }));
  }

  // ---- audit --------------------------------------------------------------

  /**
   * Record one call. Callers put keys, never values, in the detail; as a
   * second line of defence, any detail string that contains a config value
   * held by any app (of 4 characters or more) or looks like a berth token is
   * replaced by "[redacted]".
   */
  audit(entry: AuditEntry): AuditRow {
    auditActor(entry.actor);
    const action = requireText('audit action', entry.action);
    if (entry.result !== 'ok' && entry.result !== 'error') throw new BerthError('BERTH_E_USAGE', `audit result must be ok or error, got ${String(entry.result)}`);
    return this.transaction(() => {
      const secrets = this.#all('SELECT DISTINCT value FROM config_vars WHERE length(value) >= ?', REDACT_MIN_LENGTH).map((r) => String(r.value));
      const detail = redact(entry.detail ?? {}, secrets);
      const result = this.#run(
        'INSERT INTO audit (at, actor, action, target, result, detail_json) VALUES (?, ?, ?, ?, ?, ?)',
        this.#time(),
        entry.actor,
        action,
        String(entry.target),
        entry.result,
        JSON.stringify(detail),
      );
      return toAudit(this.#get('SELECT * FROM audit WHERE id = ?', Number(result.lastInsertRowid))!);
    });
  }

  /** The newest audit rows first. */
  listAudit(limit = 100): AuditRow[] {
    if (!Number.isInteger(limit) || limit < 1) throw new BerthError('BERTH_E_USAGE', `limit must be a positive whole number, got ${limit}`);
    return this.#all('SELECT * FROM audit ORDER BY id DESC LIMIT ?', limit).map(toAudit);
  }

  /** The newest audit row of `action` on `target`, or null (run numbers go on from the last one). */
  lastAudit(action: string, target: string): AuditRow | null {
    const row = this.#get('SELECT * FROM audit WHERE action = ? AND target = ? ORDER BY id DESC LIMIT 1', action, target);
    return row === undefined ? null : toAudit(row);
  }

  // ---- health -------------------------------------------------------------

  /**
   * What is wrong with the database, or [] when nothing is: SQLite's own
   * integrity and foreign-key checks, then berth's invariants (every current
   * release is a succeeded release of its app; versions have no duplicates).
   */
  checkIntegrity(): string[] {
    const problems: string[] = [];
    for (const row of this.#all('PRAGMA integrity_check')) if (row.integrity_check !== 'ok') problems.push(`integrity: ${String(row.integrity_check)}`);
    for (const row of this.#all('PRAGMA foreign_key_check')) problems.push(`foreign key: ${String(row.table)} row ${String(row.rowid)} → ${String(row.parent)}`);
    for (const row of this.#all(
      `SELECT a.name FROM apps a LEFT JOIN releases r ON r.id = a.current_release_id
       WHERE a.current_release_id IS NOT NULL AND (r.id IS NULL OR r.app_id <> a.id OR r.status <> 'succeeded')`,
    )) {
      problems.push(`app ${String(row.name)}: its current release is missing or not succeeded`);
    }
    return problems;
  }

  // ---- plumbing -----------------------------------------------------------

  #conn(): DatabaseSync {
    if (this.#db === null) throw new BerthError('BERTH_E_STATE', 'the state database is closed', { status: 500 });
    return this.#db;
  }

  #stmt(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#conn().prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #get(sql: string, ...params: SQLInputValue[]): Row | undefined {
    return this.#stmt(sql).get(...params) as Row | undefined;
  }

  #all(sql: string, ...params: SQLInputValue[]): Row[] {
    return this.#stmt(sql).all(...params) as Row[];
  }

  #run(sql: string, ...params: SQLInputValue[]): { changes: number | bigint; lastInsertRowid: number | bigint } {
    return this.#stmt(sql).run(...params);
  }

  #time(): string {
    return new Date(this.#now()).toISOString();
  }

  #appId(name: string): number {
    appName(name);
    const row = this.#get('SELECT id FROM apps WHERE name = ?', name);
    if (row === undefined) throw appNotFound(name);
    return Number(row.id);
  }

  #releaseById(id: number): Release {
    const row = this.#get(`${RELEASE_SELECT} WHERE r.id = ?`, id);
    if (row === undefined) throw new BerthError('BERTH_E_RELEASE_NOT_FOUND', `release id ${id} does not exist`, { status: 404 });
    return toRelease(row);
  }
}
