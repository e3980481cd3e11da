import type { Command } from 'commander';
import { BerthError, isBerthError } from '../../errors.ts';
import { ApiClient } from './client.ts';
import { apiToken, credentialsPath, readSavedServers, saveServers, serverUrl } from './credentials.ts';
import type { RemoteContext } from './context.ts';
import { findServer, isUrlSelector, removeServer, saveServer } from './saved-servers.ts';
import { AppsAnswer } from './schemas.ts';
import { cell } from './table.ts';

/**
 * `berth login --server URL|NAME [--name NAME] --token TOKEN`: checks the
 * pair against the server, then saves it beside the other servers and
 * makes it current. `berth logout [SERVER]` forgets one.
 */
export function registerLogin(cli: Command, ctx: RemoteContext): void {
  cli
    .command('login')
    .description('check a berth server URL and API token, then save them beside the servers saved before and make that server the current one (--server or BERTH_SERVER pick another per command; BERTH_TOKEN overrides the token)')
    .requiredOption('--server <url|name>', "the URL of `berth server`'s API, e.g. http://127.0.0.1:7070, or a saved server's name (to renew its token)")
    .option('--name <name>', 'what to call this server in --server NAME (default: its host and port)')
    .option('--token <token>', 'an API token: the admin-token file in the server\'s state folder, or one from `berth tokens create`')
    .option('--token-stdin', 'read the token from standard input, keeping it out of argv and shell history')
    .action(async (opts: { server: string; name?: string; token?: string; tokenStdin?: boolean }) => {
      if ((opts.token === undefined) === (opts.tokenStdin !== true)) {
        throw new BerthError('BERTH_E_USAGE', 'give the token with --token TOKEN or --token-stdin (exactly one)', { hint: 'e.g. berth login --server URL --token-stdin < /var/lib/berth/admin-token' });
      }
      const path = credentialsPath(ctx.env);
      const saved = readSavedServers(path);
      let server: string;
      if (isUrlSelector(opts.server) || opts.server.trim() === '') server = serverUrl(opts.server);
      else {
        const known = findServer(saved, opts.server, serverUrl);
        // A bare host:port is a URL without its scheme, not a name: say so as before.
        if (known === null) server = serverUrl(opts.server);
        else server = known.server;
      }
      const token = apiToken(opts.tokenStdin ? (await ctx.readStdin()).trim() : opts.token!);
      try {
        // Any authenticated call proves the pair; listing apps is the cheapest.
        await new ApiClient({ server, token }).call('GET', '/apps', AppsAnswer);
      } catch (err) {
        if (isBerthError(err) && err.code === 'BERTH_E_UNAUTHORIZED') {
          throw new BerthError('BERTH_E_UNAUTHORIZED', `the server at ${server} did not accept the token; nothing was saved`, {
            status: 401,
            hint: "Check the token: the admin-token file in `berth server`'s state folder, or one made with `berth tokens create NAME` (revoked tokens stop working).",
          });
        }
        throw err;
      }
      const { saved: next, entry } = saveServer(saved, { server, token, ...(opts.name === undefined ? {} : { name: opts.name }) });
      saveServers(ctx.env, next);
      const others = next.servers.length - 1;
      ctx.io.out(`logged in to ${entry.server} as "${cell(entry.name)}", now the current server${others > 0 ? ` (${others} other${others === 1 ? '' : 's'} saved: berth servers)` : ''}; credentials saved in ${path}\n`);
      for (const name of ['BERTH_SERVER', 'BERTH_TOKEN']) {
        if ((ctx.env[name] ?? '').trim() !== '') ctx.io.err(`note: ${name} is set in the environment and overrides the saved value for every command\n`);
      }
    });

  cli
    .command('logout')
    .description("forget a saved server's token on this machine (the current server unless named); the token itself stays valid on the server until `berth tokens revoke`")
    .argument('[server]', "the saved server's name or URL")
    .action(async (selector: string | undefined) => {
      const path = credentialsPath(ctx.env);
      const saved = readSavedServers(path);
      const entry = selector === undefined ? saved.servers.find((s) => s.server === saved.current) ?? null : findServer(saved, selector, serverUrl);
      if (entry === null) {
        if (selector === undefined) {
          if (saved.servers.length === 0) return ctx.io.out('not logged in to any server: nothing to forget\n');
          throw new BerthError('BERTH_E_USAGE', 'no server is current, so say which to log out of', { hint: `berth logout NAME (${saved.servers.map((s) => s.name).join(', ')})` });
        }
        throw new BerthError('BERTH_E_NOT_LOGGED_IN', `no saved server is named or at "${selector}"; nothing was changed`, {
          hint: saved.servers.length === 0 ? 'No server is saved.' : `The saved servers are ${saved.servers.map((s) => s.name).join(', ')} (berth servers lists them).`,
        });
      }
      const next = removeServer(saved, entry);
      saveServers(ctx.env, next);
      const current = next.servers.find((s) => s.server === next.current);
      const after =
        saved.current !== entry.server ? '' : current !== undefined ? `; "${cell(current.name)}" is now the current server` : next.servers.length > 0 ? '; no server is current now (berth servers use NAME)' : '';
      ctx.io.out(`logged out of ${entry.server} ("${cell(entry.name)}")${after}\n`);
    });
}
