// Finding 5 of the security review: ~20,000 connections from one address,
// each sending a large body a byte at a time, exhausted the daemon's file
// descriptors (EMFILE) and took down the API, the dashboard and every app.
// The edge now admits at most `max-connections-per-client` connections per
// client address (IPv6 by /64) and `max-connections` in all (derived from
// RLIMIT_NOFILE, keeping a reserve for the rest of the daemon), and cuts a
// request body (or a response reader) slower than its minimum rate however
// often it sends a byte. These tests flood a real `berth server` from
// 127.0.0.2 while a client on 127.0.0.1 and the API keep being answered.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../helpers/berth-process.ts';
import { apiCall, deployDir, startDaemon, type Daemon } from '../helpers/daemon.ts';
import { parseResponses, rawExchange } from './raw-client.ts';

const APP = `
const http = require('node:http');
http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.end('still here\\n'));
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

const FLOOD_FROM = '127.0.0.2';

/**
 * Connections from one address, each starting a 100 MB upload and then
 * sending one more byte every `trickleMs` (never silent for long, so an idle
 * timeout alone never ends them). Bounded: `count` connections, each given
 * `connectTimeoutMs` to connect, all of them destroyed by `stop()`.
 */
class SlowUploadFlood {
  readonly #sockets = new Set<Socket>();
  readonly #timer: NodeJS.Timeout;
  attempted = 0;
  connected = 0;
  closedByServer = 0;
  /** Connections the edge answered 408 (too slow) before closing. */
  timedOut = 0;

  constructor(trickleMs: number) {
    this.#timer = setInterval(() => {
      for (const socket of this.#sockets) if (socket.writable) socket.write('x');
    }, trickleMs);
  }

  get open(): number {
    return this.#sockets.size;
  }

  /** Opens `count` connections, `parallel` at a time; resolves when every attempt has connected or failed. */
  async start(port: number, host: string, count: number, parallel = 64, from = FLOOD_FROM, connectTimeoutMs = 10_000): Promise<void> {
    const head = `POST /upload HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000000\r\n\r\nx`;
    let next = 0;
    const one = () =>
      new Promise<void>((resolve) => {
        this.attempted++;
        const socket = connect({ host: '127.0.0.1', port, localAddress: from });
        this.#sockets.add(socket);
        let answer = '';
        const timer = setTimeout(() => socket.destroy(), connectTimeoutMs);
        socket.once('connect', () => {
          clearTimeout(timer);
          this.connected++;
          socket.write(head);
          resolve();
        });
        socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
        socket.on('error', () => {});
        socket.once('close', () => {
          clearTimeout(timer);
          if (this.#sockets.delete(socket)) this.closedByServer++;
          if (answer.startsWith('HTTP/1.1 408 ')) this.timedOut++;
          resolve();
        });
      });
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (next < count) {
          next++;
          await one();
        }
      }),
    );
  }

  stop(): void {
    clearInterval(this.#timer);
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }
}

async function deployApp(t: TestContext, d: Daemon, root: string): Promise<void> {
  assert.equal((await apiCall(d, 'POST', '/apps', { name: 'shop' })).status, 201);
  const dir = join(root, 'shop');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'server.js'), APP);
  await writeFile(join(dir, 'Procfile'), 'web: node server.js\n');
  const deployed = await deployDir(d, 'shop', dir);
  assert.equal(deployed.last.result, 'ok', deployed.lines.join('\n'));
  t.diagnostic('app deployed');
}

/** Another client's request through the edge, on a connection of its own from 127.0.0.1. */
async function appAnswers(d: Daemon): Promise<boolean> {
  const result = await rawExchange(Number(new URL(d.edge).port), 'GET / HTTP/1.1\r\nHost: shop.localhost\r\nConnection: close\r\n\r\n', { timeoutMs: 10_000 });
  try {
    const [answer] = parseResponses(result.text);
    return answer?.status === 200 && answer.body === 'still here\n';
  } catch {
    return false;
  }
}

/** The API, with the admin token, within 10 s. */
async function apiAnswers(d: Daemon): Promise<boolean> {
  try {
    const res = await fetch(`${d.api}/apps`, { headers: { authorization: `Bearer ${d.token}` }, signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as { apps?: Array<{ name: string }> };
    return res.status === 200 && JSON.stringify(body).includes('"shop"');
  } catch {
    return false;
  }
}

async function openDescriptors(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

/**
 * A daemon with the app deployed. Cleanup runs in order (node:test runs
 * `after` hooks first registered, first): the flood stops, so the daemon's
 * graceful stop is not held by uploads in flight, then the daemon (and its
 * app), then its folder.
 */
async function setUp(t: TestContext, flood: SlowUploadFlood, extraArgs: string[], wrapper: string[] = []): Promise<Daemon> {
  const root = await mkdtemp(join(tmpdir(), 'berth-flood-'));
  let d: Daemon | null = null;
  t.after(async () => {
    flood.stop();
    await d?.berth.kill();
    await rm(root, { recursive: true, force: true });
  });
  d = await startDaemon(join(root, 'state'), 2, extraArgs, {}, wrapper);
  await deployApp(t, d, root);
  assert.ok(await appAnswers(d));
  assert.ok(await apiAnswers(d));
  t.diagnostic(`the daemon holds ${await openDescriptors(d.berth.child.pid!)} descriptors before the flood`);
  return d;
}

test('with the default limits, a flood of slow uploads from one address cannot exhaust the descriptors of a daemon with RLIMIT_NOFILE 1024', { timeout: 300_000 }, async (t) => {
  const nofile = 1024;
  const flood = new SlowUploadFlood(1_000);
  const d = await setUp(t, flood, [], ['prlimit', `--nofile=${nofile}:${nofile}`, '--']);
  // The derived global cap, said once at start.
  const said = await d.berth.waitFor(/edge: at most (\d+) client connections at once \(open-file limit (\d+)[^)]*\), (\d+) per client address/);
  assert.equal(Number(said[2]), nofile);
  assert.ok(Number(said[1]) < nofile / 2, `the global cap leaves descriptors for the rest of the daemon: ${said[0]}`);
  const perClient = Number(said[3]);

  // Half again the daemon's whole descriptor budget, from one address.
  await flood.start(Number(new URL(d.edge).port), 'shop.localhost', 1_500);
  t.diagnostic(`flood: ${flood.attempted} attempted, ${flood.connected} connected, ${flood.open} still open`);
  await eventually(`the edge holds at most ${perClient} of the flood's connections`, () => flood.open <= perClient, 30_000);

  for (let i = 0; i < 5; i++) {
    assert.ok(await appAnswers(d), `request ${i} from another address got the app's answer`);
    assert.ok(await apiAnswers(d), `the API answered (call ${i})`);
  }
  const descriptors = await openDescriptors(d.berth.child.pid!);
  t.diagnostic(`${said[0]}; the daemon holds ${descriptors} descriptors during the flood`);
  assert.ok(descriptors < nofile * 0.75, `the daemon holds ${descriptors} descriptors of ${nofile}`);
});

test('a body that keeps sending a byte now and then is cut at its minimum rate, and one address gets at most its share', { timeout: 300_000 }, async (t) => {
  // A byte every 300 ms: never idle for 2 s, far below 200 bytes a second.
  const flood = new SlowUploadFlood(300);
  const d = await setUp(t, flood, ['--limit', 'max-connections-per-client=40', '--limit', 'body-idle-timeout=2s', '--limit', 'min-body-rate-bytes=200']);
  await flood.start(Number(new URL(d.edge).port), 'shop.localhost', 120, 16);
  await eventually('at most 40 of the flood are held', () => flood.open <= 40, 30_000);
  assert.ok(await appAnswers(d));
  await eventually('every slow upload is cut', () => flood.open === 0, 60_000);
  assert.ok(flood.timedOut > 0 && flood.timedOut <= 40, `${flood.timedOut} slow uploads were answered 408 before the close`);
  assert.ok(await appAnswers(d));
  assert.ok(await apiAnswers(d));
});

test('when the edge is full the API still answers, and the edge serves again once the flood is gone', { timeout: 300_000 }, async (t) => {
  const flood = new SlowUploadFlood(1_000);
  const d = await setUp(t, flood, ['--limit', 'max-connections=60', '--limit', 'max-connections-per-client=1000']);
  await flood.start(Number(new URL(d.edge).port), 'shop.localhost', 200, 16);
  await eventually('at most 60 of the flood are held', () => flood.open <= 60, 30_000);
  assert.ok(flood.open > 0);
  assert.equal(await appAnswers(d), false, 'a full edge takes no more connections, from anyone');
  assert.ok(await apiAnswers(d), 'the API is not behind the edge cap');
  flood.stop();
  await eventually('the edge answers again', () => appAnswers(d), 30_000);
});

test('with the default limits, a flood from several addresses fills the edge, never the daemon: the API keeps answering', { timeout: 300_000 }, async (t) => {
  const nofile = 1024;
  const flood = new SlowUploadFlood(1_000);
  const d = await setUp(t, flood, [], ['prlimit', `--nofile=${nofile}:${nofile}`, '--']);
  const said = await d.berth.waitFor(/edge: at most (\d+) client connections at once/);
  const cap = Number(said[1]);
  const port = Number(new URL(d.edge).port);
  // Each address under its own share, together well over the daemon's descriptors.
  await Promise.all(['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'].map((from) => flood.start(port, 'shop.localhost', 250, 16, from)));
  t.diagnostic(`flood: ${flood.attempted} attempted, ${flood.connected} connected, ${flood.open} still open`);
  await eventually(`the edge holds at most ${cap} of the flood's connections`, () => flood.open <= cap, 30_000);
  for (let i = 0; i < 5; i++) assert.ok(await apiAnswers(d), `the API answered (call ${i})`);
  const descriptors = await openDescriptors(d.berth.child.pid!);
  t.diagnostic(`the daemon holds ${descriptors} descriptors during the flood`);
  assert.ok(descriptors < nofile * 0.75, `the daemon holds ${descriptors} descriptors of ${nofile}`);
  flood.stop();
  await eventually('the edge answers again once the flood is gone', () => appAnswers(d), 30_000);
});
