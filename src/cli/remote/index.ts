// The remote commands' door: the `berth` subcommands that talk to a
// `berth server` over its control API (docs/API.md). src/cli/index.ts wires
// them into the program with registerRemoteCommands; nothing happens at import.
import type { Command } from 'commander';
import { registerAddons } from './addons.ts';
import { registerApps } from './apps.ts';
import { registerBackups } from './backups.ts';
import { registerConfig } from './config.ts';
import { registerCron } from './cron.ts';
import { remoteContext, type RemoteIo, type RemoteOptions } from './context.ts';
import { registerDeploy } from './deploy.ts';
import { registerCache } from './cache.ts';
import { registerDomains } from './domains.ts';
import { registerDrains } from './drains.ts';
import { registerKeys } from './keys.ts';
import { registerKubernetes } from './kubernetes.ts';
import { registerLogin } from './login.ts';
import { registerLogs } from './logs.ts';
import { registerProcesses } from './processes.ts';
import { registerReleases } from './releases.ts';
import { registerServers } from './servers.ts';
import { registerRun } from './run.ts';
import { registerStorage } from './storage.ts';
import { registerTokens } from './tokens.ts';

export type { RemoteIo, RemoteOptions } from './context.ts';
export { ApiClient, type ApiAnswer } from './client.ts';
export { resolveCredentials, readSavedServers, saveServers, credentialsPath, type Credentials } from './credentials.ts';
export type { SavedServer, SavedServers } from './saved-servers.ts';

/**
 * Adds login, logout, servers, apps, deploy, releases, rollback, config,
 * scale, ps, restart, run, stop, logs, drains, domains, tokens, cron,
 * addons, storage and backups to the program; each command that calls a
 * server takes --server NAME|URL (a saved server other than the current one). Failures are thrown as BerthErrors for the program's handler to
 * print; `io` receives the normal output, each piece of text ending with
 * "\n" (write it as it is, e.g. `(text) => process.stdout.write(text)`).
 */
export function registerRemoteCommands(cli: Command, io: RemoteIo, options: RemoteOptions = {}): void {
  const ctx = remoteContext(io, options);
  const before = new Set(cli.commands);
  registerApps(cli, ctx);
  registerDeploy(cli, ctx);
  registerReleases(cli, ctx);
  registerConfig(cli, ctx);
  registerProcesses(cli, ctx);
  registerRun(cli, ctx);
  registerLogs(cli, ctx);
  registerDrains(cli, ctx);
  registerDomains(cli, ctx);
  registerCache(cli, ctx);
  registerKubernetes(cli, ctx);
  registerTokens(cli, ctx);
  registerKeys(cli, ctx);
  registerCron(cli, ctx);
  registerAddons(cli, ctx);
  registerStorage(cli, ctx);
  registerBackups(cli, ctx);
  for (const command of cli.commands) if (!before.has(command)) addServerOption(command);
  // Each command's --server is handed to the context before its action runs.
  cli.hook('preAction', (_program, action) => ctx.selectServer(action.opts().server as string | undefined));
  registerLogin(cli, ctx);
  registerServers(cli, ctx);
}

/** --server on every command that calls the daemon (the leaves: a group such as `apps` only holds them). */
function addServerOption(command: Command): void {
  if (command.commands.length > 0) {
    for (const sub of command.commands) addServerOption(sub);
    return;
  }
  command.option('--server <name|url>', 'the saved server to call (its name or URL) instead of the current one; or set BERTH_SERVER');
}
