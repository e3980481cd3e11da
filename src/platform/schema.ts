// The state database's schema, as numbered migrations. Migration N brings a
// database from `PRAGMA user_version` N-1 to N; the store applies every
// missing one in a single transaction when it opens, so a database is always
// at one known version, and a crash mid-migration leaves the old one intact.
// Never edit a migration that has shipped: append a new one.
//
// Version 1:
//
//   apps         id, name UNIQUE, created_at, current_release_id → releases
//                (NULL until the first release serves), uid (the app's Unix
//                user when berth runs as root, else NULL), deploy_branch.
//   builds       id, app_id → apps, created_at, source_digest, dir (the build
//                output, which releases run), status building | succeeded |
//                failed | pruned (its dir deleted or to be deleted), log_path.
//   releases     id, app_id → apps, version (1, 2, … per app, never reused),
//                created_at, kind deploy | config | rollback, description,
//                build_id → builds (NULL for a config release before the
//                first deploy), config_json (the snapshot of config vars the
//                release runs with), processes_json ([{name, command}] from
//                the Procfile), status pending | succeeded | failed | pruned.
//                UNIQUE(app_id, version).
//   config_vars  (app_id, key) → value: the config the next release snapshots.
//   formation    (app_id, process_type) → quantity.
//   domains      hostname (lowercase) PRIMARY KEY → app_id: one app per name.
//   tokens       id, name UNIQUE (never reused), hash UNIQUE (sha256 hex of
//                the token; the plaintext is never stored), created_at,
//                last_used_at, revoked_at.
//   audit        id, at, actor (token name, "system" or "anonymous"), action,
//                target, result ok | error, detail_json (keys, never values).
//                No foreign keys: the history outlives the apps it names.
//
// Version 2:
//
//   cron_runs    (app_id → apps, job, slot) PRIMARY KEY: one row per
//                scheduled slot that fired. The row is inserted (the slot
//                claimed) before the command starts, in its own transaction,
//                so a slot never runs twice — not across deploys, not across
//                daemon restarts. started_at, finished_at, release_version
//                (the release the command ran in), exit_code, status
//                running | succeeded | failed | interrupted (the daemon
//                stopped or died while it ran; it is not retried).
//   ssh_keys     id, name UNIQUE (never reused, like token names),
//                fingerprint (SHA256:… of the key blob; at most one active
//                key per fingerprint), algorithm, public_key (the
//                authorized_keys line, without its comment), created_at,
//                last_used_at, revoked_at.
//
// Version 3:
//
//   log_drains   id, app_id → apps, url (where the app's log lines go:
//                syslog://, syslog+tls://, https://; it may hold a token, so
//                it is shown with its secret parts hidden, never logged),
//                created_at. UNIQUE(app_id, url).
//
// Version 4:
//
//   addons       id, app_id → apps, kind postgres | redis | sqlite | storage
//                (storage: a persistent data folder without a database),
//                vars_json (the config vars it gives the app's releases, e.g.
//                DATABASE_URL: secrets), resource_json (what its provider
//                needs to find it again: names, a password, a path; never
//                shown), created_at. UNIQUE(app_id, kind). An app with
//                add-ons cannot be destroyed until they are.
//   backups      id, app (the name, no foreign key: backups outlive their
//                app, like the audit), kind, trigger manual | scheduled |
//                final (made when the add-on was destroyed; never pruned),
//                status running | good | failed | interrupted (the daemon
//                died while it ran), started_at, finished_at, file (absolute
//                path; set only once the file is complete, fsynced and
//                renamed into place), bytes, sha256 (of the file as stored),
//                copy_file and copy_error (the second backup folder), error.
//                A row becomes good in the same step that records its file,
//                so no half-written file is ever listed as good.
//   backup_schedules  (app_id → apps, kind) PRIMARY KEY: schedule (a cron
//                expression), timezone, keep (good scheduled and manual
//                backups kept per app and kind, 1–365).
//
// Version 5:
//
//   builds       rebuilt (SQLite changes a CHECK only by copying the table):
//                status gains interrupted (the daemon died while it built;
//                its processes are killed by the next daemon, nothing
//                finishes it); plan_json (what detection found: the process
//                types, PATH entries or the static root) and app_config_json
//                (the parsed berth.toml), both recorded from the unpacked
//                upload before the app's user could touch it, NULL for
//                builds made before version 5 until their first activation
//                records them. A release runs what its build recorded; the
//                build folder's files are never read again for it.
//                log_path is the app's log folder, where the build's lines
//                are (source "build").
//
// Version 6:
//
//   app_uids     uid PRIMARY KEY: every uid berth has ever given an app's
//                Unix user, with the app's name and when. Rows are never
//                deleted (a destroyed app's uid stays here), so no uid is
//                given to a second app. Seeded from the apps that had one.
//
// Version 7:
//
//   formation    gains memory_bytes: the memory limit `berth scale
//                web=2:1g` set for the process type (NULL: the app's
//                berth.toml [resources], else the server's default).
//
// Version 8:
//
//   backups      gains app_destroyed_at: set on every row of an app when the
//                app is destroyed. Those rows and their files stay (the
//                operator's way back to the data: `berth backups restore
//                ID`), but they are no longer the app's: a new app of the
//                same name lists none of them, and its pruning, alerts and
//                metrics never count them.
//
// Version 9:
//
//   builds       gains app_json: the build's parsed app.json (its env
//                declarations, formation, scripts and cron), recorded with
//                its manifest; NULL when the upload had none.
//   app_json_keys (app_id → apps, key) PRIMARY KEY, set_up_at: the config
//                vars app.json has set up for the app (filled in, or found
//                already set). A key here is never filled in again, so a
//                var the user unsets stays unset and a generated secret is
//                made once.
//
// Times are ISO-8601 UTC strings. Tables are STRICT, so a wrong type is an
// error rather than a silently stored string. Two triggers keep the one
// invariant a restart depends on — an app's current release is a succeeded
// release of that app — true even if code elsewhere gets it wrong.

export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE apps (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    current_release_id INTEGER NULL REFERENCES releases(id),
    uid INTEGER NULL,
    deploy_branch TEXT NOT NULL DEFAULT 'main'
  ) STRICT;

  CREATE TABLE builds (
    id INTEGER PRIMARY KEY,
    app_id INTEGER NOT NULL REFERENCES apps(id),
    created_at TEXT NOT NULL,
    source_digest TEXT NOT NULL,
    dir TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('building', 'succeeded', 'failed', 'pruned')),
    log_path TEXT NOT NULL
  ) STRICT;
  CREATE INDEX builds_by_app ON builds(app_id);

  CREATE TABLE releases (
    id INTEGER PRIMARY KEY,
    app_id INTEGER NOT NULL REFERENCES apps(id),
    version INTEGER NOT NULL CHECK (version >= 1),
    created_at TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('deploy', 'config', 'rollback')),
    description TEXT NOT NULL,
    build_id INTEGER NULL REFERENCES builds(id),
    config_json TEXT NOT NULL,
    processes_json TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'pruned')),
    UNIQUE (app_id, version)
  ) STRICT;
  CREATE INDEX releases_by_build ON releases(build_id);

  CREATE TABLE config_vars (
    app_id INTEGER NOT NULL REFERENCES apps(id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (app_id, key)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE formation (
    app_id INTEGER NOT NULL REFERENCES apps(id),
    process_type TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity >= 0),
    PRIMARY KEY (app_id, process_type)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE domains (
    hostname TEXT PRIMARY KEY,
    app_id INTEGER NOT NULL REFERENCES apps(id),
    created_at TEXT NOT NULL
  ) STRICT;
  CREATE INDEX domains_by_app ON domains(app_id);

  CREATE TABLE tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_used_at TEXT NULL,
    revoked_at TEXT NULL
  ) STRICT;

  CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    result TEXT NOT NULL CHECK (result IN ('ok', 'error')),
    detail_json TEXT NOT NULL
  ) STRICT;

  CREATE TRIGGER apps_current_release_succeeded
  BEFORE UPDATE OF current_release_id ON apps
  WHEN NEW.current_release_id IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM releases WHERE id = NEW.current_release_id AND app_id = NEW.id AND status = 'succeeded'
  )
  BEGIN
    SELECT RAISE(ABORT, 'the current release must be a succeeded release of the same app');
  END;

  CREATE TRIGGER releases_current_stays_succeeded
  BEFORE UPDATE OF status ON releases
  WHEN NEW.status <> 'succeeded' AND EXISTS (SELECT 1 FROM apps WHERE current_release_id = NEW.id)
  BEGIN
    SELECT RAISE(ABORT, 'the current release cannot leave the succeeded state');
  END;
  `,
  `
  CREATE TABLE cron_runs (
    app_id INTEGER NOT NULL REFERENCES apps(id),
    job TEXT NOT NULL,
    slot TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NULL,
    release_version INTEGER NOT NULL,
    exit_code INTEGER NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
    PRIMARY KEY (app_id, job, slot)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE ssh_keys (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    fingerprint TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    public_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT NULL,
    revoked_at TEXT NULL
  ) STRICT;
  CREATE UNIQUE INDEX ssh_keys_active_fingerprint ON ssh_keys(fingerprint) WHERE revoked_at IS NULL;
  `,
  `
  CREATE TABLE log_drains (
    id INTEGER PRIMARY KEY,
    app_id INTEGER NOT NULL REFERENCES apps(id),
    url TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (app_id, url)
  ) STRICT;
  `,
  `
  CREATE TABLE addons (
    id INTEGER PRIMARY KEY,
    app_id INTEGER NOT NULL REFERENCES apps(id),
    kind TEXT NOT NULL CHECK (kind IN ('postgres', 'redis', 'sqlite', 'storage')),
    vars_json TEXT NOT NULL,
    resource_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (app_id, kind)
  ) STRICT;

  CREATE TABLE backups (
    id INTEGER PRIMARY KEY,
    app TEXT NOT NULL,
    kind TEXT NOT NULL,
    trigger TEXT NOT NULL CHECK (trigger IN ('manual', 'scheduled', 'final')),
    status TEXT NOT NULL CHECK (status IN ('running', 'good', 'failed', 'interrupted')),
    started_at TEXT NOT NULL,
    finished_at TEXT NULL,
    file TEXT NULL,
    bytes INTEGER NULL,
    sha256 TEXT NULL,
    copy_file TEXT NULL,
    copy_error TEXT NULL,
    error TEXT NULL,
    CHECK (status <> 'good' OR (file IS NOT NULL AND sha256 IS NOT NULL AND bytes IS NOT NULL))
  ) STRICT;
  CREATE INDEX backups_by_app ON backups(app, kind, id);

  CREATE TABLE backup_schedules (
    app_id INTEGER NOT NULL REFERENCES apps(id),
    kind TEXT NOT NULL,
    schedule TEXT NOT NULL,
    timezone TEXT NOT NULL,
    keep INTEGER NOT NULL CHECK (keep BETWEEN 1 AND 365),
    PRIMARY KEY (app_id, kind)
  ) STRICT, WITHOUT ROWID;
  `,
  `
  CREATE TABLE builds_v5 (
    id INTEGER PRIMARY KEY,
    app_id INTEGER NOT NULL REFERENCES apps(id),
    created_at TEXT NOT NULL,
    source_digest TEXT NOT NULL,
    dir TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('building', 'succeeded', 'failed', 'interrupted', 'pruned')),
    log_path TEXT NOT NULL,
    plan_json TEXT NULL,
    app_config_json TEXT NULL
  ) STRICT;
  INSERT INTO builds_v5 (id, app_id, created_at, source_digest, dir, status, log_path)
    SELECT id, app_id, created_at, source_digest, dir, status, log_path FROM builds;
  DROP TABLE builds;
  ALTER TABLE builds_v5 RENAME TO builds;
  CREATE INDEX builds_by_app ON builds(app_id);
  `,
  `
  CREATE TABLE app_uids (
    uid INTEGER PRIMARY KEY,
    app TEXT NOT NULL,
    allocated_at TEXT NOT NULL
  ) STRICT;
  INSERT INTO app_uids (uid, app, allocated_at) SELECT uid, name, created_at FROM apps WHERE uid IS NOT NULL;
  `,
  `
  ALTER TABLE formation ADD COLUMN memory_bytes INTEGER NULL CHECK (memory_bytes IS NULL OR memory_bytes >= 16777216);
  `,
  `
  ALTER TABLE backups ADD COLUMN app_destroyed_at TEXT NULL;
  `,
  `
  ALTER TABLE builds ADD COLUMN app_json TEXT NULL;
  CREATE TABLE app_json_keys (
    app_id INTEGER NOT NULL REFERENCES apps(id),
    key TEXT NOT NULL,
    set_up_at TEXT NOT NULL,
    PRIMARY KEY (app_id, key)
  ) STRICT, WITHOUT ROWID;
  `,
  // The Kubernetes runtime: a build's image (pushed once, by digest) and the image each release ran.
  `
  ALTER TABLE builds ADD COLUMN image TEXT NULL;
  ALTER TABLE releases ADD COLUMN image TEXT NULL;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
