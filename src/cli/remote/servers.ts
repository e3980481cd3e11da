import type { Command } from 'commander';
import { BerthError } from '../../errors.ts';
import { credentialsPath, readSavedServers, saveServers, serverUrl } from './credentials.ts';
import type { RemoteContext } from './context.ts';
import { findServer, useServer } from './saved-servers.ts';
import { cell, formatJson, formatTable } from './table.ts';

/** `berth servers [--json]` and `berth servers use NAME|URL`: the servers `berth login` saved (never their tokens). */
export function registerServers(cli: Command, ctx: RemoteContext): void {
  const servers = cli
    .command('servers')
    .description('list the servers berth login saved on this machine, the current one marked with *; their tokens are never shown')
    .option('--json', 'print them as JSON')
    .action((opts: { json?: boolean }) => {
      const saved = readSavedServers(credentialsPath(ctx.env));
      if (opts.json) {
        return ctx.io.out(formatJson({ current: saved.servers.find((s) => s.server === saved.current)?.name ?? null, servers: saved.servers.map((s) => ({ name: s.name, server: s.server, current: s.server === saved.current })) }));
      }
      if (saved.servers.length === 0) return ctx.io.out('no server is saved: berth login --server URL --token TOKEN\n');
      ctx.io.out(formatTable(['CURRENT', 'NAME', 'URL'], saved.servers.map((s) => [s.server === saved.current ? '*' : '', s.name, s.server])));
    });

  servers
    .command('use')
    .description('make a saved server the current one, which commands use unless given --server or BERTH_SERVER')
    .argument('<server>', "the saved server's name or URL")
    .action((selector: string) => {
      const saved = readSavedServers(credentialsPath(ctx.env));
      const entry = findServer(saved, selector, serverUrl);
      if (entry === null) {
        throw new BerthError('BERTH_E_NOT_LOGGED_IN', `no saved server is named or at "${selector}"`, {
          hint: saved.servers.length === 0 ? 'Log in first: berth login --server URL --token TOKEN.' : `The saved servers are ${saved.servers.map((s) => s.name).join(', ')}; or log in to it first.`,
        });
      }
      saveServers(ctx.env, useServer(saved, entry));
      ctx.io.out(`"${cell(entry.name)}" (${entry.server}) is now the current server\n`);
      if ((ctx.env.BERTH_SERVER ?? '').trim() !== '') ctx.io.err('note: BERTH_SERVER is set in the environment and chooses the server for every command instead\n');
    });
}
