// An app's disk: what it keeps (measured), its limit, and what happens over it.
export { DEFAULT_DISK_BYTES, DISK_CHECK_INTERVAL_MS, DISK_HINT, DISK_PARTS, deployDiskVerdict, describeParts, diskDecision, diskLimit, overLimitMessage, stillOverMessage, underLimitMessage, usageOf, type DiskDecision, type DiskPart, type DiskState, type DiskUsage } from './policy.ts';
export { measureDisk, parseDu, type DiskFolders } from './usage.ts';
export { DiskWatch, type DiskWatchOptions, type DiskStatus } from './watch.ts';
