import { createHash, randomInt } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError } from '../errors.ts';
import { writeFileAtomic } from '../platform/atomic-file.ts';
import type { Adopter, Launcher, RunAs } from '../runner/launcher.ts';
import { openSandboxNetworks, type OpenedSandboxNetworks } from './app-networks.ts';
import { detectCgroups } from './cgroups.ts';
import { etcFiles } from './etc-files.ts';
import { keepEtcMirror, type EtcMirrorKeeper } from './etc-mirror.ts';
import { readHostLayout } from './host-layout.ts';
import { adoptSandboxed, launchSandboxed } from './launch.ts';
import { LoopbackForwarder, loopbackPorts } from './loopback-forwarder.ts';
import { FIRST_LINK_SLOT, LINK_SLOTS } from './link-addresses.ts';
import { defaultSeccompProgram, seccompArch } from './seccomp.ts';
import { rootTools, type RootTools } from './root-tools.ts';
import { ETC_GENERATED, type HostLayout, type ImageRoot, type SandboxMount, type SandboxTools } from './spec.ts';
import { NO_LIMITS, type AppNetwork, type CgroupDriver, type ResourceLimits } from './types.ts';

// The sandboxes of one daemon: what it found on the machine (bwrap, the
// cgroup hierarchies, the seccomp program, the network tools), the apps'
// networks, and a launcher per app and release. `berth server` opens it
// once when it runs as root; without root, or when the machine lacks what
// sandboxes need, apps run uncontained and berth says why.

export type SandboxMode = 'auto' | 'required' | 'off';

export interface SandboxesOptions {
  readonly stateDir: string;
  readonly log: (line: string) => void;
  /** auto (the default): contain apps when the machine can, else say why and run them uncontained; required: refuse to start without; off: never. */
  readonly mode?: SandboxMode;
  /** The size of each sandbox's /tmp (memory, within its limit). */
  readonly tmpBytes?: number;
}

export type SandboxesOpened = { readonly sandboxes: Sandboxes; readonly reason: null } | { readonly sandboxes: null; readonly reason: string };

/** The app's part of a sandbox: who it runs as and where its folders are. */
export interface AppIdentity {
  readonly name: string;
  readonly user: RunAs & { readonly name: string };
  /** Its HOME (the folder), as inside. */
  readonly home: string;
  /** Its link's slot, when not the one its uid gives (`berth up`, whose user is not an app user). */
  readonly linkSlot?: number;
}

const SEARCH = ['/usr/sbin', '/usr/bin', '/sbin', '/bin'];

async function findTool(name: string): Promise<string | null> {
  const { access, constants } = await import('node:fs/promises');
  for (const dir of SEARCH) {
    try {
      await access(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return null;
}

/** A short id of the state folder: names on the machine (cgroups, links, the rules table) are per daemon. */
export function stateId(stateDir: string): string {
  return createHash('sha256').update(stateDir).digest('hex').slice(0, 8);
}

/**
 * Where the apps' network namespaces are bound: under /run, which lives as
 * long as the namespaces themselves (a reboot ends both), per daemon.
 */
export function netnsDir(id: string): string {
  return `/run/berth/${id}/netns`;
}

/**
 * The link slot of an app: from its uid, which berth never gives to a
 * second app on the machine (so two daemons never pick the same link
 * addresses), folded into the range. Pure.
 */
export function linkSlotOf(uid: number): number {
  const base = uid >= 70_000 ? uid - 70_000 : uid;
  return FIRST_LINK_SLOT + (base % LINK_SLOTS);
}

export class Sandboxes {
  readonly #options: SandboxesOptions;
  readonly #tools: SandboxTools;
  readonly #cgroups: CgroupDriver;
  readonly #seccomp: Buffer | null;
  readonly #networks: OpenedSandboxNetworks;
  readonly #layout: HostLayout;
  readonly #rootName: string;
  readonly #forwarder: LoopbackForwarder;
  readonly #etcMirror: EtcMirrorKeeper;
  #directPorts: () => Iterable<number> = () => [];
  #rootTools: Promise<RootTools> | null = null;

  private constructor(options: SandboxesOptions, tools: SandboxTools, cgroups: CgroupDriver, seccomp: Buffer | null, networks: OpenedSandboxNetworks, layout: HostLayout, etcMirror: EtcMirrorKeeper, rootName: string) {
    this.#options = options;
    this.#tools = tools;
    this.#cgroups = cgroups;
    this.#seccomp = seccomp;
    this.#networks = networks;
    this.#layout = layout;
    this.#etcMirror = etcMirror;
    this.#rootName = rootName;
    this.#forwarder = new LoopbackForwarder(networks.serviceAddress, options.log);
  }

  /**
   * The add-on servers on the host's loopback that these URLs name become
   * reachable from sandboxes at the service address: relayed by the
   * daemon, except the ports of servers that listen there themselves.
   */
  async exposeAddons(values: Iterable<string>): Promise<void> {
    await Promise.all(loopbackPorts(values, this.#directPorts()).map((port) => this.#forwarder.expose(port)));
  }

  /**
   * Names the ports berth's own add-on servers listen on at the service
   * address (asked at every exposeAddons): never relayed, so a relay bound
   * there while such a server restarts can never keep it from binding.
   */
  servedDirectly(ports: () => Iterable<number>): void {
    this.#directPorts = ports;
  }

  /** What the machine offers; null with the reason when apps cannot be contained (and `required` was not asked for). */
  static async open(options: SandboxesOptions): Promise<SandboxesOpened> {
    const mode = options.mode ?? 'auto';
    const unavailable = (reason: string): SandboxesOpened => {
      if (mode === 'required') throw new BerthError('BERTH_E_SANDBOX', `apps cannot be contained: ${reason}`, { status: 500, hint: 'Fix what is named, or start berth server with --sandbox auto to run apps uncontained.' });
      return { sandboxes: null, reason };
    };
    if (mode === 'off') return { sandboxes: null, reason: 'sandboxes are turned off (--sandbox off)' };
    if (process.getuid?.() !== 0) return unavailable('berth is not running as root');
    const [bwrap, setpriv, nsenter] = await Promise.all([findTool('bwrap'), findTool('setpriv'), findTool('nsenter')]);
    const missing = [bwrap === null ? 'bwrap (Debian package bubblewrap)' : null, setpriv === null ? 'setpriv (util-linux)' : null, nsenter === null ? 'nsenter (util-linux)' : null].filter((m) => m !== null);
    if (missing.length > 0) return unavailable(`${missing.join(', ')} is not installed`);
    if (!setpriv!.startsWith('/usr/')) return unavailable(`setpriv must be under /usr (found ${setpriv})`);
    const id = stateId(options.stateDir);
    const rootName = `berth/${id}`;
    const cgroups = await detectCgroups({ rootName });
    if (cgroups.driver === null) return unavailable(cgroups.reason);
    const arch = seccompArch();
    if (arch === null) options.log(`sandboxes: no seccomp filter on ${process.arch} (only x64 and arm64 have one)`);
    let networks: OpenedSandboxNetworks;
    try {
      networks = await openSandboxNetworks({
        dir: netnsDir(id),
        linkPrefix: `b${id.slice(0, 4)}-`,
        table: `berth_${id}`,
        log: options.log,
      });
    } catch (err) {
      return unavailable((err as Error).message);
    }
    const layout = await readHostLayout();
    const etcMirror = await keepEtcMirror({ source: '/etc', names: layout.etc, mirror: join(options.stateDir, 'run', 'etc-mirror'), placeholders: ETC_GENERATED }, options.log);
    const sandboxes = new Sandboxes(options, { bwrap: bwrap!, setpriv: setpriv!, nsenter: nsenter! }, cgroups.driver, arch === null ? null : defaultSeccompProgram(arch), networks, { ...layout, etcMirror: etcMirror.path }, etcMirror, rootName);
    options.log(`sandboxes: every app runs contained (bubblewrap, cgroup v${cgroups.driver.version}${arch === null ? '' : ', seccomp'}, a network of its own)`);
    return { sandboxes, reason: null };
  }

  /**
   * Takes down everything the daemon on `stateDir` made for sandboxes: every
   * app's network (its namespace, link and way out), its rules table, and
   * its control groups (their processes killed). The service address on
   * `lo` stays (other daemons on the machine may use it). For uninstalling,
   * and for tests, once the daemon has stopped.
   */
  static async purge(stateDir: string, log: (line: string) => void = () => {}): Promise<void> {
    if (process.getuid?.() !== 0) return;
    const id = stateId(stateDir);
    const dir = netnsDir(id);
    const { readdir } = await import('node:fs/promises');
    let apps: string[] = [];
    try {
      apps = (await readdir(dir)).filter((name) => !name.includes('.'));
    } catch {
      // no networks were ever made
    }
    const detected = await detectCgroups({ rootName: `berth/${id}` });
    if (detected.driver !== null) {
      for (const name of (await detected.driver.list('')).reverse()) {
        const group = await detected.driver.open(name);
        if (group === null) continue;
        await group.killAll();
        await group.remove().catch((err: Error) => log(`cannot remove the cgroup ${name}: ${err.message}`));
      }
    }
    const { findNetTools } = await import('./net-tools.ts');
    const tools = await findNetTools().catch(() => null);
    if (tools === null) return;
    if (apps.length > 0) {
      const networks = await openSandboxNetworks({ dir, linkPrefix: `b${id.slice(0, 4)}-`, table: `berth_${id}`, log });
      for (const app of apps) await networks.remove(app).catch((err: Error) => log(`cannot take ${app}'s network down: ${err.message}`));
      await networks.close();
    }
    const { execFile } = await import('node:child_process');
    await new Promise<void>((resolve) => execFile(tools.nft, ['delete', 'table', 'inet', `berth_${id}`], () => resolve()));
    // Root's own folder under /run, its namespaces unmounted by now.
    const { rm } = await import('node:fs/promises');
    await rm(join(dir, '..'), { recursive: true, force: true }).catch(() => {});
  }

  /** The address add-on servers also listen on, which every sandbox reaches. */
  get serviceAddress(): string {
    return this.#networks.serviceAddress;
  }

  /** The app's sandbox: its network made (or found after a restart) and its /etc files written. */
  async app(identity: AppIdentity): Promise<AppSandbox> {
    const network = await this.#networks.ensure(identity.name, identity.linkSlot ?? linkSlotOf(identity.user.uid));
    const etcDir = join(this.#options.stateDir, 'run', 'sandbox', identity.name, 'etc');
    await mkdir(etcDir, { recursive: true, mode: 0o755 });
    for (const [name, content] of Object.entries(etcFiles({ userName: identity.user.name, uid: identity.user.uid, gid: identity.user.gid, home: identity.home, hostname: identity.name, nameserver: network.nameserver }))) {
      writeFileAtomic(join(etcDir, name), content, 0o644);
    }
    return new AppSandbox(this, identity, network, etcDir);
  }

  /** Takes the app's network down (after its processes are gone). */
  async removeApp(app: string): Promise<void> {
    await this.#networks.remove(app);
    const { rm } = await import('node:fs/promises');
    await rm(join(this.#options.stateDir, 'run', 'sandbox', app), { recursive: true, force: true });
  }

  /**
   * Ends whatever a previous daemon's sandboxes left in their cgroups and
   * removes the groups, but those in `kept` (instances taken over) and the
   * folders above them; returns how many.
   */
  async sweep(kept: ReadonlySet<string> = new Set()): Promise<number> {
    const names = await this.#cgroups.list('');
    let swept = 0;
    for (const name of names.reverse()) {
      if ([...kept].some((keep) => keep === name || keep.startsWith(`${name}/`))) continue;
      const group = await this.#cgroups.open(name);
      if (group === null) continue;
      if ((await group.pids()).length > 0) swept++;
      await group.killAll();
      await group.remove().catch((err: Error) => this.#options.log(`sandboxes: cannot remove a leftover cgroup ${name}: ${err.message}`));
    }
    return swept;
  }

  /** Ends every process of one of berth's sandbox groups and removes it (a group already gone is fine). */
  async endGroup(name: string): Promise<void> {
    const group = await this.#cgroups.open(name);
    if (group === null) return;
    await group.killAll();
    await group.remove();
  }

  /** The pids in one of berth's sandbox groups now (empty when there is no such group). */
  async pidsIn(name: string): Promise<number[]> {
    const group = await this.#cgroups.open(name).catch(() => null);
    return group === null ? [] : group.pids().catch(() => []);
  }

  async close(): Promise<void> {
    this.#etcMirror.stop();
    await this.#forwarder.close();
    await this.#networks.close();
  }

  /** @internal takes over one of the app's sandboxes a previous daemon started */
  adopt(identity: AppIdentity, network: AppNetwork, mounts: readonly SandboxMount[]): Adopter {
    return (handle, process, limits) =>
      adoptSandboxed(handle, process, { app: identity.name, hostname: identity.name, user: identity.user, mounts, netnsPath: network.netnsPath, host: network.address, limits: limits ?? NO_LIMITS }, this.#cgroups);
  }

  /** @internal the launcher of one app's sandboxes */
  launch(identity: AppIdentity, network: AppNetwork, mounts: readonly SandboxMount[], limitsFor: (label: string) => ResourceLimits, root?: ImageRoot): Launcher {
    return (spec) =>
      launchSandboxed(spec, { app: identity.name, hostname: identity.name, user: identity.user, mounts, netnsPath: network.netnsPath, host: network.address, limits: limitsFor(spec.label), root }, { tools: this.#tools, cgroups: this.#cgroups, seccomp: this.#seccomp });
  }

  /** The host's setpriv and its libraries, for sandboxes over an image's root (made once per daemon; see root-tools.ts). */
  rootTools(): Promise<RootTools> {
    this.#rootTools ??= rootTools(join(this.#options.stateDir, 'run', 'root-tools'), this.#tools.setpriv);
    this.#rootTools.catch(() => (this.#rootTools = null));
    return this.#rootTools;
  }

  get hostLayout(): HostLayout {
    return this.#layout;
  }

  get tmpBytes(): number | undefined {
    return this.#options.tmpBytes;
  }

  get rootName(): string {
    return this.#rootName;
  }
}

/** One app's sandboxes: launchers for its processes, ports in its own network. */
export class AppSandbox {
  readonly #sandboxes: Sandboxes;
  readonly #identity: AppIdentity;
  readonly network: AppNetwork;
  readonly etcDir: string;
  readonly #ports = new Set<number>();

  constructor(sandboxes: Sandboxes, identity: AppIdentity, network: AppNetwork, etcDir: string) {
    this.#sandboxes = sandboxes;
    this.#identity = identity;
    this.network = network;
    this.etcDir = etcDir;
  }

  /** Takes over this app's sandboxes a previous daemon started (their identity verified by the caller). */
  adopter(): Adopter {
    return this.#sandboxes.adopt(this.#identity, this.network, []);
  }

  /** Starts processes in this app's sandbox with these folders and limits. */
  launcher(mounts: readonly SandboxMount[], limitsFor: (label: string) => ResourceLimits): Launcher {
    return this.#sandboxes.launch(this.#identity, this.network, mounts, limitsFor);
  }

  /**
   * Starts processes with an image's unpacked root as `/` (read-only) and
   * these mounts over it (imageRootMounts): a build inside its base image.
   */
  async rootLauncher(rootfs: string, mounts: (tools: string) => readonly SandboxMount[], limitsFor: (label: string) => ResourceLimits): Promise<Launcher> {
    const tools = await this.#sandboxes.rootTools();
    return this.#sandboxes.launch(this.#identity, this.network, mounts(tools.dir), limitsFor, { source: rootfs, setpriv: tools.setpriv });
  }

  get hostLayout(): HostLayout {
    return this.#sandboxes.hostLayout;
  }

  get tmpBytes(): number | undefined {
    return this.#sandboxes.tmpBytes;
  }

  /**
   * A port for a new web instance in the app's own network: any port will
   * do (nothing else listens there), so one at random that none of the
   * app's instances took lately.
   */
  async choosePort(): Promise<number> {
    for (;;) {
      const port = randomInt(20_000, 60_000);
      if (this.#ports.has(port)) continue;
      this.#ports.add(port);
      // Remembered for a while, so a rolling restart never hands out a port an old instance still holds.
      if (this.#ports.size > 1024) this.#ports.delete(this.#ports.values().next().value!);
      return port;
    }
  }
}
