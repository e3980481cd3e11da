import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, HOST } from '../ports.ts';
import { tlsOf, type Availability, type Contender, type StartContext, type RunningServer } from './contender.ts';
import { NGINX_CACHE_STATUS_HEADER, nginxConfig } from './nginx-config.ts';
import type { ChildProcesses } from '../child-processes.ts';
import { MODES, usesTls, type Mode } from '../scenarios.ts';

/** Our own nginx process (never the system service): a generated config in a temp folder, checked with `nginx -t` first. */
export const nginx: Contender = {
  name: 'nginx',
  cores: 'worker_processes 2',
  modes: MODES,
  cacheHit: { name: NGINX_CACHE_STATUS_HEADER, matches: /^HIT$/ },

  async availability(children: ChildProcesses): Promise<Availability> {
    try {
      const output = await children.run({ name: 'nginx -v', command: 'nginx', args: ['-v'], timeoutMs: 5_000 });
      return { installed: true, version: /nginx\/(\S+)/.exec(output)?.[1] ?? output.trim() };
    } catch (err) {
      return { installed: false, reason: `nginx -v failed: ${(err as Error).message.split('\n')[0]}` };
    }
  },

  async start(mode: Mode, context: StartContext): Promise<RunningServer> {
    const prefix = await context.workspace.subdir(`nginx-${mode}`);
    const port = await freePort();
    const tls = usesTls(mode) ? { port: await freePort(), certFile: tlsOf(context).certFile, keyFile: tlsOf(context).keyFile } : null;
    const conf = join(prefix, 'nginx.conf');
    await writeFile(conf, nginxConfig({ mode, prefix, port, staticDir: context.workspace.staticDir, upstream: context.upstream, nofile: context.nofile, tls }));
    const args = ['-c', conf, '-p', `${prefix}/`, '-g', 'daemon off;'];
    await context.children.run({ name: 'nginx -t', command: 'nginx', args: ['-t', ...args], timeoutMs: 10_000 });
    const child = context.children.start({ name: 'nginx', command: 'nginx', args, wrapper: context.wrapper });
    return { origin: `http://${HOST}:${port}`, ...(tls ? { httpsOrigin: `https://${HOST}:${tls.port}` } : {}), child };
  },
};
