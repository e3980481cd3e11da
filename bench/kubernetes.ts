// `npm run bench:kubernetes`: push-to-rollout time on the Kubernetes
// runtime (issue 17), on the test cluster: a real 1.20 control plane
// (../shared/k8s) with the stand-in kubelet of test/helpers/k8s-cluster.ts
// (it makes pods Ready or Succeeded every 150 ms; nothing really runs) and
// Debian's docker-registry. Two berth servers from dist/, as root: one with
// `--runtime kubernetes`, one with the local runtime (sandboxes), for
// context. The same express app goes through the same steps on both, each
// round on a fresh app:
//   first deploy   upload → npm ci → image made and pushed → release Job → rollout
//   code change    one source file changed: dependency layer and base reused
//   config change  no image work: a new Secret, the Job, a rollout
//   rollback       to v1
//   scale          web 1 → 2
// Medians and p90 (nearest rank), and for the deploys where the time goes.
// See bench/README.md ("Kubernetes").
//
//   npm run bench:kubernetes [-- --rounds N (5, at most 20)] [-- --no-build] [-- --no-local]
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { RegistryClient } from '../src/oci/index.ts';
import { startCluster, startNode } from '../test/helpers/k8s-cluster.ts';
import { pushNodeBase } from '../test/helpers/oci-host-bases.ts';
import { startRegistry } from '../test/helpers/registry.ts';
import { ChildProcesses } from './lib/child-processes.ts';
import { call, startBerth, stopBerth, timedDeploy, writeApp, writeServer, type Berth, type RuntimeKind } from './lib/kubernetes/daemons.ts';
import { deployPhases, kubeletShare, summarize, type DeployPhases, type PodMark, type Summary, type TimedLine } from './lib/kubernetes/phases.ts';
import { machineInfo } from './lib/machine.ts';
import { writeJsonAtomically } from './lib/results-file.ts';
import { removeUsers } from './lib/sandbox/daemon.ts';

const ROOT = join(import.meta.dirname, '..');
const RESULTS = join(ROOT, 'bench', 'results', 'kubernetes.json');
const NAMESPACE = 'bench';
const STEPS = ['first deploy', 'code change', 'config change', 'rollback', 'scale 1 → 2'] as const;
/** 'cold': the daemon's very first deploy (one, before the rounds). */
type Step = (typeof STEPS)[number] | 'cold';

const log = (line: string) => process.stderr.write(`bench:kubernetes: ${line}\n`);
const argv = process.argv.slice(2);
if (argv.includes('--help')) {
  process.stdout.write('npm run bench:kubernetes [-- --rounds N (5, at most 20)] [-- --no-build (use dist/ as it is)] [-- --no-local (no local-runtime context)]\n');
  process.exit(0);
}
const roundsAt = argv.indexOf('--rounds');
const rounds = Math.min(20, Math.max(1, roundsAt === -1 ? 5 : Number(argv[roundsAt + 1]) || 5));
const withLocal = !argv.includes('--no-local');

function ensureBuild(): void {
  if (!argv.includes('--no-build')) {
    log('building dist/ from the current sources');
    if (spawnSync(process.execPath, [join(ROOT, 'bin', 'dist.js'), '--quiet'], { cwd: ROOT, stdio: 'inherit' }).status !== 0) throw new Error('npm run build failed');
  }
}

interface StepResult {
  readonly runtime: RuntimeKind;
  readonly round: number;
  readonly step: Step;
  readonly ms: number;
  /** Kubernetes deploys: where the time went by the stream's lines. */
  readonly phases?: DeployPhases;
  /** Kubernetes: when the stand-in kubelet finished the Job's pod and made the last new web pod ready (ms after the request), and berth's answer after the last pod change. */
  readonly kubelet?: ReturnType<typeof kubeletShare>;
  /** Kubernetes deploys: the stream's lines, with when each arrived. */
  readonly lines?: readonly TimedLine[];
}

const cleanups: (() => unknown)[] = [];
const scope = { after: (fn: () => unknown) => void cleanups.push(fn) };
const children = new ChildProcesses();
const tag = randomBytes(2).toString('hex');
const prefixes: Record<RuntimeKind, string> = { kubernetes: `kb${tag}k-`, local: `kb${tag}l-` };
process.on('exit', () => {
  children.killAllNow();
  for (const prefix of Object.values(prefixes)) removeUsers(prefix);
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping`);
    void (async () => {
      for (const fn of cleanups.reverse()) await Promise.resolve(fn()).catch(() => {});
    })().finally(() => process.exit(130));
  });
}

/** The pod changes the stand-in kubelet made, with the bench's clock. */
const marks: PodMark[] = [];
const marked = new Set<string>();

/** One round of the five steps on one daemon, on a fresh app. */
async function round(b: Berth, app: string, dir: string, n: number, results: StepResult[]): Promise<void> {
  await call(b, 'POST', '/apps', { name: app });
  scope.after(() => call(b, 'DELETE', `/apps/${app}?confirm=${app}`).catch(() => {}));
  const record = (step: Step, from: number, ms: number, release: string | null, extra: Partial<StepResult> = {}) => {
    const kubelet = b.kind === 'kubernetes' && release !== null ? { kubelet: kubeletShare(marks, app, release, from, from + ms) } : {};
    results.push({ runtime: b.kind, round: n, step, ms, ...kubelet, ...extra });
    log(`${b.kind} round ${n + 1}: ${step} ${ms.toFixed(0)} ms`);
  };
  const deploy = async (step: Step) => {
    const { started, lines, total } = await timedDeploy(b, app, dir);
    const version = JSON.parse(lines.at(-1)!.line).release.version as number;
    record(step, started, total, `v${version}`, b.kind === 'kubernetes' ? { phases: deployPhases(lines, total), lines } : {});
  };
  const timed = async (step: Step, method: string, path: string, body: unknown) => {
    const from = performance.now();
    const { ms, json } = await call(b, method, path, body);
    record(step, from, ms, json?.release?.version === undefined ? null : `v${json.release.version}`);
  };
  await writeServer(dir, 0);
  await deploy('first deploy');
  await writeServer(dir, n + 1);
  await deploy('code change');
  await timed('config change', 'PATCH', `/apps/${app}/config`, { set: { GREETING: `round ${n}` } });
  await timed('rollback', 'POST', `/apps/${app}/rollback`, { version: 1 });
  const from = performance.now();
  const { ms } = await call(b, 'PUT', `/apps/${app}/formation`, { web: 2 });
  record('scale 1 → 2', from, ms, 'v4');
  await call(b, 'DELETE', `/apps/${app}?confirm=${app}`);
}

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |\n`;
}
const fmt = (ms: number) => (Number.isNaN(ms) ? '—' : ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);
const fmtSummary = (s: Summary) => (s.n === 0 ? '—' : `${fmt(s.median)} (p90 ${fmt(s.p90)})`);

function report(results: readonly StepResult[], facts: Record<string, unknown>): string {
  const of = (runtime: RuntimeKind, step: Step) => results.filter((r) => r.runtime === runtime && r.step === step);
  let out = `\n## Kubernetes runtime: push to rollout (${rounds} round${rounds === 1 ? '' : 's'}; median, p90 by nearest rank)\n\n`;
  out += `${facts.app}\n\n`;
  out += withLocal ? row(['step', 'kubernetes', 'local runtime', 'kubernetes / local']) + '|---|---:|---:|---:|\n' : row(['step', 'kubernetes']) + '|---|---:|\n';
  for (const step of STEPS) {
    const kube = summarize(of('kubernetes', step).map((r) => r.ms));
    if (!withLocal) {
      out += row([step, fmtSummary(kube)]);
      continue;
    }
    const local = summarize(of('local', step).map((r) => r.ms));
    out += row([step, fmtSummary(kube), fmtSummary(local), local.n === 0 ? '—' : `${(kube.median / local.median).toFixed(2)}×`]);
  }
  const cold = (runtime: RuntimeKind) => of(runtime, 'cold')[0]?.ms ?? Number.NaN;
  out += `\nThe daemon's very first deploy (base pulled, layer and build caches empty; once, before the rounds): kubernetes ${fmt(cold('kubernetes'))}${withLocal ? `, local ${fmt(cold('local'))}` : ''}.\n`;
  const pushes = (step: Step) => [...new Set(of('kubernetes', step).flatMap((r) => (r.lines ?? []).map((l) => /\((\d+ of \d+) blobs uploaded/.exec(l.line)?.[1]).filter((v) => v !== undefined)))].join(', ');
  out += `Blobs uploaded by the push: daemon's first deploy ${pushes('cold')}; first deploy of each app ${pushes('first deploy')}; code change ${pushes('code change')}.\n`;
  out += '\n### Where a Kubernetes deploy goes (medians, ms)\n\n';
  const phaseNames: (keyof DeployPhases)[] = ['build', 'image', 'apply', 'job', 'rollout', 'total'];
  out += row(['step', 'upload + build (npm ci)', 'image made + pushed', 'dry run, Secret + Job applied', 'release Job', 'rest applied, rollout, prune', 'total']);
  out += '|---|---:|---:|---:|---:|---:|---:|\n';
  for (const step of ['cold', 'first deploy', 'code change'] as const) {
    const phases = of('kubernetes', step).map((r) => r.phases!);
    out += row([step === 'cold' ? "the daemon's first deploy (1)" : step, ...phaseNames.map((name) => fmt(summarize(phases.map((p) => p[name]).filter((v): v is number => v !== null)).median))]);
  }
  out += '\n### The stand-in kubelet and berth\'s polls (medians, ms after the request)\n\n';
  out += row(['step', 'Job pod succeeded', 'last new web pod ready', 'answer after the last pod change', 'answer']);
  out += '|---|---:|---:|---:|---:|\n';
  for (const step of STEPS) {
    const ks = of('kubernetes', step);
    const med = (pick: (k: NonNullable<StepResult['kubelet']>) => number | null) => fmt(summarize(ks.map((r) => (r.kubelet ? pick(r.kubelet) : null)).filter((v): v is number => v !== null)).median);
    out += row([step, med((k) => k.jobDone), med((k) => k.webReady), med((k) => k.afterLastChange), fmt(summarize(ks.map((r) => r.ms)).median)]);
  }
  return out;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (berth builds as each app\'s user, and the local runtime contains apps only as root)');
  ensureBuild();
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim() !== '';
  const machine = await machineInfo(children);
  const began = performance.now();
  const work = await mkdtemp('/var/tmp/berth-bench-kube-');
  await chmod(work, 0o711);
  scope.after(() => rm(work, { recursive: true, force: true }));

  log('starting the test cluster, the stand-in kubelet and the registry');
  const cluster = await startCluster(scope);
  const node = await startNode(scope, cluster, {
    fateOf: (pod) => {
      const labels = pod.metadata.labels ?? {};
      const process = labels['berth.dev/process'] ?? '';
      const fate = process === 'release' ? 'succeed' : 'ready';
      const phase = pod.status?.phase;
      // The pass that changes the pod: the first one that sees it short of its fate.
      if (!marked.has(pod.metadata.uid) && phase !== (fate === 'ready' ? 'Running' : 'Succeeded')) {
        marked.add(pod.metadata.uid);
        marks.push({ at: performance.now(), app: labels['app.kubernetes.io/name'] ?? '', release: labels['berth.dev/release'] ?? '', process });
      }
      return fate;
    },
    logs: () => `${new Date().toISOString()} migrated\n`,
  });
  const made = await cluster.call('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } });
  if (made.status !== 201) throw new Error(`the namespace was not made: ${JSON.stringify(made.json)}`);
  const registry = await startRegistry(scope);
  const client = await RegistryClient.open({ registry: registry.host, plainHttp: true });
  scope.after(() => client.close());
  // A Node base made from this machine's Node 20: the Kubernetes runtime builds inside it.
  await pushNodeBase(scope, client, 'base/node');

  const kubeArgs = ['--runtime', 'kubernetes', '--kubeconfig', cluster.kubeconfig, '--namespace', NAMESPACE, '--registry', `${registry.host}/apps`, '--registry-plain-http', '--base-image', `node=${registry.host}/base/node:latest`, '--rollout-timeout', '120s'];
  const berths: Berth[] = [];
  for (const kind of (withLocal ? ['kubernetes', 'local'] : ['kubernetes']) as RuntimeKind[]) {
    const folder = join(work, kind);
    await mkdir(folder, { mode: 0o711 });
    log(`starting berth server (${kind === 'kubernetes' ? '--runtime kubernetes' : 'local runtime'}) from dist/`);
    const b = await startBerth(children, ROOT, kind, join(folder, 'state'), prefixes[kind], kind === 'kubernetes' ? kubeArgs : []);
    scope.after(() => stopBerth(children, b, [], log));
    berths.push(b);
  }

  const dir = join(work, 'app');
  await writeApp(dir);
  // Once per daemon, apart: the base image pulled, the layer cache empty,
  // the code paths cold. Later apps share the dependency layer (npm ci
  // writes the same files, and layers are reproducible).
  const results: StepResult[] = [];
  for (const b of berths) {
    log(`${b.kind}: the daemon's first deploy`);
    await call(b, 'POST', '/apps', { name: 'kbcold' });
    const { lines, total } = await timedDeploy(b, 'kbcold', dir);
    results.push({ runtime: b.kind, round: -1, step: 'cold', ms: total, ...(b.kind === 'kubernetes' ? { phases: deployPhases(lines, total), lines } : {}) });
    await call(b, 'DELETE', '/apps/kbcold?confirm=kbcold');
  }

  const passesBefore = node.passes();
  const measuring = performance.now();
  for (let n = 0; n < rounds; n++) {
    // One daemon at a time (two builds at once on two cores only slow each other), the order alternating.
    for (const b of n % 2 === 0 ? berths : [...berths].reverse()) await round(b, `kb${n}`, dir, n, results);
  }
  const passPeriod = (performance.now() - measuring) / Math.max(1, node.passes() - passesBefore);

  const lockfile = JSON.parse(await readFile(join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
  const packages = Object.keys(lockfile.packages).filter((k) => k !== '').length;
  const facts = {
    app: `App: express 4.21.2 from the npm registry (\`npm ci\`, ${packages} packages, a fresh build cache per app), Procfile \`web: node server.js\` and \`release: node migrate.js\`, a [health] path. Kubernetes: builds inside a Node 20 base made from this machine's Node, images to docker-registry on 127.0.0.1, the stand-in kubelet passing every ${passPeriod.toFixed(0)} ms (150 ms sleep + the pass), berth at ${commit}${dirty ? "+" : ""}. Load average at start ${machine.loadAverageAtStart}; whole run ${((performance.now() - began) / 1000).toFixed(0)} s.`,
  };
  const markdown = report(results, facts);
  process.stdout.write(markdown);
  await writeJsonAtomically(RESULTS, {
    generatedAt: new Date().toISOString(),
    commit: `${commit}${dirty ? ' + uncommitted changes in src/' : ''}`,
    machine,
    rounds,
    ...facts,
    kubeletPassMs: passPeriod,
    wholeRunS: (performance.now() - began) / 1000,
    summary: Object.fromEntries(STEPS.map((step) => [step, Object.fromEntries((['kubernetes', 'local'] as RuntimeKind[]).map((runtime) => [runtime, summarize(results.filter((r) => r.runtime === runtime && r.step === step).map((r) => r.ms))]))])),
    results,
  });
  log(`results written to ${RESULTS}`);
}

try {
  await main();
} finally {
  for (const fn of cleanups.reverse()) await Promise.resolve(fn()).catch((err: Error) => log(`cleanup: ${err.message}`));
  await children.stopAll();
}
