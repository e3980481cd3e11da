import { resolve } from 'node:path';
import { Edge, resolveStaticRoot, type EdgeLimits, type TlsConfig } from '../edge/index.ts';
import type { ListenAddress } from './address.ts';
import { onShutdown } from './shutdown.ts';
import { listenNamingFlag } from './listen-flag.ts';
import { urlOf } from './listen-url.ts';

interface QuickOptions {
  readonly log: (line: string) => void;
  /** Edge engine threads; undefined uses every core. */
  readonly workers?: number;
  readonly limits?: Partial<EdgeLimits>;
  /** Also serve HTTPS here, with this certificate. */
  readonly https?: { readonly listen: ListenAddress; readonly tls: TlsConfig } | null;
}

function httpsOf(options: QuickOptions) {
  const https = options.https ?? null;
  return https === null ? {} : { https: https.listen, tls: https.tls };
}

function logHttps(edge: Edge, log: (line: string) => void): void {
  if (edge.httpsAddress !== null) log(`serving HTTPS on ${urlOf(edge.httpsAddress, 'https')} (HTTP/2 and HTTP/1.1)`);
}

/** `berth file-server`: the edge serving one folder, nothing else. */
export async function fileServer(options: QuickOptions & { root: string; listen: ListenAddress }): Promise<void> {
  const root = resolve(options.root);
  // The edge serves 404 for a root it cannot use (so one app's folder never
  // stops the others); here the folder is the whole point, so say so.
  await resolveStaticRoot({ root });
  const edge = new Edge({
    routes: { hosts: {}, fallback: { key: 'files', mounts: [], upstreams: null, fallbackRoot: root } },
    log: options.log,
    workers: options.workers,
    limits: options.limits,
    ...httpsOf(options),
  });
  const address = await listenNamingFlag({ plain: '--listen' }, () => edge.listen(options.listen.host, options.listen.port));
  options.log(`serving ${root} on ${urlOf(address)}`);
  logHttps(edge, options.log);
  await onShutdown(options.log, () => edge.close(5_000), () => process.exit(130));
}

/** `berth reverse-proxy`: the edge balancing over fixed upstreams. */
export async function reverseProxy(options: QuickOptions & { from: ListenAddress; to: ReadonlyArray<{ host: string; port: number }> }): Promise<void> {
  const upstreams = options.to.map((u) => ({ id: `${u.host}:${u.port}`, host: u.host, port: u.port }));
  const edge = new Edge({
    routes: { hosts: {}, fallback: { key: 'proxy', mounts: [], upstreams, fallbackRoot: null } },
    log: options.log,
    workers: options.workers,
    limits: options.limits,
    ...httpsOf(options),
  });
  const address = await listenNamingFlag({ plain: '--from' }, () => edge.listen(options.from.host, options.from.port));
  options.log(`proxying ${urlOf(address)} to ${upstreams.map((u) => u.id).join(', ')}`);
  logHttps(edge, options.log);
  await onShutdown(options.log, () => edge.close(5_000), () => process.exit(130));
}
