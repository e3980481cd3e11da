import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChildProcesses } from '../child-processes.ts';
import { freePort, HOST } from '../ports.ts';
import type { Mode } from '../scenarios.ts';
import { upstreamOf, type Availability, type Contender, type RunningServer, type StartContext } from './contender.ts';

/**
 * What `caddy file-server` and `caddy reverse-proxy` do, written as a
 * Caddyfile because the quick commands cannot turn the admin endpoint off
 * (it would take the fixed port 2019). The upstream keep-alive pool is sized
 * like nginx's (64); Go uses both cores by default (GOMAXPROCS = nproc).
 */
export function caddyfile(mode: Mode, port: number, staticDir: string, upstream: { host: string; port: number } | null): string {
  const site =
    mode === 'static'
      ? [`\troot * ${staticDir}`, `\tfile_server`]
      : [
          `\treverse_proxy ${upstream!.host}:${upstream!.port} {`,
          `\t\ttransport http {`,
          `\t\t\tkeepalive_idle_conns_per_host 64`,
          `\t\t}`,
          `\t}`,
        ];
  return [`{`, `\tadmin off`, `\tauto_https off`, `}`, `http://:${port} {`, `\tbind ${HOST}`, ...site, `}`, ``].join('\n');
}

export const caddy: Contender = {
  name: 'caddy',
  cores: 'Go runtime, GOMAXPROCS = 2',

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
    await writeFile(config, caddyfile(mode, port, context.workspace.staticDir, mode === 'proxy' ? upstreamOf(context) : null));
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
    return { origin: `http://${HOST}:${port}`, child };
  },
};
