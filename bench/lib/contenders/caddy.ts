import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChildProcesses } from '../child-processes.ts';
import { freePort, HOST } from '../ports.ts';
import { contentOf, usesTls, type Mode } from '../scenarios.ts';
import { tlsOf, upstreamOf, type Availability, type Contender, type RunningServer, type StartContext } from './contender.ts';

/**
 * What `caddy file-server` and `caddy reverse-proxy` do, written as a
 * Caddyfile because the quick commands cannot turn the admin endpoint off
 * (it would take the fixed port 2019). The upstream keep-alive pool is sized
 * like nginx's (64); Go uses both cores by default (GOMAXPROCS = nproc).
 * In the HTTPS modes a second site serves the same over TLS with the run's
 * certificate (Caddy's own TLS defaults: 1.2 and 1.3, tickets, HTTP/2 by
 * ALPN). Caddy has no response cache of its own: not in the cache mode.
 */
export function caddyfile(
  mode: Mode,
  port: number,
  staticDir: string,
  upstream: { host: string; port: number } | null,
  tls: { port: number; certFile: string; keyFile: string } | null = null,
): string {
  const site =
    contentOf(mode) === 'static'
      ? [`\troot * ${staticDir}`, `\tfile_server`]
      : [
          `\treverse_proxy ${upstream!.host}:${upstream!.port} {`,
          `\t\ttransport http {`,
          `\t\t\tkeepalive_idle_conns_per_host 64`,
          `\t\t}`,
          `\t}`,
        ];
  const httpsSite = tls ? [`https://:${tls.port} {`, `\tbind ${HOST}`, `\ttls ${tls.certFile} ${tls.keyFile}`, ...site, `}`] : [];
  return [`{`, `\tadmin off`, `\tauto_https off`, `}`, `http://:${port} {`, `\tbind ${HOST}`, ...site, `}`, ...httpsSite, ``].join('\n');
}

export const caddy: Contender = {
  name: 'caddy',
  cores: 'Go runtime, GOMAXPROCS = 2',
  modes: ['static', 'proxy', 'https-static', 'https-proxy'],

  async availability(children: ChildProcesses): Promise<Availability> {
    try {
      const output = await children.run({ name: 'caddy version', command: 'caddy', args: ['version'], timeoutMs: 5_000 });
      return { installed: true, version: output.trim().split(/\s/)[0] ?? 'unknown' };
    } catch {
      return { installed: false, reason: 'not installed (apt-get install -y caddy)' };
    }
  },

  async start(mode: Mode, context: StartContext): Promise<RunningServer> {
    const dir = await context.workspace.subdir(`caddy-${mode}`);
    const port = await freePort();
    const config = join(dir, 'Caddyfile');
    const tls = usesTls(mode) ? { port: await freePort(), certFile: tlsOf(context).certFile, keyFile: tlsOf(context).keyFile } : null;
    await writeFile(config, caddyfile(mode, port, context.workspace.staticDir, contentOf(mode) === 'proxy' ? upstreamOf(context) : null, tls));
    // Caddy keeps state under $HOME / XDG folders: point them into the temp folder.
    const env = { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir };
    const child = context.children.start({
      name: 'caddy',
      command: 'caddy',
      args: ['run', '--config', config, '--adapter', 'caddyfile'],
      env,
      cwd: dir,
      wrapper: context.wrapper,
    });
    return { origin: `http://${HOST}:${port}`, ...(tls ? { httpsOrigin: `https://${HOST}:${tls.port}` } : {}), child };
  },
};
