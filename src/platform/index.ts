// The platform's door: names, tokens, release decisions and the state store
// that `berth server` is built on.
export { appName, configKey, configValue, processType, tokenName, keyName, cronJobName, sshActor, auditActor, releaseRef, hostname, domainName, domainDisplayName, urlPath, branchName, SYSTEM_ACTOR, ANONYMOUS_ACTOR, MAX_CONFIG_VALUE_BYTES } from './names.ts';
export { generateToken, hashToken, tokensMatch, looksLikeToken, isAdminToken, revocationLocksOut, nextAdminTokenName, TOKEN_PREFIX, type GeneratedToken, type TokenState } from './tokens.ts';
export {
  nextVersion,
  releasesToPrune,
  buildsToPrune,
  DEFAULT_BUILD_KEEP,
  rollbackTarget,
  defaultRollbackTarget,
  describeRelease,
  releaseView,
  canTransition,
  RELEASE_TRANSITIONS,
  type ReleaseStatus,
  type ReleaseKind,
  type ReleaseSummary,
  type ReleaseChange,
  type BuildSummary,
  type BuildKeep,
} from './release-policy.ts';
export { Store, MAX_QUANTITY, TOKEN_TOUCH_INTERVAL_MS, ADMIN_TOKEN_NAME } from './store.ts';
export { cronRunsPruneBefore, DEFAULT_CRON_RUN_RETENTION, type CronRunRetention } from './cron-run-policy.ts';
export type {
  StoreOptions,
  AddonRecord,
  AddonRecordKind,
  BackupRecord,
  BackupScheduleRecord,
  BackupStatus,
  BackupTrigger,
  App,
  Build,
  BuildManifest,
  BuildStatus,
  Release,
  ReleaseInfo,
  ReleaseProcess,
  NewRelease,
  Domain,
  TokenInfo,
  SshKeyInfo,
  CronRun,
  CronRunStatus,
  AuditEntry,
  AuditRow,
  AuditValue,
  AuditResult,
  DestroyedApp,
  PruneResult,
} from './records.ts';
export { SCHEMA_VERSION } from './schema.ts';
export { writeFileAtomic } from './atomic-file.ts';
export { StateLock, lockHolder, LOCK_FILE } from './state-lock.ts';
export { appUserName, userPrefix, MAX_USER_NAME } from './app-users.ts';
export type { ScheduledTask } from './cron-scheduler.ts';
export { Containment, sandboxView, type ContainmentOptions, type ProcessContext } from './containment.ts';
export { planEnvSetup, planFormationSetup, missingConfigError, generateSecret, type EnvSetup, type FormationSetup } from './app-json-setup.ts';
