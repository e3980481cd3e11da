import type { Command } from 'commander';
import { appName, hostname } from '../../platform/index.ts';
import { apiPath } from './client.ts';
import type { RemoteContext } from './context.ts';
import { DomainsAnswer } from './schemas.ts';
import { formatJson, formatTable } from './table.ts';

/** `berth domains add HOST | remove HOST | list`, each with `--app NAME`. */
export function registerDomains(cli: Command, ctx: RemoteContext): void {
  const domains = cli.command('domains').description("the hostnames an app answers on, besides its own NAME.BASE");

  domains
    .command('add')
    .description("route a hostname to the app; point the name's DNS at this server")
    .argument('<hostname>', 'e.g. shop.example.com')
    .requiredOption('--app <name>', 'the app')
    .action(async (host: string, opts: { app: string }) => {
      const app = appName(opts.app);
      const name = hostname(host);
      await ctx.client().call('POST', apiPath('apps', app, 'domains'), DomainsAnswer, { hostname: name });
      ctx.io.out(`added ${name} to ${app}\n`);
    });

  domains
    .command('remove')
    .description('stop routing a hostname to the app')
    .argument('<hostname>', 'e.g. shop.example.com')
    .requiredOption('--app <name>', 'the app')
    .action(async (host: string, opts: { app: string }) => {
      const app = appName(opts.app);
      const name = hostname(host);
      await ctx.client().call('DELETE', apiPath('apps', app, 'domains', name), DomainsAnswer);
      ctx.io.out(`removed ${name} from ${app}\n`);
    });

  domains
    .command('list')
    .description("list an app's domains")
    .requiredOption('--app <name>', 'the app')
    .option('--json', "print the API's JSON answer")
    .action(async (opts: { app: string; json?: boolean }) => {
      const app = appName(opts.app);
      const { value, json } = await ctx.client().call('GET', apiPath('apps', app, 'domains'), DomainsAnswer);
      if (opts.json) return ctx.io.out(formatJson(json));
      if (value.domains.length === 0) return ctx.io.out(`${app} has no domains; add one with: berth domains add HOST --app ${app}\n`);
      ctx.io.out(formatTable(['DOMAIN'], value.domains.map((domain) => [domain])));
    });
}
