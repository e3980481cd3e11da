import type { Command } from 'commander';
import { z } from 'zod';
import { appName } from '../../platform/index.ts';
import { parseReleaseArg } from './arguments.ts';
import { apiPath } from './client.ts';
import type { RemoteContext } from './context.ts';

const ManifestsAnswer = z.object({ yaml: z.string() });

/** `berth k8s manifests --app NAME [--release vN]`: a release's objects as YAML, for GitOps. */
export function registerKubernetes(cli: Command, ctx: RemoteContext): void {
  const k8s = cli.command('k8s').description('berth on Kubernetes (berth server --runtime kubernetes)');
  k8s
    .command('manifests')
    .description("print a release's Kubernetes objects as YAML (the current release unless --release), for Argo CD, Flux or kubectl apply; the config Secret's values are left out")
    .requiredOption('--app <name>', 'the app')
    .option('--release <version>', 'the release, e.g. v3 (default: the current one)')
    .action(async (opts: { app: string; release?: string }) => {
      const app = appName(opts.app);
      const version = parseReleaseArg(opts.release);
      const path = apiPath('apps', app, 'kubernetes', 'manifests') + (version === undefined ? '' : `?release=${version}`);
      const { value } = await ctx.client().call('GET', path, ManifestsAnswer);
      ctx.io.out(value.yaml);
    });
}
