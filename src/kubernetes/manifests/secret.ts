import { createHash } from 'node:crypto';
import { BerthError } from '../../errors.ts';
import { ANNOTATION_CONFIG_HASH, ANNOTATION_RELEASE_ID, appLabels } from './labels.ts';
import type { KubeObject } from './object.ts';
import type { AppDeployment } from './spec.ts';
import { appLabel, exactLabel, exactSubdomain, objectName } from './names.ts';

const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

function sortedEntries(vars: Readonly<Record<string, string>>): Array<[string, string]> {
  return Object.entries(vars).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * A sha256 of the config and add-on vars, the same for the same vars in any
 * order: the pod templates carry it, so changing a value rolls the pods.
 * Each key and value is length-prefixed, so no two maps hash alike by
 * moving text across a boundary.
 */
export function configHash(vars: Readonly<Record<string, string>>): string {
  const hash = createHash('sha256');
  for (const [key, value] of sortedEntries(vars)) {
    const k = Buffer.from(key, 'utf8');
    const v = Buffer.from(value, 'utf8');
    hash.update(`${k.length}:`).update(k).update(`${v.length}:`).update(v);
  }
  return hash.digest('hex');
}

/**
 * The Secret the processes take their environment from. `data` (base64),
 * keys sorted, never `stringData`: stringData is write-only and merged into
 * data, so under server-side apply a removed var would stay behind.
 */
export function configSecret(spec: AppDeployment, vars: Readonly<Record<string, string>>): KubeObject {
  const data: Record<string, string> = {};
  for (const [key, value] of sortedEntries(vars)) {
    if (!SECRET_KEY.test(key) || key.length > 253) {
      throw new BerthError('BERTH_E_NAME', `config var ${JSON.stringify(key)} cannot be a Secret key`, { hint: 'Config var names are letters, digits and "_".' });
    }
    data[key] = Buffer.from(value, 'utf8').toString('base64');
  }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: exactSubdomain(spec.configSecret, 'config Secret name'),
      namespace: exactLabel(spec.namespace, 'namespace'),
      labels: appLabels(appLabel(spec.app), spec.release.version),
      annotations: { [ANNOTATION_RELEASE_ID]: spec.release.id, [ANNOTATION_CONFIG_HASH]: configHash(vars) },
    },
    type: 'Opaque',
    data,
  };
}

/** The name berth gives an app's image pull Secret. */
export function pullSecretName(app: string): string {
  return objectName(appLabel(app), ['registry']);
}

/**
 * The Secret the app's pods pull its image with: the registry berth pushes
 * to and the credentials berth pushes with, as the kubelet reads them
 * (kubernetes.io/dockerconfigjson). One per app, so it carries the app's
 * labels and goes with the app.
 */
export function registryPullSecret(spec: AppDeployment, registry: string, credentials: { readonly username: string; readonly password: string }): KubeObject {
  const auth = Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64');
  const config = JSON.stringify({ auths: { [registry]: { username: credentials.username, password: credentials.password, auth } } });
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: exactSubdomain(spec.imagePullSecret ?? pullSecretName(spec.app), 'image pull Secret name'),
      namespace: exactLabel(spec.namespace, 'namespace'),
      labels: appLabels(appLabel(spec.app), spec.release.version),
      annotations: { [ANNOTATION_RELEASE_ID]: spec.release.id },
    },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': Buffer.from(config, 'utf8').toString('base64') },
  };
}

/**
 * A kubernetes.io/tls Secret of the app's with a certificate berth was
 * given (the operator's own), which the Ingresses of the domains it covers
 * name. One per app, so it carries the app's labels and goes with it.
 */
export function tlsSecret(spec: AppDeployment, name: string, certificate: { readonly certPem: string; readonly keyPem: string }): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: exactSubdomain(name, 'TLS Secret name'),
      namespace: exactLabel(spec.namespace, 'namespace'),
      labels: appLabels(appLabel(spec.app), spec.release.version),
      annotations: { [ANNOTATION_RELEASE_ID]: spec.release.id },
    },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': Buffer.from(certificate.certPem, 'utf8').toString('base64'), 'tls.key': Buffer.from(certificate.keyPem, 'utf8').toString('base64') },
  };
}
