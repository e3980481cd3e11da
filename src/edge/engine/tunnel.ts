import { connect, type Socket } from 'node:net';
import { forwardableHeaders, parseResponseHead, type RequestHead } from '../http1/index.ts';
import type { Upstream, UpstreamGroup } from '../upstream-group.ts';
import { cannedResponse } from './canned.ts';
import type { EdgeLimits } from './limits.ts';

/**
 * Proxies a protocol upgrade (WebSocket). The client and upstream sockets
 * are joined only after the upstream answers 101; any other answer is
 * passed on as a plain response and both connections closed, so a refused
 * upgrade never leaves a half-open tunnel. Tunnels use their own upstream
 * connection, never one from the keep-alive pool.
 */
export function openTunnel(client: Socket, head: RequestHead, leftover: Buffer | null, group: UpstreamGroup, upstreamHead: string, limits: EdgeLimits): void {
  const tried = new Set<Upstream>();
  // The forwarded head lacks the hop-by-hop Upgrade/Connection; put them back.
  const request = upstreamHead.slice(0, -2) + `connection: upgrade\r\nupgrade: ${head.upgrade}\r\n\r\n`;
  const tryNext = (): void => {
    const upstream = group.pick(tried);
    if (upstream === null) {
      client.end(cannedResponse(502, true, 'bad gateway: no instance could take the connection'));
      return;
    }
    tried.add(upstream);
    upstream.acquire();
    let released = false;
    const release = () => {
      if (!released) {
        released = true;
        upstream.release();
      }
    };
    const socket = connect({ host: upstream.host, port: upstream.port, noDelay: true });
    let connected = false;
    let answered = false;
    let pending: Buffer | null = null;
    socket.setTimeout(limits.connectTimeoutMs, () => socket.destroy(new Error('timeout')));
    const onData = (chunk: Buffer) => {
      pending = pending === null ? chunk : Buffer.concat([pending, chunk]);
      const parsed = parseResponseHead(pending, 0, limits, head.method);
      if (parsed.kind === 'incomplete') return;
      socket.removeListener('data', onData);
      socket.setTimeout(0);
      answered = true;
      if (parsed.kind === 'error') {
        client.end(cannedResponse(502, true, 'bad gateway: the app did not answer properly'));
        socket.destroy();
        return release();
      }
      const response = parsed.head;
      const fields = forwardableHeaders(response.headers, response.connectionTokens);
      let text = `HTTP/1.1 ${response.status} ${response.reason}\r\n`;
      for (let i = 0; i < fields.length; i += 2) text += `${fields[i]}: ${fields[i + 1]}\r\n`;
      const rest = pending.subarray(parsed.consumed);
      if (response.status === 101) {
        text += `connection: upgrade\r\nupgrade: ${response.upgrade ?? head.upgrade}\r\n\r\n`;
        client.write(text, 'latin1');
        if (rest.length > 0) client.write(rest);
        if (leftover !== null) socket.write(leftover);
        const close = () => {
          client.destroy();
          socket.destroy();
          release();
        };
        socket.on('error', close).on('close', close);
        client.on('error', close).on('close', close);
        socket.pipe(client);
        client.pipe(socket);
        return;
      }
      // Not upgraded: pass the answer on, delimited by closing the connection.
      client.write(`${text}connection: close\r\n\r\n`, 'latin1');
      if (rest.length > 0) client.write(rest);
      socket.pipe(client);
      socket.once('close', () => {
        client.end();
        release();
      });
    };
    socket.on('data', onData);
    socket.once('connect', () => {
      connected = true;
      socket.setTimeout(limits.firstByteTimeoutMs, () => socket.destroy(new Error('timeout')));
      socket.write(request, 'latin1');
    });
    socket.once('error', () => {
      release();
      if (!connected) {
        group.reportFailure(upstream);
        return tryNext();
      }
      // After the answer began, the pipes own both sockets.
      if (!answered && !client.destroyed) client.end(cannedResponse(502, true, 'bad gateway: the app closed the connection'));
    });
  };
  client.on('error', () => client.destroy());
  tryNext();
}
