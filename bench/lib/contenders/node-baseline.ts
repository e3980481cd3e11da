import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { freePort, HOST } from '../ports.ts';
import type { Mode } from '../scenarios.ts';
import { upstreamOf, type Availability, type Contender, type RunningServer, type StartContext } from './contender.ts';

/** Plain node:http, a cluster of one worker per core: see bench/baseline/node-http.ts. */
export const nodeBaseline: Contender = {
  name: 'node:http',
  cores: `cluster of ${availableParallelism()} workers`,
  modes: ['static', 'proxy'],

  async availability(): Promise<Availability> {
    return { installed: true, version: process.version };
  },

  async start(mode: Mode, context: StartContext): Promise<RunningServer> {
    const port = await freePort();
    const listen = `${HOST}:${port}`;
    const args =
      mode === 'static'
        ? ['static', '--root', context.workspace.staticDir, '--listen', listen]
        : ['proxy', '--to', `${upstreamOf(context).host}:${upstreamOf(context).port}`, '--listen', listen];
    const child = context.children.start({
      name: 'node:http',
      command: process.execPath,
      args: [join(context.repoRoot, 'bench', 'baseline', 'node-http.ts'), ...args],
      cwd: context.repoRoot,
      wrapper: context.wrapper,
    });
    return { origin: `http://${listen}`, child };
  },
};
