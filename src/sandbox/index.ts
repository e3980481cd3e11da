// The sandbox's door: containment of an app's processes when berth runs as
// root (limits, its own view of files and processes, its own network).
export { NO_LIMITS, type AppNetwork, type CgroupDriver, type CgroupHandle, type ResourceLimits, type ResourceUsage, type SandboxNetworks, type SeccompArch } from './types.ts';
export { defaultSeccompProgram, seccompArch } from './seccomp.ts';
export { DEFAULT_INSTANCE_LIMITS, buildLimits, instanceLimits, outOfMemoryMessage } from './limits-policy.ts';
export { bindSame, DEFAULT_TMP_BYTES, etcFileMounts, launchArgv, systemMounts, imageRootMounts, imageRootMountPoints, withoutLoaderVariables, loaderVariables, isLoaderVariable, LOADER_VARIABLES, ENV_PROGRAM, ROOT_CACHE_DIR, ROOT_TOOLS_DIR, type HostLayout, type ImageRoot, type ImageRootFolders, type SandboxMount, type SandboxSpec, type SandboxTools } from './spec.ts';
export { rootTools, parseLdd, setprivCommand, type RootTools } from './root-tools.ts';
export { etcFiles, type EtcIdentity } from './etc-files.ts';
export { readHostLayout } from './host-layout.ts';
export { launchSandboxed, type LaunchDeps, type SandboxLaunch } from './launch.ts';
export {
  openSandboxNetworks,
  removeHostNetworking,
  DEFAULT_LINK_PREFIX,
  DEFAULT_RULES_TABLE,
  DEFAULT_SERVICE_ADDRESS,
  type OpenedSandboxNetworks,
  type SandboxNetworksOptions,
} from './app-networks.ts';
export { FIRST_LINK_SLOT, LAST_LINK_SLOT, LINK_RANGE, LINK_SLOTS, linkAddresses, linkName, type LinkAddresses } from './link-addresses.ts';
export { EGRESS_NAMESERVER } from './egress.ts';
export { findNetTools, NET_TOOL_PACKAGES } from './net-tools.ts';
export { detectCgroups, type CgroupDetection, type CgroupOptions } from './cgroups.ts';
export type { CgroupFs } from './cgroup-fs.ts';
export { appMounts, runtimeRoots, type AppFolders } from './app-mounts.ts';
export { AppSandbox, linkSlotOf, Sandboxes, stateId, type AppIdentity, type SandboxesOpened, type SandboxesOptions, type SandboxMode } from './sandboxes.ts';
