// SandboxNetworks over the host's kernel: per app a network namespace (a
// file under `dir`), a veth link to the host (the edge's way in), slirp4netns
// (its way out) and a table of rules inside; on the host one table of rules
// and the service address the add-ons listen on (on lo). Docs: "Sandbox
// networking" in docs/ARCHITECTURE.md. The decisions are pure (addresses,
// names, rules, the plan); this file observes, carries steps out and keeps
// slirp running.

import { constants } from 'node:fs';
import { chmod, lstat, mkdir, open, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError } from '../errors.ts';
import type { RestartPolicy } from '../runner/index.ts';
import { EGRESS_GATEWAY, EGRESS_NAMESERVER, findEgress, isRunning, startEgress, stopEgress, type EgressProcess } from './egress.ts';
import { EgressKeeper, type WatchedEgress } from './egress-keeper.ts';
import { outboundAddress, parseDefaultRoutes, parseInterfaces, parseRouteSource, type Interface } from './ip-json.ts';
import { inCidr, ipv4ToNumber, LINK_RANGE, linkAddresses, linkAlias, linkName, linkPrefix, SERVICE_LABEL } from './link-addresses.ts';
import { findNetTools, NetTools } from './net-tools.ts';
import { INNER_LINK, planNetwork, type DesiredNetwork, type NetworkStep } from './network-plan.ts';
import { hostRuleset, namespaceRuleset } from './network-rules.ts';
import type { AppNetwork, SandboxNetworks } from './types.ts';

export const DEFAULT_LINK_PREFIX = 'bh-';
export const DEFAULT_RULES_TABLE = 'berth';
/** Outside the links' range, and far from 169.254.169.254 (clouds' metadata). */
export const DEFAULT_SERVICE_ADDRESS = '169.254.200.1';

export interface SandboxNetworksOptions {
  /** The folder of the namespace files (STATE/run/netns); made root's alone (0700). */
  readonly dir: string;
  /** The host ends' name prefix; every interface named PREFIX* is treated as berth's link by the host's rules. */
  readonly linkPrefix?: string;
  /** The host's nftables table (`inet` family). */
  readonly table?: string;
  readonly serviceAddress?: string;
  /** The namespace to treat as the host's (a file); null: the daemon's own. For tests. */
  readonly hostNetns?: string | null;
  readonly log?: (line: string) => void;
  readonly clock?: () => number;
  readonly restartPolicy?: RestartPolicy;
  /** How often slirp processes berth found (rather than started) are checked (ms). */
  readonly pollMs?: number;
}

/** The ifalias limit (IFALIASZ less the NUL). */
const MAX_ALIAS = 255;
/** statfs(2)'s type of a network namespace file (NSFS_MAGIC). */
const NSFS_MAGIC = 0x6e736673;
/** How long one look at /proc for slirp processes serves ensure()s (ms). */
const SCAN_REUSE_MS = 1_000;
const APP = /^[a-z][a-z0-9-]{0,62}$/;

interface Settings {
  readonly dir: string;
  readonly linkPrefix: string;
  readonly table: string;
  readonly serviceAddress: string;
}

function settingsOf(options: SandboxNetworksOptions): Settings {
  const settings = {
    dir: options.dir.replace(/\/+$/, ''),
    linkPrefix: linkPrefix(options.linkPrefix ?? DEFAULT_LINK_PREFIX),
    table: options.table ?? DEFAULT_RULES_TABLE,
    serviceAddress: options.serviceAddress ?? DEFAULT_SERVICE_ADDRESS,
  };
  const bad = (what: string, hint: string): never => {
    throw new BerthError('BERTH_E_USAGE', what, { hint });
  };
  if (!settings.dir.startsWith('/')) bad(`the namespace folder ${JSON.stringify(options.dir)} is not an absolute path`, 'Give STATE/run/netns as an absolute path.');
  if (linkAlias(`${settings.dir}/${'a'.repeat(63)}`).length > MAX_ALIAS) bad('the state folder\'s path is too long for a link alias', 'Use a --state folder with a path under 180 characters.');
  if (!/^[a-z][a-z0-9_]{0,30}$/.test(settings.table)) bad(`${JSON.stringify(settings.table)} is not a valid table name`, 'Up to 31 lowercase letters, digits and "_", starting with a letter.');
  ipv4ToNumber(settings.serviceAddress);
  if (inCidr(settings.serviceAddress, LINK_RANGE)) bad(`the service address ${settings.serviceAddress} is inside the links' range ${LINK_RANGE}`, 'Pick an address outside it, e.g. 169.254.200.1.');
  return settings;
}

function appNameOf(app: string): string {
  if (!APP.test(app)) throw new BerthError('BERTH_E_NAME', `${JSON.stringify(app)} is not a valid app name`, { status: 400 });
  return app;
}

/** Whether `path` is a mount of a network namespace (false when it is missing or an ordinary file). */
async function isNamespaceFile(path: string): Promise<boolean> {
  try {
    return (await statfs(path)).type === NSFS_MAGIC;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Makes `dir` a folder of root's alone; refuses a link or someone else's folder. */
async function prepareDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  if (!st.isDirectory() || st.uid !== process.geteuid?.()) {
    throw new BerthError('BERTH_E_STATE', `${dir} is not a folder of berth's`, { hint: 'Remove what is there; berth makes it.', status: 500 });
  }
  if ((st.mode & 0o077) !== 0) await chmod(dir, 0o700);
}

class HostNetworks implements SandboxNetworks {
  readonly serviceAddress: string;
  readonly #settings: Settings;
  readonly #tools: NetTools;
  readonly #keeper: EgressKeeper;
  readonly #log: (line: string) => void;
  readonly #locks = new Map<string, Promise<unknown>>();
  /** The ruleset loaded into each app's namespace by this daemon. */
  readonly #applied = new Map<string, string>();
  #noRouteSaid = false;
  #scan: { at: number; found: Promise<EgressProcess[]> } | null = null;

  constructor(settings: Settings, tools: NetTools, options: SandboxNetworksOptions) {
    this.serviceAddress = settings.serviceAddress;
    this.#settings = settings;
    this.#tools = tools;
    this.#log = options.log ?? (() => {});
    this.#keeper = new EgressKeeper({
      restart: (app) => this.#locked(app, () => this.#restartEgress(app)),
      clock: options.clock,
      policy: options.restartPolicy,
      pollMs: options.pollMs,
      log: this.#log,
    });
  }

  /** The host's side: its rules and the service address. */
  async start(): Promise<void> {
    const { table, linkPrefix, serviceAddress } = this.#settings;
    await this.#tools.run('nft', ['-f', '-'], { input: hostRuleset({ table, linkPrefix, linkRange: LINK_RANGE, serviceAddress }) });
    const cidr = `${serviceAddress}/32`;
    const host = await this.#hostInterfaces();
    const holder = host.find((i) => i.ipv4.some((a) => a.split('/')[0] === serviceAddress));
    if (holder === undefined) {
      await this.#tools.run('ip', ['address', 'add', cidr, 'dev', 'lo', 'label', SERVICE_LABEL]);
    } else if (holder.ifname !== 'lo' || holder.labels[cidr] !== SERVICE_LABEL) {
      throw new BerthError('BERTH_E_SANDBOX_NETWORK', `the service address ${serviceAddress} is already an address of ${holder.ifname}, not berth's`, {
        hint: 'Remove it from that interface, or give berth another service address.',
        status: 500,
      });
    }
  }

  async ensure(app: string, slot: number): Promise<AppNetwork> {
    appNameOf(app);
    const addresses = linkAddresses(slot);
    return this.#locked(app, async () => {
      const netnsPath = this.#netnsPath(app);
      const rules = namespaceRuleset({ hostAddress: addresses.hostAddress, address: addresses.address, serviceAddress: this.serviceAddress, egressGateway: EGRESS_GATEWAY, nameserver: EGRESS_NAMESERVER });
      const desired: DesiredNetwork = { app, netnsPath, linkName: linkName(app, this.#settings.linkPrefix), alias: linkAlias(netnsPath), ...addresses, rules };
      const namespaceMounted = await isNamespaceFile(netnsPath);
      const [host, inside, egress, outbound] = await Promise.all([
        this.#linkInterfaces(desired.linkName, `${addresses.hostAddress}/${addresses.prefixLength}`),
        namespaceMounted ? this.#insideInterfaces(netnsPath) : Promise.resolve([]),
        this.#egressOf(app, netnsPath),
        this.#outboundAddress(),
      ]);
      const appliedRules = this.#applied.get(app) ?? null;
      const steps = planNetwork(desired, { namespaceMounted, host, inside, egress, outboundAddress: outbound, appliedRules });
      for (const step of steps) await this.#apply(app, desired, step, outbound);
      return { app, netnsPath, address: addresses.address, hostAddress: addresses.hostAddress, nameserver: EGRESS_NAMESERVER };
    });
  }

  async remove(app: string): Promise<void> {
    appNameOf(app);
    return this.#locked(app, async () => {
      const netnsPath = this.#netnsPath(app);
      this.#keeper.unwatch(app);
      this.#applied.delete(app);
      for (const p of await this.#scanEgress(netnsPath, true)) await stopEgress(p);
      const name = linkName(app, this.#settings.linkPrefix);
      const link = await this.#interfaceNamed(name);
      // The namespace's end goes with it. A link of that name that is not this app's stays.
      if (link && link.alias === linkAlias(netnsPath)) await this.#tools.run('ip', ['link', 'del', 'dev', name]);
      if (await isNamespaceFile(netnsPath)) await this.#tools.run('umount', [netnsPath]);
      await rm(netnsPath, { force: true });
      await rm(this.#egressLog(app), { force: true });
    });
  }

  async close(): Promise<void> {
    this.#keeper.close();
  }

  /** For tests: the slirp process watched for the app now. */
  egressOf(app: string): EgressProcess | null {
    return this.#keeper.watched(app);
  }

  #netnsPath(app: string): string {
    return join(this.#settings.dir, app);
  }

  #egressLog(app: string): string {
    // App names hold no ".", so this never is an app's namespace file.
    return join(this.#settings.dir, `${app}.egress.log`);
  }

  /** Runs `fn` after whatever runs for the app (ensure, remove, a slirp restart), never alongside. */
  #locked<T>(app: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(app) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const settled = run.then(
      () => {},
      () => {},
    );
    this.#locks.set(app, settled);
    void settled.then(() => {
      if (this.#locks.get(app) === settled) this.#locks.delete(app);
    });
    return run;
  }

  async #hostInterfaces(): Promise<Interface[]> {
    return parseInterfaces(await this.#tools.run('ip', ['-j', '-d', 'address', 'show']));
  }

  /** The host's interface of that name, or null. */
  async #interfaceNamed(name: string): Promise<Interface | null> {
    const result = await this.#tools.status('ip', ['-j', '-d', 'address', 'show', 'dev', name]);
    if (result.code === 0) return parseInterfaces(result.stdout)[0] ?? null;
    if (/does not exist/.test(result.lastWords)) return null;
    throw new BerthError('BERTH_E_SANDBOX_NETWORK', `ip address show dev ${name} ${result.why}: ${result.lastWords}`, { status: 500 });
  }

  /**
   * What of the host matters to an app's link: the interface of its name
   * and those holding an address of its /31 (not every interface: with
   * thousands of apps, ensure() must not read them all).
   */
  async #linkInterfaces(name: string, cidr: string): Promise<Interface[]> {
    const [named, holders] = await Promise.all([this.#interfaceNamed(name), this.#tools.run('ip', ['-j', '-d', 'address', 'show', 'to', cidr])]);
    const others = parseInterfaces(holders).filter((i) => i.ifname !== name);
    return named === null ? others : [named, ...others];
  }

  async #insideInterfaces(netnsPath: string): Promise<Interface[]> {
    return parseInterfaces(await this.#tools.run('ip', ['-j', '-d', 'address', 'show'], { netns: netnsPath }));
  }

  /**
   * The app's slirp processes: the one watched, when it still runs (no
   * other can have appeared meanwhile: only this daemon starts them, under
   * the app's lock); else whatever /proc shows (after a restart).
   */
  async #egressOf(app: string, netnsPath: string): Promise<EgressProcess[]> {
    const watched = this.#keeper.watched(app);
    if (watched !== null && watched.netnsPath === netnsPath && (await isRunning(watched))) return [watched];
    return this.#scanEgress(netnsPath, watched !== null);
  }

  /**
   * slirp processes naming the file, from a look at /proc that ensure()s in
   * a row share for a moment (a daemon starting with many apps would read
   * /proc once per app); `fresh` for remove() and restarts, which must not
   * miss one or see a dead one.
   */
  async #scanEgress(netnsPath: string, fresh = false): Promise<EgressProcess[]> {
    const now = Date.now();
    if (fresh || this.#scan === null || now - this.#scan.at > SCAN_REUSE_MS) this.#scan = { at: now, found: findEgress(this.#settings.dir) };
    return (await this.#scan.found).filter((p) => p.netnsPath === netnsPath);
  }

  /** The host's default-route source; without a default route, the service address (apps then reach only this machine). */
  async #outboundAddress(): Promise<string> {
    const defaults = parseDefaultRoutes(await this.#tools.run('ip', ['-j', '-4', 'route', 'show', 'default']));
    const first = defaults[0];
    const viaGateway =
      first !== undefined && first.prefsrc === null && first.gateway !== null
        ? parseRouteSource(await this.#tools.run('ip', ['-j', '-4', 'route', 'get', first.gateway]))
        : null;
    const address = outboundAddress(defaults, viaGateway, first !== undefined && viaGateway === null ? await this.#hostInterfaces() : []);
    if (address !== null) return address;
    if (!this.#noRouteSaid) {
      this.#noRouteSaid = true;
      this.#log(`the host has no IPv4 default route: apps reach only this machine (their add-ons and DNS) until it has one`);
    }
    return this.#settings.serviceAddress;
  }

  async #restartEgress(app: string): Promise<WatchedEgress | null> {
    const netnsPath = this.#netnsPath(app);
    if (!(await isNamespaceFile(netnsPath))) return null;
    const [running] = await this.#scanEgress(netnsPath, true);
    if (running !== undefined) return { process: running, child: null }; // one came back meanwhile (ensure() made it)
    return startEgress(this.#tools, netnsPath, await this.#outboundAddress(), this.#egressLog(app));
  }

  async #apply(app: string, desired: DesiredNetwork, step: NetworkStep, outbound: string): Promise<void> {
    const { netnsPath, linkName: name } = desired;
    const inside = { netns: netnsPath };
    switch (step.kind) {
      case 'create-namespace': {
        this.#applied.delete(app);
        // The file the namespace is bound to; O_NOFOLLOW: never a link's target.
        const file = await open(netnsPath, constants.O_CREAT | constants.O_WRONLY | constants.O_NOFOLLOW, 0o600);
        await file.close();
        await this.#tools.run('unshare', [`--net=${netnsPath}`, 'true']);
        // Before any interface is made in it: eth0 and tap0 get no IPv6 (lo keeps ::1).
        await this.#tools.run('sysctl', ['-q', '-w', 'net.ipv6.conf.default.disable_ipv6=1'], inside);
        return;
      }
      case 'delete-host-link':
        await this.#tools.run('ip', ['link', 'del', 'dev', name]);
        return;
      case 'delete-inner-link':
        await this.#tools.run('ip', ['link', 'del', 'dev', INNER_LINK], inside);
        return;
      case 'create-link':
        // One message: the namespace's end is born inside it, never on the host.
        await this.#tools.run('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', INNER_LINK, 'netns', netnsPath]);
        return;
      case 'configure-host-end': {
        // IPv6 off before the link is up, so it never has an fe80:: address: no path to the app but the /31.
        await this.#tools.run('sysctl', ['-q', '-w', `net.ipv6.conf.${name}.disable_ipv6=1`]);
        await this.#tools.run('ip', ['link', 'set', 'dev', name, 'alias', desired.alias]);
        const batch = [...(step.flush ? [`address flush dev ${name}`] : []), `address add ${desired.hostAddress}/${desired.prefixLength} dev ${name}`, `link set dev ${name} up`];
        await this.#tools.run('ip', ['-batch', '-'], { input: `${batch.join('\n')}\n` });
        return;
      }
      case 'configure-inner-end': {
        await this.#tools.run('sysctl', ['-q', '-w', `net.ipv6.conf.${INNER_LINK}.disable_ipv6=1`], inside);
        // The edge's connections may be translated to the app's loopback (namespace rules, nat).
        await this.#tools.run('sysctl', ['-q', '-w', `net.ipv4.conf.${INNER_LINK}.route_localnet=1`], inside);
        const batch = [
          'link set dev lo up',
          ...(step.flush ? [`address flush dev ${INNER_LINK}`] : []),
          `address add ${desired.address}/${desired.prefixLength} dev ${INNER_LINK}`,
          `link set dev ${INNER_LINK} up`,
        ];
        await this.#tools.run('ip', ['-batch', '-'], { input: `${batch.join('\n')}\n`, netns: netnsPath });
        return;
      }
      case 'apply-namespace-rules':
        await this.#tools.run('nft', ['-f', '-'], { netns: netnsPath, input: desired.rules });
        this.#applied.set(app, desired.rules);
        return;
      case 'stop-egress':
        await stopEgress(step.process);
        return;
      case 'start-egress': {
        const started = await startEgress(this.#tools, netnsPath, outbound, this.#egressLog(app));
        this.#keeper.watch(app, started.process, started.child);
        return;
      }
      case 'keep-egress': {
        const watched = this.#keeper.watched(app);
        // Already watched (perhaps as this daemon's child): leave it so.
        if (watched?.pid !== step.process.pid || watched.startTime !== step.process.startTime) this.#keeper.watch(app, step.process, null);
        return;
      }
    }
  }
}

export interface OpenedSandboxNetworks extends SandboxNetworks {
  /** The slirp process watched for the app now, or null (for tests and diagnostics). */
  egressOf(app: string): EgressProcess | null;
}

/**
 * Finds the programs, makes the namespace folder, loads the host's rules
 * (replacing berth's table atomically) and makes the service interface.
 * BERTH_E_SANDBOX_TOOL when a program is missing.
 */
export async function openSandboxNetworks(options: SandboxNetworksOptions): Promise<OpenedSandboxNetworks> {
  const settings = settingsOf(options);
  const tools = new NetTools(await findNetTools(), options.hostNetns ?? null);
  await prepareDir(settings.dir);
  const networks = new HostNetworks(settings, tools, options);
  await networks.start();
  return networks;
}

/**
 * Takes down what openSandboxNetworks() made on the host (its table, the
 * service address) once no app has a network any more: for uninstalling
 * and for tests. Leaves alone what it does not find, or finds not berth's.
 */
export async function removeHostNetworking(options: Omit<SandboxNetworksOptions, 'dir'>): Promise<void> {
  const settings = settingsOf({ ...options, dir: '/unused' });
  const tools = new NetTools(await findNetTools(), options.hostNetns ?? null);
  const tables = await tools.run('nft', ['list', 'tables', 'inet']);
  if (tables.split('\n').some((line) => line.trim() === `table inet ${settings.table}`)) await tools.run('nft', ['delete', 'table', 'inet', settings.table]);
  const cidr = `${settings.serviceAddress}/32`;
  const lo = parseInterfaces(await tools.run('ip', ['-j', 'address', 'show', 'dev', 'lo']))[0];
  if (lo?.labels[cidr] === SERVICE_LABEL) await tools.run('ip', ['address', 'del', cidr, 'dev', 'lo']);
}
