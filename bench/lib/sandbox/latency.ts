// Request latency through the edge: wrk against the node app behind each
// daemon's edge (a Host header picks the app), and, for reference, nginx
// proxying to the same server.mjs run plainly on the host. Rounds are
// interleaved (the order rotating), each a discarded warm-up and then the
// measured run, after a bounded wait for the machine to go quiet.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Child, ChildProcesses } from '../child-processes.ts';
import { nginxConfig } from '../contenders/nginx-config.ts';
import { freePort, HOST } from '../ports.ts';
import { cpuOutsideTree, cpuUsedBetween } from '../proc-tree.ts';
import { waitForQuiet } from '../quiet.ts';
import { runWrk, type WrkResult } from '../wrk.ts';
import { LISTENING_MARK, plainNodeApp, type BenchApp } from './apps.ts';
import { cpuThrottleOf, throttleBetween, type CpuThrottle } from './cpu-throttle.ts';
import { edgeStatus, waitForOutput } from './daemon.ts';

export type LatencyServer = 'sandboxed' | 'unsandboxed' | 'nginx';

export interface LatencyTarget {
  readonly server: LatencyServer;
  /** The edge (or nginx) origin. */
  readonly origin: string;
  readonly host: string;
  /** The serving instance's pid, whose cgroup's CPU throttling is read around each run (sandboxed only). */
  readonly instancePid?: () => Promise<number | null>;
}

export interface LatencyRound {
  readonly wrk: WrkResult;
  /** CPU other processes used during the measured run, in % of one core. */
  readonly otherCpuPercent: number;
  /** Periods the instance was held back for its CPU quota during the measured run (sandboxed only). */
  readonly throttle?: CpuThrottle;
}

export interface LatencySeries {
  readonly server: LatencyServer;
  readonly rounds: readonly LatencyRound[];
  readonly errors: readonly string[];
}

export interface LatencySettings {
  readonly rounds: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly connections: number;
  readonly quietWaitS: number;
}

export async function measureLatency(children: ChildProcesses, targets: readonly LatencyTarget[], settings: LatencySettings, log: (line: string) => void): Promise<LatencySeries[]> {
  const rounds = new Map<LatencyServer, LatencyRound[]>(targets.map((t) => [t.server, []]));
  const errors = new Map<LatencyServer, string[]>(targets.map((t) => [t.server, []]));
  for (let round = 0; round < settings.rounds; round++) {
    // Rotate: each server goes first once in every `targets.length` rounds.
    const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
    for (const target of order) {
      const load = { url: `${target.origin}/`, threads: 1, connections: settings.connections, headers: { Host: target.host } };
      try {
        await waitForQuiet(10, settings.quietWaitS * 1000, log);
        await runWrk(children, { ...load, seconds: settings.warmupS });
        const pid = (await target.instancePid?.()) ?? null;
        const throttleBefore = pid === null ? null : await cpuThrottleOf(pid);
        const before = await cpuOutsideTree(process.pid);
        const started = performance.now();
        const wrk = await runWrk(children, { ...load, seconds: settings.durationS });
        const other = (cpuUsedBetween(before, await cpuOutsideTree(process.pid)) / ((performance.now() - started) / 1000)) * 100;
        const throttleAfter = pid === null ? null : await cpuThrottleOf(pid);
        const throttle = throttleBefore !== null && throttleAfter !== null ? throttleBetween(throttleBefore, throttleAfter) : null;
        rounds.get(target.server)!.push({ wrk, otherCpuPercent: other, ...(throttle ? { throttle } : {}) });
        const held = throttle ? `, CPU quota held it back in ${throttle.throttled} of ${throttle.periods} periods (${throttle.throttledMs.toFixed(0)} ms)` : '';
        log(`latency ${target.server} ${round + 1}/${settings.rounds}: ${wrk.requestsPerSec.toFixed(0)} req/s, p50 ${wrk.latencyMs.p50?.toFixed(2)} ms, p99 ${wrk.latencyMs.p99?.toFixed(2)} ms, others ${other.toFixed(0)} % CPU${held}`);
      } catch (err) {
        errors.get(target.server)!.push((err as Error).message);
        log(`latency ${target.server} ${round + 1}/${settings.rounds} failed: ${(err as Error).message.split('\n')[0]}`);
      }
    }
  }
  return targets.map((t) => ({ server: t.server, rounds: rounds.get(t.server)!, errors: errors.get(t.server)! }));
}

export interface NginxReference {
  readonly target: LatencyTarget;
  readonly version: string;
  readonly children: readonly Child[];
}

/** nginx (2 workers, an upstream keep-alive pool; bench/lib/contenders/nginx-config.ts) in front of the node app run plainly on the host. */
export async function startNginxReference(children: ChildProcesses, dir: string, app: BenchApp): Promise<NginxReference> {
  const versionText = await children.run({ name: 'nginx -v', command: 'nginx', args: ['-v'], timeoutMs: 5_000 });
  const version = /nginx\/(\S+)/.exec(versionText)?.[1] ?? versionText.trim();
  const upstreamPort = await freePort();
  const plain = plainNodeApp(app);
  const upstream = children.start({ name: 'node app (nginx upstream)', command: plain.command, args: plain.args, cwd: app.dir, env: { ...process.env, PORT: String(upstreamPort) } });
  await waitForOutput(upstream, new RegExp(LISTENING_MARK), 15_000);
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  await writeFile(conf, nginxConfig({ mode: 'proxy', prefix: dir, port, staticDir: dir, upstream: { host: HOST, port: upstreamPort }, nofile: 4096 }));
  const args = ['-c', conf, '-p', `${dir}/`, '-g', 'daemon off;'];
  await children.run({ name: 'nginx -t', command: 'nginx', args: ['-t', ...args], timeoutMs: 10_000 });
  const nginx = children.start({ name: 'nginx', command: 'nginx', args });
  const origin = `http://${HOST}:${port}`;
  const deadline = Date.now() + 10_000;
  while ((await edgeStatus(origin, app.app)) !== 200) {
    if (nginx.exit) throw new Error(nginx.describeExit());
    if (Date.now() > deadline) throw new Error('nginx did not serve the app within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { target: { server: 'nginx', origin, host: app.app }, version, children: [nginx, upstream] };
}
