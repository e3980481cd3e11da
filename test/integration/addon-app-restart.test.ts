// An app's open connection to its add-on through a control-plane restart,
// end to end: a real app (no dependencies: it speaks Redis's protocol on
// one TCP connection it opens at start and keeps, as a pool does) in a
// real `berth server`, sandboxed, stopped with SIGTERM and started again.
// The app's instance is taken over (the same process) and the Redis
// server adopted (the same process), so the app's connection is the very
// same one (the same CLIENT ID): the app never notices.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, eventually } from '../helpers/berth-process.ts';
import { apiCall, deployDir, startDaemon, viaEdge } from '../helpers/daemon.ts';

const SERVER = `
const http = require('node:http');
const net = require('node:net');
const url = new URL(process.env.REDIS_URL);
const conn = net.connect(Number(url.port), url.hostname);
let buffer = '';
const waiting = [];
conn.setEncoding('utf8');
conn.on('data', (chunk) => {
  buffer += chunk;
  let end;
  while ((end = buffer.indexOf('\\r\\n')) !== -1) {
    const line = buffer.slice(0, end);
    buffer = buffer.slice(end + 2);
    waiting.shift()(line);
  }
});
conn.on('close', () => { console.log('redis connection closed'); process.exit(1); });
const call = (...args) => new Promise((resolve) => {
  waiting.push(resolve);
  conn.write('*' + args.length + '\\r\\n' + args.map((a) => '$' + Buffer.byteLength(String(a)) + '\\r\\n' + a + '\\r\\n').join(''));
});
const ready = call('AUTH', decodeURIComponent(url.username), decodeURIComponent(url.password));
http.createServer(async (req, res) => {
  await ready;
  const hits = await call('INCR', process.env.BERTH_APP + ':hits');
  const id = await call('CLIENT', 'ID');
  res.end(JSON.stringify({ pid: process.pid, hits: Number(hits.slice(1)), client: Number(id.slice(1)) }));
}).listen(Number(process.env.PORT), '0.0.0.0');
process.on('SIGTERM', () => process.exit(0));
`;

test('an app\'s open Redis connection outlives a SIGTERM restart of berth server: the same instance, the same server, the same connection', { timeout: 300_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-addon-app-'));
  const state = join(root, 'state');
  let d = await startDaemon(state);
  t.after(async () => {
    await d.berth.stop('SIGINT').catch(() => {});
    await rm(root, { recursive: true, force: true });
  });
  const source = join(root, 'app');
  await mkdir(source);
  await writeFile(join(source, 'server.js'), SERVER);
  await writeFile(join(source, 'Procfile'), 'web: node server.js\n');
  assert.equal((await apiCall(d, 'POST', '/apps', { name: 'shop' })).status, 201);
  assert.equal((await apiCall(d, 'POST', '/apps/shop/addons', { kind: 'redis' })).status, 201);
  assert.equal((await deployDir(d, 'shop', source)).last.release?.name, 'v1');
  const ask = async () => JSON.parse((await viaEdge(d.edge, 'shop.localhost', '/')).body) as { pid: number; hits: number; client: number };
  const first = await ask();
  const redisPid = JSON.parse(await readFile(join(state, 'addons', 'redis', 'server.json'), 'utf8')).pid as number;

  await d.berth.stop('SIGTERM', 60_000);
  assert.ok(alive(first.pid) && alive(redisPid));
  d = await startDaemon(state);
  await eventually('shop serves again', async () => (await viaEdge(d.edge, 'shop.localhost', '/')).status === 200, 30_000);
  const after = await ask();
  assert.equal(after.pid, first.pid, 'the same instance');
  assert.equal(after.client, first.client, 'the same Redis connection');
  assert.ok(after.hits > first.hits);
  assert.match(d.berth.output, new RegExp(`redis: adopted the server a previous daemon left running \\(pid ${redisPid}\\)`));
  assert.doesNotMatch(d.berth.output, /redis connection closed/);
});
