import { commandToArgv, type AppConfig, type CronJobConfig } from '../../build/index.ts';
import { BerthError } from '../../errors.ts';
import { instanceLimits, type ResourceLimits } from '../../sandbox/index.ts';
import { appLabel, objectName } from '../manifests/names.ts';
import { configHash } from '../manifests/secret.ts';
import type { AppDeployment, Resources, TlsMode } from '../manifests/spec.ts';

// What the platform knows of a release (plain data) turned into what the
// manifests are made from: the AppDeployment spec and the values of its
// config Secret. Pure.

/** One release of an app as the platform hands it to the Kubernetes runtime. */
export interface ClusterRelease {
  readonly app: string;
  readonly release: { readonly version: number; readonly id: number };
  /** The build's image by digest. */
  readonly image: string;
  /** The release's process types as the Procfile says them, `release` (the release phase) included. */
  readonly processes: ReadonlyArray<{ readonly name: string; readonly command: string }>;
  /** Replicas per process type (the release's types at one each unless scaled). */
  readonly formation: Readonly<Record<string, number>>;
  /** `berth scale TYPE=N:SIZE` memory per process type. */
  readonly memory: Readonly<Record<string, number>>;
  /** The build's berth.toml (resources, health). */
  readonly config: AppConfig;
  /** [cron] and app.json's cron jobs. */
  readonly cron: readonly CronJobConfig[];
  /** The config and add-on vars the processes get (secrets: they go into the Secret, never into a spec). */
  readonly vars: Readonly<Record<string, string>>;
  readonly domains: readonly string[];
  /** The last `berth restart`, carried on every apply (see AppDeployment.restartedAt). */
  readonly restartedAt: string | null;
}

/** How this berth runs apps on its cluster (`berth server --runtime kubernetes` flags). */
export interface ClusterSettings {
  readonly namespace: string;
  readonly ingressClass: string | null;
  /** Certificates for domains by cert-manager through this issuer; null: none from cert-manager. */
  readonly certIssuer: { readonly name: string; readonly kind: 'ClusterIssuer' | 'Issuer' } | null;
  /**
   * The DNS names of the operator's own certificate (`--tls-cert`), which
   * berth puts in a TLS Secret of each app's whose domains it covers;
   * empty: none. Without either, Ingresses have no TLS (a load balancer in
   * front terminates it).
   */
  readonly certificateNames?: readonly string[] | undefined;
  /** Each pod's limits unless berth.toml [resources] or `berth scale` say otherwise (--default-memory, --default-cpu). */
  readonly defaults: ResourceLimits;
  /** How long the release command may run. */
  readonly releaseTimeoutSeconds: number;
}

/** The port web listens on in its pod (PORT), as on Heroku. */
export const WEB_PORT = 5000;
/** Every process type's name but the release phase. */
const RELEASE_PHASE = 'release';

/** A name the kubelet can look up: anything else the shell-like parser calls a variable ("$$", "$" at a word's end) is empty, as on one machine. */
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A Procfile command as a container's argv. `$VAR` and `${VAR}` become
 * `$(VAR)`, which the kubelet expands from the container's environment
 * (the config Secret included) when the pod starts, so no config value is
 * ever written into a Deployment. Every other `$` is written `$$`, the
 * kubelet's escape for one `$`: a literal `$(X)`, `$$` or `$$(X)` (in
 * single quotes, for a shell in the pod) reaches the process as written
 * and never expands a variable the app did not name. What berth itself
 * expands to nothing (`$$` unquoted, a `$` with no name) is nothing here
 * too. Unlike on one machine, a variable the container lacks stays as
 * written rather than becoming nothing (that is the kubelet's rule).
 */
export function containerArgv(command: string): string[] {
  const MARK = '\u0001';
  if (command.includes(MARK)) {
    throw new BerthError('BERTH_E_PROCFILE', `command ${JSON.stringify(command)} holds a control character`, { hint: 'Write Procfile commands in printable characters.' });
  }
  const placeholders = new Proxy({} as Record<string, string>, {
    get: (_target, name) => (typeof name === 'string' ? `${MARK}${name}${MARK}` : undefined),
  });
  const argv = commandToArgv(command, placeholders)
    .map((word) =>
      word
        .split(MARK)
        .map((part, i) => (i % 2 === 0 ? part.replaceAll('$', '$$$$') : VARIABLE_NAME.test(part) ? `$(${part})` : ''))
        .join(''),
    )
    // An unset variable is no word at all (commandToArgv's rule).
    .filter((word) => word !== '');
  if (argv.length === 0) throw new BerthError('BERTH_E_PROCFILE', `command ${JSON.stringify(command)} is empty after expansion`);
  return argv;
}

function podResources(settings: ClusterSettings, config: AppConfig, type: string, memory: number | undefined): Resources {
  const limits = instanceLimits(settings.defaults, config.resources, type, memory === undefined ? undefined : { memoryBytes: memory });
  return { memoryBytes: limits.memoryBytes, cpu: limits.cpu };
}

/** The Secret with the operator's certificate for the app's domains it covers (kubernetes.io/tls). */
export function tlsSecretName(app: string): string {
  return objectName(appLabel(app), ['tls']);
}

/**
 * Whether a certificate's DNS names cover `host`: the same name (any case),
 * or a wildcard "*.example.com" for exactly one label more
 * ("shop.example.com", not "example.com" nor "a.shop.example.com"). Pure.
 */
export function certificateCovers(names: readonly string[], host: string): boolean {
  const wanted = host.toLowerCase();
  return names.some((raw) => {
    const name = raw.toLowerCase();
    if (!name.startsWith('*.')) return name === wanted;
    const dot = wanted.indexOf('.');
    return dot > 0 && wanted.slice(dot + 1) === name.slice(2);
  });
}

/** The release's config Secret: one per release, so a release that fails leaves the serving one's values untouched. */
export function releaseSecretName(app: string, version: number): string {
  return objectName(appLabel(app), ['config', `v${version}`]);
}

/** The spec and the Secret's values for one release; throws a BerthError naming what cannot run on a cluster. */
export function deploymentOf(release: ClusterRelease, settings: ClusterSettings): { spec: AppDeployment; vars: Record<string, string> } {
  const vars: Record<string, string> = { ...release.vars, BERTH_APP: release.app };
  const names = settings.certificateNames ?? [];
  const tls = (host: string): TlsMode =>
    settings.certIssuer !== null
      ? { mode: 'cert-manager', issuer: settings.certIssuer.name, issuerKind: settings.certIssuer.kind }
      : certificateCovers(names, host)
        ? { mode: 'secret', secretName: tlsSecretName(release.app) }
        : { mode: 'none' };
  const releasePhase = release.processes.find((p) => p.name === RELEASE_PHASE);
  const spec: AppDeployment = {
    app: release.app,
    namespace: settings.namespace,
    release: { version: release.release.version, id: String(release.release.id) },
    image: release.image,
    processes: release.processes
      .filter((p) => p.name !== RELEASE_PHASE)
      .map((p) => ({ name: p.name, argv: containerArgv(p.command), replicas: release.formation[p.name] ?? 1, resources: podResources(settings, release.config, p.name, release.memory[p.name]) })),
    health: release.config.health.path === null ? null : { path: release.config.health.path },
    webPort: WEB_PORT,
    domains: release.domains.map((host) => ({ host, tls: tls(host) })),
    releaseCommand:
      releasePhase === undefined
        ? null
        : { argv: containerArgv(releasePhase.command), timeoutSeconds: settings.releaseTimeoutSeconds, resources: podResources(settings, release.config, RELEASE_PHASE, release.memory[RELEASE_PHASE]) },
    cron: release.cron.map((job) => ({
      name: job.name,
      schedule: job.schedule,
      timezone: job.timezone,
      argv: containerArgv(job.command),
      timeoutSeconds: job.timeoutMs === null ? null : Math.max(1, Math.ceil(job.timeoutMs / 1000)),
      resources: podResources(settings, release.config, job.name, undefined),
    })),
    configSecret: releaseSecretName(release.app, release.release.version),
    configHash: configHash(vars),
    ingressClass: settings.ingressClass,
    restartedAt: release.restartedAt,
  };
  return { spec, vars };
}

/**
 * Refuses what the cluster would take but run wrongly: Kubernetes before
 * 1.25 serves CronJob without the timeZone field and drops it silently,
 * so a job meant for 03:00 Europe/Paris would run at 03:00 UTC.
 */
export function checkCronZones(cron: readonly CronJobConfig[], cronJobVersion: string): void {
  if (cronJobVersion === 'batch/v1') return;
  const zoned = cron.filter((job) => job.timezone !== 'UTC');
  if (zoned.length === 0) return;
  throw new BerthError('BERTH_E_KUBE_UNSUPPORTED', `cron job ${zoned[0]!.name} runs in ${zoned[0]!.timezone}, but this cluster's CronJob (${cronJobVersion}) has no time zones`, {
    status: 422,
    hint: 'Write the schedule in UTC (timezone = "UTC" in berth.toml [cron]), or use a cluster of Kubernetes 1.25 or newer.',
  });
}
