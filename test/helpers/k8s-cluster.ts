// A real Kubernetes 1.20 control plane per test file (../shared/k8s/, see its
// README), and a stand-in kubelet: a Node object whose pods the test makes
// Ready, Failed or Succeeded through the API, and a small HTTPS server on
// 127.0.0.1 that the API server reaches for pod logs (the Node's address and
// kubelet port point at it).
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';

const run = promisify(execFile);
// The control plane's scripts: BERTH_TEST_K8S, else ../shared/k8s beside the checkout, else /work/shared/k8s.
const beside = fileURLToPath(new URL('../../../shared/k8s', import.meta.url));
const K8S = process.env.BERTH_TEST_K8S ?? (existsSync(join(beside, 'start-cluster')) ? beside : '/work/shared/k8s');

export interface Cleanups {
  after(fn: () => unknown): void;
}

export interface TestCluster {
  dir: string;
  kubeconfig: string;
  server: string;
  token: string;
  caFile: string;
  ca: string;
  /** A raw admin call, for what the test plays (the node) and checks behind the client's back. */
  call(method: string, path: string, body?: unknown, contentType?: string): Promise<{ status: number; json: any }>;
}

export async function startCluster(t: Cleanups): Promise<TestCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-k8s-'));
  // One hook: the cluster must be stopped before its folder goes (stop-cluster reads DIR/pids).
  t.after(async () => {
    await run(join(K8S, 'stop-cluster'), [dir], { timeout: 60_000 }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  const { stdout } = await run(join(K8S, 'start-cluster'), [dir], { timeout: 180_000 });
  const env = Object.fromEntries(stdout.trim().split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
  const token = (await readFile(env.K8S_TOKEN_FILE!, 'utf8')).trim();
  const ca = await readFile(env.K8S_CA_FILE!, 'utf8');
  const dispatcher = new Agent({ connect: { ca } });
  t.after(() => dispatcher.close());
  const server = env.K8S_API_URL!;
  return {
    dir,
    kubeconfig: env.KUBECONFIG!,
    server,
    token,
    caFile: env.K8S_CA_FILE!,
    ca,
    async call(method, path, body, contentType = 'application/json') {
      const answer = await request(`${server}${path}`, {
        method: method as 'GET',
        dispatcher,
        headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': contentType }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await answer.body.text();
      let json: unknown = text;
      try {
        json = JSON.parse(text);
      } catch {
        // a log, plain text
      }
      return { status: answer.statusCode, json };
    },
  };
}

export type PodFate = 'ready' | 'fail' | 'succeed' | 'pending';

/**
 * The stand-in kubelet: registers a Ready Node without taints, then keeps
 * passing over its pods (every 150 ms until stopped in t.after), giving each
 * the fate `fateOf` picks and finishing deletions. `logs` answers the API
 * server's log requests for a pod.
 */
export async function startNode(t: Cleanups, cluster: TestCluster, options: { name?: string; fateOf?: (pod: any) => PodFate; logs?: (namespace: string, pod: string, container: string) => string } = {}): Promise<{ name: string; passes(): number }> {
  const name = options.name ?? 'node-1';
  const dir = await mkdtemp(join(tmpdir(), 'berth-kubelet-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore', timeout: 15_000 });
  const kubelet: Server = createServer({ key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) }, (req, res) => {
    const match = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/?]+)/.exec(req.url ?? '');
    if (match === null || options.logs === undefined) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(options.logs(match[1]!, match[2]!, match[3]!));
  });
  await new Promise<void>((resolve) => kubelet.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => kubelet.close(resolve)));
  const port = (kubelet.address() as { port: number }).port;
  const now = () => new Date().toISOString();
  const created = await cluster.call('POST', '/api/v1/nodes', {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux' } },
    status: {
      capacity: { cpu: '8', memory: '16Gi', pods: '110' },
      allocatable: { cpu: '8', memory: '16Gi', pods: '110' },
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: now(), lastTransitionTime: now() }],
      addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
      daemonEndpoints: { kubeletEndpoint: { Port: port } },
    },
  });
  if (created.status !== 201) throw new Error(`the Node was not created: ${JSON.stringify(created.json)}`);
  const untainted = await cluster.call('PATCH', `/api/v1/nodes/${name}`, { spec: { taints: null } }, 'application/merge-patch+json');
  if (untainted.status !== 200) throw new Error(`the Node's taints were not removed: ${JSON.stringify(untainted.json)}`);

  const fateOf = options.fateOf ?? (() => 'ready');
  let stopped = false;
  let passes = 0;
  const pass = async () => {
    const pods = await cluster.call('GET', `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${name}`)}`);
    for (const pod of pods.json.items ?? []) {
      const { namespace, name: podName } = pod.metadata;
      if (pod.metadata.deletionTimestamp !== undefined) {
        await cluster.call('DELETE', `/api/v1/namespaces/${namespace}/pods/${podName}`, { gracePeriodSeconds: 0 });
        continue;
      }
      const fate = fateOf(pod);
      const phase = pod.status?.phase;
      if (fate === 'pending' || (fate === 'ready' && phase === 'Running') || (fate === 'fail' && phase === 'Failed') || (fate === 'succeed' && phase === 'Succeeded')) continue;
      const at = now();
      const running = fate === 'ready';
      const exitCode = fate === 'fail' ? 1 : 0;
      const status = {
        phase: running ? 'Running' : fate === 'fail' ? 'Failed' : 'Succeeded',
        hostIP: '127.0.0.1',
        podIP: '192.0.2.10',
        podIPs: [{ ip: '192.0.2.10' }],
        startTime: at,
        conditions: [
          { type: 'Initialized', status: 'True', lastTransitionTime: at },
          { type: 'ContainersReady', status: running ? 'True' : 'False', lastTransitionTime: at },
          { type: 'Ready', status: running ? 'True' : 'False', lastTransitionTime: at },
        ],
        containerStatuses: pod.spec.containers.map((container: { name: string; image: string }) => ({
          name: container.name,
          ready: running,
          started: running,
          restartCount: 0,
          image: container.image,
          imageID: '',
          state: running ? { running: { startedAt: at } } : { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt: at, finishedAt: at } },
        })),
      };
      await cluster.call('PATCH', `/api/v1/namespaces/${namespace}/pods/${podName}/status`, { status }, 'application/strategic-merge-patch+json');
    }
    passes++;
  };
  const loop = (async () => {
    // Bounded: at most 20 minutes of passes, and stopped by t.after.
    for (let i = 0; i < 8000 && !stopped; i++) {
      await pass().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  })();
  t.after(async () => {
    stopped = true;
    await loop;
  });
  return { name, passes: () => passes };
}
