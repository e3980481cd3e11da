// `node bench/edge-process.ts [--handovers N (10)] [--respawns N (5)] [--clients N (8)] [--interval MS (5)] [--dist]`:
// the edge process (src/edge-process/) measured, as root: requests lost per
// handover to a build with other edge code, with net.ipv4.tcp_migrate_req
// on and off (the sysctl is put back as it was); the time from a SIGKILL of
// the edge to its successor serving; the edge process's memory. Steady
// load from test/helpers/steady-load.ts through the edge to a tiny upstream.
// With --dist, the edge runs from dist/ (`npm run build` first), as an
// installed berth does; otherwise from the sources.
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startSteadyLoad, summarize, describeSummary, now } from '../test/helpers/steady-load.ts';

const { values } = parseArgs({ options: { handovers: { type: 'string', default: '10' }, respawns: { type: 'string', default: '5' }, clients: { type: 'string', default: '8' }, interval: { type: 'string', default: '5' }, dist: { type: 'boolean', default: false } } });
const { RemoteEdge, endEdgeProcess, readEdgeRecord, edgePaths } = (await import(values.dist ? '../dist/edge-process/index.js' : '../src/edge-process/index.ts')) as typeof import('../src/edge-process/index.ts');
const HANDOVERS = Number(values.handovers);
const RESPAWNS = Number(values.respawns);
const CLIENTS = Number(values.clients);
const INTERVAL = Number(values.interval);
const MIGRATE = '/proc/sys/net/ipv4/tcp_migrate_req';
const HOST = 'a.localhost';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const upstream = createHttpServer((_req, res) => res.end('ok'));
await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
const routes = { hosts: { [HOST]: { key: 'a', mounts: [], upstreams: [{ id: 'web.1', host: '127.0.0.1', port: (upstream.address() as AddressInfo).port }], fallbackRoot: null } }, fallback: null };
const original = readFileSync(MIGRATE, 'utf8').trim();

async function withState<T>(run: (state: string) => Promise<T>): Promise<T> {
  const state = await mkdtemp(join(tmpdir(), 'berth-bench-edge-'));
  try {
    return await run(state);
  } finally {
    const record = readEdgeRecord(edgePaths(state).record);
    if (record !== null) await endEdgeProcess(record, 2_000);
    await rm(state, { recursive: true, force: true });
  }
}

async function handovers(migrate: boolean): Promise<{ failed: number[]; total: number; summary: string }> {
  return withState(async (state) => {
    const open = (salt: string) => RemoteEdge.open({ stateDir: state, http: { host: '127.0.0.1', port: 0 }, workers: 2, log: () => {}, codeSalt: salt, migrateQueued: migrate });
    let edge = await open('0');
    await edge.setRoutes(routes);
    const port = edge.address!.port;
    const load = startSteadyLoad({ origin: `http://127.0.0.1:${port}`, host: HOST, clients: CLIENTS, keepAliveClients: CLIENTS / 2, intervalMs: INTERVAL, durationMs: 600_000, timeoutMs: 5_000 });
    const failed: number[] = [];
    await sleep(500);
    for (let i = 1; i <= HANDOVERS; i++) {
      const from = now();
      edge.detach();
      const old = edge.pid;
      edge = await open(String(i));
      // The old edge gone, and a moment of traffic on the new one alone.
      for (const until = Date.now() + 15_000; Date.now() < until && alive(old); ) await sleep(20);
      await sleep(300);
      failed.push(summarize(load.records, from, now()).failed);
    }
    load.stop();
    const records = await load.done;
    edge.detach();
    return { failed, total: records.length, summary: describeSummary(summarize(records)) };
  });
}

async function respawns(): Promise<{ ms: number[]; failed: number[]; rssKiB: { workers1: number; workers2: number } }> {
  return withState(async (state) => {
    const edge = await RemoteEdge.open({ stateDir: state, http: { host: '127.0.0.1', port: 0 }, workers: 2, log: () => {} });
    await edge.setRoutes(routes);
    const port = edge.address!.port;
    const load = startSteadyLoad({ origin: `http://127.0.0.1:${port}`, host: HOST, clients: 4, keepAliveClients: 2, intervalMs: 20, durationMs: 600_000, timeoutMs: 5_000 });
    await sleep(1_000);
    const rss2 = rssKiB(edge.pid);
    const ms: number[] = [];
    const failed: number[] = [];
    for (let i = 0; i < RESPAWNS; i++) {
      const killed = edge.pid;
      const from = now();
      process.kill(killed, 'SIGKILL');
      for (const until = Date.now() + 20_000; edge.pid === killed && Date.now() < until; ) await sleep(2);
      ms.push(Math.round(now() - from));
      await sleep(1_000);
      failed.push(summarize(load.records, from, now()).failed);
    }
    load.stop();
    await load.done;
    await edge.stop(1_000);
    const one = await RemoteEdge.open({ stateDir: state, http: { host: '127.0.0.1', port: 0 }, workers: 1, log: () => {} });
    await one.setRoutes(routes);
    await sleep(1_000);
    const rss1 = rssKiB(one.pid);
    await one.stop(1_000);
    return { ms, failed, rssKiB: { workers1: rss1, workers2: rss2 } };
  });
}

function alive(pid: number): boolean {
  try {
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

try {
  writeFileSync(MIGRATE, '0');
  const without = await handovers(false);
  writeFileSync(MIGRATE, '0');
  const withMigration = await handovers(true);
  const crash = await respawns();
  console.log(JSON.stringify({ from: values.dist ? 'dist' : 'sources', handovers: HANDOVERS, clients: CLIENTS, intervalMs: INTERVAL, withoutMigrateReq: without, withMigrateReq: withMigration, respawn: crash }, null, 2));
} finally {
  writeFileSync(MIGRATE, original);
  upstream.close();
}
