import type { Command } from 'commander';
import { appName } from '../../platform/index.ts';
import { instancesTable } from './apps.ts';
import { parseFormation } from './arguments.ts';
import { apiPath } from './client.ts';
import type { RemoteContext } from './context.ts';
import { FormationAnswer, InstancesAnswer, RestartedAnswer } from './schemas.ts';
import { formatFormation, formatJson } from './table.ts';

/** `berth scale TYPE=N... --app NAME`, `berth ps --app NAME`, `berth restart --app NAME`. */
export function registerProcesses(cli: Command, ctx: RemoteContext): void {
  cli
    .command('scale')
    .description('set how many instances of each process type run, and their memory, e.g. berth scale web=3 worker=1:1g --app shop')
    .argument('<type=count[:size]...>', 'process types and counts (0 to 64), each optionally with a memory limit (web=2:1g; web=2:default for the defaults)')
    .requiredOption('--app <name>', 'the app')
    .option('--memory <size>', 'the memory limit of every type named without one (512m, 1g; default: berth.toml or the server\'s)')
    .action(async (args: string[], opts: { app: string; memory?: string }) => {
      const app = appName(opts.app);
      const request = parseFormation(args, opts.memory);
      const body = Object.fromEntries(Object.entries(request.counts).map(([type, count]) => [type, Object.hasOwn(request.memory, type) ? { count, memory: request.memory[type] } : count]));
      const { value } = await ctx.client().call('PUT', apiPath('apps', app, 'formation'), FormationAnswer, body);
      const now = formatFormation(value.formation, value.memory ?? {});
      ctx.io.out(`scaled ${app}: ${now === '' ? 'nothing runs' : now}\n`);
    });

  cli
    .command('ps')
    .description("list an app's instances and their state")
    .requiredOption('--app <name>', 'the app')
    .option('--json', "print the API's JSON answer")
    .action(async (opts: { app: string; json?: boolean }) => {
      const app = appName(opts.app);
      const { value, json } = await ctx.client().call('GET', apiPath('apps', app, 'ps'), InstancesAnswer);
      if (opts.json) return ctx.io.out(formatJson(json));
      if (value.instances.length === 0) return ctx.io.out(`${app} has no instances running\n`);
      ctx.io.out(instancesTable(value.instances));
    });

  cli
    .command('restart')
    .description("restart an app's instances, rolling: new ones start and take traffic, then the old ones drain")
    .requiredOption('--app <name>', 'the app')
    .action(async (opts: { app: string }) => {
      const app = appName(opts.app);
      await ctx.client().call('POST', apiPath('apps', app, 'restart'), RestartedAnswer);
      ctx.io.out(`restarted ${app}\n`);
    });
}
