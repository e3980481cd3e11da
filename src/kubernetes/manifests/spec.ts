import { BerthError } from '../../errors.ts';
import { appLabel, exactLabel, exactSubdomain, hostPart, ingressHost, labelPart, labelValue, MAX_CRONJOB_NAME, objectName } from './names.ts';

/**
 * What berth runs for one release of an app on Kubernetes, as plain data:
 * everything the objects are made from. Config values are not in it (only
 * the name of the Secret that holds them and a hash of them), so a spec can
 * be logged, stored and rendered for GitOps without leaking secrets.
 */
export interface AppDeployment {
  /** berth's app name; mapped to a DNS label for names and labels. */
  readonly app: string;
  /** Where the objects live; must already be a valid namespace name. */
  readonly namespace: string;
  readonly release: { readonly version: number; readonly id: string };
  /** The release's image by digest: `registry/prefix/app@sha256:HEX`. A tag is refused (it could move). */
  readonly image: string;
  /** The Procfile's process types (a `release` type is not one: see releaseCommand). */
  readonly processes: readonly ProcessSpec[];
  /** berth.toml [health]: the path web's probes ask; null probes the port. */
  readonly health: { readonly path: string } | null;
  /** The port web listens on (berth sets PORT to it). */
  readonly webPort: number;
  readonly domains: readonly DomainSpec[];
  /** The release phase, run as a Job before any Deployment changes; null: none. */
  readonly releaseCommand: { readonly argv: readonly string[]; readonly timeoutSeconds: number; readonly resources: Resources } | null;
  readonly cron: readonly CronSpec[];
  /** The Secret with the config and add-on vars (built by configSecret), and configHash of those vars. */
  readonly configSecret: string;
  readonly configHash: string;
  /** The Ingress class; null leaves it to the cluster's default class. */
  readonly ingressClass: string | null;
  /**
   * The last `berth restart` (an ISO time) on every pod template, so a
   * restart rolls the pods; it must be carried on every later apply
   * (dropping it would roll them again). Absent or null: never restarted.
   */
  readonly restartedAt?: string | null;
  /** A kubernetes.io/dockerconfigjson Secret the pods pull the image with (registryPullSecret); absent or null: the nodes' own access. */
  readonly imagePullSecret?: string | null;
}

export interface ProcessSpec {
  /** As the Procfile spells it ("web", "Web_1"). */
  readonly name: string;
  readonly argv: readonly string[];
  readonly replicas: number;
  readonly resources: Resources;
}

/**
 * berth.toml [resources] for one process type, resolved over the server's
 * defaults. `processes` (a pids limit) has no per-pod field in Kubernetes
 * (the kubelet's podPidsLimit is node-wide), so it is not in the spec.
 */
export interface Resources {
  readonly memoryBytes: number | null;
  /** A share of one core (0.5 = half a core). */
  readonly cpu: number | null;
}

export type TlsMode =
  | { readonly mode: 'cert-manager'; readonly issuer: string; readonly issuerKind: 'ClusterIssuer' | 'Issuer' }
  /** A Secret (kubernetes.io/tls) berth issues and keeps up to date itself. */
  | { readonly mode: 'secret'; readonly secretName: string }
  | { readonly mode: 'none' };

export interface DomainSpec {
  readonly host: string;
  readonly tls: TlsMode;
}

export interface CronSpec {
  /** As berth.toml's [cron] spells it. */
  readonly name: string;
  readonly schedule: string;
  readonly timezone: string;
  readonly argv: readonly string[];
  /** berth.toml's timeout; null: none. */
  readonly timeoutSeconds: number | null;
  readonly resources: Resources;
}

/** The spec with every name made and checked: what the object builders read. */
export interface ResolvedDeployment {
  readonly spec: AppDeployment;
  readonly app: string;
  readonly processes: ReadonlyArray<{ readonly spec: ProcessSpec; readonly label: string; readonly name: string }>;
  readonly web: { readonly spec: ProcessSpec; readonly label: string; readonly name: string } | null;
  readonly domains: ReadonlyArray<{ readonly spec: DomainSpec; readonly name: string; readonly tlsSecret: string | null }>;
  readonly cron: ReadonlyArray<{ readonly spec: CronSpec; readonly label: string; readonly name: string }>;
  readonly releaseJob: string | null;
}

const IMAGE_BY_DIGEST = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(\/[a-z0-9]+([._-][a-z0-9]+)*)+@sha256:[0-9a-f]{64}$/;
const MAX_REPLICAS = 1000;

function invalid(message: string, hint: string): never {
  throw new BerthError('BERTH_E_NAME', message, { hint });
}

/** Two of the app's own things must not become one object: "Web_1" and "web-1" are refused together. */
function unique<T extends { readonly name: string }>(items: readonly T[], what: string, original: (item: T) => string): void {
  const seen = new Map<string, string>();
  for (const item of items) {
    const before = seen.get(item.name);
    if (before !== undefined) {
      invalid(`${what} "${before}" and "${original(item)}" both become the Kubernetes name "${item.name}"`, `Rename one of them: Kubernetes names are lowercase, with "-" for "_" and ".".`);
    }
    seen.set(item.name, original(item));
  }
}

function checkArgv(argv: readonly string[], what: string): void {
  if (argv.length === 0 || argv.some((a) => typeof a !== 'string' || a.includes('\0'))) {
    throw new BerthError('BERTH_E_PROCFILE', `${what}: the command is empty or holds a NUL byte`);
  }
}

/** Checks the spec and makes every name, or throws (BERTH_E_NAME, BERTH_E_SCALE, BERTH_E_CRON_SCHEDULE) naming what is wrong. Pure. */
export function resolveDeployment(spec: AppDeployment): ResolvedDeployment {
  const app = appLabel(spec.app);
  exactLabel(spec.namespace, 'namespace');
  exactSubdomain(spec.configSecret, 'config Secret name');
  if (!IMAGE_BY_DIGEST.test(spec.image)) {
    invalid(`${JSON.stringify(spec.image)} is not an image reference by digest`, 'Name the release image as REGISTRY/PATH@sha256:HEX (lowercase), never by tag.');
  }
  if (!Number.isSafeInteger(spec.release.version) || spec.release.version < 1) invalid(`release version ${spec.release.version} is not a positive integer`, 'Releases are numbered v1, v2, …');
  if (!Number.isInteger(spec.webPort) || spec.webPort < 1 || spec.webPort > 65535) invalid(`web port ${spec.webPort} is not a port`, 'Use 1 to 65535 (berth uses 5000).');
  if (spec.ingressClass !== null) exactSubdomain(spec.ingressClass, 'ingress class');
  if (spec.restartedAt != null && !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/.test(spec.restartedAt)) invalid(`restart time ${JSON.stringify(spec.restartedAt)} is not an ISO time`, 'Pass new Date().toISOString().');
  if (spec.imagePullSecret != null) exactSubdomain(spec.imagePullSecret, 'image pull Secret name');
  if (!/^[0-9a-f]{64}$/.test(spec.configHash)) invalid('the config hash is not a sha256 hex digest', 'Set configHash to configHash(vars).');

  const processes = spec.processes.map((p) => {
    checkArgv(p.argv, `process type ${p.name}`);
    if (!Number.isInteger(p.replicas) || p.replicas < 0 || p.replicas > MAX_REPLICAS) {
      throw new BerthError('BERTH_E_SCALE', `process type ${p.name}: ${p.replicas} replicas is out of range`, { hint: `Scale to 0 … ${MAX_REPLICAS}.` });
    }
    const label = labelValue(p.name, 'process type');
    if (label === 'release') {
      // The release Job's pods carry berth.dev/process=release; a Deployment of that name would select them.
      invalid(`process type "${p.name}" is the release phase's name`, 'The Procfile\'s release: line is the release command (releaseCommand), not a process type.');
    }
    return { spec: p, label, name: objectName(app, [labelPart(p.name, 'process type')]) };
  });
  unique(processes.map((p) => ({ ...p, name: p.label })), 'process types', (p) => p.spec.name);
  const web = processes.find((p) => p.spec.name === 'web') ?? null;

  const domains = spec.domains.map((d) => {
    ingressHost(d.host);
    const part = hostPart(d.host);
    let tlsSecret: string | null = null;
    if (d.tls.mode === 'secret') tlsSecret = exactSubdomain(d.tls.secretName, `TLS Secret of ${d.host}`);
    if (d.tls.mode === 'cert-manager') {
      exactSubdomain(d.tls.issuer, `cert-manager issuer of ${d.host}`);
      tlsSecret = objectName(app, [part, 'tls']);
    }
    return { spec: d, name: objectName(app, [part]), tlsSecret };
  });
  unique(domains, 'domains', (d) => d.spec.host);
  if (domains.length > 0 && web === null) {
    invalid('the app has domains but no web process type', 'Add a web process type to the Procfile, or remove the domains.');
  }

  const cron = spec.cron.map((c) => {
    checkArgv(c.argv, `cron job ${c.name}`);
    kubernetesSchedule(c.schedule, c.name);
    const part = labelPart(c.name, 'cron job');
    return { spec: c, label: labelValue(c.name, 'cron job'), name: objectName(app, ['cron', part], MAX_CRONJOB_NAME) };
  });
  unique(cron, 'cron jobs', (c) => c.spec.name);

  let releaseJob: string | null = null;
  if (spec.releaseCommand !== null) {
    checkArgv(spec.releaseCommand.argv, 'release command');
    releaseJob = objectName(app, [`release-v${spec.release.version}`]);
  }
  return { spec, app, processes, web, domains, cron, releaseJob };
}

const FIELD_TOKEN = /^(\*|\?|[0-9]+|[a-z]{3})$/i;
const DESCRIPTORS = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);

/**
 * A schedule the CronJob controller understands: five fields of numbers,
 * names, "*", "?", ",", "-" and "/", or an @-form. berth's own scheduler
 * also takes a seconds field and croner's L, W and #; those are refused
 * here rather than sent to a controller that would reject or misread them.
 */
export function kubernetesSchedule(schedule: string, job: string): string {
  const expression = schedule.trim();
  if (DESCRIPTORS.has(expression)) return expression;
  const fields = expression.split(/\s+/);
  const ok = fields.length === 5 && fields.every((field) => field.split(',').every((item) => {
    const [range, step, ...rest] = item.split('/');
    if (rest.length > 0 || (step !== undefined && !/^[0-9]+$/.test(step))) return false;
    return range!.split('-').every((token, i, all) => all.length <= 2 && FIELD_TOKEN.test(token));
  }));
  if (!ok) {
    throw new BerthError('BERTH_E_CRON_SCHEDULE', `cron job ${job}: "${schedule}" cannot run as a Kubernetes CronJob`, {
      hint: 'On Kubernetes a schedule has 5 fields (no seconds field) of numbers, names, "*", ",", "-" and "/" (no L, W or #), or @hourly, @daily, @weekly, @monthly, @yearly.',
    });
  }
  return expression;
}
