import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChildProcesses } from '../child-processes.ts';
import { freePort, HOST } from '../ports.ts';
import { contentOf, MODES, usesTls, type Mode } from '../scenarios.ts';
import { tlsOf, upstreamOf, type Availability, type Contender, type RunningServer, type StartContext } from './contender.ts';

/**
 * berth from this checkout, through its CLI only (`file-server`,
 * `reverse-proxy`), run by the same Node that runs the harness. Whatever
 * engine sits behind the CLI, and however many processes it starts, is
 * measured as it is: the whole process tree is counted. The HTTPS modes add
 * `--https` with the run's certificate; the cache mode is the plain
 * reverse-proxy, whose site caches by default.
 */
export const berth: Contender = {
  name: 'berth',
  cores: 'its own choice (the whole process tree is measured)',
  modes: MODES,
  cacheHit: { name: 'cache-status', matches: /(^|,)\s*berth; hit(;|,|$)/ },

  async availability(children: ChildProcesses, repoRoot: string): Promise<Availability> {
    const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version?: string };
    let commit = '';
    try {
      commit = (await children.run({ name: 'git', command: 'git', args: ['rev-parse', '--short', 'HEAD'], cwd: repoRoot, timeoutMs: 5_000 })).trim();
      const changes = await children.run({ name: 'git', command: 'git', args: ['status', '--porcelain', '--', 'src', 'bin'], cwd: repoRoot, timeoutMs: 5_000 });
      if (changes.trim()) commit += ' + uncommitted changes in src/';
    } catch {
      // not a git checkout
    }
    return { installed: true, version: `${pkg.version ?? '?'}${commit ? ` (${commit})` : ''}` };
  },

  async start(mode: Mode, context: StartContext): Promise<RunningServer> {
    const port = await freePort();
    const listen = `${HOST}:${port}`;
    const command =
      contentOf(mode) === 'static'
        ? ['file-server', '--root', context.workspace.staticDir, '--listen', listen]
        : ['reverse-proxy', '--from', listen, '--to', `${upstreamOf(context).host}:${upstreamOf(context).port}`];
    // Every client of the bench is on one address, and idle-memory opens
    // thousands of connections: the per-client cap (256 by default) goes up
    // to what the server's open-file limit allows.
    command.push('--limit', `max-connections-per-client=${context.nofile}`);
    const httpsPort = usesTls(mode) ? await freePort() : null;
    if (httpsPort !== null) command.push('--https', `${HOST}:${httpsPort}`, '--tls-cert', tlsOf(context).certFile, '--tls-key', tlsOf(context).keyFile);
    const child = context.children.start({
      name: 'berth',
      command: process.execPath,
      args: [join(context.repoRoot, 'src', 'cli', 'main.ts'), ...command],
      cwd: context.repoRoot,
      wrapper: context.wrapper,
    });
    return { origin: `http://${listen}`, ...(httpsPort !== null ? { httpsOrigin: `https://${HOST}:${httpsPort}` } : {}), child };
  },
};
