// Commands are defined here, eagerly (so --help is complete), but each
// command's implementation is imported only when that command runs: `berth
// up` never loads the daemon, node:sqlite or the remote commands, and `berth
// --version` loads almost nothing. The remote commands define themselves
// together with their implementations (src/cli/remote/), so they are
// registered only when the command line can need them (see needsRemote).
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { BerthError, isBerthError } from '../errors.ts';
import { parseDuration } from '../units.ts';
import { parseBaseDomain, parseListenAddress, parseScale, parseUpstreamAddress, parseWorkers } from './address.ts';
import { LIMIT_NAMES, parseLimits } from './limits.ts';
import { LogPrinter } from './log-printer.ts';
import { ExitStatus } from './exit-status.ts';
import { escapeControls } from '../terminal-text.ts';

const LIMIT_HELP = `an edge limit, repeatable: ${LIMIT_NAMES.join(', ')} (sizes like 16k or 10m, timeouts like 500ms or 30s, rates in bytes a second, counts as numbers; max-connections defaults to a share of the open-file limit)`;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The commands implemented in this file's own actions; every other command word is a remote command, `help` or unknown. */
const LOCAL_COMMANDS = new Set(['up', 'file-server', 'reverse-proxy', 'server']);

/** Whether `argv` runs a command that serves until stopped (`server`, `up`, …) rather than one that prints and ends. */
export function isServing(argv: readonly string[]): boolean {
  const word = argv.find((arg) => !arg.startsWith('-'));
  return word !== undefined && LOCAL_COMMANDS.has(word);
}

/**
 * Whether the remote commands must be registered to parse `argv`: yes unless
 * its command word (the program's own options take no values, so it is the
 * first argument not starting with "-") is a local command, or there is none
 * and the first argument asks for the version. Help, `help CMD`, a remote
 * command and an unknown one (commander suggests names) all get every command.
 */
export function needsRemote(argv: readonly string[]): boolean {
  const word = argv.find((arg) => !arg.startsWith('-'));
  if (word !== undefined) return !LOCAL_COMMANDS.has(word);
  return !(argv[0] === '-V' || argv[0] === '--version');
}

/**
 * Where `berth server` keeps its state when --state is not given. Defined
 * here rather than imported from server.ts, which would load the daemon (and
 * node:sqlite) just to print a default.
 */
export function defaultStateDir(): string {
  return process.getuid?.() === 0 ? '/var/lib/berth' : join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'berth');
}

async function program(argv: readonly string[]): Promise<Command> {
  const printer = new LogPrinter();
  const log = (line: string) => printer.line('berth', line);
  const cli = new Command('berth')
    .description('A complete production environment for web apps on one Linux server.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    // Options belong to the command they follow: `server reset-admin-token
    // --state DIR` is the subcommand's --state, not the daemon's.
    .enablePositionalOptions()
    .exitOverride();

  edgeOptions(
    cli
      .command('up')
      .description('run the app in DIR the way production will: the edge in front of supervised instances')
      .argument('[dir]', 'the app folder', '.')
      .option('--listen <address>', 'where the edge listens (HOST:PORT or :PORT)', ':8080')
      .option('--scale <type=count>', 'instances per process type, e.g. web=2 (repeatable)', collect, [])
      .option('--grace <duration>', 'how long instances get to finish in-flight work when stopping', '10s')
      .option('--sandbox <mode>', 'as root, contain the app as berth server does (its folder read-only, its own processes and network, its [resources] limits): auto, required or off', 'auto')
  )
    .action(async (dir: string, opts: { listen: string; scale: string[]; grace: string; workers?: string; limit: string[]; sandbox: string } & HttpsFlags) => {
      const { up } = await import('./up.ts');
      const { parseSandboxOptions } = await import('./sandbox-options.ts');
      await up({
        sandbox: parseSandboxOptions({ sandbox: opts.sandbox }).mode,
        https: await singleSiteHttps(opts),
        dir,
        listen: parseListenAddress(opts.listen),
        scale: parseScale(opts.scale),
        graceMs: parseDuration(opts.grace),
        workers: parseWorkers(opts.workers),
        limits: parseLimits(opts.limit),
        printer,
      });
    });

  edgeOptions(
    cli
      .command('file-server')
      .description('serve the files in a folder with the edge')
      .requiredOption('--root <dir>', 'the folder to serve')
      .option('--listen <address>', 'where to listen (HOST:PORT or :PORT)', ':8080')
  )
    .action(async (opts: { root: string; listen: string; workers?: string; limit: string[] } & HttpsFlags) => {
      const { fileServer } = await import('./quick.ts');
      await fileServer({ https: await singleSiteHttps(opts), root: opts.root, listen: parseListenAddress(opts.listen), workers: parseWorkers(opts.workers), limits: parseLimits(opts.limit), log });
    });

  edgeOptions(
    cli
      .command('reverse-proxy')
      .description('proxy and load-balance requests to one or more upstream servers')
      .requiredOption('--from <address>', 'where to listen (HOST:PORT or :PORT)')
      .addOption(new Option('--to <upstreams>', 'upstream HOST:PORT list, comma-separated').makeOptionMandatory())
  )
    .action(async (opts: { from: string; to: string; workers?: string; limit: string[] } & HttpsFlags) => {
      const to = opts.to.split(',').map((part) => parseUpstreamAddress(part));
      const { reverseProxy } = await import('./quick.ts');
      await reverseProxy({ https: await singleSiteHttps(opts), from: parseListenAddress(opts.from), to, workers: parseWorkers(opts.workers), limits: parseLimits(opts.limit), log });
    });

  if (needsRemote(argv)) {
    const { registerRemoteCommands } = await import('./remote/index.ts');
    registerRemoteCommands(cli, { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) });
  }

  const serverCommand = cli
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
    .option('--build-concurrency <n>', 'builds that may run at once; the others wait their turn', '1')
    .option('--build-memory <size>', 'the memory each build process may use (e.g. 2g), or none', '2g')
    .option('--build-timeout <duration>', 'how long a whole build may take (e.g. 15m)', '15m')
    .option('--build-env-file <file>', "KEY=VALUE lines every build gets, under each app's config vars (a private package index, say); mode 0600")
    .option('--sandbox <mode>', 'as root, run every app contained (its own files, processes and network, with limits): auto (when the machine can; says why not), required, or off', 'auto')
    .option('--default-memory <size>', "each instance's memory limit unless berth.toml [resources] or berth scale say otherwise, or none", '512m')
    .option('--default-cpu <cores>', "each instance's CPU quota, as a share of one core (0.5, 2), or none", '1')
    .option('--default-processes <n>', "each instance's process limit, or none", '512')
    .option('--default-disk <size>', "each app's disk limit (releases, build cache, home, data and logs) unless berth.toml [resources] disk says otherwise, or none", '10g')
    .option('--disk-check-interval <duration>', "how often every app's disk is measured (an app over its limit is stopped until it is under)", '10s')
    .option('--https <address>', 'also serve HTTPS (HTTP/2 and HTTP/1.1) here, e.g. :443; every app host gets a certificate')
    .option('--acme-directory <url>', 'the ACME CA for public names', 'https://acme-v02.api.letsencrypt.org/directory')
    .option('--acme-ca-bundle <file>', "PEM roots to trust for a private ACME CA's own HTTPS")
    .option('--acme-email <address>', 'a contact address the CA may write to about your certificates')
    .option('--no-acme', "get no certificates over ACME: berth's local CA (and --tls-cert) only")
    .option('--tls-cert <file>', 'your own certificate (PEM, with its chain) for names that have none of their own')
    .option('--tls-key <file>', "the --tls-cert certificate's private key (PEM)")
    .option('--metrics <address>', 'also serve /metrics on a listener of its own here (HOST:PORT), with an API token as on the API address')
    .option('--metrics-without-token', 'let the --metrics listener answer without a token: only on a private interface, since whoever reaches it (the apps on this machine too) reads every app\'s names and traffic')
    .option('--dashboard <address>', 'serve the web dashboard here (HOST:PORT, e.g. 127.0.0.1:7071); log in with an API token')
    .option('--postgres-admin-url <url>', 'provision postgres add-ons on this server (a role with CREATEROLE and CREATEDB); default: a local cluster berth runs itself. Prefer BERTH_POSTGRES_ADMIN_URL: argv is visible to every user')
    .option('--redis-admin-url <url>', 'provision redis add-ons on this server (an ACL admin; its default user must be off); default: a local redis-server berth runs itself. Prefer BERTH_REDIS_ADMIN_URL')
    .option('--backup-dir <dir>', 'where add-on backups are kept (default STATE/backups)')
    .option('--backup-copy-dir <dir>', 'also copy every good backup here (another disk or a mounted share)')
    .option('--runtime <runtime>', 'where the apps run: local (this machine) or kubernetes (a cluster; README "On Kubernetes")', 'local')
    .option('--kubeconfig <file>', "with --runtime kubernetes: the cluster and berth's credentials (a token or client certificate)")
    .option('--kube-context <name>', "the kubeconfig's context to use (default: its current-context)")
    .option('--namespace <name>', 'the namespace the apps go into; it must exist (default: berth)')
    .option('--registry <host/prefix>', "where each build's image is pushed, HOST[:PORT]/PREFIX (apps go to PREFIX/APP); the cluster's nodes must be able to pull from it")
    .option('--registry-ca <file>', "PEM CA certificates to trust for the registry's HTTPS")
    .option('--registry-plain-http', 'talk to the registry over plain HTTP (a registry on a private network)')
    .option('--registry-credentials-file <file>', "the registry's USERNAME:PASSWORD on one line, mode 0600")
    .option('--base-image <lang=image>', 'the base image of node or python apps (default: the official slim images, pinned by digest)', collect, [])
    .option('--ingress-class <name>', "the domains' Ingress class (default: the cluster's default class)")
    .option('--cert-issuer <kind/name>', "certificates for domains from cert-manager: ClusterIssuer/NAME or Issuer/NAME (default: Ingresses without TLS)")
    .option('--release-timeout <duration>', 'how long the release command may run on the cluster (default: 15m)')
    .option('--rollout-timeout <duration>', 'how long a release may take to roll out on the cluster (default: 10m)')
    .action(async (opts: ServerCommandOptions) => {
      const { server } = await import('./server.ts');
      const { parseBuildOptions } = await import('./build-options.ts');
      const builds = parseBuildOptions({ concurrency: opts.buildConcurrency, memory: opts.buildMemory, timeout: opts.buildTimeout });
      const { readBuildEnvFile } = await import('./build-options.ts');
      const buildEnv = opts.buildEnvFile === undefined ? {} : await readBuildEnvFile(opts.buildEnvFile);
      const { parseSandboxOptions } = await import('./sandbox-options.ts');
      const sandbox = parseSandboxOptions({ sandbox: opts.sandbox, defaultMemory: opts.defaultMemory, defaultCpu: opts.defaultCpu, defaultProcesses: opts.defaultProcesses });
      const { parseDiskOptions } = await import('./disk-options.ts');
      const disk = parseDiskOptions({ defaultDisk: opts.defaultDisk, checkInterval: opts.diskCheckInterval });
      const https = opts.https === undefined ? null : parseListenAddress(opts.https);
      // On a cluster without --https, --tls-cert/--tls-key are the domains' certificate on the Ingresses (kubernetes-options.ts).
      const tls = https === null ? null : await httpsOptions(opts);
      const { parseKubernetesFlags } = await import('./kubernetes-options.ts');
      const kubernetes = parseKubernetesFlags(https === null ? opts : { ...opts, tlsCert: undefined, tlsKey: undefined });
      await server({
        https,
        acme: tls?.acme ?? null,
        ownCertificate: tls?.own ?? null,
        buildConcurrency: builds.concurrency,
        buildLimits: builds.limits,
        buildEnv,
        sandbox: sandbox.mode,
        instanceLimits: sandbox.limits,
        disk,
        userPrefix: opts.userPrefix,
        stateDir: opts.state,
        http: parseListenAddress(opts.http),
        api: parseListenAddress(opts.api),
        baseDomain: parseBaseDomain(opts.domain),
        workers: parseWorkers(opts.workers),
        limits: parseLimits(opts.limit),
        ssh: opts.ssh === undefined ? null : parseListenAddress(opts.ssh),
        dashboard: opts.dashboard === undefined ? null : parseListenAddress(opts.dashboard),
        metrics: opts.metrics === undefined ? null : parseListenAddress(opts.metrics),
        metricsWithoutToken: metricsWithoutToken(opts),
        addons: addonOptions(opts, log),
        kubernetes,
        log,
      });
    });

  serverCommand
    .command('stop')
    .description('as root on the server, stop the berth server running on --state and wait until it has exited. Plainly, only the control plane stops (as on SIGTERM, `systemctl stop berth`): the apps and the edge keep serving for the next start to take over. With --apps, everything stops (as on SIGINT)')
    .option('--state <dir>', "the daemon's state folder", defaultStateDir())
    .option('--apps', 'stop the apps too (their instances drain and stop), not only the control plane')
    .option('--timeout <seconds>', 'how long to wait for the daemon to exit', '120')
    .action(async (opts: { state: string; apps?: boolean; timeout: string }) => {
      const { serverStop } = await import('./server-stop.ts');
      const seconds = Number(opts.timeout);
      if (!Number.isFinite(seconds) || seconds <= 0) throw new BerthError('BERTH_E_USAGE', `--timeout must be a number of seconds, not ${JSON.stringify(opts.timeout)}`);
      await serverStop({ stateDir: resolve(opts.state), apps: opts.apps === true, timeoutMs: seconds * 1000, out: (text) => process.stdout.write(text) });
    });

  serverCommand
    .command('upgrade')
    .description('as root on the server, after installing a new berth: the berth server running on --state starts the version now installed beside itself (SIGUSR2), which takes over once it is ready; the apps and the edge keep serving throughout, and a new version that fails to start leaves the old one running. Under systemd, systemctl restart berth does the same')
    .option('--state <dir>', "the daemon's state folder", defaultStateDir())
    .option('--timeout <seconds>', 'how long to wait for the new version to take over', '180')
    .action(async (opts: { state: string; timeout: string }) => {
      const { serverUpgrade } = await import('./server-upgrade.ts');
      const seconds = Number(opts.timeout);
      if (!Number.isFinite(seconds) || seconds <= 0) throw new BerthError('BERTH_E_USAGE', `--timeout must be a number of seconds, not ${JSON.stringify(opts.timeout)}`);
      await serverUpgrade({ stateDir: resolve(opts.state), timeoutMs: seconds * 1000, out: (text) => process.stdout.write(text) });
    });

  serverCommand
    .command('reset-admin-token')
    .description('issue a new admin API token into STATE/admin-token (0600), as root on the server, whether the daemon runs or not: the way back in when every admin token is lost or revoked')
    .option('--state <dir>', "the daemon's state folder", defaultStateDir())
    .option('--print-token', 'also print the token alone on stdout, for a script that hands it straight on (ssh root@host berth server reset-admin-token --print-token | berth login --server URL --token-stdin)')
    .action(async (opts: { state: string; printToken?: boolean }) => {
      const { resetAdminToken } = await import('./reset-admin-token.ts');
      resetAdminToken({ stateDir: opts.state, printToken: opts.printToken === true, out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) });
    });

  // The service's flags are `berth server`'s own, passed through as given
  // (checked against serverCommand's options, so they are defined once).
  serverCommand
    .command('install')
    .description(`as root, install berth server as a systemd service (/etc/systemd/system/berth.service) that starts at boot and restarts on failure, with the server flags given (--state defaults to /var/lib/berth), and start it; without systemd, or with --print, print the unit instead`)
    .usage('[--print] [--state DIR] [server flags...]')
    .option('--print', 'only print the unit, install nothing')
    .argument('[server-flags...]', 'flags of berth server, as berth server --help lists them')
    .allowUnknownOption()
    .action(async (args: string[], opts: { print?: boolean }) => {
      const { installService } = await import('./service/index.ts');
      const print = opts.print === true || args.includes('--print');
      const serverOptions = serverCommand.options.map((option) => ({ long: option.long ?? '', takesValue: option.required || option.optional }));
      await installService({ args: args.filter((arg) => arg !== '--print'), serverOptions, print, cwd: process.cwd(), io: { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) } });
    });

  serverCommand
    .command('uninstall')
    .description("as root, stop (drain), disable and remove the service berth server install made; the state folder stays")
    .action(async () => {
      const { uninstallService } = await import('./service/index.ts');
      await uninstallService({ io: { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) } });
    });

  return cli;
}

/** The edge options `up`, `file-server` and `reverse-proxy` share: engines, limits, HTTPS. */
function edgeOptions(command: Command): Command {
  return command
    .option('--workers <n>', 'edge engines, one per thread (default: one per core; 1 uses the main thread only)')
    .option('--limit <name=value>', LIMIT_HELP, collect, [])
    .option('--https <address>', 'also serve HTTPS (HTTP/2 and HTTP/1.1) here, e.g. :8443')
    .option('--tls-cert <file>', "the certificate for --https (PEM, with its chain); default: one for localhost from berth's local CA")
    .option('--tls-key <file>', "the --tls-cert certificate's private key (PEM)");
}

interface HttpsFlags {
  https?: string;
  tlsCert?: string;
  tlsKey?: string;
}

/** `--https` for the single-site commands: the listener and its certificate (own, or the local CA's for localhost). */
async function singleSiteHttps(opts: HttpsFlags) {
  if (opts.https === undefined) {
    if (opts.tlsCert !== undefined || opts.tlsKey !== undefined) throw new BerthError('BERTH_E_USAGE', '--tls-cert and --tls-key need --https', { hint: 'Say where to serve HTTPS, e.g. --https :8443.' });
    return null;
  }
  const listen = parseListenAddress(opts.https);
  const { singleSiteTls } = await import('./tls-options.ts');
  return { listen, tls: await singleSiteTls({ certFile: opts.tlsCert, keyFile: opts.tlsKey, stateDir: defaultStateDir() }) };
}

/** Where add-ons live and backups go; admin URLs from the environment unless given as flags (with a warning: argv is public). */
function addonOptions(opts: ServerCommandOptions, log: (line: string) => void) {
  const url = (flag: string | undefined, env: string, name: string): string | null => {
    const value = flag ?? process.env[env] ?? null;
    if (value === null || value === '') return null;
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new BerthError('BERTH_E_USAGE', `${name} is not a URL`, { hint: name === '--postgres-admin-url' ? 'postgres://ADMIN:PASSWORD@HOST:5432/postgres' : 'redis://ADMIN:PASSWORD@HOST:6379' });
    }
    const schemes = name === '--postgres-admin-url' ? ['postgres:', 'postgresql:'] : ['redis:', 'rediss:'];
    if (!schemes.includes(parsed.protocol)) throw new BerthError('BERTH_E_USAGE', `${name} must be a ${schemes.join(' or ')} URL`);
    if (flag !== undefined && parsed.password !== '') log(`warning: ${name} carries a password on the command line, where every user of this machine can read it; pass it in ${env} instead`);
    return value;
  };
  return {
    postgresAdminUrl: url(opts.postgresAdminUrl, 'BERTH_POSTGRES_ADMIN_URL', '--postgres-admin-url'),
    redisAdminUrl: url(opts.redisAdminUrl, 'BERTH_REDIS_ADMIN_URL', '--redis-admin-url'),
    backupDir: opts.backupDir ?? null,
    backupCopyDir: opts.backupCopyDir ?? null,
  };
}

interface ServerCommandOptions {
  postgresAdminUrl?: string;
  redisAdminUrl?: string;
  backupDir?: string;
  backupCopyDir?: string;
  state: string;
  http: string;
  api: string;
  domain: string;
  workers?: string;
  limit: string[];
  userPrefix: string;
  ssh?: string;
  buildConcurrency: string;
  buildMemory: string;
  buildTimeout: string;
  buildEnvFile?: string;
  sandbox: string;
  defaultMemory: string;
  defaultCpu: string;
  defaultProcesses: string;
  defaultDisk: string;
  diskCheckInterval: string;
  https?: string;
  acmeDirectory: string;
  acmeCaBundle?: string;
  acmeEmail?: string;
  acme: boolean;
  tlsCert?: string;
  tlsKey?: string;
  metrics?: string;
  metricsWithoutToken?: boolean;
  dashboard?: string;
  runtime: string;
  kubeconfig?: string;
  kubeContext?: string;
  namespace?: string;
  registry?: string;
  registryCa?: string;
  registryPlainHttp?: boolean;
  registryCredentialsFile?: string;
  baseImage: string[];
  ingressClass?: string;
  certIssuer?: string;
  releaseTimeout?: string;
  rolloutTimeout?: string;
}

function metricsWithoutToken(opts: ServerCommandOptions): boolean {
  if (opts.metricsWithoutToken !== true) return false;
  if (opts.metrics === undefined) throw new BerthError('BERTH_E_USAGE', '--metrics-without-token needs --metrics', { hint: 'e.g. --metrics 10.0.0.5:9100 --metrics-without-token (a private interface)' });
  return true;
}

/** The ACME settings and the operator's certificate of `berth server --https`. */
async function httpsOptions(opts: ServerCommandOptions) {
  const { readFile } = await import('node:fs/promises');
  const { acmeSettings } = await import('../tls/index.ts');
  let acme = null;
  if (opts.acme) {
    let caBundle: string | undefined;
    if (opts.acmeCaBundle !== undefined) {
      try {
        caBundle = await readFile(opts.acmeCaBundle, 'utf8');
      } catch (err) {
        throw new BerthError('BERTH_E_ACME_CONFIG', `cannot read --acme-ca-bundle ${opts.acmeCaBundle}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { hint: 'Give a readable PEM file.' });
      }
    }
    acme = acmeSettings({ directoryUrl: opts.acmeDirectory, ...(caBundle === undefined ? {} : { caBundle }), ...(opts.acmeEmail === undefined ? {} : { email: opts.acmeEmail }) });
  }
  let own = null;
  if (opts.tlsCert !== undefined || opts.tlsKey !== undefined) {
    if (opts.tlsCert === undefined || opts.tlsKey === undefined) throw new BerthError('BERTH_E_USAGE', '--tls-cert and --tls-key go together', { hint: 'Give both files.' });
    const { readOwnCertificate } = await import('./tls-options.ts');
    own = await readOwnCertificate(opts.tlsCert, opts.tlsKey);
  }
  return { acme, own };
}

/** Runs the command line; returns the process exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  try {
    await (await program(argv)).parseAsync(argv as string[], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof ExitStatus) return err.status;
    if (err instanceof CommanderError) {
      // Commander already printed its message (help, version or a usage error).
      return err.exitCode === 0 ? 0 : 2;
    }
    if (isBerthError(err)) {
      // Messages may quote what berth did not write (a file name in the app folder, a server's words).
      process.stderr.write(`berth: ${escapeControls(err.message)} [${err.code}]\n`);
      if (err.hint) process.stderr.write(`hint: ${escapeControls(err.hint, { keepNewlines: true })}\n`);
      return 1;
    }
    process.stderr.write(`berth: unexpected error: ${escapeControls((err as Error).stack ?? String(err), { keepNewlines: true })}\n`);
    return 70;
  }
}
