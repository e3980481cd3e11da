import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, HOST } from '../ports.ts';
import type { Availability, Contender, StartContext, RunningServer } from './contender.ts';
import { nginxConfig } from './nginx-config.ts';
import type { ChildProcesses } from '../child-processes.ts';
import type { Mode } from '../scenarios.ts';

/** Our own nginx process (never the system service): a generated config in a temp folder, checked with `nginx -t` first. */
export const nginx: Contender = {
  name: 'nginx',
  cores: 'worker_processes 2',

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
    const conf = join(prefix, 'nginx.conf');
    await writeFile(conf, nginxConfig({ mode, prefix, port, staticDir: context.workspace.staticDir, upstream: context.upstream, nofile: context.nofile }));
    const args = ['-c', conf, '-p', `${prefix}/`, '-g', 'daemon off;'];
    await context.children.run({ name: 'nginx -t', command: 'nginx', args: ['-t', ...args], timeoutMs: 10_000 });
    const child = context.children.start({ name: 'nginx', command: 'nginx', args, wrapper: context.wrapper });
    return { origin: `http://${HOST}:${port}`, child };
  },
};
