import type { Command } from 'commander';
import { parseAddonKind, parseKeep } from '../../addons/backup-policy.ts';
import { BerthError } from '../../errors.ts';
import { appName } from '../../platform/index.ts';
import { confirmation, printWarnings, stillRunning } from './addons.ts';
import { apiPath } from './client.ts';
import type { RemoteContext } from './context.ts';
import { BackupAnswer, BackupScheduleAnswer, BackupSchedulesAnswer, BackupsAnswer, RestoreAnswer, type Backup, type BackupSchedule, type Restore } from './schemas.ts';
import { cell, formatBytes, formatJson, formatTable, formatTime } from './table.ts';

const SHORT_SHA = 12;

/** What a row's status says at a glance: anything but good or running is in capitals, so it stands out in a column of "good". */
function statusCell(backup: Backup): string {
  if (backup.status === 'good') return backup.missing ? 'MISSING' : 'good';
  if (backup.status === 'running') return 'running';
  return backup.status.toUpperCase();
}

function errorCell(backup: Backup): string | null {
  if (backup.error !== null) return backup.error;
  if (backup.missing) return 'the file is gone from the backup folder';
  if (backup.copyError !== null) return `copy failed: ${backup.copyError}`;
  return null;
}

/** Newest first, as the API answers. */
export function backupsTable(backups: readonly Backup[]): string {
  return formatTable(
    ['ID', 'ADDON', 'TRIGGER', 'STATUS', 'STARTED', 'SIZE', 'SHA256', 'COPY', 'ERROR'],
    backups.map((b) => [
      b.id,
      b.kind,
      b.trigger,
      statusCell(b),
      formatTime(b.startedAt),
      b.bytes === null ? null : formatBytes(b.bytes),
      b.sha256 === null ? null : b.sha256.slice(0, SHORT_SHA),
      b.copied ? 'yes' : b.copyError !== null ? 'FAILED' : null,
      errorCell(b),
    ]),
  );
}

/** One line per add-on whose newest backup is not good: the table shows history, this says what is wrong now. */
export function backupAlerts(backups: readonly Backup[]): string[] {
  const newest = new Map<string, Backup>();
  for (const backup of backups) if (backup.status !== 'running' && !newest.has(backup.kind)) newest.set(backup.kind, backup);
  const alerts: string[] = [];
  for (const [kind, backup] of newest) {
    if (backup.status === 'good' && !backup.missing) continue;
    alerts.push(`the newest ${kind} backup (${backup.id}, ${formatTime(backup.startedAt)}) ${backup.missing ? 'has lost its file' : backup.status === 'failed' ? 'failed' : 'was interrupted'}${backup.error === null ? '' : `: ${backup.error}`}`);
  }
  return alerts;
}

export function schedulesTable(schedules: readonly BackupSchedule[]): string {
  return formatTable(
    ['ADDON', 'SCHEDULE', 'KEEP', 'NEXT RUN'],
    schedules.map((s) => [s.kind, s.timezone === 'UTC' ? s.schedule : `${s.schedule} (${s.timezone})`, s.keep, formatTime(s.nextRun)]),
  );
}

function describeRestore(restore: Restore): string {
  const b = restore.backup;
  let text = `restored backup ${b.id} (${cell(b.kind)} of ${cell(b.app)}, ${formatTime(b.startedAt)}) ${restore.into === 'app' ? 'into the app' : 'beside the app'}: ${cell(restore.report.summary)}\n`;
  if (restore.report.location !== null) text += `location: ${cell(restore.report.location)}\n`;
  const sha = b.sha256 === null ? '' : ` (sha256 ${b.sha256.slice(0, SHORT_SHA)}…)`;
  text += restore.source === 'copy' ? `checksum verified on the copy${sha}: the primary file failed its check\n` : `checksum verified${sha}\n`;
  return text;
}

function backupId(text: string): string {
  if (!/^\d{1,15}$/.test(text)) throw new BerthError('BERTH_E_USAGE', `"${cell(text.slice(0, 20))}" is not a backup id`, { hint: 'berth backups list --app NAME shows each backup\'s id.' });
  return text;
}

/**
 * The confirmation of a restore over the app's data. Only the server knows
 * which app a backup id belongs to, so without --confirm and without a
 * terminal nothing is sent along: the server refuses, naming the app.
 */
async function restoreConfirmation(id: string, given: string | undefined, app: string | null): Promise<string | undefined> {
  if (given === undefined && process.stdin.isTTY !== true) return undefined;
  return confirmation({
    given,
    app,
    what: `restoring backup ${id} over its app's data`,
    consequence: `This replaces the app's data with backup ${id}; what was written since it was made is lost.`,
    command: `berth backups restore ${id}`,
  });
}

/** `berth backups create | list | restore ID | schedule`. */
export function registerBackups(cli: Command, ctx: RemoteContext): void {
  const backups = cli.command('backups').description("backups of an app's add-ons: made now or on a schedule, listed with their checksums, restored into the app or beside it");

  backups
    .command('create')
    .usage('--app NAME [--addon KIND]')
    .description('back up one add-on of the app now and wait until the backup is sealed (compressed, checksummed, stored); fails with the reason if it cannot be made. --addon may be left out only when the app has a single add-on')
    .requiredOption('--app <name>', 'the app')
    .option('--addon <kind>', 'which add-on (postgres, redis, sqlite); needed when the app has more than one')
    .action(async (opts: { app: string; addon?: string }) => {
      const app = appName(opts.app);
      const addon = opts.addon === undefined ? undefined : parseAddonKind(opts.addon);
      const { value } = await stillRunning(ctx.client().call('POST', apiPath('apps', app, 'backups'), BackupAnswer, addon === undefined ? {} : { addon }), `berth backups list --app ${app}`);
      const b = value.backup;
      ctx.io.out(`backup ${b.id} of ${app}'s ${cell(b.kind)} is ${b.status}: ${b.bytes === null ? '' : `${formatBytes(b.bytes)}, `}sha256 ${cell(b.sha256?.slice(0, SHORT_SHA))}…\n`);
      ctx.io.out(`file: ${cell(b.file)}${b.copied ? ' (copied to the second backup folder)' : ''}\n`);
      if (b.copyError !== null) printWarnings(ctx, [`the copy to the second backup folder failed: ${b.copyError}`]);
    });

  backups
    .command('list')
    .description("list an app's backups, newest first; failed and interrupted ones say why")
    .requiredOption('--app <name>', 'the app')
    .option('--json', "print the API's JSON answer")
    .action(async (opts: { app: string; json?: boolean }) => {
      const app = appName(opts.app);
      const { value, json } = await ctx.client().call('GET', apiPath('apps', app, 'backups'), BackupsAnswer);
      if (opts.json) return ctx.io.out(formatJson(json));
      if (value.backups.length === 0) return ctx.io.out(`${app} has no backups yet; make one with: berth backups create --app ${app}\n`);
      ctx.io.out(backupsTable(value.backups));
      printWarnings(ctx, backupAlerts(value.backups));
    });

  backups
    .command('restore')
    .description("verify a backup's checksum (falling back to its copy), then load it into the app's add-on, replacing its data, or beside it (--into new) to look at")
    .argument('<id>', 'the backup id, as berth backups list shows it')
    .option('--app <name>', "the backup's app: the server refuses a backup of another app")
    .option('--into <where>', 'app: over the add-on\'s data (needs --confirm); new: into a new database, key prefix or file beside it', 'app')
    .option('--confirm <name>', 'the app name, to confirm a restore into the app (asked for on a terminal when left out)')
    .action(async (idText: string, opts: { app?: string; into: string; confirm?: string }) => {
      const id = backupId(idText);
      const app = opts.app === undefined ? null : appName(opts.app);
      if (opts.into !== 'app' && opts.into !== 'new') throw new BerthError('BERTH_E_USAGE', `--into must be app or new, not ${cell(opts.into)}`, { hint: 'app replaces the add-on\'s data; new restores beside it, to look at first.' });
      const into = opts.into;
      const confirm = into === 'app' ? await restoreConfirmation(id, opts.confirm, app) : opts.confirm;
      const body = { into, ...(confirm === undefined ? {} : { confirm }), ...(app === null ? {} : { app }) };
      const { value } = await stillRunning(ctx.client().call('POST', apiPath('backups', id, 'restore'), RestoreAnswer, body), 'the app\'s log (berth logs --app NAME)');
      ctx.io.out(describeRestore(value.restore));
      printWarnings(ctx, value.restore.warnings);
    });

  backups
    .command('schedule')
    .usage('--app NAME [--addon KIND] [--cron EXPR [--timezone TZ] [--keep N] | --off]')
    .description("show an app's backup schedules, or set one (--cron) or turn it off (--off); a slot is skipped while a backup of the add-on is running. Setting or stopping one needs --addon when the app has more than one add-on")
    .requiredOption('--app <name>', 'the app')
    .option('--addon <kind>', 'which add-on (postgres, redis, sqlite); needed when the app has more than one')
    .option('--cron <expr>', 'when, as a cron expression: "0 3 * * *" is 03:00 every day')
    .option('--timezone <tz>', 'the time zone of --cron, e.g. Europe/Berlin (default UTC)')
    .option('--keep <n>', 'how many good backups of the add-on to keep (default 7); final backups are never pruned')
    .option('--off', 'stop scheduled backups of the add-on; the backups made are kept')
    .option('--json', "print the API's JSON answer")
    .action(async (opts: { app: string; addon?: string; cron?: string; timezone?: string; keep?: string; off?: boolean; json?: boolean }) => {
      const app = appName(opts.app);
      const addon = opts.addon === undefined ? undefined : parseAddonKind(opts.addon);
      const hint = `e.g. berth backups schedule --app ${app} --cron "0 3 * * *" --keep 7, or --off`;
      if (opts.off && (opts.cron !== undefined || opts.timezone !== undefined || opts.keep !== undefined)) throw new BerthError('BERTH_E_USAGE', '--off takes no --cron, --timezone or --keep', { hint });
      if (opts.cron === undefined && (opts.timezone !== undefined || opts.keep !== undefined)) throw new BerthError('BERTH_E_USAGE', '--timezone and --keep go with --cron', { hint });
      const client = ctx.client();

      if (opts.off) {
        const { json } = await client.call('DELETE', `${apiPath('apps', app, 'backups', 'schedule')}${addon === undefined ? '' : `?addon=${addon}`}`, BackupScheduleAnswer);
        if (opts.json) return ctx.io.out(formatJson(json));
        return ctx.io.out(`scheduled backups of ${app}${addon === undefined ? '' : `'s ${addon}`} are off; the backups made are kept\n`);
      }
      if (opts.cron !== undefined) {
        const keep = opts.keep === undefined ? undefined : parseKeep(opts.keep);
        const body = { cron: opts.cron, ...(addon === undefined ? {} : { addon }), ...(opts.timezone === undefined ? {} : { timezone: opts.timezone }), ...(keep === undefined ? {} : { keep }) };
        const { value, json } = await client.call('PUT', apiPath('apps', app, 'backups', 'schedule'), BackupScheduleAnswer, body);
        if (opts.json) return ctx.io.out(formatJson(json));
        const s = value.schedule;
        if (s === null) throw new BerthError('BERTH_E_BAD_RESPONSE', 'the server answered the schedule change without the schedule');
        return ctx.io.out(`${app}'s ${cell(s.kind)} is backed up at ${cell(s.schedule)} (${cell(s.timezone)}), keeping the newest ${s.keep}; next at ${formatTime(s.nextRun)}\n`);
      }
      const { value, json } = await client.call('GET', apiPath('apps', app, 'backups', 'schedules'), BackupSchedulesAnswer);
      if (opts.json) return ctx.io.out(formatJson(json));
      const schedules = value.schedules.filter((s) => addon === undefined || s.kind === addon);
      if (schedules.length === 0) return ctx.io.out(`${app}${addon === undefined ? ' has no backup schedules' : `'s ${addon} has no backup schedule`}; set one with: berth backups schedule --app ${app}${addon === undefined ? '' : ` --addon ${addon}`} --cron "0 3 * * *"\n`);
      ctx.io.out(schedulesTable(schedules));
    });
}
