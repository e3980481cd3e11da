import type { Command } from 'commander';
import { BerthError } from '../../errors.ts';
import { appName } from '../../platform/index.ts';
import { apiPath } from './client.ts';
import type { RemoteContext } from './context.ts';
import { AppAnswer, AppInfoAnswer, AppsAnswer, DestroyedAnswer, type AppInfo, type Instance } from './schemas.ts';
import { cell, formatBytes, formatFields, formatFormation, formatJson, formatTable, formatTime } from './table.ts';

export function instancesTable(instances: readonly Instance[], now = Date.now()): string {
  const measured = instances.some((instance) => instance.memory || instance.cpu);
  const table = formatTable(
    measured ? ['INSTANCE', 'STATE', 'RELEASE', 'PID', 'PORT', 'MEMORY', 'CPU'] : ['INSTANCE', 'STATE', 'RELEASE', 'PID', 'PORT'],
    instances.map((instance) => {
      const row = [instance.name, instance.state, instance.release, instance.pid, instance.port];
      return measured ? [...row, memoryCell(instance.memory), cpuCell(instance.cpu, now)] : row;
    }),
  );
  // How an instance last ended, when it did on its own (an out-of-memory kill is said in words).
  const exits = instances.filter((instance) => instance.lastExit).map((instance) => `${instance.name} last exited: ${cell(instance.lastExit)}\n`);
  return table + exits.join('');
}

/** "120 MiB / 512 MiB": what it uses beside its limit. */
function memoryCell(memory: Instance['memory']): string | null {
  if (!memory) return null;
  return memory.limitBytes === null ? formatBytes(memory.usedBytes) : `${formatBytes(memory.usedBytes)} / ${formatBytes(memory.limitBytes)}`;
}

/** "0.12 / 1 core": cores used on average since it started, beside its quota. */
function cpuCell(cpu: Instance['cpu'], now: number): string | null {
  if (!cpu) return null;
  const seconds = Math.max(1, (now - Date.parse(cpu.since)) / 1000);
  const average = (cpu.seconds / seconds).toFixed(2);
  return cpu.limit === null ? `${average} cores` : `${average} / ${+cpu.limit.toFixed(2)} core${cpu.limit === 1 ? '' : 's'}`;
}

/** "120 MiB of 10 GiB (releases 100 MiB, data 20 MiB)", and what it means when over. */
function diskCell(disk: NonNullable<AppInfo['disk']>): string | null {
  if (disk.usedBytes === null) return disk.limitBytes === null ? null : `not measured yet; limit ${formatBytes(disk.limitBytes)}`;
  const parts = Object.entries(disk.parts ?? {}).filter(([, bytes]) => bytes > 0).sort((a, b) => b[1] - a[1]).map(([part, bytes]) => `${cell(part)} ${formatBytes(bytes)}`);
  const used = disk.limitBytes === null ? formatBytes(disk.usedBytes) : `${formatBytes(disk.usedBytes)} of ${formatBytes(disk.limitBytes)}`;
  return `${used}${parts.length === 0 ? '' : ` (${parts.join(', ')})`}${disk.overLimit ? ' — OVER ITS LIMIT: its instances are stopped until it is under' : ''}`;
}

/** `berth apps info`: the app, what serves it, and its instances. */
export function formatAppInfo(info: AppInfo): string {
  const release = info.release;
  const formation = formatFormation(info.formation);
  // An older server says nothing of disk and sandbox: no row rather than a dash.
  let text = formatFields([
    ['app', info.app.name],
    ['url', info.app.url],
    ['created', formatTime(info.app.createdAt)],
    ['release', release === null ? `none yet (berth deploy --app ${info.app.name})` : `${release.name} (${release.kind}, ${release.status}) ${release.description}`.trimEnd()],
    ['released', release === null ? null : formatTime(release.createdAt)],
    ['formation', formation === '' ? null : formation],
    ['domains', info.domains.length === 0 ? null : info.domains.map(cell).join(', ')],
    ...(info.disk === undefined ? [] : [['disk', diskCell(info.disk)] as const]),
    ...(info.sandbox === undefined ? [] : [['sandbox', info.sandbox.contained ? 'contained (its own files, processes and network, with limits)' : `uncontained: ${cell(info.sandbox.reason ?? 'unknown')}`] as const]),
  ]);
  text += info.instances.length === 0 ? 'instances:  none running\n' : `\n${instancesTable(info.instances)}`;
  return text;
}

/** `berth apps create | list | info | destroy`. */
export function registerApps(cli: Command, ctx: RemoteContext): void {
  const apps = cli.command('apps').description('create, list, inspect and destroy apps');

  apps
    .command('create')
    .description('create an app; deploy to it with `berth deploy --app NAME`')
    .argument('<name>', 'the app name: lowercase letters, digits and "-", e.g. shop')
    .action(async (name: string) => {
      const { value } = await ctx.client().call('POST', '/apps', AppAnswer, { name: appName(name) });
      ctx.io.out(`created ${value.app.name}${value.app.url ? ` at ${cell(value.app.url)}` : ''}\n`);
      ctx.io.out(`deploy it with: berth deploy --app ${value.app.name}\n`);
    });

  apps
    .command('list')
    .description('list the apps on the server')
    .option('--json', "print the API's JSON answer")
    .action(async (opts: { json?: boolean }) => {
      const { value, json } = await ctx.client().call('GET', '/apps', AppsAnswer);
      if (opts.json) return ctx.io.out(formatJson(json));
      if (value.apps.length === 0) return ctx.io.out('no apps yet; create one with: berth apps create NAME\n');
      ctx.io.out(formatTable(['NAME', 'RELEASE', 'URL', 'CREATED'], value.apps.map((app) => [app.name, app.currentRelease, app.url, formatTime(app.createdAt)])));
    });

  apps
    .command('info')
    .description("show an app: its URL, current release, formation, domains and instances")
    .argument('<name>', 'the app name')
    .option('--json', "print the API's JSON answer")
    .action(async (name: string, opts: { json?: boolean }) => {
      const { value, json } = await ctx.client().call('GET', apiPath('apps', appName(name)), AppInfoAnswer);
      ctx.io.out(opts.json ? formatJson(json) : formatAppInfo(value));
    });

  apps
    .command('destroy')
    .description('destroy an app: its instances, releases, config vars and domains; this cannot be undone')
    .argument('<name>', 'the app name')
    .option('--confirm <name>', 'the app name again, to confirm')
    .action(async (name: string, opts: { confirm?: string }) => {
      const app = appName(name);
      if (opts.confirm !== app) {
        throw new BerthError('BERTH_E_USAGE', opts.confirm === undefined ? `destroying ${app} needs --confirm ${app}` : `--confirm ${cell(opts.confirm)} does not match ${app}; nothing was destroyed`, {
          hint: `This deletes ${app} with its releases, config vars and domains. To go ahead: berth apps destroy ${app} --confirm ${app}`,
        });
      }
      const query = `?confirm=${encodeURIComponent(app)}`;
      const { value } = await ctx.client().call('DELETE', `${apiPath('apps', app)}${query}`, DestroyedAnswer);
      ctx.io.out(`destroyed ${cell(value.destroyed)}\n`);
    });
}
