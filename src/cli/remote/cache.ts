import type { Command } from 'commander';
import { appName, urlPath } from '../../platform/index.ts';
import { apiPath } from './client.ts';
import type { RemoteContext } from './context.ts';
import { PurgeAnswer } from './schemas.ts';

/** `berth cache purge --app NAME [PATH]`. */
export function registerCache(cli: Command, ctx: RemoteContext): void {
  cli
    .command('cache')
    .description("the edge's cache of an app's responses (what the app marks Cache-Control: public)")
    .command('purge')
    .description('drop cached responses: all of the app\'s, or PATH and what is under it (a PATH with ?query: that one URL)')
    .argument('[path]', 'e.g. /blog or /search?q=x')
    .requiredOption('--app <name>', 'the app')
    .action(async (path: string | undefined, opts: { app: string }) => {
      const app = appName(opts.app);
      const body = path === undefined ? {} : { path: urlPath(path) };
      const { value } = await ctx.client().call('POST', apiPath('apps', app, 'cache', 'purge'), PurgeAnswer, body);
      ctx.io.out(`purged ${value.purged} cached response${value.purged === 1 ? '' : 's'} of ${app}${value.path === null ? '' : ` under ${value.path}`}\n`);
    });
}
