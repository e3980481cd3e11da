// The edge process's control socket and files: root's alone. An app's user
// cannot reach the socket (which configures every route and holds every
// private key), and a link planted at one of its names is never followed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { edgePaths, readEdgeRecord } from '../../src/edge-process/index.ts';
import { scene } from '../edge-process/scene.ts';

const APP_UID = 65534; // nobody: as an app's user is to the rest of the machine

/** What connecting to `path` as `uid` gives: "connected" or the errno name. */
function connectAs(uid: number, path: string): string {
  const script = 'import socket, sys, errno\ns = socket.socket(socket.AF_UNIX)\ntry:\n  s.connect(sys.argv[1]); print("connected")\nexcept OSError as e:\n  print(errno.errorcode.get(e.errno, str(e.errno)))';
  return execFileSync('python3', ['-c', script, path], { uid, gid: uid, encoding: 'utf8' }).trim();
}

test('an app\'s user cannot connect to the edge\'s control socket; its folder and files are root\'s alone', async (t) => {
  const s = await scene(t);
  // As berth server leaves it: others may pass through the state folder (apps' files are below it; its parent here is /tmp itself).
  chmodSync(s.state, 0o711);
  const edge = await s.open();
  const paths = edgePaths(s.state);
  assert.equal(connectAs(APP_UID, paths.socket), 'EACCES');
  assert.equal(lstatSync(paths.runDir).mode & 0o777, 0o700);
  assert.equal(lstatSync(paths.logDir).mode & 0o777, 0o700);
  assert.equal(lstatSync(paths.socket).mode & 0o777, 0o600);
  assert.equal(lstatSync(paths.record).mode & 0o777, 0o600);
  assert.equal(lstatSync(paths.log).mode & 0o777, 0o600);
  // Even with the folder opened up by mistake, the socket itself refuses.
  chmodSync(paths.runDir, 0o711);
  assert.equal(connectAs(APP_UID, paths.socket), 'EACCES');
  chmodSync(paths.runDir, 0o700);
  assert.equal(readEdgeRecord(paths.record)?.pid, edge.pid);
});

test('links planted at edge.sock, edge.json and edge.log are replaced, never followed', async (t) => {
  const s = await scene(t);
  const elsewhere = await mkdtemp(join(tmpdir(), 'berth-edge-bait-'));
  t.after(() => rm(elsewhere, { recursive: true, force: true }));
  const paths = edgePaths(s.state);
  mkdirSync(paths.runDir, { mode: 0o700 });
  mkdirSync(paths.logDir, { mode: 0o700 });
  const baitFile = join(elsewhere, 'file');
  writeFileSync(baitFile, 'untouched');
  // A listening socket elsewhere: following the link would connect to it.
  const baitSocket = join(elsewhere, 'control.sock');
  let connections = 0;
  const bait = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => bait.listen(baitSocket, resolve));
  t.after(() => new Promise<void>((resolve) => bait.close(() => resolve())));
  symlinkSync(baitSocket, paths.socket);
  symlinkSync(baitFile, paths.record);
  symlinkSync(baitFile, paths.log);

  const edge = await s.open();
  assert.equal(connections, 0, 'the planted socket link was not connected to');
  assert.equal(readFileSync(baitFile, 'utf8'), 'untouched');
  assert.ok(lstatSync(paths.socket).isSocket());
  assert.ok(lstatSync(paths.record).isFile());
  assert.ok(lstatSync(paths.log).isFile());
  assert.equal(readEdgeRecord(paths.record)?.pid, edge.pid);
});
