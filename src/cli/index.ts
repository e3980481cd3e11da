import { Command, CommanderError, Option } from 'commander';
import { isBerthError } from '../errors.ts';
import { parseDuration } from '../units.ts';
import { parseBaseDomain, parseListenAddress, parseScale, parseUpstreamAddress, parseWorkers } from './address.ts';
import { LIMIT_NAMES, parseLimits } from './limits.ts';
import { LogPrinter } from './log-printer.ts';
import { fileServer, reverseProxy } from './quick.ts';
import { up } from './up.ts';
import { registerRemoteCommands } from './remote/index.ts';
import { defaultStateDir, server } from './server.ts';

const LIMIT_HELP = `an edge limit, repeatable: ${LIMIT_NAMES.join(', ')} (sizes like 16k or 10m, timeouts like 500ms or 30s)`;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function program(): Command {
  const printer = new LogPrinter();
  const log = (line: string) => printer.line('berth', line);
  const cli = new Command('berth')
    .description('A complete production environment for web apps on one Linux server.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  cli
    .command('up')
    .description('run the app in DIR the way production will: the edge in front of supervised instances')
    .argument('[dir]', 'the app folder', '.')
    .option('--listen <address>', 'where the edge listens (HOST:PORT or :PORT)', ':8080')
    .option('--scale <type=count>', 'instances per process type, e.g. web=2 (repeatable)', collect, [])
    .option('--grace <duration>', 'how long instances get to finish in-flight work when stopping', '10s')
    .option('--workers <n>', 'edge engines, one per thread (default: one per core; 1 uses the main thread only)')
    .option('--limit <name=value>', LIMIT_HELP, collect, [])
    .action(async (dir: string, opts: { listen: string; scale: string[]; grace: string; workers?: string; limit: string[] }) => {
      await up({
        dir,
        listen: parseListenAddress(opts.listen),
        scale: parseScale(opts.scale),
        graceMs: parseDuration(opts.grace),
        workers: parseWorkers(opts.workers),
        limits: parseLimits(opts.limit),
        printer,
      });
    });

  cli
    .command('file-server')
    .description('serve the files in a folder with the edge')
    .requiredOption('--root <dir>', 'the folder to serve')
    .option('--listen <address>', 'where to listen (HOST:PORT or :PORT)', ':8080')
    .option('--workers <n>', 'edge engines, one per thread (default: one per core; 1 uses the main thread only)')
    .option('--limit <name=value>', LIMIT_HELP, collect, [])
    .action(async (opts: { root: string; listen: string; workers?: string; limit: string[] }) => {
      await fileServer({ root: opts.root, listen: parseListenAddress(opts.listen), workers: parseWorkers(opts.workers), limits: parseLimits(opts.limit), log });
    });

  cli
    .command('reverse-proxy')
    .description('proxy and load-balance requests to one or more upstream servers')
    .requiredOption('--from <address>', 'where to listen (HOST:PORT or :PORT)')
    .addOption(new Option('--to <upstreams>', 'upstream HOST:PORT list, comma-separated').makeOptionMandatory())
    .option('--workers <n>', 'edge engines, one per thread (default: one per core; 1 uses the main thread only)')
    .option('--limit <name=value>', LIMIT_HELP, collect, [])
    .action(async (opts: { from: string; to: string; workers?: string; limit: string[] }) => {
      const to = opts.to.split(',').map((part) => parseUpstreamAddress(part));
      await reverseProxy({ from: parseListenAddress(opts.from), to, workers: parseWorkers(opts.workers), limits: parseLimits(opts.limit), log });
    });

  registerRemoteCommands(cli, { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) });

  cli
    .command('server')
    .description('run the platform: the edge for every app, the control API, and the apps')
    .option('--state <dir>', 'where berth keeps its database, builds and releases', defaultStateDir())
    .option('--http <address>', 'where the edge listens for HTTP', ':80')
    .option('--api <address>', 'where the control API listens', '127.0.0.1:7070')
    .option('--domain <base>', 'apps are reachable at NAME.BASE', 'localhost')
    .option('--workers <n>', 'edge engines, one per thread (default: one per core)')
    .option('--limit <name=value>', LIMIT_HELP, collect, [])
    .option('--user-prefix <prefix>', "when running as root, each app runs as the Unix user PREFIX+NAME", 'berth-')
    .option('--ssh <address>', 'also serve git push over SSH here (HOST:PORT or :PORT); git over HTTP is always on the API address')
    .action(async (opts: { state: string; http: string; api: string; domain: string; workers?: string; limit: string[]; userPrefix: string; ssh?: string }) => {
      await server({
        userPrefix: opts.userPrefix,
        stateDir: opts.state,
        http: parseListenAddress(opts.http),
        api: parseListenAddress(opts.api),
        baseDomain: parseBaseDomain(opts.domain),
        workers: parseWorkers(opts.workers),
        limits: parseLimits(opts.limit),
        ssh: opts.ssh === undefined ? null : parseListenAddress(opts.ssh),
        log,
      });
    });

  return cli;
}

/** Runs the command line; returns the process exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  try {
    await program().parseAsync(argv as string[], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed its message (help, version or a usage error).
      return err.exitCode === 0 ? 0 : 2;
    }
    if (isBerthError(err)) {
      process.stderr.write(`berth: ${err.message} [${err.code}]\n`);
      if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
      return 1;
    }
    process.stderr.write(`berth: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    return 70;
  }
}
