import type { Command } from 'commander';
import { BerthError } from '../../errors.ts';
import { appName } from '../../platform/index.ts';
import { parseConfigKeys, parseConfigPairs, parseEnvLines } from './arguments.ts';
import { apiPath } from './client.ts';
import type { RemoteContext } from './context.ts';
import { ConfigAnswer, ConfigChangeAnswer, type Release } from './schemas.ts';
import { formatJson, formatList, formatTable } from './table.ts';

/** Keys sorted; values hidden as `***` unless revealed (the server sends null for them anyway). */
export function configTable(config: Readonly<Record<string, string | null>>, reveal: boolean): string {
  const keys = Object.keys(config).sort();
  return formatTable(['KEY', 'VALUE'], keys.map((key) => [key, reveal ? (config[key] ?? '') : '***']));
}

/** Every variable the app's processes get, with its source; secrets as *** unless revealed. */
export function variablesTable(vars: ReadonlyArray<{ key: string; source: string; value: string | null; overriddenBy: string | null }>, reveal: boolean): string {
  return formatTable(
    ['KEY', 'SOURCE', 'VALUE'],
    vars.map((v) => [v.key, v.overriddenBy === null ? v.source : `${v.source} (overridden by ${v.overriddenBy})`, v.source === 'berth' || reveal ? (v.value ?? '') : '***']),
  );
}

function made(release: Release | null): string {
  if (release === null) return 'no release yet, the config applies from the first deploy';
  return `release ${release.name}${release.current ? ' is live' : ` is ${release.status}`}`;
}

/** `berth config set K=V... | unset K... | list [--reveal]`, each with `--app NAME`. */
export function registerConfig(cli: Command, ctx: RemoteContext): void {
  const config = cli.command('config').description("an app's config vars (environment variables); each change makes a release");

  config
    .command('set')
    .description('set config vars; the value may contain "="')
    .argument('[pairs...]', 'KEY=VALUE pairs')
    .requiredOption('--app <name>', 'the app')
    .option('--stdin', 'read KEY=VALUE lines from standard input instead, keeping secret values out of argv and shell history')
    .action(async (pairs: string[], opts: { app: string; stdin?: boolean }) => {
      const app = appName(opts.app);
      if (opts.stdin && pairs.length > 0) throw new BerthError('BERTH_E_USAGE', 'give KEY=VALUE pairs or --stdin, not both');
      const set = opts.stdin ? parseEnvLines(await ctx.readStdin()) : parseConfigPairs(pairs);
      const { value } = await ctx.client().call('PATCH', apiPath('apps', app, 'config'), ConfigChangeAnswer, { set });
      // The keys, never the values: they are secrets.
      ctx.io.out(`set ${formatList(Object.keys(set))} on ${app}: ${made(value.release)}\n`);
    });

  config
    .command('unset')
    .description('remove config vars')
    .argument('<keys...>', 'the keys to remove')
    .requiredOption('--app <name>', 'the app')
    .action(async (keys: string[], opts: { app: string }) => {
      const app = appName(opts.app);
      const unset = parseConfigKeys(keys);
      const { value } = await ctx.client().call('PATCH', apiPath('apps', app, 'config'), ConfigChangeAnswer, { unset });
      ctx.io.out(`unset ${formatList(unset)} on ${app}: ${made(value.release)}\n`);
    });

  config
    .command('list')
    .description("list every variable the app's processes get, with its source (config, addon:KIND, berth); secret values are shown as *** unless --reveal")
    .requiredOption('--app <name>', 'the app')
    .option('--reveal', 'show the values (they are secrets: mind who can see your screen)')
    .option('--json', "print the API's JSON answer (values are null unless --reveal)")
    .action(async (opts: { app: string; reveal?: boolean; json?: boolean }) => {
      const app = appName(opts.app);
      const reveal = opts.reveal === true;
      const { value, json } = await ctx.client().call('GET', `${apiPath('apps', app, 'config')}${reveal ? '?reveal=1' : ''}`, ConfigAnswer);
      if (opts.json) return ctx.io.out(formatJson(json));
      if (value.vars !== undefined) {
        ctx.io.out(variablesTable(value.vars, reveal));
        if (Object.keys(value.config).length === 0) ctx.io.out(`${app} has no config vars of its own; set some with: berth config set KEY=VALUE --app ${app}\n`);
        return;
      }
      if (Object.keys(value.config).length === 0) return ctx.io.out(`${app} has no config vars; set some with: berth config set KEY=VALUE --app ${app}\n`);
      ctx.io.out(configTable(value.config, reveal));
    });
}
