// What ensure() must do to an app's network: compare what it should be
// with what the host shows and list the steps that close the difference,
// nothing more (so ensure() on a network that is whole changes nothing a
// running app uses, and after a daemon restart it keeps what it finds).
// Pure; the steps are carried out by app-networks.ts.

import { BerthError } from '../errors.ts';
import { EGRESS_INTERFACE, type EgressProcess } from './egress.ts';
import type { Interface } from './ip-json.ts';

/** The name of the link's end inside every app's namespace. */
export const INNER_LINK = 'eth0';

export interface DesiredNetwork {
  readonly app: string;
  readonly netnsPath: string;
  /** The host end's name and alias. */
  readonly linkName: string;
  readonly alias: string;
  readonly hostAddress: string;
  readonly address: string;
  readonly prefixLength: number;
  /** The ruleset of the namespace (nft's input). */
  readonly rules: string;
}

export interface ObservedNetwork {
  /** The namespace file is a mount of a network namespace. */
  readonly namespaceMounted: boolean;
  /** The host's interfaces. */
  readonly host: readonly Interface[];
  /** The interfaces inside the namespace (empty when it is not mounted). */
  readonly inside: readonly Interface[];
  /** berth's slirp4netns processes naming this namespace file. */
  readonly egress: readonly EgressProcess[];
  /** The address slirp must bind its sockets to now. */
  readonly outboundAddress: string;
  /** The ruleset this daemon last loaded into the namespace (null: none since it started). */
  readonly appliedRules: string | null;
}

export type NetworkStep =
  | { readonly kind: 'create-namespace' }
  | { readonly kind: 'delete-host-link' }
  | { readonly kind: 'delete-inner-link' }
  | { readonly kind: 'create-link' }
  /** Address the host end (after removing what it has, when `flush`), IPv6 off, alias, up. */
  | { readonly kind: 'configure-host-end'; readonly flush: boolean }
  /** Address the namespace's end likewise, and bring lo up. */
  | { readonly kind: 'configure-inner-end'; readonly flush: boolean }
  | { readonly kind: 'apply-namespace-rules' }
  | { readonly kind: 'stop-egress'; readonly process: EgressProcess }
  | { readonly kind: 'start-egress' }
  | { readonly kind: 'keep-egress'; readonly process: EgressProcess };

function conflict(message: string, hint: string): never {
  throw new BerthError('BERTH_E_SANDBOX_NETWORK', message, { hint, status: 500 });
}

function addressOf(cidr: string): string {
  return cidr.split('/')[0]!;
}

function sameAddresses(have: readonly string[], want: string): boolean {
  return have.length === 1 && have[0] === want;
}

/**
 * The steps that make the app's network whole. Throws BERTH_E_SANDBOX_NETWORK,
 * before any step, when the link's name or addresses belong to something
 * that is not this app's network: berth never takes over what it did not make.
 */
export function planNetwork(desired: DesiredNetwork, observed: ObservedNetwork): NetworkStep[] {
  const hostLink = observed.host.find((i) => i.ifname === desired.linkName);
  if (hostLink && (hostLink.kind !== 'veth' || hostLink.alias !== desired.alias)) {
    conflict(
      `the interface ${desired.linkName} exists and is not the link of app ${desired.app}'s network (${hostLink.alias === null ? 'it has no alias' : `its alias is ${JSON.stringify(hostLink.alias)}`})`,
      'Another berth server on this machine (another --state) or an operator made it: remove it, or give the other server another link prefix.',
    );
  }
  for (const i of observed.host) {
    if (i.ifname === desired.linkName) continue;
    const taken = i.ipv4.map(addressOf).find((a) => a === desired.hostAddress || a === desired.address);
    if (taken !== undefined) {
      conflict(
        `${taken} (app ${desired.app}'s link) is already an address of ${i.ifname}`,
        'Each app needs a slot of its own on the machine: another berth server or an operator uses this one.',
      );
    }
  }

  const steps: NetworkStep[] = [];
  const fresh = !observed.namespaceMounted;
  if (fresh) steps.push({ kind: 'create-namespace' });
  const inside = fresh ? [] : observed.inside;
  const inner = inside.find((i) => i.ifname === INNER_LINK);
  const paired =
    hostLink !== undefined && inner !== undefined && inner.kind === 'veth' && hostLink.peerIndex === inner.ifindex && inner.peerIndex === hostLink.ifindex;

  const hostCidr = `${desired.hostAddress}/${desired.prefixLength}`;
  const innerCidr = `${desired.address}/${desired.prefixLength}`;
  if (!paired) {
    // A link whose other end is elsewhere (a namespace that was lost, half
    // of a pair that was cut) is made anew.
    if (hostLink) steps.push({ kind: 'delete-host-link' });
    if (inner) steps.push({ kind: 'delete-inner-link' });
    steps.push({ kind: 'create-link' }, { kind: 'configure-host-end', flush: false }, { kind: 'configure-inner-end', flush: false });
  } else {
    if (!sameAddresses(hostLink.ipv4, hostCidr) || hostLink.ipv6.length > 0 || !hostLink.up) {
      steps.push({ kind: 'configure-host-end', flush: hostLink.ipv4.length > 0 || hostLink.ipv6.length > 0 });
    }
    const lo = inside.find((i) => i.ifname === 'lo');
    if (!sameAddresses(inner.ipv4, innerCidr) || inner.ipv6.length > 0 || !inner.up || lo?.up !== true) {
      steps.push({ kind: 'configure-inner-end', flush: inner.ipv4.length > 0 || inner.ipv6.length > 0 });
    }
  }
  // Loaded once per daemon (atomically, whatever was there): after a
  // restart, this brings the rules an older berth loaded up to date.
  if (fresh || observed.appliedRules !== desired.rules) steps.push({ kind: 'apply-namespace-rules' });

  // A slirp is kept when it serves this namespace (its tap is there: one
  // that opened an earlier namespace under the same file name serves
  // nothing) from the right address; any other is ended.
  const tap = inside.some((i) => i.ifname === EGRESS_INTERFACE);
  const keep = tap ? observed.egress.find((p) => p.outboundAddress === observed.outboundAddress) : undefined;
  for (const p of observed.egress) if (p !== keep) steps.push({ kind: 'stop-egress', process: p });
  steps.push(keep ? { kind: 'keep-egress', process: keep } : { kind: 'start-egress' });
  return steps;
}
