// What option (b) of issue 18 costs, approximately (a spike, not product
// code): a separate long-lived edge process is one more Node process
// holding the edge's engines, so its memory is about that of `berth
// reverse-proxy` from dist/ (the same edge, no control plane); and every
// route change becomes a message to it, timed here as a JSON route table
// sent over a Unix socket to a Node process that parses it and answers.
import { mkdir, readFile } from 'node:fs/promises';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { now } from '../../../test/helpers/steady-load.ts';
import type { ChildProcesses } from '../child-processes.ts';
import { freePort } from '../ports.ts';
import { waitForOutput } from '../sandbox/daemon.ts';

const RECEIVER = join(import.meta.dirname, 'route-receiver.ts');
const IDLE_MS = 3_000;
const PUSHES = 200;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface EdgeRss {
  readonly command: string;
  readonly workers: number;
  readonly rssKiB: number;
}

export interface RoutePush {
  readonly routes: number;
  readonly bytes: number;
  readonly pushes: number;
  readonly medianMs: number;
  readonly p99Ms: number;
}

export interface EdgeCosts {
  readonly rss: readonly EdgeRss[];
  readonly pushes: readonly RoutePush[];
  readonly markdown: string;
}

/** A route table shaped like the edge's: one host per app, two upstream addresses, a few settings. */
export function routeTable(routes: number): { routes: unknown[] } {
  return {
    routes: Array.from({ length: routes }, (_, i) => ({
      host: `app-${i}.example.com`,
      upstreams: [`127.0.0.1:${20_000 + 2 * i}`, `127.0.0.1:${20_001 + 2 * i}`],
      app: `app-${i}`,
      release: 12,
      limits: { maxBodyBytes: 10 * 1024 * 1024, firstByteTimeoutMs: 60_000 },
      static: null,
      redirectHttps: true,
    })),
  };
}

async function rssOf(pid: number): Promise<number> {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]);
}

async function measureRss(children: ChildProcesses, repoRoot: string, workers: number): Promise<EdgeRss> {
  // An upstream that answers, so the one request goes through the proxy's whole path.
  const upstream = createServer((socket) => socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok')));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const upstreamPort = (upstream.address() as { port: number }).port;
  const port = await freePort();
  const child = children.start({
    name: 'berth reverse-proxy',
    command: process.execPath,
    args: [join(repoRoot, 'dist', 'cli', 'main.js'), 'reverse-proxy', '--from', `127.0.0.1:${port}`, '--to', `127.0.0.1:${upstreamPort}`, '--workers', String(workers)],
    cwd: repoRoot,
    env: { ...process.env, NO_COLOR: '1' },
  });
  try {
    await waitForOutput(child, /127\.0\.0\.1:\d+/, 30_000);
    for (const deadline = Date.now() + 10_000; ; ) {
      const ok = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text().then(() => r.ok), () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`berth reverse-proxy did not serve within 10 s:\n${child.output()}`);
      await sleep(50);
    }
    await sleep(IDLE_MS);
    return { command: 'berth reverse-proxy (dist/)', workers, rssKiB: await rssOf(child.pid!) };
  } finally {
    await children.stop(child, 5_000);
    upstream.close();
  }
}

function roundTrip(socket: Socket, line: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const start = now();
    const onData = (chunk: Buffer) => {
      answer += chunk.toString('utf8');
      if (!answer.endsWith('\n')) return;
      socket.off('data', onData);
      const parsed = JSON.parse(answer) as { ok?: number };
      if (typeof parsed.ok !== 'number') reject(new Error(`the receiver answered ${answer}`));
      else resolve(now() - start);
    };
    socket.on('data', onData);
    socket.write(line);
  });
}

async function measurePushes(children: ChildProcesses, dir: string, routes: readonly number[]): Promise<RoutePush[]> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, 'edge.sock');
  const child = children.start({ name: 'route receiver', command: process.execPath, args: [RECEIVER, path] });
  try {
    await waitForOutput(child, /receiving on /, 10_000);
    const socket = createConnection(path);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const results: RoutePush[] = [];
    try {
      for (const count of routes) {
        const line = `${JSON.stringify(routeTable(count))}\n`;
        for (let i = 0; i < 10; i++) await roundTrip(socket, line); // warm-up
        const times: number[] = [];
        for (let i = 0; i < PUSHES; i++) times.push(await roundTrip(socket, line));
        times.sort((a, b) => a - b);
        results.push({ routes: count, bytes: Buffer.byteLength(line), pushes: PUSHES, medianMs: times[Math.floor(times.length / 2)]!, p99Ms: times[Math.ceil(times.length * 0.99) - 1]! });
      }
    } finally {
      socket.destroy();
    }
    return results;
  } finally {
    await children.stop(child, 5_000);
  }
}

/** A Node process doing nothing: what any extra process costs before it holds anything. */
async function measureBareNode(children: ChildProcesses): Promise<EdgeRss> {
  const child = children.start({ name: 'bare node', command: process.execPath, args: ['-e', 'console.log("idle"); setTimeout(() => {}, 60_000)'] });
  try {
    await waitForOutput(child, /idle/, 10_000);
    await sleep(IDLE_MS);
    return { command: 'node -e (an idle Node process)', workers: 0, rssKiB: await rssOf(child.pid!) };
  } finally {
    await children.stop(child, 5_000);
  }
}

export async function measureEdgeCosts(children: ChildProcesses, repoRoot: string, dir: string, log: (line: string) => void): Promise<EdgeCosts> {
  const rss: EdgeRss[] = [await measureBareNode(children)];
  for (const workers of [1, 2]) {
    rss.push(await measureRss(children, repoRoot, workers));
    log(`reverse-proxy with ${workers} engine(s): ${(rss.at(-1)!.rssKiB / 1024).toFixed(1)} MiB`);
  }
  const pushes = await measurePushes(children, dir, [10, 100, 1000]);
  for (const p of pushes) log(`route table of ${p.routes}: median ${p.medianMs.toFixed(2)} ms`);
  const markdown = [
    '| a separate edge process | engines | RSS MiB |',
    '|---|---|---|',
    ...rss.map((r) => `| ${r.command} | ${r.workers} | ${(r.rssKiB / 1024).toFixed(1)} |`),
    '',
    '| route table pushed over a Unix socket | JSON bytes | pushes | median ms | p99 ms |',
    '|---|---|---|---|---|',
    ...pushes.map((p) => `| ${p.routes} routes | ${p.bytes} | ${p.pushes} | ${p.medianMs.toFixed(2)} | ${p.p99Ms.toFixed(2)} |`),
  ].join('\n');
  return { rss, pushes, markdown };
}
