import { request as httpRequest, STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { clientAddress, clientResponseHeaders, upstreamRequestHeaders } from './forwarded-headers.ts';
import type { UpstreamGroup } from './upstream-group.ts';

function rawResponse(socket: Duplex, status: number, message: string): void {
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function head(status: number, message: string, rawHeaders: readonly string[]): string {
  let text = `HTTP/1.1 ${status} ${message}\r\n`;
  for (let i = 0; i < rawHeaders.length; i += 2) text += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  return `${text}\r\n`;
}

/**
 * Proxies a protocol upgrade (WebSocket). The two sockets are joined only
 * after the upstream answers 101; any other answer is passed to the client
 * as an ordinary response and the connection closed, so a refused upgrade
 * never leaves a half-open tunnel.
 */
export function proxyUpgrade(req: IncomingMessage, socket: Duplex, firstBytes: Buffer, group: UpstreamGroup, proto: 'http' | 'https'): void {
  socket.on('error', () => socket.destroy());
  const tried = new Set<number>();
  const headers = upstreamRequestHeaders(req.rawHeaders, {
    clientAddress: clientAddress(req.socket.remoteAddress),
    proto,
    host: req.headers.host ?? '',
    requestId: null,
  });
  headers.push('Connection', 'Upgrade', 'Upgrade', req.headers.upgrade ?? 'websocket');

  const tryNext = (): void => {
    const choice = group.pick(tried);
    if (choice === null) return rawResponse(socket, 502, 'bad gateway: no instance could take the connection');
    tried.add(choice.index);
    const upstream = choice.upstream;
    upstream.acquire();
    let released = false;
    const release = () => {
      if (!released) {
        released = true;
        upstream.release();
      }
    };
    const up = httpRequest({ host: upstream.host, port: upstream.port, method: req.method, path: req.url, headers, setHost: false, agent: false });
    let connected = false;
    up.once('socket', (s) => s.once('connect', () => (connected = true)));
    up.once('upgrade', (upRes: IncomingMessage, upSocket: Duplex, upHead: Buffer) => {
      const responseHeaders = clientResponseHeaders(upRes.rawHeaders);
      responseHeaders.push('Connection', 'Upgrade', 'Upgrade', upRes.headers.upgrade ?? req.headers.upgrade ?? 'websocket');
      socket.write(head(101, upRes.statusMessage || 'Switching Protocols', responseHeaders));
      if (upHead.length > 0) socket.write(upHead);
      if (firstBytes.length > 0) upSocket.write(firstBytes);
      const close = () => {
        socket.destroy();
        upSocket.destroy();
        release();
      };
      upSocket.on('error', close).on('close', close);
      socket.on('close', close);
      upSocket.pipe(socket);
      socket.pipe(upSocket);
    });
    up.once('response', (upRes: IncomingMessage) => {
      // The body is delimited by closing the connection, so the upstream's
      // framing headers do not apply any more.
      const responseHeaders = clientResponseHeaders(upRes.rawHeaders);
      const cleaned: string[] = [];
      for (let i = 0; i < responseHeaders.length; i += 2) {
        if (responseHeaders[i]!.toLowerCase() !== 'content-length') cleaned.push(responseHeaders[i]!, responseHeaders[i + 1]!);
      }
      cleaned.push('Connection', 'close');
      socket.write(head(upRes.statusCode ?? 502, upRes.statusMessage ?? '', cleaned));
      upRes.pipe(socket);
      upRes.once('end', release);
      upRes.once('error', () => {
        socket.destroy();
        release();
      });
    });
    up.once('error', () => {
      release();
      if (!connected) {
        group.reportFailure(upstream);
        return tryNext();
      }
      socket.destroy();
    });
    up.end();
  };
  tryNext();
}
