// The build subsystem's door: what is in an app folder and how to run it.
export { detectApp, type AppPlan } from './detect.ts';
export { parseProcfile, type ProcessType } from './procfile.ts';
export { commandToArgv } from './command-line.ts';
export { parseAppConfig, readAppConfig, DEFAULT_APP_CONFIG, type AppConfig } from './app-config.ts';
export { parseCronSchedule, isTimeZone, type CronSchedule } from './cron-schedule.ts';
export type { CronJobConfig } from './cron-jobs.ts';
export { packSource, unpackSource, DEFAULT_UNPACK_LIMITS, type PackedSource, type UnpackedSource, type UnpackLimits } from './source-archive.ts';
