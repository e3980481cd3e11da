import type { Command } from 'commander';
import { z } from 'zod';
import { BerthError } from '../../errors.ts';
import { parseDrainUrl } from '../../platform/drain-policy.ts';
import { appName } from '../../platform/index.ts';
import { apiPath } from './client.ts';
import type { RemoteContext } from './context.ts';
import { cell, formatJson, formatTable, formatTime } from './table.ts';

// The answers of the drain routes (docs/API.md), as the CLI reads them.
const DrainSchema = z.object({
  id: z.number(),
  kind: z.string(),
  url: z.string(),
  createdAt: z.string(),
  state: z.string(),
  sent: z.number(),
  dropped: z.number(),
  lastError: z.string().nullable(),
  lastErrorAt: z.string().nullable(),
});
const DrainsAnswer = z.object({ drains: z.array(DrainSchema) });
const DrainAnswer = z.object({ drain: DrainSchema });
const RemovedAnswer = z.object({ removed: DrainSchema });

const URL_HINT = 'e.g. berth drains add syslog+tls://logs.example.com:6514 --app shop; --stdin reads the URL from standard input, keeping a token in it out of argv and shell history.';

/** `berth drains add URL | add --stdin | list | remove ID`, each with `--app NAME`. */
export function registerDrains(cli: Command, ctx: RemoteContext): void {
  const drains = cli
    .command('drains')
    .description("send an app's log lines (output and access log) to syslog (RFC 5424 over TCP or TLS) or an HTTPS endpoint as they happen");

  drains
    .command('add')
    .description('add a drain: syslog+tls://HOST:PORT, syslog://HOST:PORT (plain TCP) or https://HOST/PATH (batches of JSON lines)')
    .argument('[url]', 'where the lines go; may end in ?facility=local0 for syslog')
    .requiredOption('--app <name>', 'the app')
    .option('--stdin', 'read the URL from standard input instead (it may hold a token)')
    .option('--json', "print the API's JSON answer")
    .action(async (given: string | undefined, opts: { app: string; stdin?: boolean; json?: boolean }) => {
      const app = appName(opts.app);
      if (opts.stdin && given !== undefined) throw new BerthError('BERTH_E_USAGE', 'give the URL or --stdin, not both', { hint: URL_HINT });
      const url = opts.stdin ? (await ctx.readStdin()).trim() : given;
      if (url === undefined || url === '') throw new BerthError('BERTH_E_USAGE', 'a drain needs a URL', { hint: URL_HINT });
      parseDrainUrl(url);
      const { value, json } = await ctx.client().call('POST', apiPath('apps', app, 'drains'), DrainAnswer, { url });
      if (opts.json) return ctx.io.out(formatJson(json));
      ctx.io.out(`added drain ${value.drain.id} (${cell(value.drain.url)}) to ${app}\n`);
    });

  drains
    .command('list')
    .description("list an app's drains (URLs with their secret parts hidden), how each is doing, and what it sent and dropped since the server started")
    .requiredOption('--app <name>', 'the app')
    .option('--json', "print the API's JSON answer")
    .action(async (opts: { app: string; json?: boolean }) => {
      const app = appName(opts.app);
      const { value, json } = await ctx.client().call('GET', apiPath('apps', app, 'drains'), DrainsAnswer);
      if (opts.json) return ctx.io.out(formatJson(json));
      if (value.drains.length === 0) return ctx.io.out(`${app} has no drains; add one with: berth drains add URL --app ${app}\n`);
      ctx.io.out(
        formatTable(
          ['ID', 'URL', 'STATE', 'SENT', 'DROPPED', 'LAST ERROR'],
          value.drains.map((d) => [d.id, d.url, d.state, d.sent, d.dropped, d.lastError === null ? '-' : `${d.lastError} (${formatTime(d.lastErrorAt)})`]),
        ),
      );
    });

  drains
    .command('remove')
    .description('remove a drain: lines stop going there at once')
    .argument('<id>', 'the drain id, as berth drains list shows it')
    .requiredOption('--app <name>', 'the app')
    .action(async (id: string, opts: { app: string }) => {
      const app = appName(opts.app);
      if (!/^\d{1,15}$/.test(id)) throw new BerthError('BERTH_E_USAGE', `"${id.slice(0, 20)}" is not a drain id`, { hint: `See berth drains list --app ${app}.` });
      const { value } = await ctx.client().call('DELETE', apiPath('apps', app, 'drains', id), RemovedAnswer);
      ctx.io.out(`removed drain ${value.removed.id} (${cell(value.removed.url)}) from ${app}\n`);
    });
}
