// Which protocol upgrades (RFC 9110 §7.8) the edge tunnels, and which
// 101 answers open a tunnel. Pure.

/**
 * Upgrades to HTTP itself are never offered to an app: h2c (cleartext
 * HTTP/2, RFC 7540 §3.2, removed by RFC 9113), h2 (TLS-only, never an
 * Upgrade token) and "HTTP/x". The edge speaks HTTP/2 to clients itself;
 * an app switching a client's connection to HTTP/2 behind it would take
 * that connection out of the edge's parsing, limits and routing.
 */
function isHttpItself(protocol: string): boolean {
  const slash = protocol.indexOf('/');
  const name = (slash === -1 ? protocol : protocol.slice(0, slash)).toLowerCase();
  return name === 'h2c' || name === 'h2' || name === 'http';
}

/** The Upgrade list split into its protocols (`name[/version]`), empty members dropped. */
function protocols(value: string): string[] {
  const out: string[] = [];
  for (const member of value.split(',')) {
    const protocol = member.trim();
    if (protocol !== '') out.push(protocol);
  }
  return out;
}

/**
 * The protocols of a request's Upgrade field the edge offers to the app, as
 * one field value, or null when none is left: the request is then served
 * as plain HTTP/1.1 (its Upgrade and HTTP2-Settings are never forwarded).
 */
export function upgradeToOffer(requested: string): string | null {
  const kept = protocols(requested).filter((protocol) => !isHttpItself(protocol));
  return kept.length === 0 ? null : kept.join(', ');
}

/**
 * Whether an app's 101 may open the tunnel: it names exactly one protocol
 * (RFC 9110 §7.8: the one the connection switches to), and that protocol
 * was offered. Names compare without case (WebSocket clients send
 * "websocket", some servers answer "WebSocket").
 */
export function acceptsUpgrade(offered: string, answered: string | null): boolean {
  if (answered === null) return false;
  const chosen = protocols(answered);
  if (chosen.length !== 1) return false;
  const protocol = chosen[0]!.toLowerCase();
  return protocols(offered).some((candidate) => candidate.toLowerCase() === protocol);
}
