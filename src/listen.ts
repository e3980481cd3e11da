import type { AddressInfo, Server } from 'node:net';
import { BerthError } from './errors.ts';

/**
 * Binds a server (node:net, node:http, …) and resolves with its address; a
 * port it cannot take rejects with BERTH_E_LISTEN naming the address and
 * the reason (`what` says which listener, e.g. "for SSH").
 */
export function listenOn(server: Server, host: string | undefined, port: number, what = ''): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      reject(new BerthError('BERTH_E_LISTEN', `cannot listen${what ? ` ${what}` : ''} on ${host ?? '*'}:${port}: ${err.code ?? err.message}`));
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}
