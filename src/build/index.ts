// The build subsystem's door: what is in an app folder and how to run it.
export { detectApp, chooseNode, choosePython, NO_EXTRA_TOOLS, type PythonRuntime, type AppPlan, type BuildStep, type BuildEnvironment, type NodeRuntime } from './detect.ts';
export { runBuild, planPath, discoverSandbox, NO_SANDBOX, discoverBuildEnvironment, DEFAULT_BUILD_LIMITS, type BuildLimits, type BuildJob, type Sandbox } from './builder.ts';
export { BuildQueue } from './build-queue.ts';
export { parseProcfile, type ProcessType } from './procfile.ts';
export { commandToArgv } from './command-line.ts';
export { parseAppConfig, readAppConfig, siteSettings, DEFAULT_APP_CONFIG, MIN_DISK_BYTES, MIN_MEMORY_BYTES, type AppConfig, type AppResources, type ResourceRequest } from './app-config.ts';
export { parseCronSchedule, isTimeZone, type CronSchedule } from './cron-schedule.ts';
export type { CronJobConfig } from './cron-jobs.ts';
export { packSource, unpackSource, DEFAULT_UNPACK_LIMITS, type PackedSource, type UnpackedSource, type UnpackLimits } from './source-archive.ts';
export { parseAppJson, readAppJson, appJsonError, conflictsWithAppConfig, appJsonJobName, APP_JSON_MAX_BYTES, type AppJson, type AppJsonVar, type AppJsonProcess, type AppJsonResult } from './app-json.ts';
export { encodeHeader, padding, END_OF_ARCHIVE, type TarEntryHeader } from './source-archive-tar.ts';
export { chooseBaseLanguage, discoverRootEnvironment, imageVariables, DEFAULT_IMAGE_PATH, type BaseLanguage, type RootProbe } from './root-environment.ts';
