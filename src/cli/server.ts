import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ApiServer } from '../api/api-server.ts';
import { registerGitRoutes } from '../api/git-routes.ts';
import { registerKeyRoutes } from '../api/key-routes.ts';
import { registerLogRoutes } from '../api/log-routes.ts';
import { registerAddonRoutes } from '../api/addon-routes.ts';
import { AddonService, createAddonProviders } from '../addons/index.ts';
import { reapOrphans } from '../runner/index.ts';
import { MetricsListener, metricsWithoutTokenWarning, registerMetricsRoutes } from '../api/metrics-routes.ts';
import { registerPlatformRoutes } from '../api/platform-routes.ts';
import { registerRunRoutes } from '../api/run-routes.ts';
import type { DashboardServer } from '../dashboard/index.ts';
import { DEFAULT_BUILD_LIMITS, type BuildLimits } from '../build/index.ts';
import type { EdgeLimits, ObservationBatch } from '../edge/index.ts';
import { RemoteEdge } from '../edge-process/index.ts';
import { BerthMetrics, HISTORY_STEP_MS, MetricsHistory } from '../metrics/index.ts';
import { startGit, type Git } from '../git/index.ts';
import { LogDrains } from '../platform/log-drains.ts';
import { resetPrivateDir } from '../safe-fs/index.ts';
import { Platform } from '../platform/platform.ts';
import { DEFAULT_DISK_BYTES, DISK_CHECK_INTERVAL_MS } from '../disk/index.ts';
import { Containment, Store, userPrefix } from '../platform/index.ts';
import { DEFAULT_INSTANCE_LIMITS, Sandboxes, type ResourceLimits, type SandboxMode } from '../sandbox/index.ts';
import type { ListenAddress } from './address.ts';
import type { AcmePolling, AcmeSettings, EdgeCertificates, RenewalPolicy } from '../tls/index.ts';
import { onShutdown } from './shutdown.ts';
import { clearStopAppsMark, stopAppsMark, takeStopAppsMark } from './server-stop.ts';
import { startSuccessor, takeOverLock } from './server-upgrade.ts';
import { listenNamingFlag } from './listen-flag.ts';
import { urlOf } from './listen-url.ts';
import { BerthError } from '../errors.ts';
import type { KubernetesSettings } from './kubernetes-options.ts';
import type { KubeRuntime } from '../kubernetes/index.ts';
import type { AddonKind, AddonProvider } from '../addons/index.ts';

export interface ServerOptions {
  readonly stateDir: string;
  readonly http: ListenAddress;
  readonly api: ListenAddress;
  readonly baseDomain: string;
  readonly workers?: number;
  readonly limits?: Partial<EdgeLimits>;
  readonly log: (line: string) => void;
  /** Apps get Unix users named PREFIX+NAME when berth runs as root. */
  readonly userPrefix?: string;
  /** Where git is served over SSH (--ssh); git over HTTP is always on the API listener. */
  readonly ssh?: ListenAddress | null;
  /** Builds at once (--build-concurrency), and each build's limits (--build-memory, --build-timeout). */
  readonly buildConcurrency?: number;
  readonly buildLimits?: BuildLimits;
  /** Variables every build gets (--build-env-file). */
  readonly buildEnv?: Readonly<Record<string, string>>;
  /** Where the edge serves HTTPS (--https); null: HTTP only. */
  readonly https?: ListenAddress | null;
  /** The ACME CA for public names (--acme-directory, --acme-ca-bundle, --acme-email); null: local CA only (--no-acme). */
  readonly acme?: AcmeSettings | null;
  /** The operator's own certificate for names without one of their own (--tls-cert/--tls-key). */
  readonly ownCertificate?: { readonly certPem: string; readonly keyPem: string } | null;
  /** For tests: the renewal policy and ACME polling. */
  readonly renewalPolicy?: RenewalPolicy;
  readonly acmePolling?: Partial<AcmePolling>;
  /** Where the dashboard is served (--dashboard); null: no dashboard. */
  readonly dashboard?: ListenAddress | null;
  /** Where /metrics is also served on a listener of its own (--metrics); null: only on the API listener. */
  readonly metrics?: ListenAddress | null;
  /** That listener answers without a token (--metrics-without-token); by default it needs an API token. */
  readonly metricsWithoutToken?: boolean;
  /** Whether apps run contained when berth runs as root (--sandbox auto|required|off; default auto). */
  readonly sandbox?: SandboxMode;
  /** Each instance's limits unless berth.toml or `berth scale` say otherwise (--default-memory, --default-cpu, --default-processes). */
  readonly instanceLimits?: ResourceLimits;
  /** Each app's disk limit unless its berth.toml says otherwise, and how often it is measured (--default-disk, --disk-check-interval). */
  readonly disk?: { readonly defaultBytes: number | null; readonly checkIntervalMs: number };
  /** Add-on servers and backup folders (--postgres-admin-url, --redis-admin-url, --backup-dir, --backup-copy-dir). */
  readonly addons?: {
    readonly postgresAdminUrl: string | null;
    readonly redisAdminUrl: string | null;
    readonly backupDir: string | null;
    readonly backupCopyDir: string | null;
  };
  /** Run the apps on a Kubernetes cluster (--runtime kubernetes and its flags); null: on this machine. */
  readonly kubernetes?: KubernetesSettings | null;
}

// Apps inherit only what they need from the daemon's environment: never its
// tokens or anything else an operator happened to export. Besides the
// basics, the machine's outbound setup — its TLS trust (a corporate CA) and
// proxies — so builds can reach package registries the way the operator can.
const INHERITED_ENV = [
  'PATH',
  'HOME',
  'LANG',
  'LC_ALL',
  'TZ',
  'TMPDIR',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'REQUESTS_CA_BUNDLE',
  'PIP_CERT',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
];

/**
 * `berth server`: the edge for every app, the control API, and the apps
 * themselves, brought back at their current releases. SIGTERM drains and
 * stops everything.
 */
export async function server(options: ServerOptions): Promise<void> {
  const stateDir = resolve(options.stateDir);
  // The lock before anything else touches the folder: a second daemon is refused with the folder as it was.
  // Started by an upgrade (SIGUSR2): ready first, then the lock once the old daemon lets go of it.
  const lock = await takeOverLock(stateDir, options.log);
  // A mark a stop left for a daemon that is gone is not this one's.
  clearStopAppsMark(stateDir);
  const store = Store.open(stateDir);
  const tokenPath = join(stateDir, 'admin-token');
  if (store.ensureAdminToken(tokenPath)) options.log(`created the admin API token in ${tokenPath} (mode 0600)`);
  else options.log(`admin API token: ${tokenPath}`);

  const https = options.https ?? null;
  // What the edge saw, about once a second per engine: every consumer (the
  // dashboard's history, metrics, access logs) takes each batch in turn.
  const observers: Array<(batch: ObservationBatch) => void> = [];
  const history = new MetricsHistory();
  observers.push((batch) => history.ingest(batch));
  // Prometheus metrics; the platform's parts are read at scrape time (the platform exists by then).
  const metrics = new BerthMetrics({ sources: { apps: () => store.listApps().map((app) => app.name), running: () => platform.instanceVitals(), backupTimes: () => addons.backupTimes(), disk: () => platform.diskStatuses().map(({ app, status }) => ({ app, parts: status.usage?.parts ?? null, limitBytes: status.limitBytes, overLimit: status.state === 'over' })) } });
  observers.push((batch) => metrics.observe(batch));
  const historyTimer = setInterval(() => history.tick(), HISTORY_STEP_MS);
  historyTimer.unref();
  // STATE/tmp: berth's temporary files, root's alone and emptied at start
  // (below), never in a shared /tmp.
  const tempDir = join(stateDir, 'tmp');
  // The edge is a process of its own that outlives this daemon: the one
  // running is adopted (or handed over from, when its code changed), else
  // one is started (src/edge-process/).
  let edge: RemoteEdge;
  try {
    edge = await listenNamingFlag({ plain: '--http' }, () =>
      RemoteEdge.open({
        stateDir,
        http: options.http,
        https,
        workers: options.workers,
        limits: options.limits,
        log: options.log,
        accessRecords: true,
        onObservations: (batch) => {
          for (const observe of observers) observe(batch);
        },
      }),
    );
  } catch (err) {
    clearInterval(historyTimer);
    store.close();
    lock.release();
    throw err;
  }
  let certificates: EdgeCertificates | null = null;
  if (https !== null) {
    const { EdgeCertificates } = await import('../tls/index.ts');
    const own = options.ownCertificate ?? null;
    certificates = await EdgeCertificates.open({
      stateDir,
      acme: options.acme ?? null,
      // The operator's certificate, when given, answers names without one of their own.
      apply: (tls) => edge.setTls(own === null ? tls : { certificates: tls.certificates, fallback: own }),
      applyChallenges: (tokens) => edge.setChallenges(tokens),
      log: options.log,
      ...(options.renewalPolicy ? { policy: options.renewalPolicy } : {}),
      ...(options.acmePolling ? { polling: options.acmePolling } : {}),
    });
    options.log(options.acme ? `certificates: ACME from ${options.acme.directoryUrl} for public names, berth's local CA for *.localhost and IPs` : "certificates: berth's local CA only (--no-acme)");
  }
  const baseEnv: Record<string, string> = {};
  for (const key of INHERITED_ENV) if (process.env[key] !== undefined) baseEnv[key] = process.env[key]!;
  const appUsers = process.getuid?.() === 0 ? { prefix: userPrefix(options.userPrefix ?? 'berth-') } : null;
  if (appUsers) options.log(`running as root: each app runs as its own Unix user, ${appUsers.prefix}NAME`);
  // Sandboxes: as root, every app's processes run contained (their own view
  // of the files, processes and network, with limits) when the machine can.
  const opened = appUsers ? await Sandboxes.open({ stateDir, log: options.log, mode: options.sandbox ?? 'auto' }) : { sandboxes: null, reason: 'berth is not running as root' };
  if (opened.sandboxes === null) options.log(`apps run uncontained: ${opened.reason}`);
  const containment = new Containment({
    sandboxes: opened.sandboxes,
    uncontainedReason: opened.reason,
    stateDir,
    instanceDefaults: options.instanceLimits ?? DEFAULT_INSTANCE_LIMITS,
    buildMemoryBytes: (options.buildLimits ?? DEFAULT_BUILD_LIMITS).memoryBytes,
  });
  // Every app's log drains, fed by its logs as the platform makes them.
  const drains = new LogDrains({ store, log: options.log });
  // The cluster, when the apps run on one: reached (and the namespace found) before anything listens.
  let cluster: KubeRuntime | null = null;
  if (options.kubernetes) {
    try {
      cluster = await openCluster(options.kubernetes, stateDir, options.instanceLimits ?? DEFAULT_INSTANCE_LIMITS);
    } catch (err) {
      // An edge this start made goes with it; one that was serving already serves on.
      await (edge.spawned ? edge.stop(10_000) : Promise.resolve(edge.detach()));
      await certificates?.close();
      clearInterval(historyTimer);
      await opened.sandboxes?.close();
      store.close();
      lock.release();
      throw err;
    }
    options.log(`apps run on ${cluster.description}`);
  }
  const platform = new Platform({
    containment,
    stateDir,
    store,
    edge,
    baseDomain: options.baseDomain,
    baseEnv,
    log: options.log,
    appUsers,
    buildConcurrency: options.buildConcurrency ?? 1,
    buildLimits: options.buildLimits ?? DEFAULT_BUILD_LIMITS,
    buildEnv: options.buildEnv ?? {},
    certificates,
    logWatcher: drains,
    onEvent: (event) => metrics.record(event),
    disk: options.disk ?? { defaultBytes: DEFAULT_DISK_BYTES, checkIntervalMs: DISK_CHECK_INTERVAL_MS },
    cluster,
  });
  observers.push((batch) => platform.recordAccess(batch.records));
  // Before anything listens: the instances a previous daemon left are taken
  // stock of (those still running as recorded are taken over at start);
  // whatever else still runs as an app's user now is a leftover, and ends.
  await platform.takeStock();
  // Add-ons: what a killed daemon's backups left running (scratch Redis
  // servers, and local servers of a berth before adoption) carries this tag
  // and is stopped; the local servers carry the tag + ":postgres"/":redis",
  // and are adopted (or ended) when their provider starts.
  const addonMarker = `server:${stateDir}:addons`;
  const reapedServers = reapOrphans(addonMarker);
  if (reapedServers.length > 0) options.log(`stopped ${reapedServers.length} add-on server(s) left running by a previous daemon`);
  const addonSettings = options.addons ?? { postgresAdminUrl: null, redisAdminUrl: null, backupDir: null, backupCopyDir: null };
  const addons = new AddonService({
    stateDir,
    platform,
    providers: onCluster(cluster !== null, addonSettings, createAddonProviders({
      stateDir,
      postgresAdminUrl: addonSettings.postgresAdminUrl,
      redisAdminUrl: addonSettings.redisAdminUrl,
      namePrefix: appUsers?.prefix ?? userPrefix(options.userPrefix ?? 'berth-'),
      supervisorMarker: addonMarker,
      serviceAddress: opened.sandboxes?.serviceAddress ?? null,
      log: options.log,
    })),
    backupDir: addonSettings.backupDir === null ? undefined : resolve(addonSettings.backupDir),
    backupCopyDir: addonSettings.backupCopyDir === null ? null : resolve(addonSettings.backupCopyDir),
    log: options.log,
    onBackup: (event) => metrics.recordBackup(event),
  });
  opened.sandboxes?.servedDirectly(() => addons.directPorts());
  const api = new ApiServer({ authenticate: (token) => store.verifyToken(token)?.name ?? null, log: options.log });
  registerPlatformRoutes(api, platform);
  registerRunRoutes(api, platform);
  registerKeyRoutes(api, store);
  registerLogRoutes(api, store, drains);
  registerAddonRoutes(api, addons);
  registerMetricsRoutes(api, metrics);
  const metricsAccess = options.metricsWithoutToken === true ? 'without-token' : { authenticate: (token: string) => store.verifyToken(token)?.name ?? null };
  const metricsListener = options.metrics ? new MetricsListener(metrics, metricsAccess, options.log) : null;
  let git: Git | null = null;
  let dashboard: DashboardServer | null = null;
  // How the edge process ends with this daemon: 'stop' ends it (a full
  // stop), 'detach' leaves it serving for the next daemon to adopt (a
  // control-plane stop).
  const endEdge = (how: 'stop' | 'detach'): Promise<void> => (how === 'detach' ? Promise.resolve(edge.detach()) : edge.stop(10_000));
  // A signal's stop, and a failed start's: each part's close is safe on a
  // part that never started or listened. `leaveRunning`: the control plane
  // stops, the edge and the apps' instances run on for the next daemon to
  // take over.
  const stop = async (leaveRunning: boolean) => {
    // Every listener stops taking work at once (each bounded by its grace
    // period), then the apps stop: no listener may hold the apps' stop up.
    await Promise.all([api.close(), dashboard?.close(), metricsListener?.close(), git?.close(), endEdge(leaveRunning ? 'detach' : 'stop')]);
    clearInterval(historyTimer);
    await certificates?.close();
    await platform.stop({ leaveRunning });
    await addons.close({ leaveRunning });
    await opened.sandboxes?.close();
    await cluster?.close();
    await drains.close();
    store.close();
    lock.release();
  };
  try {
    // SSH is the only listener startGit opens.
    git = await listenNamingFlag({ plain: '--ssh' }, () => startGit({ stateDir, platform, ssh: options.ssh ?? null, log: options.log }));
    registerGitRoutes(api, git.service, options.log);

    // What a killed daemon left in STATE/tmp goes. Only once no other daemon
    // can be using this state folder (startGit refuses a second one).
    await resetPrivateDir(tempDir);
    const edgeAddress = edge.address!;
    const apiAddress = await listenNamingFlag({ plain: '--api' }, () => api.listen(options.api.host, options.api.port));
    options.log(`edge listening on ${urlOf(edgeAddress)} (apps at NAME.${options.baseDomain}; edge process ${edge.pid})`);
    if (edge.httpsAddress !== null) options.log(`edge serving HTTPS on ${urlOf(edge.httpsAddress, 'https')} (HTTP/2 and HTTP/1.1)`);
    options.log(`api listening on ${urlOf(apiAddress)}`);
    if (options.dashboard) {
      const { DashboardServer } = await import('../dashboard/index.ts');
      const at = options.dashboard;
      const board = new DashboardServer({
        platform,
        history,
        authenticate: (token) => store.verifyToken(token)?.name ?? null,
        tokenActive: (name) => store.listTokens().some((token) => token.name === name && token.revokedAt === null),
        log: options.log,
        addons,
      });
      dashboard = board;
      const dashboardAddress = await listenNamingFlag({ plain: '--dashboard' }, () => board.listen(at.host, at.port));
      options.log(`dashboard on ${urlOf(dashboardAddress)} (log in with an API token)`);
    }
    if (metricsListener !== null && options.metrics) {
      const at = options.metrics;
      const metricsAddress = await listenNamingFlag({ plain: '--metrics' }, () => metricsListener.listen(at.host, at.port));
      if (metricsAccess === 'without-token') {
        options.log(`metrics listening on ${urlOf(metricsAddress)}/metrics without a token`);
        options.log(metricsWithoutTokenWarning(options.metrics.host));
      } else options.log(`metrics listening on ${urlOf(metricsAddress)}/metrics (with an API token, as on the API)`);
    }
    // The add-ons' servers first: apps that use them start right after.
    await platform.prepare();
    await addons.start();
    await platform.start();
    options.log('ready');
  } catch (err) {
    // A start that fails (a port taken, an add-on server that will not
    // start) stops what it began, so the command ends with its error
    // instead of idling on the listeners and timers already open; apps
    // and an edge that were running before it (taken over) run on.
    const tookOver = [...(await platform.takeStock().catch(() => new Map())).values()].some((records) => records.length > 0);
    await stop(tookOver || !edge.spawned).catch((stopErr: Error) => options.log(`error while stopping after the failed start: ${stopErr.message}`));
    throw err;
  }

  // SIGTERM and SIGHUP (a service manager's stop, a restart, an upgrade):
  // the control plane stops, the apps run on. SIGINT (Ctrl-C, `berth
  // server stop --apps`): everything stops.
  let leaveRunning = true;
  // SIGUSR2 (`berth server upgrade`): the version installed now starts
  // beside this one; once it is ready, this one stops as on SIGTERM.
  let upgrading = false;
  const upgrade = () => {
    if (upgrading) return;
    upgrading = true;
    options.log('SIGUSR2 received: starting the version installed now beside this one');
    void startSuccessor(options.log).then((ready) => {
      if (ready) {
        options.log('upgrade: the new version is ready; this one hands over and exits');
        process.kill(process.pid, 'SIGTERM');
      } else upgrading = false;
    });
  };
  process.on('SIGUSR2', upgrade);
  await onShutdown(
    options.log,
    (signal) => {
      // `berth server stop --apps` marks the folder before its SIGTERM.
      leaveRunning = signal !== 'SIGINT' && !takeStopAppsMark(stateDir);
      return stop(leaveRunning);
    },
    () => {
      // Forced out (a second signal, or the stop failed): a full stop's instances and edge must not outlive the daemon; a control-plane stop's are left as they are.
      if (!leaveRunning) {
        platform.kill();
        edge.kill();
      }
      process.exit(130);
    },
    (signal) => (process.off('SIGUSR2', upgrade), signal === 'SIGINT' || existsSync(stopAppsMark(stateDir)) ? 'stopping the apps and the server' : 'stopping the server; the apps keep running (SIGINT or `berth server stop --apps` stops them too)'),
  );
}

/** The Kubernetes runtime from the server's flags: credentials read, the cluster reached, the layer cache under STATE/oci. */
async function openCluster(settings: KubernetesSettings, stateDir: string, defaults: ResourceLimits): Promise<KubeRuntime> {
  const { KubeRuntime, loadKubeconfig } = await import('../kubernetes/index.ts');
  const { LayerCache } = await import('../oci/index.ts');
  const { readClusterCertificate, readRegistryCredentials } = await import('./kubernetes-options.ts');
  const certificate = settings.certificate === null ? null : await readClusterCertificate(settings.certificate);
  const connection = await loadKubeconfig(settings.kubeconfig, settings.context === undefined ? {} : { context: settings.context });
  const credentials = settings.registry.credentialsFile === undefined ? undefined : await readRegistryCredentials(settings.registry.credentialsFile);
  // STATE/oci: root's (STATE is), the layer cache below it.
  await mkdir(join(stateDir, 'oci'), { recursive: true, mode: 0o700 });
  return KubeRuntime.open({
    connection,
    settings: { namespace: settings.namespace, ingressClass: settings.ingressClass, certIssuer: settings.certIssuer, certificateNames: certificate?.names ?? [], defaults, releaseTimeoutSeconds: settings.releaseTimeoutSeconds },
    certificate: certificate === null ? null : { certPem: certificate.certPem, keyPem: certificate.keyPem },
    registry: { host: settings.registry.host, prefix: settings.registry.prefix, plainHttp: settings.registry.plainHttp, caFile: settings.registry.caFile, credentials },
    bases: settings.bases,
    cache: await LayerCache.open(join(stateDir, 'oci', 'cache')),
    rolloutTimeoutMs: settings.rolloutTimeoutMs,
  });
}

/**
 * On a cluster, an add-on server on this machine is out of the pods' reach:
 * the local PostgreSQL and Redis (no admin URL) and SQLite (a file in the
 * app's folder here) refuse, saying what to use instead.
 */
function onCluster(cluster: boolean, settings: { postgresAdminUrl: string | null; redisAdminUrl: string | null }, providers: Record<AddonKind, AddonProvider>): Record<AddonKind, AddonProvider> {
  if (!cluster) return providers;
  // The provider as it is (a class: its methods and private fields stay its own), but for its start.
  const refuse = (provider: AddonProvider, hint: string): AddonProvider =>
    new Proxy(provider, {
      get(target, property) {
        if (property === 'start') {
          return async () => {
            throw new BerthError('BERTH_E_KUBE_UNSUPPORTED', `${provider.kind} add-ons on this machine are out of reach of the apps' pods`, { status: 422, hint });
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  return {
    postgres: settings.postgresAdminUrl !== null ? providers.postgres : refuse(providers.postgres, 'Start berth server with --postgres-admin-url (BERTH_POSTGRES_ADMIN_URL) naming a PostgreSQL the cluster can reach (a managed database, or one in the cluster).'),
    redis: settings.redisAdminUrl !== null ? providers.redis : refuse(providers.redis, 'Start berth server with --redis-admin-url (BERTH_REDIS_ADMIN_URL) naming a Redis the cluster can reach.'),
    sqlite: refuse(providers.sqlite, 'A pod has no lasting disk of the app\'s: use a postgres add-on on an admin URL instead.'),
  };
}
