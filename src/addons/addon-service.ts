import { attachVars } from './addon-vars.ts';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isTimeZone, parseCronSchedule } from '../build/index.ts';
import { BerthError } from '../errors.ts';
import type { AddonRecord, AddonRecordKind, BackupRecord, BackupTrigger, ReleaseInfo, ScheduledTask, Store } from '../platform/index.ts';
import { appName } from '../platform/index.ts';
import { copyBackup, openBackup, removePartials, sealBackup, backupFileName } from './backup-files.ts';
import { backupStatusForList, backupsToPrune, chooseBackupKind, DEFAULT_KEEP, parseAddonKind, parseKeep } from './backup-policy.ts';
import { dataDirOf, ensureDataDir, removeDataDir } from './data-dirs.ts';
import { type AddonContext, type AddonKind, type AddonProvider, type AddonUser, type RestoreReport } from './types.ts';

/** What the service needs of the platform (src/platform/platform.ts). */
export interface AddonPlatform {
  readonly store: Store;
  releaseForAddons(app: string, description: string, actor: string): Promise<ReleaseInfo | null>;
  appUser(app: string): Promise<AddonUser | null>;
  scheduleTasks(app: string, tasks: readonly ScheduledTask[]): void;
  scheduledTasks(app: string): Array<{ name: string; nextRun: string | null; running: string | null }>;
  appLog(app: string, source: string, line: string): void;
}

/** A backup that ended, for metrics. */
export interface BackupEvent {
  readonly app: string;
  readonly kind: string;
  readonly outcome: 'succeeded' | 'failed';
  readonly seconds: number;
  readonly bytes: number;
  /** When it ended (ms since the epoch). */
  readonly at: number;
}

export interface AddonServiceOptions {
  readonly stateDir: string;
  readonly platform: AddonPlatform;
  readonly providers: Readonly<Record<AddonKind, AddonProvider>>;
  /** Where backups are kept (default STATE/backups), one folder per app. */
  readonly backupDir?: string;
  /** A second folder every good backup is copied to (another disk, a mounted share); null: none. */
  readonly backupCopyDir?: string | null;
  /** Good backups kept per app and kind when no schedule says otherwise. */
  readonly defaultKeep?: number;
  readonly log: (line: string) => void;
  readonly onBackup?: (event: BackupEvent) => void;
  readonly now?: () => number;
}

/** An add-on as the API shows it: names of its vars, never their values unless revealed. */
export interface AddonView {
  readonly app: string;
  readonly kind: AddonRecordKind;
  readonly createdAt: string;
  readonly vars: readonly string[];
  readonly details: Readonly<Record<string, string>>;
}

export interface AddonInfo extends AddonView {
  /** The vars with their values, only when asked to reveal them. */
  readonly values: Readonly<Record<string, string>> | null;
  readonly schedule: BackupScheduleView | null;
  readonly lastBackup: BackupView | null;
}

export interface BackupView extends Omit<BackupRecord, 'file' | 'copyFile'> {
  /** The stored file's name (the folder is the server's business). */
  readonly file: string | null;
  readonly copied: boolean;
  /** A good backup whose file has gone from the disk. */
  readonly missing: boolean;
}

export interface BackupScheduleView {
  readonly app: string;
  readonly kind: string;
  readonly schedule: string;
  readonly timezone: string;
  readonly keep: number;
  readonly nextRun: string | null;
}

export interface CreateResult {
  readonly addon: AddonView;
  readonly release: ReleaseInfo | null;
  readonly warnings: readonly string[];
}

export interface RestoreResult {
  readonly backup: BackupView;
  readonly into: 'app' | 'new';
  readonly report: RestoreReport;
  /** Which file was restored: the primary, or its copy when the primary failed its checksum. */
  readonly source: 'primary' | 'copy';
  readonly warnings: readonly string[];
}


function confirmed(app: string, confirm: string | undefined, what: string, command: string): void {
  if (confirm === app) return;
  throw new BerthError('BERTH_E_CONFIRM', confirm === undefined ? `${what} needs --confirm ${app}` : `--confirm ${JSON.stringify(confirm)} does not match ${app}; nothing was changed`, {
    hint: `To go ahead: ${command} --confirm ${app}`,
    status: 400,
  });
}

/**
 * The add-ons of every app and their backups. Providers do the talking to
 * PostgreSQL, Redis and SQLite; this service keeps the records, gives the
 * app its vars through a new release, and makes backups safe: one at a time
 * per add-on, sealed (compressed, checksummed, fsynced, renamed) before the
 * row says good, pruned by the retention policy, copied to a second folder,
 * verified before any restore.
 */
export class AddonService {
  readonly #options: AddonServiceOptions;
  readonly #store: Store;
  readonly #backupDir: string;
  readonly #now: () => number;
  /** One operation (create, destroy, backup, restore) at a time per app and kind. */
  readonly #busy = new Map<string, { what: string; backupId: number | null; abort: AbortController; done: Promise<unknown> }>();
  readonly #started = new Set<AddonKind>();
  readonly #retries = new Set<NodeJS.Timeout>();
  #closed = false;

  constructor(options: AddonServiceOptions) {
    this.#options = options;
    this.#store = options.platform.store;
    this.#backupDir = options.backupDir ?? join(options.stateDir, 'backups');
    this.#now = options.now ?? Date.now;
  }

  /**
   * At daemon start: backups a dead daemon left running become interrupted
   * and their partial files go; the servers behind existing add-ons start
   * (a failure is logged, the daemon goes on: apps without them still
   * serve); schedules are armed.
   */
  async start(): Promise<void> {
    await mkdir(this.#backupDir, { recursive: true, mode: 0o700 });
    for (const backup of this.#store.interruptBackups()) this.#options.log(`${backup.app}: backup ${backup.id} (${backup.kind}) was cut short by a stop; marked interrupted`);
    await rm(join(this.#backupDir, '.work'), { recursive: true, force: true });
    for (const app of new Set(this.#store.listBackups().map((backup) => backup.app))) {
      const removed = await removePartials(join(this.#backupDir, app)).catch(() => []);
      if (removed.length > 0) this.#options.log(`${app}: removed ${removed.length} partial backup file(s) left by a stop`);
    }
    const kinds = new Set(this.#store.listAddons().map((addon) => addon.kind).filter((kind): kind is AddonKind => kind !== 'storage'));
    await Promise.all([...kinds].map((kind) => this.#bringUp(kind, 0)));
    for (const app of new Set(this.#store.listBackupSchedules().map((s) => s.app))) this.#arm(app);
  }

  /** Starts a kind's server for the apps that use it; on failure tries again (5 s doubling to 5 min) until it works or the daemon stops. */
  async #bringUp(kind: AddonKind, attempt: number): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#provider(kind);
    } catch (err) {
      const delay = Math.min(300_000, 5_000 * 2 ** attempt);
      this.#options.log(`${kind} add-ons: ${(err as Error).message}; trying again in ${Math.round(delay / 1000)} s`);
      const timer = setTimeout(() => void this.#bringUp(kind, attempt + 1), delay);
      timer.unref();
      this.#retries.add(timer);
    }
  }

  /**
   * Aborts running backups and restores, then stops the servers berth
   * supervises, or with `leaveRunning` (a control-plane stop) lets them run
   * on for the next daemon to adopt: the apps' connections go on.
   */
  async close(options: { readonly leaveRunning?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#retries) clearTimeout(timer);
    for (const op of this.#busy.values()) op.abort.abort();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.#busy.values()].map((op) => op.done)), new Promise((resolve) => (timer = setTimeout(resolve, 15_000)))]);
    clearTimeout(timer);
    await Promise.all(Object.values(this.#options.providers).map((provider) => provider.close(options).catch(() => {})));
  }

  /** The ports of the local servers that listen on the sandboxes' service address themselves: no relay for them. */
  directPorts(): number[] {
    return Object.values(this.#options.providers)
      .map((provider) => provider.directPort?.() ?? null)
      .filter((port): port is number => port !== null);
  }

  async #provider(kind: AddonKind): Promise<AddonProvider> {
    const provider = this.#options.providers[kind];
    await provider.start();
    if (!this.#started.has(kind)) {
      this.#started.add(kind);
      this.#options.log(`${kind} add-ons: server ready`);
    }
    return provider;
  }

  async #context(app: string): Promise<AddonContext> {
    return { app, user: await this.#options.platform.appUser(app) };
  }

  /** Runs `work` as the one operation on the app's add-on of `kind`; a second one meanwhile is refused. */
  async #exclusive<T>(app: string, kind: string, what: string, work: (op: { abort: AbortController; setBackup: (id: number) => void }) => Promise<T>): Promise<T> {
    if (this.#closed) throw new BerthError('BERTH_E_ADDON_SERVER', 'the server is stopping', { status: 503 });
    const key = `${app}\u0000${kind}`;
    const busy = this.#busy.get(key);
    if (busy !== undefined) {
      throw new BerthError('BERTH_E_BACKUP_RUNNING', `the ${kind} add-on of ${app} is busy: ${busy.what}`, { hint: `Wait for it to end: berth backups list --app ${app}`, status: 409 });
    }
    const op = { what, backupId: null as number | null, abort: new AbortController(), done: Promise.resolve() as Promise<unknown> };
    this.#busy.set(key, op);
    try {
      const running = work({ abort: op.abort, setBackup: (id) => (op.backupId = id) });
      op.done = running;
      return await running;
    } finally {
      this.#busy.delete(key);
    }
  }

  #audit(actor: string, action: string, target: string, detail: Record<string, string | number>, error: unknown): void {
    this.#store.audit({ actor, action, target, result: error === null ? 'ok' : 'error', detail: error === null ? detail : { ...detail, error: error instanceof BerthError ? error.code : 'error' } });
  }

  async #audited<T>(actor: string, action: string, target: string, detail: Record<string, string | number>, work: () => Promise<T>): Promise<T> {
    try {
      const result = await work();
      this.#audit(actor, action, target, detail, null);
      return result;
    } catch (err) {
      this.#audit(actor, action, target, detail, err);
      throw err;
    }
  }

  // ---- add-ons -----------------------------------------------------------

  /** Provisions the add-on and rolls out a release that has its vars (its URL under `as` when given; never over another add-on's). */
  create(app: string, kindName: string, actor: string, as: string | null = null): Promise<CreateResult> {
    return this.#audited(actor, 'addons.create', app, { kind: String(kindName), ...(as === null ? {} : { as: String(as) }) }, async () => {
      const kind = parseAddonKind(kindName);
      this.#store.getApp(appName(app));
      this.#store.requireNoAddon(app, kind);
      const record = await this.#exclusive(app, kind, 'being created', async () => {
        const provider = await this.#provider(kind);
        const context = await this.#context(app);
        const made = await provider.provision(context);
        try {
          const vars = attachVars(app, kind, made.vars, this.#store.listAddons(app), as);
          return this.#store.addAddon(app, kind, vars, made.resource);
        } catch (err) {
          await provider.deprovision(context, made.resource).catch(() => {});
          throw err;
        }
      });
      return this.#released(record, `Add ${kind} (${Object.keys(record.vars).join(', ')})`, actor);
    });
  }

  /** A persistent data folder outside the releases (BERTH_DATA_DIR), with no database. */
  createStorage(app: string, actor: string): Promise<CreateResult> {
    return this.#audited(actor, 'storage.create', app, {}, async () => {
      this.#store.getApp(appName(app));
      this.#store.requireNoAddon(app, 'storage');
      const dir = await ensureDataDir(this.#dataRoot(), app, await this.#options.platform.appUser(app));
      const record = this.#store.addAddon(app, 'storage', { BERTH_DATA_DIR: dir }, { dir });
      return this.#released(record, 'Add storage (BERTH_DATA_DIR)', actor);
    });
  }

  async #released(record: AddonRecord, description: string, actor: string): Promise<CreateResult> {
    const warnings: string[] = [];
    const config = this.#store.getConfig(record.app);
    for (const key of Object.keys(record.vars)) {
      if (key in config) warnings.push(`${key} is set in the app's config and overrides the add-on's; to use the add-on: berth config unset ${key} --app ${record.app}`);
    }
    let release: ReleaseInfo | null = null;
    try {
      release = await this.#options.platform.releaseForAddons(record.app, description, actor);
    } catch (err) {
      warnings.push(`the new release did not start (${(err as Error).message}); the add-on is kept, and the next deploy or restart picks up its vars`);
    }
    return { addon: this.#view(record), release, warnings };
  }

  #dataRoot(): string {
    return join(this.#options.stateDir, 'data');
  }

  #view(record: AddonRecord): AddonView {
    const details = record.kind === 'storage' ? { dir: record.resource.dir ?? '' } : this.#options.providers[record.kind].describe(record.resource);
    return { app: record.app, kind: record.kind, createdAt: record.createdAt, vars: Object.keys(record.vars), details };
  }

  list(app?: string): AddonView[] {
    if (app !== undefined) this.#store.getApp(appName(app));
    return this.#store.listAddons(app).map((record) => this.#view(record));
  }

  info(app: string, kindName: string, reveal: boolean): AddonInfo {
    const kind = kindName === 'storage' ? 'storage' : parseAddonKind(kindName);
    const record = this.#store.getAddon(appName(app), kind);
    const last = this.#store.listBackups(app, kind)[0];
    return {
      ...this.#view(record),
      values: reveal ? { ...record.vars } : null,
      schedule: this.schedules(app).find((s) => s.kind === kind) ?? null,
      lastBackup: last === undefined ? null : this.#backupView(last),
    };
  }

  /**
   * Keeps a final backup, then drops the database or keys for good and rolls
   * out a release without the vars. If the final backup fails nothing is
   * destroyed.
   */
  destroy(app: string, kindName: string, confirm: string | undefined, actor: string): Promise<{ finalBackup: BackupView; release: ReleaseInfo | null; warnings: readonly string[] }> {
    return this.#audited(actor, 'addons.destroy', app, { kind: String(kindName) }, async () => {
      const kind = parseAddonKind(kindName);
      const record = this.#store.getAddon(appName(app), kind);
      confirmed(app, confirm, `destroying the ${kind} add-on of ${app}`, `berth addons destroy ${kind} --app ${app}`);
      const finalBackup = await this.#exclusive(app, kind, 'being destroyed', async (op) => {
        const backup = await this.#backup(record, 'final', op);
        const provider = await this.#provider(kind);
        await provider.deprovision(await this.#context(app), record.resource);
        this.#store.removeAddon(app, kind);
        if (kind === 'sqlite' && this.#store.findAddon(app, 'storage') === null) await removeDataDir(this.#dataRoot(), app);
        return backup;
      });
      this.#arm(app);
      const warnings: string[] = [];
      let release: ReleaseInfo | null = null;
      try {
        release = await this.#options.platform.releaseForAddons(app, `Remove ${kind}`, actor);
      } catch (err) {
        warnings.push(`the new release did not start (${(err as Error).message}); the add-on is gone, the serving release still has its old vars`);
      }
      return { finalBackup: this.#backupView(finalBackup), release, warnings };
    });
  }

  /** Deletes the data folder; refused while the SQLite add-on keeps its database there. */
  destroyStorage(app: string, confirm: string | undefined, actor: string): Promise<{ release: ReleaseInfo | null }> {
    return this.#audited(actor, 'storage.destroy', app, {}, async () => {
      this.#store.getAddon(appName(app), 'storage');
      if (this.#store.findAddon(app, 'sqlite') !== null) {
        throw new BerthError('BERTH_E_ADDON_EXISTS', `the SQLite add-on of ${app} keeps its database in the data folder`, { hint: `Destroy it first: berth addons destroy sqlite --app ${app} (a final backup is kept).`, status: 409 });
      }
      confirmed(app, confirm, `destroying the storage of ${app} (every file in ${dataDirOf(this.#dataRoot(), app)})`, `berth storage destroy --app ${app}`);
      await removeDataDir(this.#dataRoot(), app);
      this.#store.removeAddon(app, 'storage');
      return { release: await this.#options.platform.releaseForAddons(app, 'Remove storage', actor) };
    });
  }

  // ---- backups -----------------------------------------------------------

  /** The add-on to back up: the one named, or the app's only one. */
  #backupTarget(app: string, kindName: string | undefined): AddonRecord {
    this.#store.getApp(appName(app));
    const has = this.#store.listAddons(app).flatMap((addon) => (addon.kind === 'storage' ? [] : [addon.kind]));
    return this.#store.getAddon(app, chooseBackupKind(app, has, kindName));
  }

  /** Makes one backup now and waits for it; a failure is recorded (failed) and thrown. */
  backup(app: string, kindName: string | undefined, actor: string): Promise<BackupView> {
    return this.#audited(actor, 'backups.create', app, { kind: String(kindName ?? '') }, async () => {
      const record = this.#backupTarget(app, kindName);
      const backup = await this.#exclusive(app, record.kind, 'a backup is running', (op) => this.#backup(record, 'manual', op));
      return this.#backupView(backup);
    });
  }

  /**
   * Dump to a private work folder, seal it into the app's backup folder,
   * then mark the row good: a stop at any point leaves either no file or a
   * `.partial` one (removed at the next start) and a row that is not good.
   */
  async #backup(record: AddonRecord, trigger: BackupTrigger, op: { abort: AbortController; setBackup: (id: number) => void }): Promise<BackupRecord> {
    const kind = record.kind as AddonKind;
    const startedAt = this.#now();
    const row = this.#store.startBackup({ app: record.app, kind, trigger });
    op.setBackup(row.id);
    const work = join(this.#backupDir, '.work', `${row.id}-${randomUUID()}`);
    let final: string | null = null;
    try {
      const provider = await this.#provider(kind);
      await mkdir(work, { recursive: true, mode: 0o700 });
      const raw = join(work, `dump.${provider.dumpSuffix}`);
      await provider.dump(await this.#context(record.app), record.resource, raw, op.abort.signal);
      if (op.abort.signal.aborted) throw new Error('the server is stopping');
      const folder = join(this.#backupDir, record.app);
      await mkdir(folder, { recursive: true, mode: 0o700 });
      final = join(folder, backupFileName({ id: row.id, app: record.app, kind, startedAt: row.startedAt, suffix: provider.dumpSuffix }));
      const sealed = await sealBackup(raw, final, { alreadyCompressed: provider.dumpCompressed === true });
      const good = this.#store.finishBackup(row.id, { status: 'good', file: final, ...sealed });
      if (good.status !== 'good') throw new Error('the backup was marked interrupted while it ran');
      this.#options.onBackup?.({ app: record.app, kind, outcome: 'succeeded', seconds: (this.#now() - startedAt) / 1000, bytes: sealed.bytes, at: this.#now() });
      await this.#copy(good);
      await this.#prune(record.app, kind);
      return this.#store.getBackup(row.id);
    } catch (err) {
      if (final !== null) await unlink(final).catch(() => {});
      const message = (err as Error).message;
      this.#store.finishBackup(row.id, { status: 'failed', error: message });
      this.#options.onBackup?.({ app: record.app, kind, outcome: 'failed', seconds: (this.#now() - startedAt) / 1000, bytes: 0, at: this.#now() });
      this.#options.platform.appLog(record.app, 'berth', `backup ${row.id} (${kind}) failed: ${message}`);
      throw new BerthError('BERTH_E_BACKUP_FAILED', `backup ${row.id} of ${record.app}'s ${kind} failed: ${message}`, {
        hint: `Nothing of it is kept as good; berth backups list --app ${record.app} shows it as failed.`,
        status: 500,
        cause: err,
      });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  async #copy(backup: BackupRecord): Promise<void> {
    const to = this.#options.backupCopyDir;
    if (!to || backup.file === null) return;
    try {
      const dir = join(to, backup.app);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      this.#store.setBackupCopy(backup.id, { file: await copyBackup(backup.file, dir, backup.sha256 ?? undefined) });
    } catch (err) {
      const message = (err as Error).message;
      this.#store.setBackupCopy(backup.id, { error: message });
      this.#options.log(`${backup.app}: backup ${backup.id} could not be copied to ${to}: ${message}`);
    }
  }

  async #prune(app: string, kind: string): Promise<void> {
    const keep = this.#store.listBackupSchedules(app).find((s) => s.kind === kind)?.keep ?? this.#options.defaultKeep ?? DEFAULT_KEEP;
    const rows = this.#store.listBackups(app, kind);
    for (const id of backupsToPrune(rows, { keep })) {
      const row = rows.find((r) => r.id === id)!;
      for (const file of [row.file, row.copyFile]) if (file !== null) await unlink(file).catch(() => {});
      this.#store.deleteBackup(id);
    }
  }

  #runningBackups(): Set<number> {
    const ids = new Set<number>();
    for (const op of this.#busy.values()) if (op.backupId !== null) ids.add(op.backupId);
    return ids;
  }

  #backupView(row: BackupRecord): BackupView {
    const { file, copyFile, ...rest } = row;
    const status = backupStatusForList(row, this.#runningBackups());
    return { ...rest, status, file: file === null ? null : file.slice(file.lastIndexOf('/') + 1), copied: copyFile !== null, missing: status === 'good' && file !== null && !existsSync(file) };
  }

  /** The newest good and failed backup of every app's add-ons, for metrics (seconds since the epoch). */
  backupTimes(): Array<{ app: string; kind: string; lastSuccess: number | null; lastFailure: number | null; lastSizeBytes: number | null }> {
    const times = new Map<string, { app: string; kind: string; lastSuccess: number | null; lastFailure: number | null; lastSizeBytes: number | null }>();
    for (const row of this.#store.listBackups()) {
      if (row.status === 'running' || row.finishedAt === null) continue;
      const key = `${row.app}/${row.kind}`;
      const entry = times.get(key) ?? { app: row.app, kind: row.kind, lastSuccess: null, lastFailure: null, lastSizeBytes: null };
      times.set(key, entry);
      const at = Date.parse(row.finishedAt) / 1000;
      // Rows come newest first: the first of each outcome is the newest.
      if (row.status === 'good' && entry.lastSuccess === null) {
        entry.lastSuccess = at;
        entry.lastSizeBytes = row.bytes;
      } else if (row.status !== 'good' && entry.lastFailure === null) {
        entry.lastFailure = at;
      }
    }
    return [...times.values()];
  }

  listBackups(app: string): BackupView[] {
    this.#store.getApp(appName(app));
    return this.#store.listBackups(app).map((row) => this.#backupView(row));
  }

  /**
   * Verifies the backup's checksum (falling back to its copy), then loads it
   * into the app's own data (`--confirm` needed: it replaces what is there)
   * or beside it for inspection.
   */
  /** Restores backup `id`; with `expectedApp` (berth backups restore ID --app NAME), only if it is that app's. */
  restore(id: number, into: 'app' | 'new', confirm: string | undefined, actor: string, expectedApp?: string): Promise<RestoreResult> {
    const backup = this.#store.getBackup(id);
    return this.#audited(actor, 'backups.restore', backup.app, { backup: id, into }, async () => {
      if (expectedApp !== undefined && expectedApp !== backup.app) {
        throw new BerthError('BERTH_E_BACKUP_NOT_FOUND', `backup ${id} is a backup of ${backup.app}, not of ${expectedApp}; nothing was restored`, { hint: `berth backups list --app ${expectedApp} shows ${expectedApp}'s backups.`, status: 404 });
      }
      if (backup.status !== 'good' || backup.file === null || backup.sha256 === null) {
        throw new BerthError('BERTH_E_BACKUP_CORRUPT', `backup ${id} is ${backup.status}, not good: there is nothing to restore`, { hint: `Pick a good one: berth backups list --app ${backup.app}`, status: 409 });
      }
      const kind = parseAddonKind(backup.kind);
      const record = this.#store.findAddon(backup.app, kind);
      if (record === null) {
        throw new BerthError('BERTH_E_ADDON_NOT_FOUND', `the app "${backup.app}" has no ${kind} add-on to restore into`, { hint: `Create it again (berth addons create ${kind} --app ${backup.app}), then restore.`, status: 404 });
      }
      if (into === 'app') confirmed(backup.app, confirm, `restoring backup ${id} over ${backup.app}'s ${kind} data`, `berth backups restore ${id}`);
      return this.#exclusive(backup.app, kind, `backup ${id} is being restored`, async (op) => {
        const provider = await this.#provider(kind);
        const work = join(this.#backupDir, '.work', `restore-${id}-${randomUUID()}`);
        await mkdir(work, { recursive: true, mode: 0o700 });
        try {
          const raw = join(work, `dump.${provider.dumpSuffix}`);
          const warnings: string[] = [];
          let source: 'primary' | 'copy' = 'primary';
          try {
            await openBackup(backup.file!, backup.sha256!, raw, backup.bytes ?? undefined);
          } catch (err) {
            if (backup.copyFile === null) throw err;
            warnings.push(`${(err as Error).message}; restored its copy instead`);
            await openBackup(backup.copyFile, backup.sha256!, raw, backup.bytes ?? undefined);
            source = 'copy';
          }
          if (op.abort.signal.aborted) throw new BerthError('BERTH_E_RESTORE_FAILED', 'the server is stopping; nothing was restored', { status: 503 });
          const report = await provider.restore(await this.#context(backup.app), record.resource, raw, into === 'app' ? { into: 'app' } : { into: 'new', tag: `r${id}` });
          this.#options.platform.appLog(backup.app, 'berth', `backup ${id} restored ${into === 'app' ? 'into the app' : 'beside it'}: ${report.summary}`);
          return { backup: this.#backupView(backup), into, report, source, warnings };
        } finally {
          await rm(work, { recursive: true, force: true });
        }
      });
    });
  }

  // ---- schedules ---------------------------------------------------------

  /** Sets (or with null removes) the add-on's backup schedule; scheduled backups run from the cron scheduler. */
  schedule(app: string, kindName: string | undefined, schedule: { cron: string; timezone?: string; keep?: number } | null, actor: string): BackupScheduleView | null {
    const record = this.#backupTarget(app, kindName);
    const detail = { kind: record.kind };
    try {
      let result: BackupScheduleView | null = null;
      if (schedule === null) {
        this.#store.removeBackupSchedule(app, record.kind);
      } else {
        const timezone = schedule.timezone ?? 'UTC';
        if (!isTimeZone(timezone)) throw new BerthError('BERTH_E_CRON_SCHEDULE', `"${timezone}" is not a time zone`, { hint: 'An IANA name such as UTC or Europe/Berlin.' });
        parseCronSchedule(schedule.cron, timezone);
        const keep = parseKeep(schedule.keep ?? this.#options.defaultKeep ?? DEFAULT_KEEP);
        this.#store.setBackupSchedule(app, record.kind, { schedule: schedule.cron, timezone, keep });
      }
      this.#arm(app);
      result = this.schedules(app).find((s) => s.kind === record.kind) ?? null;
      this.#audit(actor, 'backups.schedule', app, detail, null);
      return result;
    } catch (err) {
      this.#audit(actor, 'backups.schedule', app, detail, err);
      throw err;
    }
  }

  schedules(app: string): BackupScheduleView[] {
    const tasks = this.#options.platform.scheduledTasks(app);
    return this.#store.listBackupSchedules(app).map((s) => ({ ...s, nextRun: tasks.find((task) => task.name === `berth.backup-${s.kind}`)?.nextRun ?? null }));
  }

  #arm(app: string): void {
    const tasks: ScheduledTask[] = [];
    for (const s of this.#store.listBackupSchedules(app)) {
      tasks.push({ name: `berth.backup-${s.kind}`, schedule: s.schedule, timezone: s.timezone, run: (slot) => this.#scheduled(app, s.kind, slot) });
    }
    try {
      this.#options.platform.scheduleTasks(app, tasks);
    } catch (err) {
      this.#options.log(`${app}: backup schedule not armed: ${(err as Error).message}`);
    }
  }

  /** One scheduled slot: a backup, unless one of the add-on is already going (then the slot is skipped, not queued). */
  async #scheduled(app: string, kind: string, slot: string): Promise<boolean> {
    const record = this.#store.findAddon(app, kind as AddonRecordKind);
    if (record === null) return true;
    const log = (line: string) => this.#options.platform.appLog(app, `berth.backup-${kind}`, line);
    if (this.#busy.has(`${app}\u0000${kind}`)) {
      log(`skipped the ${slot} backup: ${this.#busy.get(`${app}\u0000${kind}`)!.what}`);
      return true;
    }
    try {
      const backup = await this.#exclusive(app, kind, 'a scheduled backup is running', (op) => this.#backup(record, 'scheduled', op));
      log(`backup ${backup.id} of the ${slot} slot is good (${backup.bytes} bytes)`);
      return true;
    } catch (err) {
      log(`the ${slot} backup failed: ${(err as Error).message}`);
      return false;
    }
  }
}
