import { createServer, connect, type Server, type Socket } from 'node:net';

// Add-on servers on the host's loopback only (a server named by an admin
// URL on 127.0.0.1) are out of a sandbox's reach: its loopback is its own,
// and the host's is refused. The daemon relays the ports the apps' add-on
// URLs name from the service address (which sandboxes reach, and nothing
// off the machine does) to the same port on 127.0.0.1. Nothing else of the
// host's loopback is relayed. The relay lives and dies with the daemon: a
// restart cuts its connections. berth's own PostgreSQL and Redis listen on
// the service address themselves and are never relayed (Sandboxes
// .servedDirectly), so their connections outlive the daemon.

export class LoopbackForwarder {
  readonly #address: string;
  readonly #log: (line: string) => void;
  readonly #servers = new Map<number, Promise<Server | null>>();
  readonly #sockets = new Set<Socket>();

  constructor(address: string, log: (line: string) => void) {
    this.#address = address;
    this.#log = log;
  }

  /** Relays `port` from the service address to 127.0.0.1 (once; a port something else already serves there is left to it). */
  expose(port: number): Promise<void> {
    let server = this.#servers.get(port);
    if (server === undefined) {
      server = this.#listen(port);
      this.#servers.set(port, server);
    }
    return server.then(() => undefined);
  }

  #listen(port: number): Promise<Server | null> {
    const server = createServer({ pauseOnConnect: true }, (client) => this.#relay(client, port));
    return new Promise((resolve) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        // Already served there (another daemon relays it, or the server listens there itself): that serves the apps as well.
        if (err.code !== 'EADDRINUSE') this.#log(`sandboxes: cannot relay port ${port} for the apps' add-ons: ${err.message}`);
        resolve(null);
      });
      server.listen({ host: this.#address, port }, () => resolve(server));
    });
  }

  #relay(client: Socket, port: number): void {
    const upstream = connect({ host: '127.0.0.1', port });
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.setNoDelay(true);
      socket.once('close', () => this.#sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    upstream.once('connect', () => {
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  }

  /** Stops relaying; open connections are cut (the apps reconnect to the next daemon's relay). */
  async close(): Promise<void> {
    const servers = await Promise.all(this.#servers.values());
    this.#servers.clear();
    for (const socket of this.#sockets) socket.destroy();
    await Promise.all(servers.map((server) => (server === null ? undefined : new Promise<void>((resolve) => server.close(() => resolve())))));
  }
}

/**
 * The loopback ports URL-shaped values name (`postgres://u:p@127.0.0.1:5432/db`
 * → 5432), but those in `direct` (servers that listen on the service address
 * themselves). Pure.
 */
export function loopbackPorts(values: Iterable<string>, direct: Iterable<number> = []): number[] {
  const skip = new Set(direct);
  const ports = new Set<number>();
  for (const value of values) {
    const match = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/]*@)?(?:127\.0\.0\.1|localhost|\[::1\]):(\d{1,5})(?:[/?#]|$)/i.exec(value);
    const port = match ? Number(match[1]) : NaN;
    if (Number.isInteger(port) && port > 0 && port < 65536 && !skip.has(port)) ports.add(port);
  }
  return [...ports].sort((a, b) => a - b);
}
