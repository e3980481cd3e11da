import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Edge, type SiteSpec } from '../../src/edge/index.ts';
import { ReleaseRunner, type ReleaseSpec } from '../../src/runner/index.ts';

const APP = (version: string, behaviour = '') => `
import { createServer } from 'node:http';
${behaviour}
const server = createServer((req, res) => {
  if (req.url === '/slow') return setTimeout(() => res.end('${version} slow'), 300);
  res.end('${version}');
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

async function release(root: string, name: string, source: string, env: Record<string, string> = {}): Promise<ReleaseSpec> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'server.mjs'), source);
  return {
    name,
    dir,
    processes: [{ name: 'web', command: 'node server.mjs' }],
    scale: { web: 2 },
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    healthPath: null,
  };
}

async function setup(t: { after(fn: () => unknown): void }) {
  const root = await mkdtemp(join(tmpdir(), 'berth-releases-'));
  const site = (upstreams: SiteSpec['upstreams']): SiteSpec => ({ key: 'app', mounts: [], upstreams, fallbackRoot: null });
  const edge = new Edge({ routes: { hosts: {}, fallback: site([]) }, workers: 2 });
  const address = await edge.listen('127.0.0.1', 0);
  const lines: string[] = [];
  const runner = new ReleaseRunner({
    publish: (upstreams) => edge.setRoutes({ hosts: {}, fallback: site(upstreams) }),
    drain: (upstream, deadline) => edge.drain(upstream, deadline),
    log: (source, line) => lines.push(`${source} ${line}`),
    graceMs: 5_000,
    readyTimeoutMs: 20_000,
  });
  t.after(async () => {
    await runner.stop();
    await edge.close(1_000);
    await rm(root, { recursive: true, force: true });
  });
  return { root, runner, url: `http://127.0.0.1:${address.port}`, lines };
}

/** Requests in a loop (bounded in count and time) until stopped; returns what was seen. */
function load(url: string) {
  const seen = new Map<string, number>();
  const failures: string[] = [];
  let stop = false;
  const deadline = Date.now() + 30_000;
  const one = async () => {
    while (!stop && Date.now() < deadline && failures.length < 50) {
      try {
        const res = await fetch(`${url}/${Math.random() < 0.2 ? 'slow' : ''}`);
        const text = await res.text();
        if (res.status !== 200) failures.push(`${res.status} ${text}`);
        else seen.set(text, (seen.get(text) ?? 0) + 1);
      } catch (err) {
        failures.push(String(err));
      }
    }
  };
  const running = Promise.all(Array.from({ length: 8 }, one));
  return {
    seen,
    failures,
    async finish() {
      stop = true;
      await running;
    },
  };
}

test('a new release takes over without a single failed request, and the old one is stopped', async (t) => {
  const { root, runner, url } = await setup(t);
  await runner.activate(await release(root, 'v1', APP('v1')));
  assert.equal(await (await fetch(url)).text(), 'v1');
  const traffic = load(url);
  await new Promise((resolve) => setTimeout(resolve, 300));
  await runner.activate(await release(root, 'v2', APP('v2')));
  await new Promise((resolve) => setTimeout(resolve, 300));
  await runner.activate(await release(root, 'v3', APP('v3')));
  await new Promise((resolve) => setTimeout(resolve, 300));
  await traffic.finish();
  assert.deepEqual(traffic.failures, []);
  assert.ok((traffic.seen.get('v1') ?? 0) > 0 && (traffic.seen.get('v3') ?? 0) > 0, JSON.stringify([...traffic.seen]));
  assert.equal(await (await fetch(url)).text(), 'v3');
  assert.equal(runner.current?.name, 'v3');
});

test('a release that exits at once never takes traffic, and the old one keeps serving', async (t) => {
  const { root, runner, url } = await setup(t);
  await runner.activate(await release(root, 'v1', APP('v1')));
  const traffic = load(url);
  await assert.rejects(
    runner.activate(await release(root, 'v2', APP('v2', "console.error('missing DATABASE_URL'); process.exit(1);"))),
    (err: Error & { code?: string; hint?: string }) => {
      assert.equal(err.code, 'BERTH_E_RELEASE_FAILED');
      assert.match(err.message, /v2 did not become ready: web\.\d exited \(code 1\)/);
      assert.match(err.hint ?? '', /missing DATABASE_URL/);
      return true;
    },
  );
  await traffic.finish();
  assert.deepEqual(traffic.failures, []);
  assert.deepEqual([...traffic.seen.keys()].map((k) => k.replace(' slow', '')).filter((k, i, a) => a.indexOf(k) === i), ['v1']);
  assert.equal(runner.current?.name, 'v1');
});

test('a release that never listens fails at its deadline, and the old one keeps serving', async (t) => {
  const { root, runner, url } = await setup(t);
  await runner.activate(await release(root, 'v1', APP('v1')));
  const hang = await release(root, 'v2', "setInterval(() => {}, 1000); process.on('SIGTERM', () => process.exit(0));");
  const quick = new ReleaseRunner({
    publish: async () => assert.fail('a release that is not ready must not be published'),
    drain: async () => {},
    log: () => {},
    graceMs: 1_000,
    readyTimeoutMs: 1_500,
  });
  t.after(() => quick.stop());
  await assert.rejects(quick.activate(hang), /v2 did not become ready: web\.1, web\.2 not ready after 2s/);
  assert.equal(await (await fetch(url)).text(), 'v1');
  void runner;
});
