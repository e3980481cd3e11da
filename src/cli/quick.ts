import { resolve } from 'node:path';
import { Edge, UpstreamGroup, createStaticSite } from '../edge/index.ts';
import type { ListenAddress } from './address.ts';
import { onShutdown } from './shutdown.ts';
import { urlOf } from './up.ts';

/** `berth file-server`: the edge serving one folder, nothing else. */
export async function fileServer(options: { root: string; listen: ListenAddress; log: (line: string) => void }): Promise<void> {
  const site = await createStaticSite({ root: resolve(options.root) });
  const edge = new Edge({ routes: { hosts: new Map(), fallbackSite: { mounts: [], upstreams: null, fallback: site } }, log: options.log });
  const address = await edge.listen(options.listen.host ?? '', options.listen.port);
  options.log(`serving ${resolve(options.root)} on ${urlOf(address)}`);
  await onShutdown(options.log, () => edge.close(5_000), () => process.exit(130));
}

/** `berth reverse-proxy`: the edge balancing over fixed upstreams. */
export async function reverseProxy(options: {
  from: ListenAddress;
  to: ReadonlyArray<{ host: string; port: number }>;
  log: (line: string) => void;
}): Promise<void> {
  const upstreams = new UpstreamGroup(options.to.map((u) => ({ id: `${u.host}:${u.port}`, host: u.host, port: u.port })));
  const edge = new Edge({ routes: { hosts: new Map(), fallbackSite: { mounts: [], upstreams, fallback: null } }, log: options.log });
  const address = await edge.listen(options.from.host ?? '', options.from.port);
  options.log(`proxying ${urlOf(address)} to ${options.to.map((u) => `${u.host}:${u.port}`).join(', ')}`);
  await onShutdown(
    options.log,
    async () => {
      await edge.close(5_000);
      upstreams.close();
    },
    () => process.exit(130),
  );
}
