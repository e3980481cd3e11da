import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { parseAddonKind } from '../../addons/backup-policy.ts';
import { BerthError } from '../../errors.ts';
import { appName } from '../../platform/index.ts';
import { apiPath } from './client.ts';
import { configTable } from './config.ts';
import type { RemoteContext } from './context.ts';
import { AddonCreatedAnswer, AddonDestroyedAnswer, AddonInfoAnswer, AddonsAnswer, type Addon, type AddonInfo, type Backup, type Release } from './schemas.ts';
import { cell, formatBytes, formatFields, formatJson, formatList, formatTable, formatTime } from './table.ts';

/** Asks one question on the terminal; null when there is no terminal to ask on, or the user gave up (Ctrl-C, Ctrl-D). */
export type AskOnTerminal = (preamble: string, question: string) => Promise<string | null>;

/**
 * The terminal's answer, when standard input is one: a script (stdin a pipe
 * or /dev/null) is never asked, so it cannot hang on a question nobody sees;
 * it gets the refusal that says which flag to add. The question goes to
 * stderr, keeping stdout for what the command prints.
 */
export const askOnTerminal: AskOnTerminal = async (preamble, question) => {
  if (process.stdin.isTTY !== true) return null;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    process.stderr.write(preamble);
    return await new Promise<string | null>((resolve, reject) => {
      rl.once('close', () => resolve(null));
      rl.once('SIGINT', () => rl.close());
      rl.question(question).then(resolve, reject);
    });
  } finally {
    rl.close();
  }
};

export interface Confirmation {
  /** What --confirm was given, if anything. */
  readonly given: string | undefined;
  /** The name to type; null when only the server knows it (a restore names a backup, not an app). */
  readonly app: string | null;
  /** "destroying the redis add-on of shop", for the refusal. */
  readonly what: string;
  /** What happens, for the terminal's preamble: one or two sentences. */
  readonly consequence: string;
  /** The command to run again with --confirm, for the hint. */
  readonly command: string;
}

/**
 * The confirmation to send: --confirm as given (it must match the app), or
 * else the app's name typed on the terminal; without a terminal, refused
 * (BERTH_E_CONFIRM) before anything is asked of the server.
 */
export async function confirmation(c: Confirmation, ask: AskOnTerminal = askOnTerminal): Promise<string> {
  const name = c.app ?? 'APP';
  const mismatch = (typed: string) =>
    new BerthError('BERTH_E_CONFIRM', `${c.given === undefined ? 'the name typed' : `--confirm ${JSON.stringify(typed)}`} does not match ${name}; nothing was changed`, { hint: `To go ahead: ${c.command} --confirm ${name}` });
  if (c.given !== undefined) {
    if (c.app !== null && c.given !== c.app) throw mismatch(c.given);
    return c.given;
  }
  const typed = await ask(`${c.consequence}\n`, c.app === null ? "Type the app's name to confirm: " : `Type the app name (${c.app}) to confirm: `);
  if (typed === null) throw new BerthError('BERTH_E_CONFIRM', `${c.what} needs --confirm ${name}`, { hint: `${c.consequence} To go ahead: ${c.command} --confirm ${name}` });
  const answer = typed.trim();
  if (c.app !== null && answer !== c.app) throw mismatch(answer);
  return answer;
}

/** "release v3 is live", or why there is none. */
export function releaseLine(release: Release | null, app: string): string {
  if (release === null) return `${app} has no release yet: its first deploy gets the change`;
  return `release ${release.name} ${release.current ? 'is live' : `is ${release.status}`}`;
}

/**
 * A call that waits for a backup or restore on the server, which goes on
 * when the connection does not (fetch gives up on an answer after 5 minutes
 * of silence): say so, and where to look, rather than "run it again".
 */
export async function stillRunning<T>(call: Promise<T>, look: string): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (err instanceof BerthError && err.code === 'BERTH_E_CONNECTION_LOST') {
      throw new BerthError(err.code, err.message, { cause: err, hint: `The server carries on without this connection; see how it ends with ${look}.` });
    }
    throw err;
  }
}

export function printWarnings(ctx: RemoteContext, warnings: readonly string[]): void {
  for (const warning of warnings) ctx.io.err(`warning: ${cell(warning)}\n`);
}

/** An add-on kind for `berth addons`; storage has its own command. */
function kindArg(kind: string, app: string): string {
  if (kind === 'storage') throw new BerthError('BERTH_E_USAGE', 'storage is not an add-on kind', { hint: `A data folder alone: berth storage create --app ${app}` });
  return parseAddonKind(kind);
}

function details(details: Readonly<Record<string, string>>): string {
  return Object.entries(details)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
}

export function addonsTable(addons: readonly Addon[]): string {
  return formatTable(
    ['APP', 'KIND', 'VARS', 'CREATED', 'DETAILS'],
    addons.map((addon) => [addon.app, addon.kind, addon.vars.join(','), formatTime(addon.createdAt), details(addon.details)]),
  );
}

/** "12 good 2026-01-02 03:04:05 UTC (1.2 KiB)", or the failure and why. */
export function backupSummary(backup: Backup): string {
  const size = backup.bytes === null ? '' : ` (${formatBytes(backup.bytes)})`;
  const why = backup.error === null ? '' : `: ${backup.error}`;
  return `${backup.id} ${backup.missing ? 'good, but its file is missing' : backup.status} ${formatTime(backup.startedAt)}${size}${why}`;
}

/** `berth addons info` and `berth storage info`: what it is, what the app gets, its schedule and last backup. */
export function formatAddonInfo(addon: AddonInfo): string {
  const schedule = addon.schedule;
  let text = formatFields([
    ['app', addon.app],
    ['kind', addon.kind],
    ['created', formatTime(addon.createdAt)],
    ['vars', addon.vars.join(', ')],
    ...Object.entries(addon.details).map(([key, value]) => [key, value] as const),
    ...(addon.kind === 'storage'
      ? []
      : ([
          ['backups', schedule === null ? `not scheduled (berth backups schedule --app ${addon.app} --addon ${addon.kind} --cron EXPR)` : `${schedule.schedule} (${schedule.timezone}), keeping ${schedule.keep}, next ${formatTime(schedule.nextRun)}`],
          ['last backup', addon.lastBackup === null ? 'none yet' : backupSummary(addon.lastBackup)],
        ] as const)),
  ]);
  if (addon.values !== null) text += `\n${configTable(addon.values, true)}`;
  return text;
}

/** `berth addons create KIND | list | info KIND | destroy KIND`, with `--app NAME`. */
export function registerAddons(cli: Command, ctx: RemoteContext): void {
  const addons = cli.command('addons').description("an app's databases: postgres, redis or sqlite, each provisioned for the app alone, given to it as config vars, and backed up");

  addons
    .command('create')
    .description('provision an add-on and roll out a release that has its vars (DATABASE_URL, REDIS_URL)')
    .argument('<kind>', 'postgres, redis or sqlite')
    .requiredOption('--app <name>', 'the app')
    .option('--as <name>', 'give its URL under this name (e.g. SQLITE_URL) rather than DATABASE_URL: needed when another add-on set that one')
    .action(async (kindText: string, opts: { app: string; as?: string }) => {
      const app = appName(opts.app);
      const kind = kindArg(kindText, app);
      const { value } = await ctx.client().call('POST', apiPath('apps', app, 'addons'), AddonCreatedAnswer, { kind, ...(opts.as === undefined ? {} : { as: opts.as }) });
      // The names, never the values: they hold passwords (berth addons info --reveal shows them).
      ctx.io.out(`created the ${kind} add-on of ${app}: set ${formatList(value.addon.vars.map((v) => cell(v)))}\n`);
      ctx.io.out(`${releaseLine(value.release, app)}\n`);
      printWarnings(ctx, value.warnings);
    });

  addons
    .command('list')
    .description("list an app's add-ons and storage, or every app's")
    .option('--app <name>', 'only this app')
    .option('--json', "print the API's JSON answer")
    .action(async (opts: { app?: string; json?: boolean }) => {
      const app = opts.app === undefined ? undefined : appName(opts.app);
      const { value, json } = await ctx.client().call('GET', app === undefined ? '/addons' : apiPath('apps', app, 'addons'), AddonsAnswer);
      if (opts.json) return ctx.io.out(formatJson(json));
      if (value.addons.length === 0) return ctx.io.out(app === undefined ? 'no add-ons yet; create one with: berth addons create postgres --app NAME\n' : `${app} has no add-ons; create one with: berth addons create postgres --app ${app}\n`);
      ctx.io.out(addonsTable(value.addons));
    });

  addons
    .command('info')
    .description("show an add-on: where its data is, the vars the app gets (values only with --reveal), its backup schedule and last backup")
    .argument('<kind>', 'postgres, redis or sqlite')
    .requiredOption('--app <name>', 'the app')
    .option('--reveal', 'show the vars\' values (they hold passwords: mind who can see your screen)')
    .option('--json', "print the API's JSON answer (values are null unless --reveal)")
    .action(async (kindText: string, opts: { app: string; reveal?: boolean; json?: boolean }) => {
      const app = appName(opts.app);
      const kind = kindArg(kindText, app);
      const { value, json } = await ctx.client().call('GET', `${apiPath('apps', app, 'addons', kind)}${opts.reveal ? '?reveal=1' : ''}`, AddonInfoAnswer);
      ctx.io.out(opts.json ? formatJson(json) : formatAddonInfo(value.addon));
    });

  addons
    .command('destroy')
    .description("keep a final backup, then drop the add-on's data for good and roll out a release without its vars")
    .argument('<kind>', 'postgres, redis or sqlite')
    .requiredOption('--app <name>', 'the app')
    .option('--confirm <name>', 'the app name again, to confirm (asked for on a terminal when left out)')
    .action(async (kindText: string, opts: { app: string; confirm?: string }) => {
      const app = appName(opts.app);
      const kind = kindArg(kindText, app);
      const confirm = await confirmation({
        given: opts.confirm,
        app,
        what: `destroying the ${kind} add-on of ${app}`,
        consequence: `This drops the ${kind} data of ${app} for good, after a final backup.`,
        command: `berth addons destroy ${kind} --app ${app}`,
      });
      const { value } = await stillRunning(ctx.client().call('DELETE', `${apiPath('apps', app, 'addons', kind)}?confirm=${encodeURIComponent(confirm)}`, AddonDestroyedAnswer), `berth addons list --app ${app} and berth backups list --app ${app}`);
      const backup = value.finalBackup;
      ctx.io.out(`destroyed the ${kind} add-on of ${app}\n`);
      ctx.io.out(`final backup: ${backup.id}${backup.file === null ? '' : ` (${cell(backup.file)}${backup.bytes === null ? '' : `, ${formatBytes(backup.bytes)}`})`}, never pruned\n`);
      ctx.io.out(`to get the data back: berth addons create ${kind} --app ${app}, then berth backups restore ${backup.id} --confirm ${app}\n`);
      ctx.io.out(`${releaseLine(value.release, app)}\n`);
      printWarnings(ctx, value.warnings);
    });
}
