import { z } from 'zod';

// The answers of the control API (docs/API.md), as the CLI reads them. Extra
// keys are allowed (a newer daemon may add some); a missing or mistyped key
// the CLI needs is BERTH_E_BAD_RESPONSE rather than an "undefined" printed in
// a table. `--json` prints the answer as it came, not these parsed copies.

const time = z.string();

export const AppSchema = z.object({
  name: z.string(),
  createdAt: time,
  url: z.string().nullish(),
  currentRelease: z.string().nullable(),
});
export type App = z.infer<typeof AppSchema>;

export const ReleaseSchema = z.object({
  version: z.number(),
  name: z.string(),
  kind: z.string(),
  description: z.string(),
  status: z.string(),
  createdAt: time,
  current: z.boolean(),
  configKeys: z.array(z.string()).optional(),
  image: z.string().optional(),
});
export type Release = z.infer<typeof ReleaseSchema>;

export const InstanceSchema = z.object({
  name: z.string(),
  state: z.string(),
  // A stopped or crashed instance may have no pid or port.
  pid: z.number().nullish(),
  port: z.number().nullish(),
  release: z.string().nullish(),
  lastExit: z.string().nullish(),
  memory: z.object({ usedBytes: z.number(), limitBytes: z.number().nullable() }).nullish(),
  cpu: z.object({ seconds: z.number(), limit: z.number().nullable(), since: z.string() }).nullish(),
  processes: z.object({ count: z.number(), limit: z.number().nullable() }).nullish(),
});
export type Instance = z.infer<typeof InstanceSchema>;

export const FormationSchema = z.record(z.string(), z.number());

export const TokenSchema = z.object({
  name: z.string(),
  createdAt: time,
  lastUsedAt: time.nullish(),
  revokedAt: time.nullish(),
});

export const AppAnswer = z.object({ app: AppSchema });
export const AppsAnswer = z.object({ apps: z.array(AppSchema) });
export const AppInfoAnswer = z.object({
  app: AppSchema,
  release: ReleaseSchema.nullable(),
  formation: FormationSchema,
  domains: z.array(z.string()),
  instances: z.array(InstanceSchema),
  // Older servers say neither.
  disk: z
    .object({
      usedBytes: z.number().nullable(),
      limitBytes: z.number().nullable(),
      parts: z.record(z.string(), z.number()).nullable(),
      measuredAt: z.string().nullable(),
      overLimit: z.boolean(),
    })
    .optional(),
  sandbox: z.object({ contained: z.boolean(), reason: z.string().optional() }).optional(),
});
export type AppInfo = z.infer<typeof AppInfoAnswer>;
export const DestroyedAnswer = z.object({ destroyed: z.string() });
export const ReleaseAnswer = z.object({ release: ReleaseSchema });
/** A config change answers null before the app's first release: the config waits for the first deploy. */
export const ConfigChangeAnswer = z.object({ release: ReleaseSchema.nullable() });
export const ReleasesAnswer = z.object({ releases: z.array(ReleaseSchema) });
export const ConfigAnswer = z.object({
  config: z.record(z.string(), z.string().nullable()),
  // Older servers send only `config`.
  vars: z.array(z.object({ key: z.string(), source: z.string(), value: z.string().nullable(), overriddenBy: z.string().nullable() })).optional(),
});
export const FormationAnswer = z.object({ formation: FormationSchema, memory: z.record(z.string(), z.number()).optional() });
export const InstancesAnswer = z.object({ instances: z.array(InstanceSchema) });
export const RestartedAnswer = z.object({ restarted: z.boolean() });
const CertificateSchema = z.object({
  source: z.string(),
  state: z.string(),
  notAfter: z.string().optional(),
  renewAt: z.string().optional(),
  error: z.string().optional(),
  nextAttempt: z.string().optional(),
});
const DomainSchema = z.object({ hostname: z.string(), display: z.string(), own: z.boolean(), certificate: CertificateSchema.nullable() });
export const DomainsAnswer = z.object({ domains: z.array(z.string()), details: z.array(DomainSchema).optional() });
export const CaAnswer = z.object({ pem: z.string() });
export const PurgeAnswer = z.object({ purged: z.number(), path: z.string().nullable() });
export const TokensAnswer = z.object({ tokens: z.array(TokenSchema) });
export const NewTokenAnswer = z.object({ token: z.string(), name: z.string() });
export const RevokedAnswer = z.object({ revoked: z.string() });

// Add-ons, storage and backups (src/api/addon-routes.ts). Config var values
// come only in `values`, and only when revealed.
export const AddonSchema = z.object({
  app: z.string(),
  kind: z.string(),
  createdAt: time,
  vars: z.array(z.string()),
  details: z.record(z.string(), z.string()),
});
export type Addon = z.infer<typeof AddonSchema>;
export const BackupSchema = z.object({
  id: z.number(),
  app: z.string(),
  kind: z.string(),
  trigger: z.string(),
  status: z.string(),
  startedAt: time,
  finishedAt: time.nullable(),
  file: z.string().nullable(),
  bytes: z.number().nullable(),
  sha256: z.string().nullable(),
  copied: z.boolean(),
  copyError: z.string().nullable(),
  error: z.string().nullable(),
  missing: z.boolean(),
});
export type Backup = z.infer<typeof BackupSchema>;
export const BackupScheduleSchema = z.object({
  app: z.string(),
  kind: z.string(),
  schedule: z.string(),
  timezone: z.string(),
  keep: z.number(),
  nextRun: time.nullable(),
});
export type BackupSchedule = z.infer<typeof BackupScheduleSchema>;
export const AddonInfoSchema = AddonSchema.extend({
  values: z.record(z.string(), z.string()).nullable(),
  schedule: BackupScheduleSchema.nullable(),
  lastBackup: BackupSchema.nullable(),
});
export type AddonInfo = z.infer<typeof AddonInfoSchema>;
export const AddonCreatedAnswer = z.object({ addon: AddonSchema, release: ReleaseSchema.nullable(), warnings: z.array(z.string()) });
export const AddonsAnswer = z.object({ addons: z.array(AddonSchema) });
export const AddonInfoAnswer = z.object({ addon: AddonInfoSchema });
export const AddonDestroyedAnswer = z.object({ finalBackup: BackupSchema, release: ReleaseSchema.nullable(), warnings: z.array(z.string()) });
export const StorageDestroyedAnswer = z.object({ release: ReleaseSchema.nullable() });
export const BackupAnswer = z.object({ backup: BackupSchema });
export const BackupsAnswer = z.object({ backups: z.array(BackupSchema) });
export const RestoreAnswer = z.object({
  restore: z.object({
    backup: BackupSchema,
    into: z.enum(['app', 'new']),
    report: z.object({ summary: z.string(), location: z.string().nullable() }),
    source: z.enum(['primary', 'copy']),
    warnings: z.array(z.string()),
  }),
});
export type Restore = z.infer<typeof RestoreAnswer>['restore'];
export const BackupSchedulesAnswer = z.object({ schedules: z.array(BackupScheduleSchema) });
export const BackupScheduleAnswer = z.object({ schedule: BackupScheduleSchema.nullable() });

/** An error body: `{code, message, hint?}`. */
export const ErrorBody = z.object({
  code: z.string().regex(/^BERTH_E_[A-Z_]+$/),
  message: z.string(),
  hint: z.string().nullish(),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

/** The last line of a streamed deploy: `{"result": "ok", "release": …}` or `{"error": {code, message, hint}}`. */
export const DeployOutcome = z.union([z.object({ result: z.literal('ok'), release: ReleaseSchema }), z.object({ error: ErrorBody })]);
export type DeployOutcome = z.infer<typeof DeployOutcome>;
