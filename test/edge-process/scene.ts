// What the edge-process tests share: a state folder, an upstream, edges
// opened with their stop registered, and a WebSocket client.
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { RemoteEdge, endEdgeProcess, readEdgeRecord, edgePaths, type RemoteEdgeOptions } from '../../src/edge-process/index.ts';
import type { RouteSpec } from '../../src/edge/index.ts';
import { httpUpstream } from '../helpers/upstreams.ts';

export const HOST = 'a.localhost';

export function routesTo(port: number): RouteSpec {
  return { hosts: { [HOST]: { key: 'a', mounts: [], upstreams: [{ id: 'web.1', host: '127.0.0.1', port }], fallbackRoot: null } }, fallback: null };
}

export interface Scene {
  readonly state: string;
  readonly upstreamPort: number;
  readonly lines: string[];
  open(options?: Partial<RemoteEdgeOptions>): Promise<RemoteEdge>;
}

/** A state folder and an upstream answering "ok"; every edge process of the state folder ends with the test. */
export async function scene(t: TestContext): Promise<Scene> {
  const state = await mkdtemp(join(tmpdir(), 'berth-edgeproc-'));
  const upstream = await httpUpstream((_req, res) => res.end('ok'));
  const lines: string[] = [];
  const pids = new Set<{ pid: number; startTime: number }>();
  const opened: RemoteEdge[] = [];
  t.after(async () => {
    // Let go first: a RemoteEdge whose edge is ended under it would bring a new one back.
    for (const edge of opened) edge.detach();
    // Whatever edge is still in charge, and every one a test saw.
    const record = readEdgeRecord(edgePaths(state).record);
    if (record !== null) pids.add(record);
    for (const r of pids) await endEdgeProcess(r, 2_000);
    await upstream.close();
    await rm(state, { recursive: true, force: true });
  });
  return {
    state,
    upstreamPort: upstream.port,
    lines,
    async open(options = {}) {
      const edge = await RemoteEdge.open({ stateDir: state, http: { host: '127.0.0.1', port: 0 }, workers: 1, log: (line) => lines.push(line), ...options });
      opened.push(edge);
      const record = readEdgeRecord(edgePaths(state).record);
      if (record !== null) pids.add(record);
      return edge;
    },
  };
}

/** A WebSocket to the edge for HOST: send a text, get the upstream's echo. */
export async function webSocket(port: number): Promise<{ socket: Socket; echo(text: string): Promise<string> }> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('connect', () => resolve());
  });
  socket.write(`GET /ws HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
  let buffered = Buffer.alloc(0);
  const waiters: Array<() => void> = [];
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (const wake of waiters.splice(0)) wake();
  });
  const until = async (enough: () => boolean) => {
    for (let i = 0; i < 200 && !enough(); i++) {
      if (socket.destroyed) throw new Error('the WebSocket closed');
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    if (!enough()) throw new Error('no answer on the WebSocket');
  };
  await until(() => buffered.includes('\r\n\r\n'));
  const head = buffered.subarray(0, buffered.indexOf('\r\n\r\n')).toString();
  if (!head.startsWith('HTTP/1.1 101')) throw new Error(`no upgrade: ${head}`);
  buffered = buffered.subarray(buffered.indexOf('\r\n\r\n') + 4);
  return {
    socket,
    async echo(text: string) {
      const payload = Buffer.from(text);
      const mask = Buffer.from([1, 2, 3, 4]);
      const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
      socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]));
      await until(() => buffered.length >= 2 && buffered.length >= 2 + (buffered[1]! & 0x7f));
      const length = buffered[1]! & 0x7f;
      const reply = buffered.subarray(2, 2 + length).toString();
      buffered = buffered.subarray(2 + length);
      return reply;
    },
  };
}
