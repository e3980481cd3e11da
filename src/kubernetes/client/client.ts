import { Agent, request } from 'undici';
import { BerthError } from '../../errors.ts';
import { apiError, unreachable, type RequestContext } from './api-errors.ts';
import { readTokenFile, type KubeConnection } from './kubeconfig.ts';
import { checkName, collectionPath, describe, forApply, KINDS, labelSelector, objectPath, rbacOf, type KubeObject } from './resources.ts';

/** Server-side apply's field manager: every field berth sets is owned by it. */
export const FIELD_MANAGER = 'berth';

const MAX_BODY = 64 * 1024 * 1024;

interface Sent {
  status: number;
  text: string;
}

export interface KubeClientOptions {
  /** Per request, connect + headers + body (default 60 s). */
  timeoutMs?: number;
  /** The largest answer read (default 64 MiB); a larger one is refused, not buffered. */
  maxResponseBytes?: number;
}

/**
 * A thin client of the Kubernetes API: server-side apply, get, list, delete,
 * discovery and pod logs, over undici with the kubeconfig's CA and
 * credentials. The token goes only to the kubeconfig's server and never into
 * an error or a log.
 */
export class KubeClient {
  readonly server: string;
  readonly #dispatcher: Agent;
  readonly #maxBytes: number;
  #authorization: string | undefined;
  readonly #tokenFile: string | undefined;
  #tokenReadAt = 0;
  #closed = false;

  constructor(connection: KubeConnection, options: KubeClientOptions = {}) {
    this.server = connection.server;
    const timeout = options.timeoutMs ?? 60_000;
    this.#maxBytes = options.maxResponseBytes ?? MAX_BODY;
    this.#authorization = connection.token === undefined ? undefined : `Bearer ${connection.token}`;
    this.#tokenFile = connection.tokenFile;
    this.#tokenReadAt = Date.now();
    this.#dispatcher = new Agent({
      headersTimeout: timeout,
      bodyTimeout: timeout,
      connect: {
        timeout: Math.min(timeout, 30_000),
        // The kubeconfig's CA replaces the system roots, as kubectl does.
        ...(connection.ca === undefined ? {} : { ca: connection.ca }),
        ...(connection.insecureSkipTlsVerify ? { rejectUnauthorized: false } : {}),
        ...(connection.clientCert === undefined ? {} : { cert: connection.clientCert.cert, key: connection.clientCert.key }),
      },
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#dispatcher.close();
  }

  /** One request; non-2xx answers other than those in `ok` become typed errors. */
  async send(method: string, path: string, context: RequestContext, options: { query?: Record<string, string | undefined>; body?: string; contentType?: string; ok?: number[]; maxBytes?: number } = {}): Promise<Sent> {
    const url = new URL(path, `${this.server}/`);
    // A server with a path prefix (Rancher's /k8s/clusters/ID) keeps it.
    url.pathname = `${new URL(this.server).pathname.replace(/\/$/, '')}${path}`;
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined) url.searchParams.set(key, value);
    // A token file is read again once a minute, as kubectl does: a projected service-account token is replaced before it expires.
    if (this.#tokenFile !== undefined && Date.now() - this.#tokenReadAt > 60_000) {
      this.#authorization = `Bearer ${await readTokenFile(this.#tokenFile)}`;
      this.#tokenReadAt = Date.now();
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#authorization !== undefined) headers.authorization = this.#authorization;
    if (options.contentType !== undefined) headers['content-type'] = options.contentType;
    let answer: Awaited<ReturnType<typeof request>>;
    try {
      answer = await request(url, { method: method as 'GET', headers, body: options.body, dispatcher: this.#dispatcher });
    } catch (err) {
      throw unreachable(this.server, err);
    }
    let text: string;
    try {
      text = await readCapped(answer.body, Math.min(options.maxBytes ?? this.#maxBytes, this.#maxBytes));
    } catch (err) {
      if (err instanceof BerthError) throw err;
      throw unreachable(this.server, err);
    }
    if ((answer.statusCode >= 200 && answer.statusCode < 300) || (options.ok ?? []).includes(answer.statusCode)) return { status: answer.statusCode, text };
    throw apiError(answer.statusCode, text, context);
  }

  async #json<T>(sent: Sent, what: string): Promise<T> {
    try {
      return JSON.parse(sent.text) as T;
    } catch {
      throw new BerthError('BERTH_E_KUBE_API', `the Kubernetes API server's answer to ${what} is not JSON`, { status: 502 });
    }
  }

  /**
   * The kinds berth uses that the cluster serves, as "apiVersion Kind" keys
   * (apps/v1 Deployment, batch/v1beta1 CronJob, …). Per resource, not per
   * group/version: Kubernetes 1.20 serves batch/v1, but CronJob only at
   * batch/v1beta1.
   */
  async servedKinds(): Promise<Set<string>> {
    const context: RequestContext = { verb: 'get', resource: 'discovery', group: '', namespace: undefined, object: undefined };
    const core = await this.#json<{ versions?: string[] }>(await this.send('GET', '/api', context), 'discovery');
    const groups = await this.#json<{ groups?: { versions?: { groupVersion?: string }[] }[] }>(await this.send('GET', '/apis', context), 'discovery');
    const versions = new Set<string>(core.versions ?? []);
    for (const group of groups.groups ?? []) for (const version of group.versions ?? []) if (typeof version.groupVersion === 'string') versions.add(version.groupVersion);
    const wanted = new Set(Object.values(KINDS).flatMap((info) => info.versions).filter((version) => versions.has(version)));
    const served = new Set<string>();
    for (const version of wanted) {
      const path = version.includes('/') ? `/apis/${version}` : `/api/${version}`;
      const list = await this.#json<{ resources?: { name?: string; kind?: string }[] }>(await this.send('GET', path, context), 'discovery');
      // Subresources (deployments/status) carry their parent's kind too: keep only whole resources.
      for (const resource of list.resources ?? []) if (typeof resource.kind === 'string' && typeof resource.name === 'string' && !resource.name.includes('/')) served.add(`${version} ${resource.kind}`);
    }
    return served;
  }

  /** Server-side apply of one object (field manager berth, forced: berth owns what it sets). */
  async apply(object: KubeObject, options: { dryRun?: boolean } = {}): Promise<KubeObject> {
    const path = objectPath(object);
    const { group, resource } = rbacOf(object.apiVersion, object.kind);
    const context: RequestContext = { verb: 'patch', resource, group, namespace: object.metadata.namespace, object: describe(object), dryRun: options.dryRun };
    // JSON is YAML, so the apply patch needs no YAML writer.
    const sent = await this.send('PATCH', path, context, {
      query: { fieldManager: FIELD_MANAGER, force: 'true', dryRun: options.dryRun === true ? 'All' : undefined },
      body: JSON.stringify(forApply(object)),
      contentType: 'application/apply-patch+yaml',
    });
    return this.#json<KubeObject>(sent, describe(object));
  }

  /** One object, or undefined when it does not exist. */
  async get(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<KubeObject | undefined> {
    const { group, resource } = rbacOf(apiVersion, kind);
    const path = `${collectionPath(apiVersion, kind, namespace)}/${checkName(name, `the ${kind} name`)}`;
    const sent = await this.send('GET', path, { verb: 'get', resource, group, namespace, object: `${kind} ${namespace === undefined ? '' : `${namespace}/`}${name}` }, { ok: [404] });
    if (sent.status === 404) return undefined;
    return this.#json<KubeObject>(sent, `${kind} ${name}`);
  }

  /** The objects of a kind in a namespace that carry every label given. */
  async list(apiVersion: string, kind: string, namespace: string | undefined, labels: Readonly<Record<string, string>>, options: { fieldSelector?: string } = {}): Promise<KubeObject[]> {
    const { group, resource } = rbacOf(apiVersion, kind);
    const context: RequestContext = { verb: 'list', resource, group, namespace, object: undefined };
    const items: KubeObject[] = [];
    let continueToken: string | undefined;
    // Pages of 500, bounded: an app has at most a few hundred objects of a kind.
    for (let page = 0; page < 100; page++) {
      const sent = await this.send('GET', collectionPath(apiVersion, kind, namespace), context, { query: { labelSelector: labelSelector(labels), fieldSelector: options.fieldSelector, limit: '500', continue: continueToken } });
      const list = await this.#json<{ items?: KubeObject[]; metadata?: { continue?: string } }>(sent, `the list of ${resource}`);
      // A list's items carry no apiVersion/kind; give them back theirs.
      for (const item of list.items ?? []) items.push({ ...item, apiVersion, kind });
      continueToken = list.metadata?.continue;
      if (continueToken === undefined || continueToken === '') return items;
    }
    throw new BerthError('BERTH_E_KUBE_API', `listing ${resource} took more than 100 pages`, { status: 502 });
  }

  /**
   * Deletes an object; false when it was already gone. Background
   * propagation: the object goes at once and the garbage collector removes
   * its ReplicaSets and pods after, so a prune never waits on pods that are
   * slow to stop (or, with no kubelet answering, never stop).
   */
  async delete(object: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>, options: { gracePeriodSeconds?: number } = {}): Promise<boolean> {
    const path = objectPath(object as KubeObject);
    const { group, resource } = rbacOf(object.apiVersion, object.kind);
    const body = JSON.stringify({ kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background', ...(options.gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds: options.gracePeriodSeconds }) });
    const sent = await this.send('DELETE', path, { verb: 'delete', resource, group, namespace: object.metadata.namespace, object: describe(object) }, { body, contentType: 'application/json', ok: [404] });
    return sent.status !== 404;
  }

  /** What a container of a pod printed, at most `limitBytes`. */
  async podLog(namespace: string, pod: string, options: { container?: string; tailLines?: number; limitBytes?: number; timestamps?: boolean } = {}): Promise<string> {
    const path = `/api/v1/namespaces/${checkName(namespace, 'the namespace')}/pods/${checkName(pod, 'the pod name')}/log`;
    const limit = options.limitBytes ?? 256 * 1024;
    const sent = await this.send('GET', path, { verb: 'get', resource: 'pods/log', group: '', namespace, object: `the log of pod ${namespace}/${pod}` }, {
      query: { container: options.container, tailLines: options.tailLines?.toString(), limitBytes: String(limit), timestamps: options.timestamps === true ? 'true' : undefined },
      maxBytes: limit + 64 * 1024,
    });
    return sent.text;
  }
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy?: () => void }, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > max) {
      body.destroy?.();
      throw new BerthError('BERTH_E_KUBE_API', `the Kubernetes API server's answer is over ${max} bytes`, { status: 502 });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
