import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONTROL_MAX_CONNECTIONS } from '../../src/listen.ts';
import { apiCall, startDaemon } from '../helpers/daemon.ts';
import { deployHostile, edgeRequest } from './hostile-app.ts';

// The attack: the control API listens on loopback, which every app on the
// machine reaches too. An app opens connection after connection to it and
// says nothing (or trickles a body): without a cap every one of them is a
// descriptor of the daemon, and enough of them leave none for the edge,
// the store or the apps' pipes. The cap keeps the daemon's descriptors
// bounded whatever the flood; the edge keeps serving meanwhile.

const FLOOD = 600;

function descriptorsOf(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function open(port: number): Promise<Socket | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => resolve(socket));
    socket.once('error', () => resolve(null));
    socket.setTimeout(10_000, () => socket.destroy());
  });
}

test('a flood of connections to the API holds at most its cap of the daemon\'s descriptors; the edge serves meanwhile and the API answers once it ends', { timeout: 180_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-control-flood-'));
  const daemon = await startDaemon(join(root, 'state'));
  const sockets: Socket[] = [];
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await daemon.berth.stop();
    await rm(root, { recursive: true, force: true });
  });
  await deployHostile(daemon, 'busy', join(root, 'busy'));
  const pid = daemon.berth.child.pid!;
  const before = descriptorsOf(pid);
  const port = Number(new URL(daemon.api).port);

  // A POST whose body never comes holds its connection (the API has no
  // request deadline: deploys stream for minutes).
  for (let i = 0; i < FLOOD; i++) {
    const socket = await open(port);
    if (socket === null) continue;
    sockets.push(socket);
    socket.on('error', () => {});
    socket.write('POST /apps HTTP/1.1\r\nhost: api\r\ncontent-length: 1000000\r\n\r\n{');
  }
  const during = descriptorsOf(pid);
  assert.ok(during - before <= CONTROL_MAX_CONNECTIONS.api + 16, `the flood held ${during - before} descriptors of the daemon (cap ${CONTROL_MAX_CONNECTIONS.api})`);
  const app = await edgeRequest(daemon.edge, 'busy.localhost', 'GET', '/');
  assert.equal(app.status, 200, 'the edge serves while the API is flooded');

  for (const socket of sockets) socket.destroy();
  sockets.length = 0;
  let answered = false;
  for (let i = 0; i < 100 && !answered; i++) {
    answered = await apiCall(daemon, 'GET', '/apps').then((res) => res.status === 200, () => false);
    if (!answered) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.ok(answered, 'the API answers once the flood is gone');
});
