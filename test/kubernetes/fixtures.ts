// Specs the Kubernetes tests build objects from.
import { configHash, type AppDeployment } from '../../src/kubernetes/index.ts';

export const DIGEST = `sha256:${'ab'.repeat(32)}`;
export const VARS = { DATABASE_URL: 'postgres://u:p@db/app', SECRET_KEY_BASE: 's3cret', A_FIRST: 'x' };

export function webOnly(overrides: Partial<AppDeployment> = {}): AppDeployment {
  return {
    app: 'shop',
    namespace: 'berth-apps',
    release: { version: 3, id: 'rel_3f9a' },
    image: `registry.example.com:5000/berth/shop@${DIGEST}`,
    processes: [{ name: 'web', argv: ['node', 'server.js'], replicas: 1, resources: { memoryBytes: null, cpu: null } }],
    health: null,
    webPort: 5000,
    domains: [],
    releaseCommand: null,
    cron: [],
    configSecret: 'shop-config',
    configHash: configHash(VARS),
    ingressClass: null,
    ...overrides,
  };
}

export function fullApp(overrides: Partial<AppDeployment> = {}): AppDeployment {
  return webOnly({
    release: { version: 12, id: 'rel_0c1d' },
    processes: [
      { name: 'web', argv: ['gunicorn', 'app:app', '--bind', '0.0.0.0:5000'], replicas: 3, resources: { memoryBytes: 512 * 1024 * 1024, cpu: 0.5 } },
      { name: 'worker', argv: ['python', '-m', 'worker'], replicas: 2, resources: { memoryBytes: 256 * 1024 * 1024, cpu: 0.25 } },
    ],
    health: { path: '/healthz' },
    domains: [
      { host: 'shop.example.com', tls: { mode: 'cert-manager', issuer: 'letsencrypt-prod', issuerKind: 'ClusterIssuer' } },
      { host: '*.shop.example.org', tls: { mode: 'secret', secretName: 'shop-wildcard-cert' } },
      { host: 'plain.example.net', tls: { mode: 'none' } },
    ],
    releaseCommand: { argv: ['python', 'manage.py', 'migrate'], timeoutSeconds: 900, resources: { memoryBytes: 512 * 1024 * 1024, cpu: 1 } },
    cron: [
      { name: 'nightly', schedule: '0 3 * * *', timezone: 'Europe/Berlin', argv: ['python', 'manage.py', 'purge'], timeoutSeconds: 600, resources: { memoryBytes: null, cpu: null } },
      { name: 'hourly_report', schedule: '@hourly', timezone: 'UTC', argv: ['node', 'report.js'], timeoutSeconds: null, resources: { memoryBytes: 128 * 1024 * 1024, cpu: null } },
    ],
    ingressClass: 'nginx',
    ...overrides,
  });
}
