import { BerthError } from '../../errors.ts';
import type { BaseImage, LayerCache } from '../../oci/index.ts';
import { appPods, type PodSummary } from '../client/pods.ts';
import { pruneApp } from '../client/apply.ts';
import { KubeClient } from '../client/client.ts';
import { waitForJob, jobLog } from '../client/jobs.ts';
import type { KubeConnection } from '../client/kubeconfig.ts';
import { pickApiVersion } from '../client/resources.ts';
import { realClock, waitForRollout, type Clock } from '../client/rollout.ts';
import { appObjects } from '../manifests/app-objects.ts';
import { ANNOTATION_RESTARTED_AT, LABEL_PROCESS } from '../manifests/labels.ts';
import { appLabel } from '../manifests/names.ts';
import type { KubeObject } from '../manifests/object.ts';
import { configSecret, pullSecretName, registryPullSecret, tlsSecret } from '../manifests/secret.ts';
import { renderManifests } from '../manifests/yaml.ts';
import { ImageMaker, type BaseLanguage, type ImageRequest, type PushRegistry } from './images.ts';
import { checkCronZones, deploymentOf, type ClusterRelease, type ClusterSettings } from './release-plan.ts';

// The Kubernetes runtime: what berth does on a cluster where it would start
// processes on one machine. A release becomes serving in three steps —
// every object checked by the API server's dry run, the release Job run to
// success, then the rest applied and every Deployment's rollout awaited —
// and only then is what the app no longer wants pruned. See
// docs/ARCHITECTURE.md, "The runtime seam".

export interface KubeRuntimeOptions {
  readonly connection: KubeConnection;
  readonly settings: ClusterSettings;
  readonly registry: PushRegistry;
  readonly bases: ConstructorParameters<typeof ImageMaker>[0]['bases'];
  /** The operator's own certificate (`--tls-cert`/`--tls-key`) for the domains it covers (its names are in settings.certificateNames). */
  readonly certificate?: { readonly certPem: string; readonly keyPem: string } | null | undefined;
  readonly cache: LayerCache;
  /** How long a release's Deployments may take to roll out (default 10 min). */
  readonly rolloutTimeoutMs?: number;
  /** Between two reads of a rollout or a Job (default 1 s; tests shorten it). */
  readonly pollIntervalMs?: number;
  readonly clock?: Clock;
}

export interface ActivateOptions {
  /** Run the release Job (a new release); false for a scale, restart or the daemon's start of a release that already ran it. */
  readonly releasePhase: boolean;
  /** `berth restart`: new pods for every process type. */
  readonly restart: boolean;
}

/** What `berth logs` shows of one pod: its lines, each with the kubelet's RFC 3339 time first. */
export interface PodLog {
  readonly pod: string;
  readonly process: string;
  readonly lines: readonly string[];
}

export class KubeRuntime {
  readonly settings: ClusterSettings;
  readonly #client: KubeClient;
  readonly #served: ReadonlySet<string>;
  readonly #images: ImageMaker;
  readonly #options: KubeRuntimeOptions;

  private constructor(options: KubeRuntimeOptions, client: KubeClient, served: ReadonlySet<string>) {
    this.settings = options.settings;
    this.#options = options;
    this.#client = client;
    this.#served = served;
    this.#images = new ImageMaker({ registry: options.registry, bases: options.bases, cache: options.cache });
  }

  /**
   * Connects: discovery (so a cluster that is unreachable, refuses the
   * credentials or lacks a kind berth needs fails the daemon's start, not
   * the first deploy) and the namespace, which must exist.
   */
  static async open(options: KubeRuntimeOptions): Promise<KubeRuntime> {
    const client = new KubeClient(options.connection);
    try {
      const served = await client.servedKinds();
      for (const kind of ['Deployment', 'Service', 'Secret', 'Job', 'Ingress', 'CronJob', 'PodDisruptionBudget']) pickApiVersion(kind, served);
      const namespace = options.settings.namespace;
      if ((await client.get('v1', 'Namespace', undefined, namespace)) === undefined) {
        throw new BerthError('BERTH_E_KUBE_CONFIG', `the namespace ${namespace} does not exist on ${client.server}`, { hint: `Create it (kubectl create namespace ${namespace}) and give berth's service account the Role in README "On Kubernetes", or pass --namespace.` });
      }
      return new KubeRuntime(options, client, served);
    } catch (err) {
      await client.close();
      throw err;
    }
  }

  /** "Kubernetes at https://…, namespace berth". */
  get description(): string {
    return `Kubernetes at ${this.#client.server}, namespace ${this.settings.namespace}, images pushed to ${this.#options.registry.host}/${this.#options.registry.prefix}`;
  }

  /** The base image of a language (pulled once per daemon): what a build runs inside and its image is written over. */
  base(language: BaseLanguage, log: (line: string) => void): Promise<BaseImage> {
    return this.#images.base(language, log);
  }

  /** The layer cache the bases and images are kept in. */
  get cache(): LayerCache {
    return this.#options.cache;
  }

  /** Builds and pushes a build's image; its reference by digest. */
  image(request: ImageRequest, log: (line: string) => void): Promise<string> {
    return this.#images.make(request, log);
  }

  /** Which base a build uses (`node` unless the plan is Python's). */
  static languageOf(runtime: string): BaseLanguage {
    return runtime === 'python' ? 'python' : 'node';
  }

  /** The objects of a release as YAML, the config Secret's values left out (`berth k8s manifests`). */
  manifests(release: ClusterRelease): string {
    const { spec } = this.#deployment(release);
    const objects = appObjects(spec).map((object) => this.#atServedVersion(object));
    const tlsFor = spec.domains.find((domain) => domain.tls.mode === 'secret')?.tls;
    const pull = [
      ...(spec.imagePullSecret ? [`the image pull Secret ${spec.imagePullSecret} (kubernetes.io/dockerconfigjson for the registry)`] : []),
      ...(tlsFor?.mode === 'secret' ? [`the TLS Secret ${tlsFor.secretName} (kubernetes.io/tls: your certificate)`] : []),
    ].map((what) => ` nor ${what}`).join('');
    const header = `# berth: ${release.app} v${release.release.version} on ${this.#client.server}. The config Secret ${spec.configSecret} (the app's config and add-on vars) is not printed${pull}:\n# create it yourself with the keys of \`berth config list --app ${release.app}\` (a sealed or external secret), or let berth apply it.\n`;
    return header + renderManifests(objects);
  }

  /**
   * Makes the release serve: every object first checked by a server-side
   * dry run (nothing changes if one is refused), then the config Secret and
   * the release Job (when `releasePhase`), awaited; then the Deployments,
   * Service, PodDisruptionBudget, Ingresses and CronJobs, and every
   * rollout awaited; then what the app no longer has is pruned. A failure
   * before the rollouts changes nothing that serves; a rollout that fails
   * leaves the old pods serving (maxUnavailable 0) and is the caller's to
   * undo by activating the previous release.
   */
  async activate(release: ClusterRelease, log: (line: string) => void, options: ActivateOptions): Promise<void> {
    const namespace = this.settings.namespace;
    const restartedAt = options.restart ? new Date((this.#options.clock ?? realClock).now()).toISOString() : await this.#restartedAt(release);
    const { spec, vars } = this.#deployment({ ...release, restartedAt });
    if (release.cron.length > 0) checkCronZones(release.cron, pickApiVersion('CronJob', this.#served));
    const secret = configSecret(spec, vars);
    const credentials = this.#options.registry.credentials;
    const pull = credentials === undefined ? null : registryPullSecret(spec, this.#options.registry.host, credentials);
    // The operator's certificate, in a Secret of the app's when one of its domains is covered.
    const covered = spec.domains.find((domain) => domain.tls.mode === 'secret')?.tls;
    const certificate = this.#options.certificate;
    const tls = covered?.mode === 'secret' && certificate ? tlsSecret(spec, covered.secretName, certificate) : null;
    const secrets = [secret, ...(pull === null ? [] : [pull]), ...(tls === null ? [] : [tls])];
    const objects = appObjects(spec).map((object) => this.#atServedVersion(object));
    const job = objects.find((object) => object.kind === 'Job');
    const rest = objects.filter((object) => object.kind !== 'Job');
    const first = [...secrets, ...(options.releasePhase && job !== undefined ? [job] : [])];
    for (const object of [...first, ...rest]) await this.#client.apply(object, { dryRun: true });
    for (const object of first) await this.#client.apply(object);
    if (options.releasePhase && job !== undefined) {
      log(`running the release command as Job ${job.metadata.name}`);
      try {
        await waitForJob(this.#client, namespace, job.metadata.name, this.#wait(this.settings.releaseTimeoutSeconds * 1000 + 60_000, log));
      } catch (err) {
        if (err instanceof BerthError && err.code === 'BERTH_E_KUBE_JOB_FAILED') {
          throw new BerthError('BERTH_E_RELEASE_FAILED', `the release command failed: ${err.message}`, { status: 422, hint: `${err.hint ?? ''}\nThe Procfile "release:" entry must succeed before the Deployments change; the previous release keeps serving.`.trim() });
        }
        throw err;
      }
      const output = await jobLog(this.#client, namespace, job.metadata.name, { tailLines: 200, limitBytes: 64 * 1024 }).catch(() => '');
      for (const line of output.split('\n')) if (line !== '') log(`release: ${line}`);
    }
    for (const object of rest) await this.#client.apply(object);
    const deployments = rest.filter((object) => object.kind === 'Deployment');
    if (deployments.length > 0) log(`waiting for ${deployments.map((d) => d.metadata.name).join(', ')} to roll out`);
    await Promise.all(deployments.map((deployment) => waitForRollout(this.#client, namespace, deployment.metadata.name, this.#wait(this.#options.rolloutTimeoutMs ?? 600_000, (line) => log(`${deployment.metadata.labels?.[LABEL_PROCESS] ?? deployment.metadata.name}: ${line}`)))));
    // The release Job stays (its log, until its TTL); everything else not applied now goes.
    const wanted = [...secrets, ...objects];
    const pruned = await pruneApp(this.#client, { namespace, app: appLabel(release.app), wanted, served: this.#served });
    if (pruned.length > 0) log(`removed what the app no longer has: ${pruned.join(', ')}`);
  }

  /** Every object berth made for the app (a destroy). */
  remove(app: string): Promise<string[]> {
    return pruneApp(this.#client, { namespace: this.settings.namespace, app: appLabel(app), wanted: [], served: this.#served });
  }

  /** The app's pods. */
  pods(app: string): Promise<PodSummary[]> {
    return appPods(this.#client, this.settings.namespace, appLabel(app));
  }

  /** The last `tail` lines of each of the app's pods that has a node (a pod not scheduled has no log yet). */
  async logs(app: string, tail: number): Promise<PodLog[]> {
    const pods = (await this.pods(app)).filter((pod) => pod.node !== '');
    return Promise.all(pods.map(async (pod) => {
      const text = await this.#client.podLog(this.settings.namespace, pod.name, { tailLines: tail, timestamps: true, limitBytes: 256 * 1024 }).catch((err: Error) => `${new Date().toISOString()} (berth: this pod's log cannot be read: ${err.message})`);
      return { pod: pod.name, process: pod.process, lines: text.split('\n').filter((line) => line !== '') };
    }));
  }

  async close(): Promise<void> {
    await this.#images.close();
    await this.#client.close();
  }

  /** The last restart time the app's Deployments carry: kept on every apply, so only `berth restart` rolls the pods for it. */
  async #restartedAt(release: ClusterRelease): Promise<string | null> {
    const { spec } = this.#deployment({ ...release, restartedAt: null });
    for (const object of appObjects(spec).filter((o) => o.kind === 'Deployment')) {
      const live = await this.#client.get('apps/v1', 'Deployment', this.settings.namespace, object.metadata.name);
      const template = (live?.spec as { template?: { metadata?: { annotations?: Record<string, string> } } } | undefined)?.template;
      const at = template?.metadata?.annotations?.[ANNOTATION_RESTARTED_AT];
      if (typeof at === 'string') return at;
    }
    return null;
  }

  /** The release's spec; with registry credentials, its pods pull through the app's pull Secret. */
  #deployment(release: ClusterRelease): ReturnType<typeof deploymentOf> {
    const planned = deploymentOf(release, this.settings);
    if (this.#options.registry.credentials === undefined) return planned;
    return { ...planned, spec: { ...planned.spec, imagePullSecret: pullSecretName(release.app) } };
  }

  /** The object at the API version this cluster serves for its kind (1.20: batch/v1beta1 CronJob, policy/v1beta1 PodDisruptionBudget). */
  #atServedVersion(object: KubeObject): KubeObject {
    return { ...object, apiVersion: pickApiVersion(object.kind, this.#served) };
  }

  #wait(timeoutMs: number, log: (line: string) => void) {
    const intervalMs = this.#options.pollIntervalMs ?? 1000;
    return { timeoutMs, intervalMs, firstIntervalMs: Math.min(100, intervalMs), clock: this.#options.clock ?? realClock, onProgress: log };
  }
}
