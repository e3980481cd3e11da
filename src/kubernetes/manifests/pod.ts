import type { Json } from './object.ts';
import type { ResolvedDeployment, Resources } from './spec.ts';

/** The image's user (src/oci sets User to it): pods run as it, never as root. */
export const APP_UID = 10001;
/** Heroku's grace between SIGTERM and SIGKILL. */
const TERMINATION_GRACE_SECONDS = 30;
/** The writable scratch folder on the read-only root filesystem, and HOME (apps and their tools write caches there). */
const TMP = '/tmp';

/**
 * What a container gets in its environment besides the config Secret
 * (envFrom; these win over it, and PORT and DYNO are names config vars may
 * not take). DYNO cannot be "web.1" as on one machine: a Deployment's pods
 * have no index, so it is the process type ("web"), and BERTH_INSTANCE is
 * the pod's name, unique per pod.
 */
export function containerEnv(fixed: Readonly<Record<string, string>>): Json[] {
  return [
    ...Object.entries(fixed).map(([name, value]) => ({ name, value })),
    { name: 'HOME', value: TMP },
    { name: 'BERTH_INSTANCE', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
  ];
}

/** Cores as a Kubernetes quantity in the form the API server would print it ("1", "500m"), so what berth applies reads back unchanged. */
export function cpuQuantity(cores: number): string {
  const milli = Math.max(1, Math.round(cores * 1000));
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}

/** Bytes as a quantity: the largest binary unit that holds it exactly ("512Mi"), else plain bytes. */
export function memoryQuantity(bytes: number): string {
  const whole = Math.floor(bytes);
  for (const [unit, size] of [['Ti', 2 ** 40], ['Gi', 2 ** 30], ['Mi', 2 ** 20], ['Ki', 2 ** 10]] as const) {
    if (whole % size === 0 && whole >= size) return `${whole / size}${unit}`;
  }
  return String(whole);
}

/** [resources] as requests equal to limits: what the app is promised is what it may use, as on one machine (cgroup limits). */
export function containerResources(resources: Resources): { [key: string]: Json } {
  const amounts: Record<string, string> = {};
  if (resources.cpu !== null) amounts.cpu = cpuQuantity(resources.cpu);
  if (resources.memoryBytes !== null) amounts.memory = memoryQuantity(resources.memoryBytes);
  return Object.keys(amounts).length === 0 ? {} : { requests: amounts, limits: amounts };
}

export interface ContainerOptions {
  readonly name: string;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly resources: Resources;
  readonly port?: number;
  readonly probes?: { readonly [probe: string]: Json };
}

/**
 * A pod spec for one of the app's containers: the release image by digest,
 * the config Secret as environment, non-root with nothing to escalate to,
 * a read-only root with an emptyDir at /tmp, no service-account token (the
 * app has no business with the cluster's API) and no service links (they
 * would add FOO_PORT-style variables the app never asked for).
 */
export function podSpec(resolved: ResolvedDeployment, container: ContainerOptions, restartPolicy: 'Always' | 'Never'): { [key: string]: Json } {
  const { spec } = resolved;
  return {
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    restartPolicy,
    terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
    ...(spec.imagePullSecret ? { imagePullSecrets: [{ name: spec.imagePullSecret }] } : {}),
    securityContext: {
      runAsNonRoot: true,
      runAsUser: APP_UID,
      runAsGroup: APP_UID,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    containers: [
      {
        name: container.name,
        image: spec.image,
        // By digest the image cannot change, so a node's copy is always right.
        imagePullPolicy: 'IfNotPresent',
        command: [...container.argv],
        envFrom: [{ secretRef: { name: spec.configSecret } }],
        env: containerEnv(container.env),
        ...(container.port === undefined ? {} : { ports: [{ name: 'http', containerPort: container.port, protocol: 'TCP' }] }),
        resources: containerResources(container.resources),
        ...(container.probes ?? {}),
        securityContext: {
          runAsNonRoot: true,
          runAsUser: APP_UID,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        },
        volumeMounts: [{ name: 'tmp', mountPath: TMP }],
      },
    ],
    volumes: [{ name: 'tmp', emptyDir: {} }],
  };
}

/**
 * web's probes. With a [health] path: HTTP GETs of it; without: a TCP
 * connect to the port (as berth's own readiness: the port answers). The
 * startup probe gives a slow boot a minute before liveness counts, so a
 * slow start is not killed as a hang.
 */
export function webProbes(health: { readonly path: string } | null): { [probe: string]: Json } {
  const check: { [key: string]: Json } = health === null ? { tcpSocket: { port: 'http' } } : { httpGet: { path: health.path, port: 'http', scheme: 'HTTP' } };
  return {
    startupProbe: { ...check, periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 30 },
    readinessProbe: { ...check, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2, successThreshold: 1 },
    livenessProbe: { ...check, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 6 },
  };
}
