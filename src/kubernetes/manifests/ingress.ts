import type { KubeObject } from './object.ts';
import type { ResolvedDeployment } from './spec.ts';
import { objectMeta, SERVICE_PORT } from './workloads.ts';

/**
 * One Ingress per domain, so a domain's certificate (and a cert-manager
 * order failing for one name) never touches another's. With cert-manager
 * the issuer annotation asks it for a certificate into the named Secret;
 * with a Secret berth issues, the Ingress only names it; without TLS there
 * is no tls section.
 */
export function domainIngress(resolved: ResolvedDeployment, domain: ResolvedDeployment['domains'][number]): KubeObject {
  const { spec } = resolved;
  const web = resolved.web!;
  const { tls } = domain.spec;
  const base = objectMeta(resolved, domain.name);
  const annotations: Record<string, string> = { ...base.annotations };
  if (tls.mode === 'cert-manager') annotations[tls.issuerKind === 'ClusterIssuer' ? 'cert-manager.io/cluster-issuer' : 'cert-manager.io/issuer'] = tls.issuer;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { ...base, annotations },
    spec: {
      ...(spec.ingressClass === null ? {} : { ingressClassName: spec.ingressClass }),
      ...(domain.tlsSecret === null ? {} : { tls: [{ hosts: [domain.spec.host], secretName: domain.tlsSecret }] }),
      rules: [
        {
          host: domain.spec.host,
          http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: web.name, port: { number: SERVICE_PORT } } } }] },
        },
      ],
    },
  };
}
