import { resolve, join } from 'node:path';
import { appJsonError, conflictsWithAppConfig, detectApp, readAppConfig, readAppJson, commandToArgv, runBuild, planPath, discoverBuildEnvironment, siteSettings, DEFAULT_BUILD_LIMITS, NO_SANDBOX, type AppConfig, type AppPlan } from '../build/index.ts';
import { Edge, resolveStaticRoot, type EdgeLimits, type SiteSpec, type TlsConfig } from '../edge/index.ts';
import { BerthError } from '../errors.ts';
import { Formation, runOnce } from '../runner/index.ts';
import type { ListenAddress } from './address.ts';
import type { LogPrinter } from './log-printer.ts';
import { listenNamingFlag } from './listen-flag.ts';
import { urlOf } from './listen-url.ts';
import type { SandboxMode } from '../sandbox/index.ts';
import { upContainment } from './up-sandbox.ts';
import { onShutdown } from './shutdown.ts';
import { planEnvSetup } from '../platform/index.ts';

export interface UpOptions {
  readonly dir: string;
  readonly listen: ListenAddress;
  readonly scale: Readonly<Record<string, number>>;
  readonly graceMs: number;
  readonly limits?: Partial<EdgeLimits>;
  /** Edge engine threads; undefined uses every core. */
  readonly workers?: number;
  readonly printer: LogPrinter;
  /** Also serve HTTPS here, with this certificate. */
  readonly https?: { readonly listen: ListenAddress; readonly tls: TlsConfig } | null;
  /** As root, contain the app as `berth server` does (auto, the default), or refuse to run without (required), or never (off). */
  readonly sandbox?: SandboxMode;
}

function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  return { ...env, ...extra };
}

/**
 * What app.json gives `berth up`, which keeps no state: its vars the
 * environment lacks (a generated secret is this run's), the instance counts
 * of its formation (under --scale), and its predeploy. A required var the
 * environment lacks refuses the run.
 */
async function upAppJson(dir: string, config: AppConfig, log: (line: string) => void): Promise<{ vars: Record<string, string>; scale: Record<string, number>; predeploy: string | null }> {
  const found = await readAppJson(dir);
  if (found === null) return { vars: {}, scale: {}, predeploy: null };
  for (const note of found.notes) log(note);
  const conflicts = conflictsWithAppConfig(found.appJson, config);
  if (conflicts.length > 0) throw appJsonError(conflicts);
  const setup = planEnvSetup(found.appJson.env, new Set(Object.keys(process.env)), new Set());
  if (setup.missing.length > 0) {
    throw new BerthError('BERTH_E_CONFIG_REQUIRED', `app.json requires ${setup.missing.join(', ')}, which the environment does not have`, {
      hint: `Set ${setup.missing.length === 1 ? 'it' : 'them'} where berth up runs: ${setup.missing.map((key) => `${key}=...`).join(' ')} berth up`,
    });
  }
  if (setup.generated.length > 0) log(`app.json: ${setup.generated.join(', ')} generated for this run (berth up keeps no state; set ${setup.generated.length === 1 ? 'it' : 'them'} in the environment to keep one)`);
  if (found.appJson.scripts.postdeploy !== null || found.appJson.scripts.postdeployEach !== null) log("app.json: postdeploy scripts run under berth server only");
  if (found.appJson.cron.length > 0) log('app.json: cron jobs run under berth server only');
  const scale: Record<string, number> = {};
  for (const p of found.appJson.formation) if (p.quantity !== null) scale[p.type] = p.quantity;
  return { vars: { ...setup.fill }, scale, predeploy: found.appJson.scripts.predeploy };
}

async function prepare(dir: string, plan: Extract<AppPlan, { kind: 'processes' }>, printer: LogPrinter, appJson: { vars: Record<string, string>; predeploy: string | null }): Promise<void> {
  for (const note of plan.notes) printer.line('berth', note);
  await runBuild(
    plan,
    {
      dir,
      cacheDir: null,
      env: childEnv(appJson.vars),
      user: null,
      limits: { memoryBytes: null, timeoutMs: DEFAULT_BUILD_LIMITS.timeoutMs, niceness: 0 },
      log: (line) => printer.line(line.startsWith('running ') ? 'berth' : 'install', line),
      exec: runOnce,
    },
    NO_SANDBOX,
  );
  const env = childEnv({ ...appJson.vars, PATH: planPath(plan, dir, process.env.PATH) });
  if (appJson.predeploy !== null) {
    printer.line('berth', `running app.json's predeploy: ${appJson.predeploy}`);
    const predeployEnv = { ...env, DYNO: 'predeploy.1', BERTH_INSTANCE: 'predeploy.1' };
    const code = await runOnce(commandToArgv(appJson.predeploy, predeployEnv), { cwd: dir, env: predeployEnv, onLine: (line) => printer.line('predeploy', line) });
    if (code !== 0) throw new BerthError('BERTH_E_PREDEPLOY_FAILED', `app.json's predeploy failed with exit code ${code}`, { hint: 'scripts.predeploy must succeed before the app starts.' });
  }
  const release = plan.processes.find((p) => p.name === 'release');
  if (release) {
    printer.line('berth', `running the release command: ${release.command}`);
    const releaseEnv = { ...env, DYNO: 'release.1', BERTH_INSTANCE: 'release.1' };
    const code = await runOnce(commandToArgv(release.command, releaseEnv), { cwd: dir, env: releaseEnv, onLine: (line) => printer.line('release', line) });
    if (code !== 0) {
      throw new BerthError('BERTH_E_INSTALL', `the release command failed with exit code ${code}`, {
        hint: 'The Procfile "release:" entry must succeed before the app starts.',
      });
    }
  }
}

/**
 * `berth up`: the app run the way production runs it, in the foreground —
 * the edge in front, static paths served by the edge, N supervised web
 * instances behind it. Resolves after a clean shutdown (Ctrl-C / SIGTERM).
 */
export async function up(options: UpOptions): Promise<void> {
  const dir = resolve(options.dir);
  const { printer } = options;
  const plan = await detectApp(dir, await discoverBuildEnvironment(process.env.PATH));
  const config = await readAppConfig(dir);
  const mounts = config.static.map((mount) => ({ prefix: mount.prefix, root: join(dir, mount.dir) }));
  // The edge would answer 404 for a [static] folder it cannot use; on a laptop, a clear error is kinder.
  for (const mount of mounts) await resolveStaticRoot({ root: mount.root });
  const log = (line: string) => printer.line('berth', line);
  const https = options.https ?? null;
  const edgeOptions = { limits: options.limits, log, workers: options.workers, ...(https === null ? {} : { https: https.listen, tls: https.tls }) };
  const logHttps = (edge: Edge) => {
    if (edge.httpsAddress !== null) log(`serving HTTPS on ${urlOf(edge.httpsAddress, 'https')} (HTTP/2 and HTTP/1.1)`);
  };

  if (plan.kind === 'static') {
    const site: SiteSpec = { ...siteSettings(config), key: 'app', mounts, upstreams: null, fallbackRoot: plan.root };
    const edge = new Edge({ routes: { hosts: {}, fallback: site }, ...edgeOptions });
    const address = await listenNamingFlag({ plain: '--listen' }, () => edge.listen(options.listen.host, options.listen.port));
    log(`static site ${plan.root} on ${urlOf(address)}`);
    logHttps(edge);
    await onShutdown(log, async () => edge.close(options.graceMs), () => process.exit(130));
    return;
  }

  const appJson = await upAppJson(dir, config, log);
  const scale = { ...config.scale, ...appJson.scale, ...options.scale };
  printer.reserve(plan.processes.flatMap((p) => Array.from({ length: scale[p.name] ?? 1 }, (_, i) => `${p.name}.${i + 1}`)));
  await prepare(dir, plan, printer, appJson);
  const site = (upstreams: SiteSpec['upstreams']): SiteSpec => ({ ...siteSettings(config), key: 'app', mounts, upstreams, fallbackRoot: null });
  const contained = await upContainment(dir, plan, config, options.sandbox ?? 'auto', log);
  if (contained.reason !== null) log(`the app runs uncontained: ${contained.reason}`);
  const context = contained.context;
  const edge = new Edge({ routes: { hosts: {}, fallback: site([]) }, ...edgeOptions });
  const formation = new Formation({
    cwd: dir,
    processes: plan.processes,
    scale,
    env: childEnv({ ...appJson.vars, PATH: planPath(plan, dir, process.env.PATH), ...(context === null ? {} : { ...context.env, HOME: contained.home! }) }),
    ...(context?.launcher ? { launcher: context.launcher, user: contained.user } : {}),
    ...(context?.choosePort ? { choosePort: context.choosePort } : {}),
    healthPath: config.health.path,
    graceMs: options.graceMs,
    log: (source, line, stream) => (stream === 'event' ? printer.line('berth', `${source} ${line}`) : printer.line(source, line)),
    onUpstreams: (ready) => edge.setRoutes({ hosts: {}, fallback: site(ready) }).catch((err: Error) => log(`cannot update routes: ${err.message}`)),
    drain: (upstream, deadline) => edge.drain(upstream, deadline),
  });
  // Listen first: requests that arrive before an instance is ready get a
  // clear 502 rather than a refused connection.
  const address = await listenNamingFlag({ plain: '--listen' }, () => edge.listen(options.listen.host, options.listen.port));
  log(`edge listening on ${urlOf(address)} (${plan.runtime} app in ${dir})`);
  logHttps(edge);
  await formation.start();
  await onShutdown(
    log,
    async () => {
      // New requests stop first, in-flight ones finish, then the apps go.
      await edge.close(options.graceMs);
      await formation.stop();
      await contained.close();
    },
    () => {
      formation.kill();
      void contained.close().finally(() => process.exit(130));
    },
  );
}

