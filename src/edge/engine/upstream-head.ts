import { randomUUID } from 'node:crypto';

// The request head an app receives, whatever protocol the client spoke:
// HTTP/1.1 and HTTP/2 requests are both re-framed into one HTTP/1.1 head.

// Never forwarded to an app: hop-by-hop fields (HTTP2-Settings belongs to
// an h2c upgrade, which the edge never makes), the client's framing (the
// edge frames the body itself), Expect (the edge answered it), Host (the
// app gets the authority the request was routed by), and the forwarding
// headers the edge sets itself, so a client cannot forge them.
const NOT_FORWARDED = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade', 'http2-settings', 'trailer', 'content-length',
  'expect', 'host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-real-ip', 'forwarded', 'x-request-id',
]);

export interface UpstreamRequest {
  readonly method: string;
  /** Path and query, as the client sent them. */
  readonly target: string;
  /** The client's header fields, flat: [name, value, …], names lower-case. */
  readonly fields: readonly string[];
  /** More fields to drop: those the client's Connection header named. */
  readonly connectionTokens: readonly string[] | null;
  /**
   * The authority the request was routed by (an absolute-form target's,
   * else Host, or :authority), lower-case, or null: the app's Host and
   * X-Forwarded-Host, whatever Host field the client also sent.
   */
  readonly host: string | null;
  readonly clientAddress: string;
  readonly proto: 'http' | 'https';
  /** The buffered body's size, or null for a request without a body. */
  readonly bodySize: number | null;
  /** The request's id (X-Request-Id), the edge's or a trusted peer's. */
  readonly requestId: string;
  /** Client fields to leave out besides the usual (the cache fills without conditionals). */
  readonly omit?: ReadonlySet<string> | undefined;
}

/** The HTTP/1.1 head (CRLFCRLF included) that carries `request` to an app. */
export function upstreamRequestHead(request: UpstreamRequest): string {
  const fields = request.fields;
  const named = request.connectionTokens !== null && request.connectionTokens.length > 0 ? request.connectionTokens : null;
  const omit = request.omit ?? null;
  let text = `${request.method} ${request.target} HTTP/1.1\r\nhost: ${request.host ?? 'localhost'}\r\n`;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    if (NOT_FORWARDED.has(name) || (named !== null && named.includes(name)) || (omit !== null && omit.has(name))) continue;
    text += `${name}: ${fields[i + 1]}\r\n`;
  }
  text += `x-forwarded-for: ${request.clientAddress}\r\nx-forwarded-proto: ${request.proto}\r\nx-request-id: ${request.requestId}\r\n`;
  if (request.host !== null) text += `x-forwarded-host: ${request.host}\r\n`;
  if (request.bodySize !== null) text += `content-length: ${request.bodySize}\r\n`;
  return `${text}\r\n`;
}

const REQUEST_ID = /^[A-Za-z0-9._:@+=\/-]{1,128}$/;

/**
 * The id of a request: the X-Request-Id a trusted peer sent (one on the
 * loopback interface: a load balancer on this machine), or a new one.
 */
export function requestIdFor(fields: readonly string[], clientAddress: string): string {
  if (clientAddress === '127.0.0.1' || clientAddress === '::1' || clientAddress.startsWith('127.')) {
    for (let i = 0; i < fields.length; i += 2) {
      if (fields[i] === 'x-request-id' && REQUEST_ID.test(fields[i + 1]!)) return fields[i + 1]!;
    }
  }
  return randomUUID();
}
