import type { Command } from 'commander';
import { appName } from '../../platform/index.ts';
import { confirmation, formatAddonInfo, printWarnings, releaseLine } from './addons.ts';
import { apiPath } from './client.ts';
import type { RemoteContext } from './context.ts';
import { AddonCreatedAnswer, AddonInfoAnswer, StorageDestroyedAnswer } from './schemas.ts';
import { cell, formatJson } from './table.ts';

/** `berth storage create | info | destroy --app NAME`: a data folder that outlives releases (BERTH_DATA_DIR). */
export function registerStorage(cli: Command, ctx: RemoteContext): void {
  const storage = cli.command('storage').description('a persistent data folder for an app (BERTH_DATA_DIR), kept across deploys and rollbacks');

  storage
    .command('create')
    .description("make the app's data folder and roll out a release with BERTH_DATA_DIR set to it")
    .requiredOption('--app <name>', 'the app')
    .action(async (opts: { app: string }) => {
      const app = appName(opts.app);
      const { value } = await ctx.client().call('POST', apiPath('apps', app, 'storage'), AddonCreatedAnswer);
      const dir = value.addon.details.dir;
      ctx.io.out(`created storage for ${app}${dir === undefined ? '' : ` at ${cell(dir)}`}: set ${value.addon.vars.map((v) => cell(v)).join(', ')}\n`);
      ctx.io.out(`${releaseLine(value.release, app)}\n`);
      printWarnings(ctx, value.warnings);
    });

  storage
    .command('info')
    .description("show the app's data folder")
    .requiredOption('--app <name>', 'the app')
    .option('--json', "print the API's JSON answer")
    .action(async (opts: { app: string; json?: boolean }) => {
      const app = appName(opts.app);
      const { value, json } = await ctx.client().call('GET', apiPath('apps', app, 'storage'), AddonInfoAnswer);
      ctx.io.out(opts.json ? formatJson(json) : formatAddonInfo(value.addon));
    });

  storage
    .command('destroy')
    .description("delete the app's data folder and every file in it; refused while the sqlite add-on keeps its database there")
    .requiredOption('--app <name>', 'the app')
    .option('--confirm <name>', 'the app name again, to confirm (asked for on a terminal when left out)')
    .action(async (opts: { app: string; confirm?: string }) => {
      const app = appName(opts.app);
      const confirm = await confirmation({
        given: opts.confirm,
        app,
        what: `destroying the storage of ${app}`,
        consequence: `This deletes the data folder of ${app} and every file in it; no backup is made.`,
        command: `berth storage destroy --app ${app}`,
      });
      const { value } = await ctx.client().call('DELETE', `${apiPath('apps', app, 'storage')}?confirm=${encodeURIComponent(confirm)}`, StorageDestroyedAnswer);
      ctx.io.out(`destroyed the storage of ${app}\n`);
      ctx.io.out(`${releaseLine(value.release, app)}\n`);
    });
}
