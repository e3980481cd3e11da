import type { Command } from 'commander';
import { BerthError } from '../../errors.ts';
import { parseAccessFormat, type AccessFormat } from '../../platform/access-log.ts';
import { isDuration, parseGrep, parseSince } from '../../platform/app-log-query.ts';
import { appName } from '../../platform/index.ts';
import { parseLineCount, parseProcessArg } from './arguments.ts';
import { apiPath, causeCode, type ApiClient } from './client.ts';
import type { RemoteContext } from './context.ts';
import { escapeControls } from '../../terminal-text.ts';

function logsPath(app: string, query: Omit<LogsRequest, 'app'>): string {
  const params = new URLSearchParams();
  if (query.lines !== undefined) params.set('lines', String(query.lines));
  if (query.process !== undefined) params.set('process', query.process);
  if (query.since !== undefined) params.set('since', query.since);
  if (query.grep !== undefined) params.set('grep', query.grep);
  if (query.follow) params.set('follow', '1');
  if (query.access) params.set('access', '1');
  if (query.access && query.format !== undefined) params.set('format', query.format);
  const search = params.toString();
  return `${apiPath('apps', app, 'logs')}${search === '' ? '' : `?${search}`}`;
}

export interface LogsRequest {
  readonly app: string;
  /** Recent lines to print first; undefined leaves it to the server (100). */
  readonly lines: number | undefined;
  readonly process: string | undefined;
  /** `10m` (the server's clock decides) or an ISO time with its zone. */
  readonly since?: string | undefined;
  /** A plain string the line must contain, case-sensitive. */
  readonly grep?: string | undefined;
  readonly follow: boolean;
  /** The edge's access log instead of the app's output, as `format` (the server's default: json). */
  readonly access?: boolean;
  readonly format?: AccessFormat | undefined;
}

/**
 * `--since`: a duration goes to the server as given (back from the server's
 * now); a time is read here, where a time without a zone means the user's
 * local time, and sent in UTC.
 */
export function parseSinceArg(value: string | undefined, now: number = Date.now()): string | undefined {
  if (value === undefined) return undefined;
  if (isDuration(value)) return value.trim();
  return new Date(parseSince(value, now)).toISOString();
}

/**
 * Prints an app's log lines. Following, the stream stays open until `signal`
 * aborts (Ctrl-C), which ends it cleanly. fetch gives up on an answer after
 * five minutes without a byte (undici's body timeout), which a quiet app
 * easily reaches, so that one case resumes the stream asking for the one
 * most recent line, which is skipped when it is the last line printed (lines
 * start with their time to the millisecond). Any other end of a followed
 * stream is BERTH_E_CONNECTION_LOST.
 */
export async function printLogs(client: Pick<ApiClient, 'lines' | 'server'>, request: LogsRequest, print: (line: string) => void, signal: AbortSignal): Promise<void> {
  let lastPrinted: string | undefined;
  let resumed = false;
  for (;;) {
    const stream = await client.lines('GET', logsPath(request.app, { ...request, lines: resumed ? 1 : request.lines }), { signal });
    let first = resumed;
    try {
      for await (const line of stream) {
        const repeat = first && line === lastPrinted;
        first = false;
        if (repeat) continue;
        print(line);
        lastPrinted = line;
      }
    } catch (err) {
      if (request.follow && !signal.aborted && causeCode(err) === 'UND_ERR_BODY_TIMEOUT') {
        resumed = true;
        continue;
      }
      throw err;
    }
    if (signal.aborted || !request.follow) return;
    throw new BerthError('BERTH_E_CONNECTION_LOST', `the berth server at ${client.server} ended the log stream`, {
      hint: `The server may be restarting, or the app was destroyed; run berth logs -f --app ${request.app} again.`,
    });
  }
}

/** `berth logs [-f] [--process TYPE] [--lines N] [--since TIME] [--grep TEXT] [--access [--format json|common|combined]] --app NAME`. */
export function registerLogs(cli: Command, ctx: RemoteContext): void {
  cli
    .command('logs')
    .description("print an app's recent log lines; -f keeps printing new ones until Ctrl-C")
    .requiredOption('--app <name>', 'the app')
    .option('-f, --follow', 'keep printing new lines as they come, until Ctrl-C')
    .option('-p, --process <type>', 'only lines of one process type (web) or one instance (web.1)')
    .option('-n, --lines <n>', 'how many recent lines to print first (default: the server\'s, 100)')
    .option('--since <time>', 'only lines since a time: 10m, 2h, 7d back from now, or 2026-01-02T15:04:05Z (no zone: local time)')
    .option('--grep <text>', 'only lines containing this text (plain, case-sensitive)')
    .option('--access', "the edge's access log of the app instead: one line per request (--process: the instance that answered)")
    .option('--format <format>', 'with --access: json (default), common or combined (Apache/nginx)')
    .action(async (opts: { app: string; follow?: boolean; process?: string; lines?: string; since?: string; grep?: string; access?: boolean; format?: string }) => {
      const app = appName(opts.app);
      if (opts.format !== undefined && !opts.access) throw new BerthError('BERTH_E_USAGE', '--format is for --access', { hint: `Use berth logs --access --format combined --app ${app}.` });
      const request: LogsRequest = {
        app,
        lines: parseLineCount(opts.lines),
        process: parseProcessArg(opts.process),
        since: parseSinceArg(opts.since),
        grep: opts.grep === undefined ? undefined : parseGrep(opts.grep),
        follow: opts.follow === true,
        access: opts.access === true,
        format: opts.format === undefined ? undefined : parseAccessFormat(opts.format),
      };
      const client = ctx.client();
      const stopped = new AbortController();
      const unsubscribe = ctx.onInterrupt(() => stopped.abort());
      try {
        await printLogs(client, request, (line) => ctx.io.out(`${escapeControls(line)}\n`), stopped.signal);
      } finally {
        unsubscribe();
      }
    });
}
