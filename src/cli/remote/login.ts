import type { Command } from 'commander';
import { BerthError, isBerthError } from '../../errors.ts';
import { ApiClient } from './client.ts';
import { apiToken, saveCredentials, serverUrl } from './credentials.ts';
import type { RemoteContext } from './context.ts';
import { AppsAnswer } from './schemas.ts';

/** `berth login --server URL --token TOKEN`: checks the pair against the server, then saves it. */
export function registerLogin(cli: Command, ctx: RemoteContext): void {
  cli
    .command('login')
    .description('check a berth server URL and API token, then save them for the other commands (BERTH_SERVER and BERTH_TOKEN override them)')
    .requiredOption('--server <url>', "the URL of `berth server`'s API, e.g. http://127.0.0.1:7070")
    .option('--token <token>', 'an API token: the admin-token file in the server\'s state folder, or one from `berth tokens create`')
    .option('--token-stdin', 'read the token from standard input, keeping it out of argv and shell history')
    .action(async (opts: { server: string; token?: string; tokenStdin?: boolean }) => {
      if ((opts.token === undefined) === (opts.tokenStdin !== true)) {
        throw new BerthError('BERTH_E_USAGE', 'give the token with --token TOKEN or --token-stdin (exactly one)', { hint: 'e.g. berth login --server URL --token-stdin < /var/lib/berth/admin-token' });
      }
      const token = opts.tokenStdin ? (await ctx.readStdin()).trim() : opts.token!;
      const credentials = { server: serverUrl(opts.server), token: apiToken(token) };
      try {
        // Any authenticated call proves the pair; listing apps is the cheapest.
        await new ApiClient(credentials).call('GET', '/apps', AppsAnswer);
      } catch (err) {
        if (isBerthError(err) && err.code === 'BERTH_E_UNAUTHORIZED') {
          throw new BerthError('BERTH_E_UNAUTHORIZED', `the server at ${credentials.server} did not accept the token; nothing was saved`, {
            status: 401,
            hint: "Check the token: the admin-token file in `berth server`'s state folder, or one made with `berth tokens create NAME` (revoked tokens stop working).",
          });
        }
        throw err;
      }
      const path = saveCredentials(ctx.env, credentials);
      ctx.io.out(`logged in to ${credentials.server}; credentials saved in ${path}\n`);
      for (const name of ['BERTH_SERVER', 'BERTH_TOKEN']) {
        if ((ctx.env[name] ?? '').trim() !== '') ctx.io.err(`note: ${name} is set in the environment and overrides the saved value for every command\n`);
      }
    });
}
