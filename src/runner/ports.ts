import { createServer } from 'node:net';

/**
 * A free TCP port on the host, found by letting the kernel pick one. The port
 * is free when this returns; an app that takes it a moment later wins the
 * race in practice, and a lost race shows up as a failed readiness check.
 */
export function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
