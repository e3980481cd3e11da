// The nftables rules that keep the apps' networks apart, as text made from
// plain data (pure; `nft -f -` loads it). Two rulesets:
//
// - the host's: one table of berth's own, the same for every app (interface
//   names are matched by berth's prefix), so making or removing an app's
//   network never touches it;
// - each app's namespace's: what the app may reach from inside. The app
//   cannot change it: its namespace belongs to the host's user namespace,
//   where it has no capability.
//
// Every rule is stateless on purpose: connection tracking on the edge's hot
// path costs every request, and a conntrack table that sandboxes can fill
// (one entry per connection) would let one app stop new connections for the
// whole machine. "No new connection" is a TCP SYN without ACK; anything
// else a socket sends belongs to a connection that was allowed to open.

export interface HostRules {
  /** The table's name (`inet` family). */
  readonly table: string;
  /** The host ends' name prefix ("bh-"): `bh-*` matches every link berth made. */
  readonly linkPrefix: string;
  /** The links' range ("169.254.0.0/17"). */
  readonly linkRange: string;
  /** The add-ons' address on the service interface. */
  readonly serviceAddress: string;
}

export interface NamespaceRules {
  /** The host's end of the app's link (the edge's connections come from it). */
  readonly hostAddress: string;
  /** The app's end of its link (where the edge connects). */
  readonly address: string;
  readonly serviceAddress: string;
  /** slirp's gateway inside the namespace: the host's loopback when slirp allows it (it does not). */
  readonly egressGateway: string;
  /** slirp's DNS forwarder. */
  readonly nameserver: string;
}

/** The kind of a TCP segment that opens a connection. */
const NEW_TCP = 'tcp flags & (syn | ack) == syn';
/** ICMP that answers traffic (path MTU, unreachable) rather than starts any. */
const ICMP_ERRORS = 'icmp type { destination-unreachable, time-exceeded, parameter-problem }';

/** Refuses what `match` selects at once: a reset for TCP, "administratively prohibited" for the rest. */
function refuse(match: string): string[] {
  return [`${match} meta l4proto tcp reject with tcp reset`, prohibit(match)];
}

/** Refuses a new TCP connection that `match` selects with a reset (a prompt "connection refused"). */
function refuseNew(match: string): string {
  return `${match} ${NEW_TCP} reject with tcp reset`;
}

function prohibit(match: string): string {
  return `${match} reject with icmpx type admin-prohibited`;
}

/**
 * What `match` selects may only answer: segments of TCP connections that
 * were let open and ICMP errors pass; a new connection is refused with a
 * reset, anything else as prohibited. (Stateless: see above.)
 */
function onlyAnswers(match: string): string[] {
  return [refuseNew(match), `${match} meta l4proto tcp accept`, `${match} ${ICMP_ERRORS} accept`, prohibit(match)];
}

/** A script that replaces the table atomically (create it if missing, delete it, define it: one transaction). */
function replaceTable(table: string, chains: Record<string, readonly string[]>): string {
  const body = Object.entries(chains).map(([name, rules]) => {
    const hook = `type filter hook ${name} priority filter; policy accept;`;
    return [`  chain ${name} {`, `    ${hook}`, ...rules.map((r) => `    ${r}`), '  }'].join('\n');
  });
  return [`table inet ${table}`, `delete table inet ${table}`, `table inet ${table} {`, ...body, '}', ''].join('\n');
}

function quoted(value: string): string {
  if (!/^[A-Za-z0-9_.\-/*]+$/.test(value)) throw new Error(`refusing to put ${JSON.stringify(value)} into a ruleset`);
  return `"${value}"`;
}

/** The host's table. Each rule's reason is in docs/ARCHITECTURE.md ("Sandbox networking"). */
export function hostRuleset(rules: HostRules): string {
  const links = quoted(`${rules.linkPrefix}*`);
  const range = rules.linkRange;
  const service = rules.serviceAddress;
  return replaceTable(rules.table, {
    input: [
      // A sandbox opens no connection to the host through its link (the host
      // end is an address of the host: every service bound to 0.0.0.0
      // answers there); the edge's connections' answers pass.
      ...onlyAnswers(`iifname ${links}`),
      // Nor does anything else open a connection to a link's host end: they
      // are only the edge's sources (slirp would relay a sandbox's connection
      // to another app's host end this way; the outside could try too). The
      // kernel's own resets for refused connections pass.
      ...onlyAnswers(`ip daddr ${range}`),
      // The add-ons' address: from this machine only.
      `ip daddr ${service} iifname != "lo" drop`,
    ],
    output: [
      // To a sandbox, only from a link's own address: the edge's connections
      // leave by the link's host end, while slirp (every app's way out)
      // connects from the host's outbound address, so one app's egress never
      // reaches another app's address.
      ...refuse(`ip daddr ${range} ip saddr != ${range}`),
      // And only root's sockets: no other user on the host reaches an app
      // past the edge. (Packets without a socket, the kernel's resets, pass.)
      ...refuse(`ip daddr ${range} meta skuid != 0`),
    ],
    forward: [
      // Should the operator turn on ip_forward, nothing is routed to or from
      // a sandbox, nor to the service address.
      `iifname ${links} drop`,
      `oifname ${links} drop`,
      `ip daddr ${range} drop`,
      `ip daddr ${service} drop`,
    ],
  });
}

/** The table inside an app's namespace: what the app may reach. */
export function namespaceRuleset(rules: NamespaceRules, table = 'berth'): string {
  const filter = replaceTable(table, {
    input: [
      // Over its link, only the edge reaches the app.
      `iifname "eth0" ip saddr != ${rules.hostAddress} drop`,
      `iifname "eth0" meta nfproto ipv6 drop`,
    ],
    output: [
      `oifname "lo" accept`,
      // The host end of its link: answers to the edge only, never a new connection.
      ...onlyAnswers(`ip daddr ${rules.hostAddress}`),
      `ip daddr ${rules.serviceAddress} accept`,
      // Other apps, the cloud's metadata service (169.254.169.254 hands out
      // the machine's credentials) and every other link-local address.
      ...refuse('ip daddr 169.254.0.0/16'),
      // The host's loopback through slirp (slirp refuses it too).
      ...refuse(`ip daddr ${rules.egressGateway}`),
      `ip daddr ${rules.nameserver} udp dport 53 accept`,
      `ip daddr ${rules.nameserver} tcp dport 53 accept`,
      ...refuse(`ip daddr ${rules.nameserver}`),
      prohibit('meta nfproto ipv6'),
    ],
  });
  // The edge's connections reach the app on loopback too: an app that
  // listens on 127.0.0.1 (as many do, and as berth's own detected servers
  // did) is served like one on 0.0.0.0. Only what the edge sends is
  // translated; needs route_localnet on the link (set with it).
  const nat = [
    `table ip ${table}_nat`,
    `delete table ip ${table}_nat`,
    `table ip ${table}_nat {`,
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    `    iifname "eth0" ip saddr ${rules.hostAddress} ip daddr ${rules.address} meta l4proto tcp dnat to 127.0.0.1`,
    '  }',
    '}',
    '',
  ].join('\n');
  return filter + nat;
}
