import type { Command } from 'commander';
import { z } from 'zod';
import { appName } from '../../platform/index.ts';
import { apiPath } from './client.ts';
import type { RemoteContext } from './context.ts';
import { formatJson, formatTable, formatTime } from './table.ts';

// `GET /apps/:app/cron` as the CLI reads it (extra keys allowed, as in schemas.ts).
const CronRunSchema = z.object({
  slot: z.string(),
  status: z.string(),
  exitCode: z.number().nullable(),
  release: z.string().nullish(),
});
const CronJobSchema = z.object({
  name: z.string(),
  schedule: z.string(),
  timezone: z.string(),
  command: z.string(),
  nextRun: z.string().nullable(),
  running: z.string().nullish(),
  lastRuns: z.array(CronRunSchema),
});
export const CronAnswer = z.object({ jobs: z.array(CronJobSchema) });
export type CronJob = z.infer<typeof CronJobSchema>;

/** "failed (exit 3)", "succeeded", "running"… for a job's newest run. */
function lastRun(job: CronJob): string {
  if (job.running) return `running since the ${formatTime(job.running)} slot`;
  const run = job.lastRuns[0];
  if (run === undefined) return 'never ran';
  const how = run.status === 'failed' ? (run.exitCode === null ? 'failed (killed)' : `failed (exit ${run.exitCode})`) : run.status;
  return `${formatTime(run.slot)} ${how}`;
}

/** One row per job: when it runs, when it runs next, how its last run went. */
export function cronTable(jobs: readonly CronJob[]): string {
  return formatTable(
    ['JOB', 'SCHEDULE', 'NEXT RUN', 'LAST RUN', 'COMMAND'],
    jobs.map((job) => [job.name, job.timezone === 'UTC' ? job.schedule : `${job.schedule} (${job.timezone})`, formatTime(job.nextRun), lastRun(job), job.command]),
  );
}

/** `berth cron --app NAME [--json]`. */
export function registerCron(cli: Command, ctx: RemoteContext): void {
  cli
    .command('cron')
    .description("list an app's scheduled jobs (berth.toml [cron]): schedule, next run, how the last run went")
    .requiredOption('--app <name>', 'the app')
    .option('--json', "print the API's JSON answer (with each job's last runs)")
    .action(async (opts: { app: string; json?: boolean }) => {
      const app = appName(opts.app);
      const { value, json } = await ctx.client().call('GET', apiPath('apps', app, 'cron'), CronAnswer);
      if (opts.json) return ctx.io.out(formatJson(json));
      if (value.jobs.length === 0) return ctx.io.out(`${app} has no cron jobs; add a [cron] table to berth.toml and deploy\n`);
      ctx.io.out(cronTable(value.jobs));
    });
}
