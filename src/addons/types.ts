// The contract between the add-on service (addons.ts, backups.ts) and the
// providers that know one kind of data store (postgres.ts, redis.ts,
// sqlite.ts). A provider talks to its server; it never touches berth's state
// database, the app's releases or the backup folder.

export type AddonKind = 'postgres' | 'redis' | 'sqlite';

export const ADDON_KINDS: readonly AddonKind[] = ['postgres', 'redis', 'sqlite'];

/** The Unix user an app runs as (berth runs as root), or null: berth's own user. */
export interface AddonUser {
  readonly uid: number;
  readonly gid: number;
}

/** Which app a provider acts for. */
export interface AddonContext {
  /** The app's name (checked: [a-z][a-z0-9-]*). */
  readonly app: string;
  readonly user: AddonUser | null;
}

/** What provisioning made. */
export interface Provisioned {
  /** Config vars the app's releases get: DATABASE_URL, REDIS_URL, BERTH_DATA_DIR. They hold secrets. */
  readonly vars: Readonly<Record<string, string>>;
  /**
   * What the provider needs to find the resource again (database and role
   * names, the password, a path). Kept in berth.db (0600); may hold secrets;
   * never shown by the API.
   */
  readonly resource: Readonly<Record<string, string>>;
}

/** Where a restore goes: over the app's own data, or beside it for inspection. */
export type RestoreTarget = { readonly into: 'app' } | { readonly into: 'new'; /** A short unique tag, e.g. "r12" for backup 12: names the new database/prefix/file. */ readonly tag: string };

/** What a restore did, for the CLI. */
export interface RestoreReport {
  /** One sentence: "restored 3 tables into the database myapp" */
  readonly summary: string;
  /** For `into: 'new'`: where to look (a URL without its password, a key prefix, a path); null otherwise. */
  readonly location: string | null;
}

export interface AddonProvider {
  readonly kind: AddonKind;
  /** The raw dump's file suffix: "pgdump", "rdb", "sqlite". */
  readonly dumpSuffix: string;
  /** The raw dump is compressed by its own tool already (pg_dump's custom format): sealed with light gzip. */
  readonly dumpCompressed?: boolean;
  /**
   * Makes sure the server is up and usable: starts the local server berth
   * supervises (waiting until it accepts connections), or checks the admin
   * URL's server. Called at daemon start when some app has this kind of
   * add-on, and before every operation below; cheap when already done.
   */
  start(): Promise<void>;
  /** Creates the app's database and credentials. Refuses (BERTH_E_ADDON_EXISTS) if they exist on the server. */
  provision(context: AddonContext): Promise<Provisioned>;
  /** Drops the app's database, credentials and data for good. Safe after a partial provision. */
  deprovision(context: AddonContext, resource: Readonly<Record<string, string>>): Promise<void>;
  /**
   * Writes one consistent snapshot of the app's data to `file` (raw: the
   * service compresses and checksums it). Rejects when the snapshot cannot be
   * made; `signal` aborts it (child processes killed, nothing left running).
   */
  dump(context: AddonContext, resource: Readonly<Record<string, string>>, file: string, signal: AbortSignal): Promise<void>;
  /** Loads a raw dump the service has already verified. */
  restore(context: AddonContext, resource: Readonly<Record<string, string>>, file: string, target: RestoreTarget): Promise<RestoreReport>;
  /** What `berth addons info` shows: server, database or prefix, user; never a password. */
  describe(resource: Readonly<Record<string, string>>): Record<string, string>;
  /**
   * Stops whatever the provider supervises (a local server); with
   * `leaveRunning` (a control-plane stop) lets it run on for the next
   * daemon to adopt. Idempotent.
   */
  close(options?: { readonly leaveRunning?: boolean }): Promise<void>;
  /** The port of a local server that listens on the sandboxes' service address itself (no relay needed); null otherwise. */
  directPort?(): number | null;
}
