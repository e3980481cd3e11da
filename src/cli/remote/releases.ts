import type { Command } from 'commander';
import { appName } from '../../platform/index.ts';
import { parseReleaseArg } from './arguments.ts';
import { apiPath } from './client.ts';
import type { RemoteContext } from './context.ts';
import { ReleaseAnswer, ReleasesAnswer, type Release } from './schemas.ts';
import { cell, formatJson, formatTable, formatTime } from './table.ts';

/** Newest first, as the API answers; the release serving traffic shows as "current". */
export function releasesTable(releases: readonly Release[]): string {
  // On Kubernetes each release names its image (the digest's first 12 hex digits).
  const images = releases.some((release) => release.image !== undefined);
  return formatTable(
    ['RELEASE', 'STATUS', 'KIND', 'CREATED', ...(images ? ['IMAGE'] : []), 'DESCRIPTION'],
    releases.map((release) => [release.name, release.current ? 'current' : release.status, release.kind, formatTime(release.createdAt), ...(images ? [release.image === undefined ? '-' : shortImage(release.image)] : []), release.description]),
  );
}

/** REGISTRY/PATH@sha256:HEX → sha256:first-12 (the whole reference is in --json). */
function shortImage(image: string): string {
  const at = image.lastIndexOf('@');
  return at === -1 ? image : image.slice(at + 1, at + 8 + 12);
}

/** `berth releases --app NAME` and `berth rollback [vN] --app NAME`. */
export function registerReleases(cli: Command, ctx: RemoteContext): void {
  cli
    .command('releases')
    .description("list an app's releases, newest first")
    .requiredOption('--app <name>', 'the app')
    .option('--json', "print the API's JSON answer")
    .action(async (opts: { app: string; json?: boolean }) => {
      const app = appName(opts.app);
      const { value, json } = await ctx.client().call('GET', apiPath('apps', app, 'releases'), ReleasesAnswer);
      if (opts.json) return ctx.io.out(formatJson(json));
      if (value.releases.length === 0) return ctx.io.out(`${app} has no releases yet; deploy with: berth deploy --app ${app}\n`);
      ctx.io.out(releasesTable(value.releases));
    });

  cli
    .command('rollback')
    .description('make an earlier release serve again, with its code and its config, without a rebuild')
    .argument('[release]', 'the release to go back to, e.g. v3 (default: the one before the current)')
    .requiredOption('--app <name>', 'the app')
    .action(async (release: string | undefined, opts: { app: string }) => {
      const app = appName(opts.app);
      const version = parseReleaseArg(release);
      const { value } = await ctx.client().call('POST', apiPath('apps', app, 'rollback'), ReleaseAnswer, version === undefined ? {} : { version });
      const made = value.release;
      ctx.io.out(`rolled back ${app}: ${made.name}${made.description === '' ? '' : ` (${cell(made.description)})`} is ${made.current ? 'live' : made.status}\n`);
    });
}
