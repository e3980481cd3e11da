// The sandbox's door: containment of an app's processes when berth runs as
// root (limits, its own view of files and processes, its own network).
export { NO_LIMITS, type AppNetwork, type CgroupDriver, type CgroupHandle, type ResourceLimits, type ResourceUsage, type SandboxNetworks, type SeccompArch } from './types.ts';
export { defaultSeccompProgram, seccompArch } from './seccomp.ts';
export { DEFAULT_INSTANCE_LIMITS, buildLimits, instanceLimits, outOfMemoryMessage } from './limits-policy.ts';
export { bindSame, DEFAULT_TMP_BYTES, etcFileMounts, launchArgv, systemMounts, type HostLayout, type SandboxMount, type SandboxSpec, type SandboxTools } from './spec.ts';
export { etcFiles, type EtcIdentity } from './etc-files.ts';
export { readHostLayout } from './host-layout.ts';
export { launchSandboxed, type LaunchDeps, type SandboxLaunch } from './launch.ts';
