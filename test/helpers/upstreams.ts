import { createHash } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface Running {
  readonly port: number;
  close(): Promise<void>;
}

async function listen(server: Server | ReturnType<typeof createNetServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function closer(server: Server | ReturnType<typeof createNetServer>, sockets: Set<Socket | Duplex>): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
}

/** A node:http upstream with a handler, tracking its sockets so close() is immediate. */
export async function httpUpstream(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Running & { server: Server }> {
  const sockets = new Set<Socket | Duplex>();
  const server = createHttpServer(handler);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    sockets.add(socket);
    acceptWebSocket(req, socket);
  });
  const port = await listen(server);
  return { port, server, close: closer(server, sockets) };
}

/** A raw TCP upstream: the test writes whatever bytes it likes, however wrong. */
export async function rawUpstream(onConnection: (socket: Socket) => void): Promise<Running> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onConnection(socket);
  });
  const port = await listen(server);
  return { port, close: closer(server, sockets) };
}

/** A port on which nothing listens (it was free a moment ago). */
export async function deadPort(): Promise<number> {
  const server = createNetServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Completes a WebSocket handshake and echoes small text frames back, prefixed with "echo: ". */
function acceptWebSocket(req: IncomingMessage, socket: Duplex): void {
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || req.url === '/no-ws') {
    socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 9\r\nconnection: close\r\n\r\nforbidden');
    return;
  }
  const accept = createHash('sha1').update(key + WS_GUID).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 6) {
      const opcode = buffered[0]! & 0x0f;
      const length = buffered[1]! & 0x7f;
      if (length > 125 || buffered.length < 6 + length) return;
      const mask = buffered.subarray(2, 6);
      const payload = Buffer.from(buffered.subarray(6, 6 + length));
      for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
      buffered = buffered.subarray(6 + length);
      if (opcode === 8) {
        socket.end(Buffer.from([0x88, 0]));
        return;
      }
      const reply = Buffer.concat([Buffer.from('echo: '), payload]);
      socket.write(Buffer.concat([Buffer.from([0x81, reply.length]), reply]));
    }
  });
  socket.on('error', () => socket.destroy());
}
