import { STATUS_CODES } from '../http1/status-codes.ts';
import { formatHttpDate } from '../static/http-date.ts';

/**
 * Responses the engine writes itself (errors, 100 Continue), built once:
 * refusing a request must cost no allocation, or a flood of bad requests
 * becomes a cheap way to load the edge.
 */
const cache = new Map<string, Buffer>();

export function cannedResponse(status: number, close: boolean, message?: string): Buffer {
  const key = `${status}:${close ? 1 : 0}:${message ?? ''}`;
  let buf = cache.get(key);
  if (buf === undefined) {
    const reason = STATUS_CODES[status] ?? 'Unknown';
    const body = `${message ?? reason}\n`;
    buf = Buffer.from(
      `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `${close ? 'connection: close\r\n' : ''}\r\n${body}`,
      'latin1',
    );
    if (cache.size < 256) cache.set(key, buf);
  }
  return buf;
}

/** The same answer to a HEAD request: headers only. */
export function cannedHeadResponse(status: number, close: boolean, message?: string): Buffer {
  const full = cannedResponse(status, close, message);
  return full.subarray(0, full.indexOf('\r\n\r\n') + 4);
}

export const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

let dateSecond = 0;
let dateValue = '';

/** The Date header value, formatted at most once a second. */
export function httpDate(now: number = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateValue = formatHttpDate(second * 1000);
  }
  return dateValue;
}
