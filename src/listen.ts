import type { AddressInfo, Server } from 'node:net';
import { BerthError } from './errors.ts';

/**
 * Connections each control listener holds at most (more are closed at
 * once). They come out of the descriptors the edge leaves to the rest of
 * the daemon (an eighth of the open-file limit, at least 256), so no flood
 * of these listeners — apps reach loopback too — can exhaust the daemon's
 * descriptors, whatever the edge is doing. SSH has its own cap (32).
 */
export const CONTROL_MAX_CONNECTIONS = Object.freeze({ api: 128, dashboard: 64, metrics: 16 });

/**
 * A listener that could not be opened (BERTH_E_LISTEN): where, the reason
 * (the errno code, e.g. EADDRINUSE) and whether it was an HTTPS one. Only
 * the command that asked for the address knows the flag it came from
 * (`--listen`, `--http`, `--https`, …): it names it (src/cli/listen-flag.ts).
 */
export class ListenError extends BerthError {
  readonly address: string;
  readonly reason: string;
  readonly secure: boolean;

  constructor(host: string | undefined, port: number, reason: string, options: { what?: string; secure?: boolean } = {}) {
    const address = `${host ?? '*'}:${port}`;
    super('BERTH_E_LISTEN', `cannot listen${options.what ? ` ${options.what}` : ''} on ${address}: ${reason}`, {
      hint: reason === 'EADDRINUSE' ? 'Another program uses that port; pick another.' : undefined,
    });
    this.address = address;
    this.reason = reason;
    this.secure = options.secure === true;
  }
}

/**
 * Binds a server (node:net, node:http, …) and resolves with its address; a
 * port it cannot take rejects with a ListenError naming the address and
 * the reason (`what` says which listener, e.g. "for SSH").
 */
export function listenOn(server: Server, host: string | undefined, port: number, what = ''): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(new ListenError(host, port, err.code ?? err.message, { what }));
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}
