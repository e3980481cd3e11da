// The add-ons' door: per-app PostgreSQL, Redis and SQLite (and plain data
// folders), and their backups.
export { AddonService, type AddonServiceOptions, type AddonPlatform, type AddonView, type AddonInfo, type BackupView, type BackupScheduleView, type BackupEvent, type CreateResult, type RestoreResult } from './addon-service.ts';
export { createAddonProviders, type AddonServers } from './providers.ts';
export { ADDON_KINDS, type AddonKind, type AddonProvider, type RestoreReport } from './types.ts';
