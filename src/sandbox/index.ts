// The sandbox's door: containment of an app's processes when berth runs as
// root (limits, its own view of files and processes, its own network).
export { NO_LIMITS, type AppNetwork, type CgroupDriver, type CgroupHandle, type ResourceLimits, type ResourceUsage, type SandboxNetworks, type SeccompArch } from './types.ts';
export { detectCgroups, type CgroupDetection, type CgroupOptions } from './cgroups.ts';
export type { CgroupFs } from './cgroup-fs.ts';
