import { STATUS_CODES } from '../http1/status-codes.ts';
import type { StaticResponse, StaticSite } from '../static/index.ts';

/**
 * Ready-made answers to the plain GETs and HEADs a static site gets most
 * (no Range, no conditional headers): the head serialised once, the body
 * shared. An answer is kept no longer than the site trusts the lookup it
 * came from, so it is never staler than the file facts behind it.
 */
export interface ReadyResponse {
  /** Status line and headers, without Date, Connection and the final CRLF. */
  readonly head: string;
  readonly body: Buffer | null;
  readonly expires: number;
  /**
   * The whole answer for a kept-alive HTTP/1.1 client, Date included,
   * rebuilt when the second changes: the common case then costs one write
   * of a shared buffer.
   */
  wire: Buffer | null;
  wireDate: string;
}

const MAX_PER_SITE = 1_000;
const bySite = new WeakMap<StaticSite, Map<string, ReadyResponse>>();

/** The key of a request: what the planner's answer depends on when there are no Range or If- headers. */
export function readyKey(method: string, target: string, acceptEncoding: string | undefined): string {
  return acceptEncoding === undefined ? `${method} ${target}` : `${method} ${target}\n${acceptEncoding}`;
}

export function readyResponse(site: StaticSite, key: string, now: number): ReadyResponse | null {
  const entry = bySite.get(site)?.get(key);
  return entry !== undefined && entry.expires > now ? entry : null;
}

/** Keeps a plan that can be replayed byte for byte: a 200 whose body is in memory. */
export function rememberResponse(site: StaticSite, key: string, plan: StaticResponse, now: number): void {
  if (site.fileInfoValidMs === 0 || plan.status !== 200 || plan.body.kind === 'file') return;
  let entries = bySite.get(site);
  if (entries === undefined) {
    entries = new Map();
    bySite.set(site, entries);
  }
  if (entries.size >= MAX_PER_SITE) entries.delete(entries.keys().next().value!);
  const body = plan.body.kind === 'buffer' ? plan.body.data : null;
  entries.set(key, { head: serializeHead(plan), body, expires: now + site.fileInfoValidMs, wire: null, wireDate: '' });
}

export function serializeHead(plan: StaticResponse): string {
  let text = `HTTP/1.1 ${plan.status} ${STATUS_CODES[plan.status] ?? ''}\r\n`;
  for (const [name, value] of plan.headers) text += `${name}: ${value}\r\n`;
  return text;
}

/** Bodies up to this size are kept inside the ready wire buffer. */
const WIRE_BODY_BYTES = 16 * 1024;

/** The full answer for a kept-alive HTTP/1.1 client at this Date, or null when the body is too large to copy. */
export function wireResponse(ready: ReadyResponse, date: string): Buffer | null {
  if (ready.wireDate === date && ready.wire !== null) return ready.wire;
  const body = ready.body;
  if (body !== null && body.length > WIRE_BODY_BYTES) return null;
  const text = `${ready.head}date: ${date}\r\n\r\n`;
  const wire = Buffer.allocUnsafe(text.length + (body?.length ?? 0));
  wire.write(text, 0, 'latin1');
  body?.copy(wire, text.length);
  ready.wire = wire;
  ready.wireDate = date;
  return wire;
}
