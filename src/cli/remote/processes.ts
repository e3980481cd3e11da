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
    .description('set how many instances of each process type run, e.g. berth scale web=3 worker=1 --app shop')
    .argument('<type=count...>', 'process types and counts (0 to 64)')
    .requiredOption('--app <name>', 'the app')
    .action(async (args: string[], opts: { app: string }) => {
      const app = appName(opts.app);
      const formation = parseFormation(args);
      const { value } = await ctx.client().call('PUT', apiPath('apps', app, 'formation'), FormationAnswer, formation);
      const now = formatFormation(value.formation);
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
