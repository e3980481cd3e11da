import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { BerthError } from '../errors.ts';
import { escapeControls } from '../terminal-text.ts';

// A request that asked to switch protocols (`Upgrade: berth-run`) arrives
// as a bare connection after its head: node gives no ServerResponse and
// reads no body there, so both are done here.

/** An upgrading request's body must arrive within this long (headersTimeout no longer watches it). */
const UPGRADE_BODY_TIMEOUT_MS = 10_000;

/** An answer written on a connection that asked to upgrade (no ServerResponse there); the connection closes after it. */
export function sendOnSocket(socket: Duplex, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = `${escapeControls(JSON.stringify(body))}\n`;
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`.trimEnd(),
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(text)}`,
    'cache-control: no-store',
    'connection: close',
    ...Object.entries(extra).map(([key, value]) => `${key}: ${value}`),
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n${text}`);
}

/**
 * The JSON body of a request that asked to upgrade: node hands over the
 * connection after the head, so the body (Content-Length bytes, never
 * chunked) is read here; bytes after it are put back for the new protocol.
 */
export function readUpgradeBody(req: IncomingMessage, socket: Duplex, limit: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (req.headers['transfer-encoding'] !== undefined) return reject(new BerthError('BERTH_E_BAD_JSON', 'an upgrading request sends its body with a Content-Length', { status: 400 }));
    const length = Number(req.headers['content-length'] ?? 0);
    if (!Number.isSafeInteger(length) || length < 0) return reject(new BerthError('BERTH_E_BAD_JSON', 'the Content-Length is not a number', { status: 400 }));
    if (length > limit) return reject(new BerthError('BERTH_E_TOO_LARGE', `request body is larger than ${limit} bytes`, { status: 413 }));
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err: Error | null) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      if (err !== null) return reject(err);
      const whole = Buffer.concat(chunks);
      if (whole.length > length) socket.unshift(whole.subarray(length));
      const text = whole.subarray(0, length).toString('utf8');
      if (text.trim() === '') return resolve({});
      try {
        resolve(JSON.parse(text));
      } catch (parseError) {
        reject(new BerthError('BERTH_E_BAD_JSON', `request body is not valid JSON: ${(parseError as Error).message}`, { status: 400 }));
      }
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= length) finish(null);
    };
    const onClose = () => finish(new BerthError('BERTH_E_BAD_JSON', 'the connection closed before the request body was whole', { status: 400 }));
    const timer = setTimeout(() => finish(new BerthError('BERTH_E_BAD_JSON', 'the request body did not arrive in time', { status: 408 })), UPGRADE_BODY_TIMEOUT_MS);
    if (length === 0) return finish(null);
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.resume();
  });
}
