// The edge process under a daemon that restarts, is replaced, or dies, and
// an edge process that dies under its daemon: real processes, real load.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { alive, eventually } from '../helpers/berth-process.ts';
import { startSteadyLoad, summarize, describeSummary, now, type SteadyLoad } from '../helpers/steady-load.ts';
import { HOST, routesTo, scene, webSocket } from './scene.ts';
import { httpUpstream } from '../helpers/upstreams.ts';
import { viaEdge } from '../helpers/daemon.ts';

/** A request for the scene's host to the edge on `port`. */
function get(port: number): Promise<{ status: number; body: string }> {
  return viaEdge(`http://127.0.0.1:${port}`, HOST);
}

function load(port: number, durationMs: number): SteadyLoad {
  return startSteadyLoad({ origin: `http://127.0.0.1:${port}`, host: HOST, clients: 4, keepAliveClients: 2, intervalMs: 20, durationMs, timeoutMs: 5_000 });
}

/** Waits until the load has made `count` more requests: the change under test happens under traffic, not by the clock. */
async function requestsPass(running: SteadyLoad, count: number): Promise<void> {
  const target = running.records.length + count;
  await eventually(`${count} more requests`, () => running.records.length >= target || null, 30_000, 10);
}

test('a restarted daemon adopts the running edge process under load: no request fails, same edge pid, its routes kept', async (t) => {
  const s = await scene(t);
  const first = await s.open();
  await first.setRoutes(routesTo(s.upstreamPort));
  const port = first.address!.port;
  const running = load(port, 60_000);
  t.after(() => running.stop());
  for (let restart = 0; restart < 3; restart++) {
    await requestsPass(running, 40);
    const before = restart === 0 ? first : null;
    before?.detach();
    const next = await s.open();
    assert.equal(next.pid, first.pid, 'the same edge process');
    assert.equal(next.address!.port, port);
    await requestsPass(running, 40);
    next.detach();
  }
  running.stop();
  const summary = summarize(await running.done);
  assert.equal(summary.failed, 0, describeSummary(summary));
  assert.ok(summary.ok > 200);
  assert.ok(s.lines.some((line) => /adopted the running edge process/.test(line)));
});

test('a daemon with other edge code hands over under load (keep-alive and new connections): no request fails, a new edge pid, the old one gone', async (t) => {
  const s = await scene(t);
  const old = await s.open();
  await old.setRoutes(routesTo(s.upstreamPort));
  const port = old.address!.port;
  const running = load(port, 60_000);
  t.after(() => running.stop());
  await requestsPass(running, 60);
  old.detach();
  const next = await s.open({ codeSalt: 'another build' });
  assert.notEqual(next.pid, old.pid);
  assert.equal(next.address!.port, port);
  await eventually('the old edge process gone', () => !alive(old.pid) || null, 20_000);
  await requestsPass(running, 60);
  // And the next build after it.
  next.detach();
  const third = await s.open({ codeSalt: 'a third build' });
  await eventually('the second edge process gone', () => !alive(next.pid) || null, 20_000);
  await requestsPass(running, 60);
  running.stop();
  const records = await running.done;
  const summary = summarize(records);
  assert.equal(summary.failed, 0, describeSummary(summary));
  assert.ok(records.some((r) => r.mode === 'keep-alive' && r.reused), 'keep-alive connections were reused');
  assert.equal((await get(port)).body, 'ok');
  assert.notEqual(third.pid, next.pid);
  if (process.getuid?.() === 0) assert.equal(readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim(), '1');
});

test('the controlling daemon killed with SIGKILL: the edge process keeps serving, and the next daemon adopts it', async (t) => {
  const s = await scene(t);
  const stub = spawn(process.execPath, [fileURLToPath(new URL('./edge-daemon.ts', import.meta.url)), s.state, String(s.upstreamPort)], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => stub.kill('SIGKILL'));
  let out = '';
  stub.stdout.on('data', (chunk: Buffer) => (out += chunk));
  const [, edgePid, edgePort] = (await eventually('the stand-in daemon ready', () => /ready (\d+) (\d+)/.exec(out), 30_000))!.map(Number);
  const running = load(edgePort!, 60_000);
  t.after(() => running.stop());
  await requestsPass(running, 40);
  stub.kill('SIGKILL');
  await eventually('the stand-in daemon gone', () => stub.exitCode !== null || stub.signalCode !== null || null);
  await requestsPass(running, 80);
  assert.ok(alive(edgePid!));
  const next = await s.open();
  assert.equal(next.pid, edgePid);
  await requestsPass(running, 40);
  running.stop();
  const summary = summarize(await running.done);
  assert.equal(summary.failed, 0, describeSummary(summary));
});

test('the edge process killed with SIGKILL: its daemon brings a new one back with the same routes; only requests in the gap fail', async (t) => {
  const s = await scene(t);
  const edge = await s.open();
  await edge.setRoutes(routesTo(s.upstreamPort));
  const port = edge.address!.port;
  const running = load(port, 60_000);
  t.after(() => running.stop());
  await requestsPass(running, 40);
  const killed = edge.pid;
  const killedAt = now();
  process.kill(killed, 'SIGKILL');
  await eventually('a new edge process', () => (edge.pid !== killed ? edge.pid : null), 20_000, 5);
  const backAt = now();
  await requestsPass(running, 60);
  running.stop();
  const records = await running.done;
  assert.equal(edge.address!.port, port);
  const failed = records.filter((r) => r.outcome !== 'ok');
  // The design's bound: a request can fail only if it was under way while no edge was there.
  for (const r of failed) assert.ok(r.end >= killedAt && r.start <= backAt, `a failure outside the gap: ${JSON.stringify(r)}`);
  assert.ok(summarize(records, backAt).failed === 0);
  assert.equal((await get(port)).body, 'ok');
  assert.equal(s.lines.filter((line) => /ended unexpectedly; started a new one/.test(line)).length, 1, s.lines.join('\n'));
  t.diagnostic(`edge back ${Math.round(backAt - killedAt)} ms after its SIGKILL; ${failed.length} of ${records.length} requests failed (${describeSummary(summarize(records))})`);
});

test('a WebSocket through the edge survives its daemon\'s restart', async (t) => {
  const s = await scene(t);
  const first = await s.open();
  await first.setRoutes(routesTo(s.upstreamPort));
  const ws = await webSocket(first.address!.port);
  t.after(() => ws.socket.destroy());
  assert.equal(await ws.echo('one'), 'echo: one');
  first.detach();
  const next = await s.open();
  assert.equal(next.pid, first.pid);
  assert.equal(await ws.echo('two'), 'echo: two');
  await next.setRoutes(routesTo(s.upstreamPort));
  assert.equal(await ws.echo('three'), 'echo: three');
});

test('a full stop ends the edge process, and a failed new edge leaves the old one serving', async (t) => {
  const s = await scene(t);
  const edge = await s.open();
  await edge.setRoutes(routesTo(s.upstreamPort));
  const port = edge.address!.port;
  // Another build that wants an HTTPS port something else holds: its edge cannot listen, the old one keeps serving.
  const taken = await httpUpstream((_req, res) => res.end());
  t.after(() => taken.close());
  edge.detach();
  const refused = await s.open({ codeSalt: 'x', https: { host: '127.0.0.1', port: taken.port } }).catch((err: Error) => err);
  assert.ok(refused instanceof Error && /EADDRINUSE/.test(refused.message), String(refused));
  assert.equal((await get(port)).body, 'ok');
  const again = await s.open();
  assert.equal(again.pid, edge.pid);
  await again.stop(1_000);
  // Gone: at most a zombie until this process, its parent, reaps it.
  await eventually('the edge process reaped', () => !alive(edge.pid) || null, 5_000);
  await assert.rejects(get(port), /ECONNREFUSED/);
});
