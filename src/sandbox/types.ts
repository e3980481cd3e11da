// The sandbox's contracts: what an instance, a build, a release command, a
// cron run or a one-off command is contained by when berth runs as root.
// Plain data and small interfaces; the parts (cgroups, network, seccomp, the
// bwrap launcher) implement them in their own files, and the runner and the
// platform see only these.

/** Limits of one sandbox. null: no limit of that kind. */
export interface ResourceLimits {
  /** Hard memory limit (RAM; swap is not added on top). Over it the kernel kills a process of the group. */
  readonly memoryBytes: number | null;
  /** CPU as a share of one core (0.5 = half a core, 2 = two cores), enforced as a quota, not only a weight. */
  readonly cpu: number | null;
  /** Processes (and threads) at once. */
  readonly processes: number | null;
}

export const NO_LIMITS: ResourceLimits = Object.freeze({ memoryBytes: null, cpu: null, processes: null });

/** What a group of processes used, as the kernel counts it. */
export interface ResourceUsage {
  /** Memory in use now (the group's own charge: RSS, page cache, tmpfs it wrote). */
  readonly memoryBytes: number;
  /** The most it ever used, when the kernel keeps that (v1 always; v2 from Linux 5.19). */
  readonly memoryPeakBytes: number | null;
  /** CPU time used, user and system, since the group was made. */
  readonly cpuSeconds: number;
  /** Processes and threads in the group now. */
  readonly processes: number;
  /** Processes the kernel killed in this group because it was over its memory limit. */
  readonly oomKills: number;
}

/** One control group berth made for one sandbox. */
export interface CgroupHandle {
  /** Its name under berth's root, segments joined by '/': "shop/web.1-3f2a". */
  readonly name: string;
  /** Moves a process into the group (every controller the driver uses). */
  add(pid: number): Promise<void>;
  /** What the group uses now. */
  usage(): Promise<ResourceUsage>;
  /** The pids in the group now. */
  pids(): Promise<number[]>;
  /** SIGKILLs every process in the group, again until it is empty (bounded); resolves with what is left (empty on success). */
  killAll(): Promise<number[]>;
  /** Removes the group once it is empty; idempotent (a group already gone is fine). */
  remove(): Promise<void>;
}

/** cgroup v1 or v2, behind one interface. */
export interface CgroupDriver {
  readonly version: 1 | 2;
  /** Creates the group `name` with these limits (a group left by a crash under that name is emptied and reused). */
  create(name: string, limits: ResourceLimits): Promise<CgroupHandle>;
  /** The existing group `name`, or null (after a daemon restart). */
  open(name: string): Promise<CgroupHandle | null>;
  /** Names of the groups below `prefix` ("" for all of berth's), deepest last. */
  list(prefix: string): Promise<string[]>;
}

/** An app's network: its own namespace, a link the edge reaches it by, and a way out. */
export interface AppNetwork {
  readonly app: string;
  /** The namespace, bind-mounted at this path (what `nsenter --net=PATH` takes). */
  readonly netnsPath: string;
  /** The app's address inside its namespace: where the edge connects (its instances listen on 0.0.0.0 or this). */
  readonly address: string;
  /** The host's end of the link (the source of the edge's connections). */
  readonly hostAddress: string;
  /** The nameserver the sandbox's resolv.conf names. */
  readonly nameserver: string;
}

export interface SandboxNetworks {
  /** The address the add-on servers also listen on, reachable from every sandbox and from nowhere else. */
  readonly serviceAddress: string;
  /** Makes the app's network, or finds it after a daemon restart; idempotent. `slot` numbers its link (see linkAddresses). */
  ensure(app: string, slot: number): Promise<AppNetwork>;
  /** Takes the app's network down (namespace, link, egress); idempotent. */
  remove(app: string): Promise<void>;
  /** Stops what berth runs for the networks without taking them down (a daemon stop; apps keep their network). */
  close(): Promise<void>;
}

/** The CPU architectures berth builds a seccomp filter for. */
export type SeccompArch = 'x64' | 'arm64';
